// `gpuplane allocate` against published inventories: NVLink domains, vGPU sizes and shared memory hold their rules end to end.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { stringify } from 'yaml'
import type { DeviceRequest, ResourceClaim, ResourceSlice } from '../src/api/resource-v1.ts'
import { Quantity } from '../src/api/quantity.ts'
import { main } from '../src/cli/main.ts'
import { deviceClasses, publishHost } from '../src/inventory/publish.ts'
import type { GpuInfo, HostInfo } from '../src/inventory/types.ts'
import { claim } from './builders.ts'

const NV = 'gpu.nvidia.com'

interface Report {
  allocated: ResourceClaim[]
  unallocatable: Array<{ name: string; code: string }>
}

/** Writes the published slices, the classes and the claims to one YAML file and runs `gpuplane allocate -o json` on it. */
async function allocateCli(hosts: HostInfo[], claims: ResourceClaim[]): Promise<{ code: number; report: Report; slices: ResourceSlice[] }> {
  const slices = hosts.flatMap((h) => publishHost(h))
  const file = join(mkdtempSync(join(tmpdir(), 'gpuplane-inventory-')), 'cluster.yaml')
  writeFileSync(file, [...slices, ...deviceClasses(), ...claims].map((o) => stringify(o)).join('---\n'))
  let out = ''
  let err = ''
  const code = await main(['node', 'gpuplane', 'allocate', '-f', file, '-o', 'json'], (s) => void (out += s), (s) => void (err += s))
  assert.ok(code === 0 || code === 3, `exit ${code}: ${err}`)
  return { code, report: JSON.parse(out) as Report, slices }
}

const gpus = (n: number, extra: (i: number) => Partial<GpuInfo> = () => ({})): GpuInfo[] =>
  Array.from({ length: n }, (_, i) => ({ index: i, uuid: `GPU-${String(i).padStart(8, '0')}-0000-0000-0000-000000000000`, productName: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559, driverVersion: '580.159.04', ...extra(i) }))

const results = (c: ResourceClaim) => c.status!.allocation!.devices!.results!
const byName = (report: Report) => new Map(report.allocated.map((c) => [c.metadata.name!, c]))

/** device name → attribute value, per pool, from the published slices. */
function attributeOf(slices: ResourceSlice[], attribute: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const s of slices) for (const d of s.spec.devices ?? []) out.set(`${s.spec.pool.name}/${d.name}`, d.attributes?.[attribute]?.string ?? '')
  return out
}

const request = (name: string, cls: string, opts: { count?: number; selector?: string; memory?: string } = {}): DeviceRequest => ({
  name,
  exactly: {
    deviceClassName: cls,
    ...(opts.count ? { count: opts.count } : {}),
    ...(opts.selector ? { selectors: [{ cel: { expression: opts.selector } }] } : {}),
    ...(opts.memory ? { capacity: { requests: { memory: opts.memory } } } : {}),
  },
})

test('a 2-GPU claim with matchAttribute gpuplane.io/nvlinkDomain never spans the two NVLink domains of a host', async () => {
  const host: HostInfo = { node: 'node-a', mode: 'whole', gpus: gpus(8, (i) => ({ nvlinkDomain: `node-a-nvl${i < 4 ? 0 : 1}` })) }
  const pinned = (i: number) => claim(`single-${i}`, [request('gpu', 'gpu.nvidia.com', { selector: `device.attributes['${NV}'].uuid == '${host.gpus[i].uuid}'` })])
  const pair = (name: string, constrained: boolean) =>
    claim(name, [request('gpus', 'gpu.nvidia.com', { count: 2 })], constrained ? { constraints: [{ matchAttribute: 'gpuplane.io/nvlinkDomain' }] } : {})
  // Singles take GPUs 0, 1, 2 (domain 0) and 4 (domain 1): free are 3 (domain 0) and 5, 6, 7 (domain 1).
  const claims = [pinned(0), pinned(1), pinned(2), pinned(4), pair('pair-1', true), pair('pair-2', true), pair('unconstrained', false)]
  const { code, report, slices } = await allocateCli([host], claims)
  const domain = attributeOf(slices, 'gpuplane.io/nvlinkDomain')
  const domainsOf = (c: ResourceClaim) => new Set(results(c).map((r) => domain.get(`${r.pool}/${r.device}`)))
  const allocated = byName(report)
  assert.equal(code, 3)
  assert.deepEqual(domainsOf(allocated.get('pair-1')!), new Set(['node-a-nvl1']))
  assert.deepEqual(report.unallocatable.map((u) => [u.name, u.code]), [['pair-2', 'CLAIM_UNSATISFIABLE']], 'GPU 3 and GPU 7 are free but in different domains')
  assert.deepEqual(domainsOf(allocated.get('unconstrained')!), new Set(['node-a-nvl0', 'node-a-nvl1']), 'without the constraint the same two GPUs are taken')

  // On fresh hosts, every constrained pair lands inside one domain, whatever the order of claims.
  const hosts: HostInfo[] = ['node-b', 'node-c'].map((node) => ({ node, mode: 'whole', gpus: gpus(8, (i) => ({ nvlinkDomain: `${node}-nvl${i % 2}` })) }))
  const pairs = Array.from({ length: 9 }, (_, i) => pair(`p${i}`, true))
  const second = await allocateCli(hosts, pairs)
  const domains = attributeOf(second.slices, 'gpuplane.io/nvlinkDomain')
  assert.equal(second.report.allocated.length, 8, 'two hosts × two domains × two pairs')
  for (const c of second.report.allocated) assert.equal(new Set(results(c).map((r) => domains.get(`${r.pool}/${r.device}`))).size, 1, c.metadata.name)
})

test('vGPU sizes never mix on an equal-size GPU, and each size stays within its maximum', async () => {
  const host: HostInfo = { node: 'node-v', mode: 'vgpu', gpus: gpus(2) }
  const types = ['H100XM-10C', 'H100XM-20C', 'H100XM-40C', 'H100XM-5C']
  const max: Record<string, number> = { 'H100XM-10C': 8, 'H100XM-20C': 4, 'H100XM-40C': 2, 'H100XM-5C': 16 }
  let seed = 11
  const next = () => (seed = (seed * 48271) % 2147483647)
  const claims = Array.from({ length: 40 }, (_, i) => {
    const type = types[next() % types.length]
    return claim(`vm-${i}`, [request('vgpu', 'vgpu.gpuplane.io', { selector: `device.attributes['${NV}'].profile == '${type}'` })])
  })
  const { report, slices } = await allocateCli([host], claims)
  const parent = attributeOf(slices, 'parentUUID')
  const profile = attributeOf(slices, 'profile')
  const perGpu = new Map<string, string[]>()
  for (const c of report.allocated) {
    for (const r of results(c)) {
      const key = `${r.pool}/${r.device}`
      perGpu.set(parent.get(key)!, [...(perGpu.get(parent.get(key)!) ?? []), profile.get(key)!])
    }
  }
  assert.equal(perGpu.size, 2, 'both GPUs host vGPUs')
  for (const [gpu, profiles] of perGpu) {
    assert.equal(new Set(profiles).size, 1, `GPU ${gpu} hosts one size only: ${profiles.join(', ')}`)
    assert.ok(profiles.length <= max[profiles[0]], `GPU ${gpu}: ${profiles.length} × ${profiles[0]}`)
  }
  assert.ok(report.unallocatable.length > 0 && report.unallocatable.every((u) => u.code === 'CLAIM_UNSATISFIABLE'))
  // The same claims on a mixed-size host mix sizes on one GPU.
  const mixed = await allocateCli([{ ...host, node: 'node-m', vgpuMixedSize: true }], claims)
  const mixedParent = attributeOf(mixed.slices, 'parentUUID')
  const mixedProfile = attributeOf(mixed.slices, 'profile')
  const sizesOn = new Map<string, Set<string>>()
  for (const c of mixed.report.allocated) for (const r of results(c)) {
    const key = `${r.pool}/${r.device}`
    sizesOn.set(mixedParent.get(key)!, (sizesOn.get(mixedParent.get(key)!) ?? new Set()).add(mixedProfile.get(key)!))
  }
  assert.ok([...sizesOn.values()].some((s) => s.size > 1), 'mixed-size mode mixes')
})

test('shared-mode memory never exceeds the GPU', async () => {
  const host: HostInfo = { node: 'node-s', mode: 'shared', gpus: gpus(1) }
  const claims = ['30Gi', '30Gi', '30Gi', '10Gi', '9Gi', '0.5Gi'].map((memory, i) => claim(`share-${i}`, [request('mem', 'shared.gpuplane.io', { memory })]))
  const { report } = await allocateCli([host], claims)
  const consumed = report.allocated.map((c) => [c.metadata.name, results(c)[0].consumedCapacity!.memory])
  assert.deepEqual(consumed, [['share-0', '30Gi'], ['share-1', '30Gi'], ['share-3', '10Gi'], ['share-4', '9Gi']])
  assert.deepEqual(report.unallocatable.map((u) => u.name), ['share-2', 'share-5'], '79 GiB of steps are used up; even half a GiB is a whole step')
  const total = report.allocated.reduce((q, c) => q.add(Quantity.parse(results(c)[0].consumedCapacity!.memory)), Quantity.parse('0'))
  assert.ok(total.cmp(Quantity.parse('81559Mi')) <= 0)
})
