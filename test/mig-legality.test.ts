// Published counters allow exactly the layouts the hardware allows: MIG (mig-dynamic) on every MIG model, vGPU modes, shared memory.
//
// MIG: for one GPU of each MIG-capable catalog model, (1) the layouts the placement table permits
// are enumerated from the catalog alone; (2) the sets of devices the published counters admit are
// enumerated from the decoded ResourceSlices alone; the two families must be equal. (3) The
// allocator must accept every maximal legal layout, named device by device, and refuse every
// minimal illegal set; since counter feasibility is closed under subsets, that pins what the
// allocator accepts to exactly the legal layouts.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { stringify } from 'yaml'
import { allocate, allocateEach, AllocationState, Snapshot, type AllocationOutcome } from '../src/allocator/index.ts'
import { decodeText } from '../src/api/decode.ts'
import { Quantity } from '../src/api/quantity.ts'
import type { DeviceClass, DeviceRequest, ResourceClaim, ResourceSlice } from '../src/api/resource-v1.ts'
import { fullMigProfile, gpuModel, gpuModels, timeSlicedVgpuProfiles, vgpuFramebufferMiB, type GpuModel, type MigProfile } from '../src/catalog/index.ts'
import { deviceClasses, migDeviceName, publishHost } from '../src/inventory/publish.ts'
import type { HostInfo, PublishMode } from '../src/inventory/types.ts'
import { claim } from './builders.ts'

const NODE = { name: 'node-a' }
const NV = 'gpu.nvidia.com'

function oneGpuHost(model: GpuModel, mode: PublishMode, extra: Partial<HostInfo> = {}): HostInfo {
  return { node: 'node-a', mode, gpus: [{ index: 0, uuid: 'GPU-00000000-1111-2222-3333-444444444444', productName: model.productNames[0] }], ...extra }
}

/** Published slices, through the decoder (so through validation), and a snapshot with the classes. */
function published(host: HostInfo): { slices: ResourceSlice[]; snapshot: Snapshot } {
  const text = [...publishHost(host), ...deviceClasses()].map((o) => stringify(o)).join('---\n')
  const objects = decodeText(text, 'published').objects.map((o) => o.object)
  const slices = objects.filter((o): o is ResourceSlice => o.kind === 'ResourceSlice')
  const classes = objects.filter((o): o is DeviceClass => o.kind === 'DeviceClass')
  return { slices, snapshot: new Snapshot({ slices, classes }) }
}

/** Counter totals and each device's consumption, read back from the slices (one GPU: all sets together). */
function countersOf(slices: ResourceSlice[]) {
  const totals = new Map<string, bigint>()
  for (const set of slices.flatMap((s) => s.spec.sharedCounters ?? [])) for (const [k, v] of Object.entries(set.counters)) totals.set(`${set.name}/${k}`, Quantity.parse(v.value).value())
  const consumption = new Map<string, Map<string, bigint>>()
  for (const d of slices.flatMap((s) => s.spec.devices ?? [])) {
    const m = new Map<string, bigint>()
    for (const c of d.consumesCounters ?? []) for (const [k, v] of Object.entries(c.counters)) m.set(`${c.counterSet}/${k}`, Quantity.parse(v.value).value())
    consumption.set(d.name, m)
  }
  const fits = (names: readonly string[]) => {
    const sum = new Map<string, bigint>()
    for (const n of names) for (const [k, v] of consumption.get(n)!) sum.set(k, (sum.get(k) ?? 0n) + v)
    return [...sum].every(([k, v]) => v <= totals.get(k)!)
  }
  return { totals, consumption, fits }
}

const pin = (name: string, cls: string, expression: string): DeviceRequest => ({ name, exactly: { deviceClassName: cls, selectors: [{ cel: { expression } }] } })
const migSelector = (profile: string, start: number) => `device.attributes['${NV}'].profile == '${profile}' && device.attributes['gpuplane.io'].migPlacementStart == ${start}`
const profileSelector = (profile: string) => `device.attributes['${NV}'].profile == '${profile}'`
const allocatedNames = (o: AllocationOutcome) => (o.ok ? o.allocations.flatMap((a) => a.devices!.results!.map((r) => r.device)) : [])

interface Placement {
  profile: MigProfile
  start: number
  name: string
}

/** The layout rules of the placement table, applied to a set of (profile, placement) pairs. */
function legal(model: GpuModel, layout: readonly Placement[]): boolean {
  const mig = model.mig!
  const used = new Set<number>()
  let compute = 0
  const instances = new Map<string, number>()
  for (const { profile, start } of layout) {
    if (!profile.placements.some((p) => p.start === start)) return false
    for (let s = start; s < start + profile.memorySlices; s++) {
      if (used.has(s)) return false
      used.add(s)
    }
    compute += profile.computeSlices
    const n = (instances.get(profile.name) ?? 0) + 1
    if (n > profile.maxInstances) return false
    instances.set(profile.name, n)
  }
  if (compute > mig.computeSlices) return false
  // Engines are physical: together the instances cannot hold more than the full-GPU profile reports.
  const full = fullMigProfile(model)!.engines
  if (full && layout.every((p) => p.profile.engines)) {
    for (const field of ['sm', 'copyEngines', 'nvdec', 'nvenc', 'nvjpg', 'ofa'] as const) {
      if (full[field] === undefined) continue
      if (layout.reduce((sum, p) => sum + p.profile.engines![field]!, 0) > full[field]!) return false
    }
  }
  return true
}

/** All subsets (as bitmasks over `items`) that `ok` accepts, for an `ok` closed under subsets. */
function downwardFamily(count: number, ok: (mask: number) => boolean): Set<number> {
  const family = new Set<number>()
  const extend = (mask: number, from: number) => {
    family.add(mask)
    for (let i = from; i < count; i++) if (ok(mask | (1 << i))) extend(mask | (1 << i), i + 1)
  }
  extend(0, 0)
  return family
}

const members = <T>(items: readonly T[], mask: number) => items.filter((_, i) => mask & (1 << i))

for (const model of gpuModels().filter((m) => m.mig)) {
  describe(`mig-dynamic legality on ${model.key}`, () => {
    const { slices, snapshot } = published(oneGpuHost(model, 'mig-dynamic'))
    const placements: Placement[] = model.mig!.profiles.flatMap((profile) => profile.placements.map(({ start }) => ({ profile, start, name: migDeviceName(0, profile.name, profile.profileId, start) })))
    const counters = countersOf(slices)
    const legalFamily = downwardFamily(placements.length, (mask) => legal(model, members(placements, mask)))
    const counterFamily = downwardFamily(placements.length, (mask) => counters.fits(members(placements, mask).map((p) => p.name)))

    test('one device per (profile, placement) plus the whole GPU', () => {
      assert.deepEqual([...counters.consumption.keys()].sort(), ['gpu-0', ...placements.map((p) => p.name)].sort())
    })

    test('the counters admit exactly the layouts the placement table permits', () => {
      const onlyCounters = [...counterFamily].filter((m) => !legalFamily.has(m)).map((m) => members(placements, m).map((p) => p.name))
      const onlyLegal = [...legalFamily].filter((m) => !counterFamily.has(m)).map((m) => members(placements, m).map((p) => p.name))
      assert.deepEqual(onlyCounters, [], 'device sets the counters allow but the hardware cannot create')
      assert.deepEqual(onlyLegal, [], 'legal layouts the counters refuse')
      assert.ok(legalFamily.size > 50)
    })

    test('engine limits only exclude two "+me" instances (one OFA/JPEG per GPU)', () => {
      const placementOnly = downwardFamily(placements.length, (mask) => {
        const layout = members(placements, mask)
        return legal({ ...model, mig: { ...model.mig!, profiles: model.mig!.profiles.map((p) => ({ ...p, engines: null })) } }, layout.map((p) => ({ ...p, profile: { ...p.profile, engines: null } })))
      })
      for (const mask of placementOnly) {
        if (legalFamily.has(mask)) continue
        const me = members(placements, mask).filter((p) => p.profile.name.endsWith('+me'))
        assert.ok(me.length >= 2, `excluded by engines: ${members(placements, mask).map((p) => p.name).join(', ')}`)
      }
    })

    test('the allocator accepts every maximal legal layout and refuses every minimal illegal set', () => {
      const state = new AllocationState(snapshot)
      const run = (layout: readonly Placement[]) =>
        allocate(snapshot, state, [claim('c', layout.map((p, i) => pin(`r${i}`, 'mig.nvidia.com', migSelector(p.profile.name, p.start))))], { node: NODE })
      let maximal = 0
      let minimal = 0
      for (const mask of legalFamily) {
        const grows = placements.some((_, i) => !(mask & (1 << i)) && legalFamily.has(mask | (1 << i)))
        if (!grows) {
          maximal++
          const layout = members(placements, mask)
          assert.deepEqual(allocatedNames(run(layout)), layout.map((p) => p.name), `maximal layout ${layout.map((p) => p.name).join(', ')}`)
        }
        placements.forEach((_, i) => {
          const t = mask | (1 << i)
          if (t === mask || legalFamily.has(t)) return
          // Minimal illegal: every proper subset is legal. Count each set once (from its largest-bit parent).
          const bits = members(placements.map((_, j) => j), t)
          if (bits[bits.length - 1] !== i || !bits.every((b) => legalFamily.has(t & ~(1 << b)))) return
          minimal++
          const outcome = run(members(placements, t))
          assert.equal(outcome.ok ? 'allocated' : outcome.code, 'CLAIM_UNSATISFIABLE', `illegal ${members(placements, t).map((p) => p.name).join(', ')}`)
        })
      }
      assert.ok(maximal > 0 && minimal > 0)
    })

    test('the whole GPU excludes every MIG device, and fits alone', () => {
      const state = new AllocationState(snapshot)
      const whole = pin('whole', 'gpu.nvidia.com', 'true')
      assert.deepEqual(allocatedNames(allocate(snapshot, state, [claim('w', [whole])], { node: NODE })), ['gpu-0'])
      for (const p of placements) {
        assert.equal(counters.fits(['gpu-0', p.name]), false, p.name)
        const o = allocate(snapshot, state, [claim('w', [whole, pin('mig', 'mig.nvidia.com', migSelector(p.profile.name, p.start))])], { node: NODE })
        assert.equal(o.ok, false, p.name)
      }
    })
  })
}

describe('H100 80GB MIG cases from the issue', () => {
  const h100 = gpuModel('H100-80GB')!
  const { snapshot } = published(oneGpuHost(h100, 'mig-dynamic'))
  const run = (requests: DeviceRequest[]) => allocate(snapshot, new AllocationState(snapshot), [claim('c', requests)], { node: NODE })
  const some = (profile: string, count: number, name = 'r'): DeviceRequest => ({ name, exactly: { deviceClassName: 'mig.nvidia.com', count, selectors: [{ cel: { expression: profileSelector(profile) } }] } })

  test('seven 1g.10gb fill the 7 compute slices although 8 memory slices exist; an eighth does not fit', () => {
    assert.deepEqual(allocatedNames(run([some('1g.10gb', 7)])), [0, 1, 2, 3, 4, 5, 6].map((s) => `gpu-0-mig-1g10gb-19-${s}`))
    assert.equal(run([some('1g.10gb', 8)]).ok, false)
    assert.equal(run([some('1g.10gb', 7, 'a'), some('1g.20gb', 1, 'b')]).ok, false, 'the 8th memory slice is unreachable with seven 1g instances')
  })

  test('3g.40gb at 0 and 3g.40gb at 4', () => {
    assert.deepEqual(allocatedNames(run([some('3g.40gb', 2)])), ['gpu-0-mig-3g40gb-9-0', 'gpu-0-mig-3g40gb-9-4'])
  })

  test('4g.40gb at 0 and 3g.40gb at 4', () => {
    assert.deepEqual(allocatedNames(run([some('4g.40gb', 1, 'a'), some('3g.40gb', 1, 'b')])), ['gpu-0-mig-4g40gb-5-0', 'gpu-0-mig-3g40gb-9-4'])
  })

  test('not 4g.40gb twice, and not 1g.10gb+me twice', () => {
    assert.equal(run([some('4g.40gb', 2)]).ok, false)
    assert.equal(run([some('4g.40gb', 1, 'a'), some('4g.40gb', 1, 'b')]).ok, false)
    assert.equal(run([some('1g.10gb+me', 2)]).ok, false)
    assert.deepEqual(allocatedNames(run([some('1g.10gb+me', 1, 'a'), some('1g.10gb', 6, 'b')])).length, 7)
  })

  test('claims one after another: 4g.40gb, then 3g.40gb fits at 4, then nothing of 3 compute slices', () => {
    const claims = [['a', '4g.40gb'], ['b', '3g.40gb'], ['c', '3g.40gb'], ['d', '1g.10gb']].map(([n, p]) => claim(n, [some(p, 1)]))
    const outcomes = allocateEach(snapshot, claims, { node: NODE })
    assert.deepEqual(outcomes.map((o) => allocatedNames(o)[0] ?? 'unallocatable'), ['gpu-0-mig-4g40gb-5-0', 'gpu-0-mig-3g40gb-9-4', 'unallocatable', 'unallocatable'])
  })
})

describe('vGPU legality', () => {
  const withVgpu = gpuModels().filter((m) => timeSlicedVgpuProfiles(m).length > 0)

  for (const model of withVgpu) {
    test(`${model.key} equal-size: one type per GPU, at most its maximum`, () => {
      const { slices, snapshot } = published(oneGpuHost(model, 'vgpu'))
      const counters = countersOf(slices)
      const byType = new Map<string, string[]>()
      for (const d of slices.flatMap((s) => s.spec.devices ?? [])) byType.set(d.attributes!.profile.string!, [...(byType.get(d.attributes!.profile.string!) ?? []), d.name])
      const types = timeSlicedVgpuProfiles(model)
      assert.deepEqual([...byType.keys()], types.map((t) => t.name))
      for (const t of types) {
        const max = Math.min(t.maxPerGpuEqualSize, t.framebufferLimit!)
        assert.equal(byType.get(t.name)!.length, max, `${t.name}: one device per allowed instance`)
        assert.ok(counters.fits(byType.get(t.name)!), `all ${max} ${t.name} fit together`)
      }
      // Counter level, exhaustively: no two devices of different types fit together. With the line above
      // and closure under subsets, the admitted sets are exactly the subsets of one type's devices.
      const all = [...byType].flatMap(([type, names]) => names.map((name) => ({ type, name })))
      for (const a of all) for (const b of all) if (a.type < b.type) assert.equal(counters.fits([a.name, b.name]), false, `${a.name} + ${b.name}`)
      // Allocator level: each type to its maximum (and not beyond), never two types together.
      const state = new AllocationState(snapshot)
      const req = (type: string, count: number, name = 'r'): DeviceRequest => ({ name, exactly: { deviceClassName: 'vgpu.gpuplane.io', count, selectors: [{ cel: { expression: profileSelector(type) } }] } })
      for (const [type, names] of byType) {
        assert.equal(allocatedNames(allocate(snapshot, state, [claim('c', [req(type, names.length)])], { node: NODE })).length, names.length, type)
        assert.equal(allocate(snapshot, state, [claim('c', [req(type, names.length + 1)])], { node: NODE }).ok, false, `${type} beyond its maximum`)
      }
      for (const a of byType.keys()) for (const b of byType.keys()) {
        if (a < b) assert.equal(allocate(snapshot, state, [claim('c', [req(a, 1, 'a'), req(b, 1, 'b')])], { node: NODE }).ok, false, `${a} with ${b}`)
      }
    })
  }

  for (const model of withVgpu.filter((m) => timeSlicedVgpuProfiles(m).every((t) => t.maxPerGpuMixedSize !== null))) {
    test(`${model.key} mixed-size: types mix within their limits and the framebuffer`, () => {
      const { slices, snapshot } = published(oneGpuHost(model, 'vgpu', { vgpuMixedSize: true }))
      const counters = countersOf(slices)
      const fb = BigInt(vgpuFramebufferMiB(model)!) * 1048576n
      assert.deepEqual([...counters.totals], [['gpu-0-counter-set/framebuffer', fb]])
      const types = timeSlicedVgpuProfiles(model)
      const limit = new Map(types.map((t) => [t.name, Math.min(t.maxPerGpuMixedSize!, t.framebufferLimit!)]))
      for (const d of slices.flatMap((s) => s.spec.devices ?? [])) {
        const t = types.find((x) => x.name === d.attributes!.profile.string)!
        assert.deepEqual([...counters.consumption.get(d.name)!], [['gpu-0-counter-set/framebuffer', BigInt(t.framebufferMiB) * 1048576n]])
      }
      const req = (type: string, count: number): ResourceClaim => claim(`${type}-${count}`, [{ name: 'r', exactly: { deviceClassName: 'vgpu.gpuplane.io', count, selectors: [{ cel: { expression: profileSelector(type) } }] } }])
      const run = (claims: ResourceClaim[]) => allocateEach(snapshot, claims, { node: NODE }).map((o) => allocatedNames(o).length)
      // For every pair of types: all of the first, then as many of the second as the framebuffer leaves
      // (one claim each: a claim holds at most 32 results).
      for (const a of types) {
        for (const b of types) {
          if (a === b) continue
          const na = limit.get(a.name)!
          const left = Number(fb / 1048576n) - na * a.framebufferMiB
          const nb = Math.min(limit.get(b.name)!, Math.floor(left / b.framebufferMiB))
          assert.deepEqual(run([req(a.name, na), ...(nb > 0 ? [req(b.name, nb)] : [])]), [na, ...(nb > 0 ? [nb] : [])], `${na} × ${a.name} + ${nb} × ${b.name}`)
          if (nb < limit.get(b.name)!) assert.deepEqual(run([req(a.name, na), req(b.name, nb + 1)]), [na, 0], `${na} × ${a.name} + ${nb + 1} × ${b.name} exceeds the framebuffer`)
        }
      }
    })
  }

  test('H100 80GB: a 40C and two 20C share a GPU in mixed-size mode, not in equal-size mode', () => {
    const h100 = gpuModel('H100-80GB')!
    const requests: DeviceRequest[] = [
      { name: 'big', exactly: { deviceClassName: 'vgpu.gpuplane.io', selectors: [{ cel: { expression: profileSelector('H100XM-40C') } }] } },
      { name: 'small', exactly: { deviceClassName: 'vgpu.gpuplane.io', count: 2, selectors: [{ cel: { expression: profileSelector('H100XM-20C') } }] } },
    ]
    for (const [mixed, ok] of [[true, true], [false, false]] as const) {
      const { snapshot } = published(oneGpuHost(h100, 'vgpu', { vgpuMixedSize: mixed }))
      assert.equal(allocate(snapshot, new AllocationState(snapshot), [claim('c', requests)], { node: NODE }).ok, ok, mixed ? 'mixed-size' : 'equal-size')
    }
  })
})

describe('shared mode', () => {
  for (const key of ['H100-80GB', 'H200-141GB', 'L4-24GB', 'T4-16GB']) {
    test(`${key}: memory shares never exceed the GPU`, () => {
      const model = gpuModel(key)!
      const { slices, snapshot } = published(oneGpuHost(model, 'shared'))
      const capacity = Quantity.parse(slices[0].spec.devices![0].capacity!.memory.value)
      // Deterministic pseudo-random requests (0.5 to 20 GiB), until one does not fit, then the smallest.
      let seed = 7
      const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
      const claims: ResourceClaim[] = Array.from({ length: 40 }, (_, i) => {
        const mib = Math.round(512 + next() * 20 * 1024)
        return claim(`c${i}`, [{ name: 'mem', exactly: { deviceClassName: 'shared.gpuplane.io', capacity: { requests: { memory: `${mib}Mi` } } } }])
      })
      claims.push(claim('default', [{ name: 'mem', exactly: { deviceClassName: 'shared.gpuplane.io' } }]))
      const outcomes = allocateEach(snapshot, claims, { node: NODE })
      let used = Quantity.parse('0')
      for (const o of outcomes) {
        if (!o.ok) continue
        const consumed = Quantity.parse(o.allocations[0].devices!.results![0].consumedCapacity!.memory)
        assert.equal(consumed.value() % (1n << 30n), 0n, 'shares are whole GiB steps')
        used = used.add(consumed)
      }
      assert.ok(used.cmp(capacity) <= 0, `${used} allocated of ${capacity}`)
      assert.ok(outcomes.some((o) => !o.ok), 'the GPU fills up')
      const defaultShare = outcomes.at(-1)!
      if (defaultShare.ok) assert.equal(defaultShare.allocations[0].devices!.results![0].consumedCapacity!.memory, '1Gi')
    })
  }
})
