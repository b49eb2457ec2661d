import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { gpuModel, gpuModels, type GpuModel, type MigProfile } from '../catalog/index.ts'
import { migLayout } from './cluster-mig.ts'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 200)
const H100 = gpuModel('H100-80GB')!

test('finds the placement the GPU allows whatever the order (3g, 2g, 1g, 1g on H100)', () => {
  const r = migLayout(H100, ['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb'], 'seed')
  assert.ok(r.ok)
  assert.deepEqual(r.devices.map((d) => [d.profile, d.profileId, d.gpuInstanceId, d.placement.start, d.placement.size]), [
    ['3g.40gb', 9, 1, 4, 4],
    ['2g.20gb', 14, 2, 0, 2],
    ['1g.10gb', 19, 3, 2, 1],
    ['1g.10gb', 19, 4, 3, 1],
  ])
  assert.ok(r.devices.every((d) => d.uuid?.startsWith('MIG-')))
  assert.equal(r.devices[0].memoryMiB, H100.mig!.profiles.find((p) => p.name === '3g.40gb')!.memoryMiB)
})

test('limits: compute slices, instances per profile, unknown profiles, no MIG', () => {
  const fail = (profiles: string[], model: GpuModel = H100) => {
    const r = migLayout(model, profiles, 's')
    assert.ok(!r.ok)
    return `${r.index}: ${r.message}`
  }
  assert.match(fail(['4g.40gb', '3g.40gb', '1g.10gb']), /^2: 1g\.10gb needs 1 compute slice, and only 0 of 7 are left/)
  assert.match(fail(['4g.40gb', '4g.40gb']), /^1: H100-80GB holds at most 1 4g\.40gb device/)
  assert.match(fail(['1g.10gb+me', '1g.10gb+me']), /^1: H100-80GB holds at most 1 1g\.10gb\+me device$/)
  assert.match(fail(['1g.10gb', '2g.21gb']), /^1: unknown MIG profile "2g\.21gb"/)
  assert.match(fail(['1g.10gb'], gpuModel('T4-16GB')), /^0: T4-16GB does not support MIG/)
})

/** Independent check: every assignment of legal placements, tried exhaustively. */
function fitsSomehow(model: GpuModel, profiles: MigProfile[]): boolean {
  const mig = model.mig!
  if (profiles.length > mig.maxInstances) return false
  if (profiles.reduce((n, p) => n + p.computeSlices, 0) > mig.computeSlices) return false
  for (const p of new Set(profiles)) if (profiles.filter((q) => q === p).length > p.maxInstances) return false
  const go = (i: number, used: number): boolean => {
    if (i === profiles.length) return true
    return profiles[i].placements.some(({ start, size }) => {
      const mask = ((1 << size) - 1) << start
      return (used & mask) === 0 && go(i + 1, used | mask)
    })
  }
  return go(0, 0)
}

test('property: a layout is found exactly when one exists, and it is legal', () => {
  const migModels = gpuModels().filter((m) => m.mig)
  fc.assert(
    fc.property(
      fc.constantFrom(...migModels).chain((model) => fc.record({ model: fc.constant(model), profiles: fc.array(fc.constantFrom(...model.mig!.profiles), { maxLength: 8 }) })),
      ({ model, profiles }) => {
        const r = migLayout(model, profiles.map((p) => p.name), 'p')
        assert.equal(r.ok, fitsSomehow(model, profiles), `${model.key}: ${profiles.map((p) => p.name).join(', ')}`)
        if (!r.ok) return
        const used = new Set<number>()
        r.devices.forEach((d, i) => {
          assert.ok(profiles[i].placements.some((p) => p.start === d.placement.start && p.size === d.placement.size), 'a legal placement')
          for (let s = d.placement.start; s < d.placement.start + d.placement.size; s++) {
            assert.ok(!used.has(s), 'memory slices never overlap')
            used.add(s)
          }
        })
      },
    ),
    { numRuns: RUNS },
  )
})
