// The catalog loads and validates its data, types every model, matches product names and flags uncertain values.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GpuplaneError } from '../common/errors.ts'
import data from './data/gpu-catalog.json' with { type: 'json' }
import { CATALOG, fullMigProfile, gpuModel, gpuModels, loadCatalog, migProfile, modelForProductName, normalizeProductName, timeSlicedVgpuProfiles, vgpuFramebufferMiB } from './index.ts'

const clone = () => JSON.parse(JSON.stringify(data)) as Record<string, Record<string, unknown>>

test('every model of the data file loads, with the fields the publisher needs', () => {
  assert.deepEqual(
    gpuModels().map((m) => m.key),
    ['A100-40GB', 'A100-80GB', 'H100-80GB', 'H100-94GB', 'H200-141GB', 'GH200-96GB', 'GH200-144GB', 'B200-180GB', 'A30-24GB', 'L40S-48GB', 'L4-24GB', 'A10-24GB', 'T4-16GB'],
  )
  const h100 = gpuModel('H100-80GB')!
  assert.deepEqual(h100.architecture, { name: 'Hopper', chip: 'GH100', computeCapability: '9.0', companion: null, text: 'Hopper (GH100, CC 9.0)' })
  assert.equal(h100.smCount, 132)
  assert.equal(h100.memoryMiB, 81559)
  assert.equal(h100.nvlink.generation, 4)
  assert.deepEqual(h100.nvlink.domains[0], { via: 'nvswitch', gpusPerDomain: 8, formFactor: 'SXM5 (HGX 8-GPU)' })
  assert.deepEqual(h100.mig && { c: h100.mig.computeSlices, m: h100.mig.memorySlices, n: h100.mig.maxInstances }, { c: 7, m: 8, n: 7 })
  const p = migProfile(h100, '3g.40gb')!
  assert.deepEqual(
    { id: p.profileId, gib: p.memoryGiB, mib: p.memoryMiB, c: p.computeSlices, m: p.memorySlices, max: p.maxInstances, placements: p.placements, sm: p.engines?.sm },
    { id: 9, gib: 39.5, mib: 40448, c: 3, m: 4, max: 2, placements: [{ start: 0, size: 4 }, { start: 4, size: 4 }], sm: 60 },
  )
  assert.equal(fullMigProfile(h100)?.name, '7g.80gb')
  const gh = gpuModel('GH200-96GB')!
  assert.equal(gh.architecture.companion, 'Grace CPU (aarch64)')
  assert.equal(gpuModel('B200-180GB')!.architecture.computeCapability, '10.0')
  assert.equal(gpuModel('L40S-48GB')!.architecture.name, 'Ada Lovelace')
  assert.equal(gpuModel('L40S-48GB')!.mig, null)
  assert.ok(CATALOG.meta.confidence.startsWith('observed-on-device'))
  assert.ok('placementNotation' in CATALOG.meta.notes)
})

test('MIG memory in MiB follows the driver granularity of 64 MiB (the values the DRA driver publishes)', () => {
  const mib = (key: string, name: string) => migProfile(gpuModel(key)!, name)!.memoryMiB
  assert.deepEqual([mib('H100-80GB', '1g.10gb'), mib('H100-80GB', '1g.20gb'), mib('H100-80GB', '3g.40gb'), mib('H100-80GB', '7g.80gb')], [9984, 20096, 40448, 81152])
  assert.equal(mib('A30-24GB', '1g.6gb'), 5952)
  for (const m of gpuModels()) {
    for (const p of m.mig?.profiles ?? []) {
      if (p.memoryGiB === null) continue
      assert.ok(Math.abs(p.memoryMiB! / 1024 - p.memoryGiB) <= 0.005 + 1e-9, `${m.key} ${p.name}: ${p.memoryMiB} MiB prints as ${p.memoryGiB} GiB`)
    }
  }
})

test('nvidia-smi product names map to catalog keys', () => {
  const cases: Array<[string, string | undefined]> = [
    ['NVIDIA H100 80GB HBM3', 'H100-80GB'],
    ['NVIDIA H100 PCIe', 'H100-80GB'],
    ['NVIDIA H200', 'H200-141GB'],
    ['NVIDIA H200 NVL', 'H200-141GB'],
    ['NVIDIA A100-SXM4-80GB', 'A100-80GB'],
    ['NVIDIA A100-SXM4-40GB', 'A100-40GB'],
    ['NVIDIA A100 80GB PCIe', 'A100-80GB'],
    ['NVIDIA H100 NVL', 'H100-94GB'],
    ['NVIDIA GH200 480GB', 'GH200-96GB'],
    ['NVIDIA B200', 'B200-180GB'],
    ['Tesla T4', 'T4-16GB'],
    ['NVIDIA L40S', 'L40S-48GB'],
    ['nvidia  h100 80gb hbm3', 'H100-80GB'],
    ['H100-80GB', 'H100-80GB'],
    ['A800-80GB', 'A100-80GB'],
    ['NVIDIA GeForce RTX 4090', undefined],
    ['NVIDIA H100', undefined],
  ]
  for (const [name, key] of cases) assert.equal(modelForProductName(name)?.key, key, name)
  assert.equal(normalizeProductName('NVIDIA A100-SXM4-80GB'), 'a100 sxm4 80gb')
})

test('a name two models share is settled by memory, and ambiguous without it', () => {
  const raw = clone()
  ;(raw['H100-94GB'].productNames as string[]).push('NVIDIA H100 80GB HBM3')
  const catalog = loadCatalog(raw)
  assert.equal(catalog.modelForProductName('NVIDIA H100 80GB HBM3'), undefined)
  assert.equal(catalog.modelForProductName('NVIDIA H100 80GB HBM3', 81559)?.key, 'H100-80GB')
  assert.equal(catalog.modelForProductName('NVIDIA H100 80GB HBM3', 95830)?.key, 'H100-94GB')
})

test('uncertain values are flagged, not defaulted', () => {
  const gh144 = gpuModel('GH200-144GB')!
  const p = migProfile(gh144, '1g.18gb')!
  assert.equal(p.memoryGiB, null)
  assert.equal(p.memoryMiB, null)
  assert.equal(p.engines, null)
  assert.deepEqual(p.uncertain.map((u) => u.field).sort(), ['engines', 'memoryGiB', 'placements'])
  assert.ok(gh144.uncertain.some((u) => u.field === 'nvlink.domains'))
  // A driver-dependent memory read is uncertain unless a hardware read confirms the row.
  assert.ok(migProfile(gpuModel('A100-80GB')!, '7g.80gb')!.uncertain.some((u) => u.field === 'memoryGiB'))
  const h200 = migProfile(gpuModel('H200-141GB')!, '1g.18gb')!
  assert.deepEqual(h200.uncertain, [])
  assert.deepEqual(h200.notes, ['observed 16.00 GiB although the name says 18gb'])
  assert.ok(migProfile(gpuModel('B200-180GB')!, '2g.45gb')!.uncertain.some((u) => u.field === 'engines'))
  // The vGPU table's H100XM-16C equal-size maximum cannot fit the framebuffer.
  const v16 = gpuModel('H100-80GB')!.vgpuProfiles.find((v) => v.name === 'H100XM-16C')!
  assert.equal(v16.maxPerGpuEqualSize, 6)
  assert.equal(v16.framebufferLimit, 5)
  assert.match(v16.uncertain[0].note, /exceeds/)
  const t4 = timeSlicedVgpuProfiles(gpuModel('T4-16GB')!)
  assert.ok(t4.every((v) => v.maxPerGpuMixedSize === null && v.uncertain.some((u) => u.field === 'maxPerGpuMixedSize')))
  assert.equal(vgpuFramebufferMiB(gpuModel('H100-80GB')!), 82944)
})

test('every time-sliced vGPU maximum fits the framebuffer except the flagged ones', () => {
  for (const m of gpuModels()) {
    for (const v of timeSlicedVgpuProfiles(m)) {
      const flagged = v.uncertain.some((u) => u.field === 'maxPerGpuEqualSize' && /exceeds/.test(u.note))
      assert.equal(v.maxPerGpuEqualSize > v.framebufferLimit!, flagged, `${m.key} ${v.name}`)
      if (v.maxPerGpuMixedSize !== null) assert.ok(v.maxPerGpuMixedSize <= v.maxPerGpuEqualSize, `${m.key} ${v.name}: mixed-size limits are the lower ones`)
    }
  }
})

test('invalid data is refused at load time with the field path', () => {
  const expectError = (mutate: (raw: Record<string, Record<string, unknown>>) => void, path: RegExp, message: RegExp) => {
    const raw = clone()
    mutate(raw)
    assert.throws(
      () => loadCatalog(raw),
      (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT' && path.test(e.location.path ?? '') && message.test(e.message),
    )
  }
  const profiles = (raw: Record<string, Record<string, unknown>>) => raw['H100-80GB'].migProfiles as Array<Record<string, unknown>>
  expectError((raw) => void (profiles(raw)[0].memoryGiB = '9.75'), /^H100-80GB\.migProfiles\[0\]\.memoryGiB$/, /expected number/)
  expectError((raw) => void (profiles(raw)[0].placementsText = '{0,1}:1'), /placementsText/, /does not match/)
  expectError((raw) => void ((profiles(raw)[4].placements as { starts: number[] }).starts = [0, 5]), /starts\[1\]/, /runs past memory slice 7/)
  expectError((raw) => void (raw['H100-80GB'].colour = 'green'), /^H100-80GB$/, /colour/)
  expectError((raw) => void (raw['H100-80GB'].architecture = 'Hopper'), /architecture/, /Hopper \(GH100, CC 9\.0\)/)
  expectError((raw) => void (raw['h100'] = raw['H100-80GB']), /^h100$/, /catalog key/)
  expectError((raw) => void (raw['L4-24GB'].migProfiles = profiles(raw)), /migProfiles/, /not MIG-capable/)
})
