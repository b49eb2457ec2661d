// Tests of the fragmentation score plugin: the DRA → FGD mapping per publishing mode, FGD's choices
// against binpack and first fit (expected values worked out by hand), determinism, the window.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AllocationResult, ResourceClaimSpec, ResourceSlice } from '../api/resource-v1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { deviceClasses, publishHost } from '../inventory/publish.ts'
import type { GpuInfo, HostInfo, PublishMode } from '../inventory/types.ts'
import { gpuNodeState, workloadShape } from './fragmentation-dra.ts'
import { fgdScore, nodeFragmentation, typicalWorkloadMix } from './fragmentation.ts'
import type { Profile } from './framework.ts'
import { DEFAULT_MIX, fragmentation, fragmentationPlugin } from './plugins-fragmentation.ts'
import { defaultProfile, Scheduler, type Decision } from './scheduler.ts'
import type { ClusterView, SchedNode } from './types.ts'
import { clusterView } from './view.ts'

/** A host of `n` H100 80GB (80Gi exactly, so that memory shares are round) in one mode. */
function host(name: string, mode: PublishMode, n = 2, extra: Partial<HostInfo> = {}, gpu: (i: number) => Partial<GpuInfo> = () => ({})): HostInfo {
  return { node: name, mode, ...extra, gpus: Array.from({ length: n }, (_, i) => ({ index: i, uuid: `GPU-${name}-${i}`, productName: 'NVIDIA H100 80GB HBM3', memoryMiB: 81920, ...gpu(i) })) }
}

const schedNode = (name: string, labels: Record<string, string> = {}): SchedNode => ({ name, labels, taints: [], cpuMilli: 64000, memoryBytes: 2 ** 40 })

function view(hosts: HostInfo[], labels: Record<string, Record<string, string>> = {}): ClusterView {
  return clusterView({ nodes: hosts.map((h) => schedNode(h.node, labels[h.node])), slices: hosts.flatMap((h) => publishHost(h)), classes: deviceClasses() })
}

/** An allocation of the named devices of `node` (shared ones take `memory` as a share). */
function taken(node: string, devices: string[], memory?: string): AllocationResult {
  return { devices: { results: devices.map((device, i) => ({ request: 'r', driver: 'gpu.nvidia.com', pool: node, device, ...(memory ? { shareID: `share-${device}-${i}`, consumedCapacity: { memory } } : {}) })) } }
}

function commit(v: ClusterView, ...allocations: AllocationResult[]): void {
  for (const a of allocations) v.state.commit(a)
}

const nodeOf = (v: ClusterView, name: string) => v.nodes.find((n) => n.name === name)!

function workload(name: string, claim?: ResourceClaimSpec, nodeSelector?: Record<string, string>): Workload {
  return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name, namespace: 'team' }, spec: { resources: { cpu: '4', memory: '16Gi' }, ...(claim ? { resourceClaims: [{ name: 'gpu', spec: claim }] } : {}), ...(nodeSelector ? { nodeSelector } : {}) } }
}

/** A share of a shared GPU's memory. */
const memoryShare = (memory: string): ResourceClaimSpec => ({ devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'shared.gpuplane.io', capacity: { requests: { memory } } } }] } })
/** One MIG device of a profile. */
const migDevice = (profile: string): ResourceClaimSpec => ({ devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'mig.nvidia.com', selectors: [{ cel: { expression: `device.attributes['gpu.nvidia.com'].profile == '${profile}'` } }] } }] } })
const wholeGpus = (count: number): ResourceClaimSpec => ({ devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count } }] } })

const placed = (d: Decision) => (d.ok ? `${d.node}:${d.allocations.flatMap((a) => a.devices?.results ?? []).map((r) => r.device).join(',')}` : `refused: ${d.reason}`)

test('mapping, whole: a GPU is 1000 free or 0; CPU free is the node\'s less its usage; model from the product name', () => {
  const v = view([host('a', 'whole')])
  commit(v, taken('a', ['gpu-1']))
  v.nodeUsage.set('a', { cpuMilli: 4000, memoryBytes: 0 })
  assert.deepEqual(gpuNodeState(v, nodeOf(v, 'a')), { gpuMilliFree: [1000, 0], cpuMilliFree: 60000, gpuModel: 'H100-80GB' })
  assert.deepEqual(workloadShape(v, nodeOf(v, 'a'), [taken('a', ['gpu-0', 'gpu-1'])], 8000), { cpuMilli: 8000, gpuCount: 2, gpuMilliPerGpu: 1000 })
  assert.deepEqual(workloadShape(v, nodeOf(v, 'a'), [], 2000), { cpuMilli: 2000, gpuCount: 0, gpuMilliPerGpu: 0 })
})

test('mapping, mig-static: the MIG devices not allocated, over the model\'s 7 compute and 8 memory slices', () => {
  const mig = (profile: string, profileId: number, start: number, size: number, ci = 0) => ({ profile, profileId, gpuInstanceId: start + 1, computeInstanceId: ci, placement: { start, size } })
  const h = host('a', 'mig-static', 2, {}, (i) => ({
    migEnabled: true,
    // GPU 0 fully partitioned: 2g(0-1) 1g(2) 1g(3) 3g(4-7) = 7 compute, 8 memory slices.
    // GPU 1: one 2g.20gb instance split into two compute instances.
    migDevices: i === 0 ? [mig('2g.20gb', 14, 0, 2), mig('1g.10gb', 19, 2, 1), mig('1g.10gb', 19, 3, 1), mig('3g.40gb', 9, 4, 4)] : [mig('2g.20gb', 14, 0, 2, 0), mig('2g.20gb', 14, 0, 2, 1)],
  }))
  const v = view([h])
  const a = nodeOf(v, 'a')
  // GPU 1: min(2/7, 2/8) = 0.25.
  assert.deepEqual(gpuNodeState(v, a).gpuMilliFree, [1000, 250])
  commit(v, taken('a', ['gpu-0-mig-3g40gb-9-4', 'gpu-1-mig-2g20gb-14-0-ci1']))
  // GPU 0: 4 compute (4/7 = .571) and 4 memory slices (4/8 = .5) left: the memory binds, 500.
  // GPU 1: its only GPU instance is in use through one compute instance: 0.
  assert.deepEqual(gpuNodeState(v, a).gpuMilliFree, [500, 0])
  // The 3g.40gb device's share: max(3/7, 4/8) = 500.
  assert.deepEqual(workloadShape(v, a, [taken('a', ['gpu-0-mig-3g40gb-9-4'])], 1000), { cpuMilli: 1000, gpuCount: 1, gpuMilliPerGpu: 500 })

  // A model the catalog lacks: the published devices are the whole GPU (5 compute, 6 memory slices).
  const unknown = view([host('b', 'mig-static', 1, {}, () => ({ productName: 'Prototype GPU', migEnabled: true, migDevices: [mig('3g.40gb', 9, 0, 4), mig('2g.20gb', 14, 4, 2)] }))])
  commit(unknown, taken('b', ['gpu-0-mig-3g40gb-9-0']))
  // Left: 2/5 compute, 2/6 memory: 333; no model.
  assert.deepEqual(gpuNodeState(unknown, nodeOf(unknown, 'b')), { gpuMilliFree: [333], cpuMilliFree: 64000 })
})

test('mapping, mig-dynamic: the compute-slice and memory-slice counters in use, the scarcer one binding', () => {
  const v = view([host('a', 'mig-dynamic')])
  const a = nodeOf(v, 'a')
  assert.deepEqual(gpuNodeState(v, a).gpuMilliFree, [1000, 1000])
  commit(v, taken('a', ['gpu-0-mig-1g10gb-19-0']))
  // 6/7 compute (.857) vs 7/8 memory (.875): 857.
  assert.deepEqual(gpuNodeState(v, a).gpuMilliFree, [857, 1000])
  commit(v, taken('a', ['gpu-0-mig-3g40gb-9-4', 'gpu-1']))
  // GPU 0: 3/7 compute (.429) vs 3/8 memory (.375): 375. GPU 1's whole device takes every counter.
  assert.deepEqual(gpuNodeState(v, a).gpuMilliFree, [375, 0])
  // 1g.10gb: max(1/7, 1/8) = 143; a 1g.20gb: max(1/7, 2/8) = 250; two devices of one GPU add up.
  assert.equal(workloadShape(v, a, [taken('a', ['gpu-0-mig-1g10gb-19-1'])], 0).gpuMilliPerGpu, 143)
  assert.equal(workloadShape(v, a, [taken('a', ['gpu-0-mig-1g20gb-15-2'])], 0).gpuMilliPerGpu, 250)
  assert.equal(workloadShape(v, a, [taken('a', ['gpu-0-mig-1g10gb-19-1', 'gpu-0-mig-1g10gb-19-2'])], 0).gpuMilliPerGpu, 286)
  // MIG devices on two GPUs: FGD has no multi-GPU shares, so two whole GPUs.
  assert.deepEqual(workloadShape(v, a, [taken('a', ['gpu-0-mig-1g10gb-19-1', 'gpu-1-mig-1g10gb-19-1'])], 0), { cpuMilli: 0, gpuCount: 2, gpuMilliPerGpu: 1000 })
})

test('mapping, vgpu: the framebuffer counter in use (equal-size and mixed-size alike)', () => {
  for (const vgpuMixedSize of [false, true]) {
    const v = view([host('a', 'vgpu', 2, { vgpuMixedSize })])
    const a = nodeOf(v, 'a')
    commit(v, taken('a', ['gpu-0-vgpu-h100xm-20c-0', 'gpu-0-vgpu-h100xm-20c-1', 'gpu-1-vgpu-h100xm-80c-0']))
    // H100's vGPU framebuffer is the 80C type's 82944 MiB: two 20C (20480 MiB) leave 41984/82944 = .506.
    assert.deepEqual(gpuNodeState(v, a).gpuMilliFree, [506, 0], `mixed size ${vgpuMixedSize}`)
    assert.equal(workloadShape(v, a, [taken('a', ['gpu-0-vgpu-h100xm-20c-2'])], 0).gpuMilliPerGpu, 247)
  }
})

test('mapping, another driver\'s partitionable devices: each of its counters a dimension', () => {
  const slice: ResourceSlice = {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: 'x' },
    spec: {
      driver: 'accel.example.com',
      pool: { name: 'x', generation: 1, resourceSliceCount: 1 },
      nodeName: 'x',
      sharedCounters: [{ name: 'chip-0', counters: { memory: { value: '40Gi' }, cores: { value: '100' } } }],
      devices: [0, 1].map((i) => ({ name: `part-${i}`, attributes: { parentUUID: { string: 'CHIP-0' } }, consumesCounters: [{ counterSet: 'chip-0', counters: { memory: { value: '20Gi' }, cores: { value: '30' } } }] })),
    },
  }
  const v = clusterView({ nodes: [schedNode('x')], slices: [slice], classes: [] })
  v.state.commit({ devices: { results: [{ request: 'r', driver: 'accel.example.com', pool: 'x', device: 'part-0' }] } })
  // memory 20/40 = .5 binds over cores 70/100; a part's share is max(20/40, 30/100) = 500.
  assert.deepEqual(gpuNodeState(v, nodeOf(v, 'x')).gpuMilliFree, [500])
  assert.equal(workloadShape(v, nodeOf(v, 'x'), [{ devices: { results: [{ request: 'r', driver: 'accel.example.com', pool: 'x', device: 'part-1' }] } }], 0).gpuMilliPerGpu, 500)
})

test('mapping, shared: the memory the shares consumed, over the GPU\'s', () => {
  const v = view([host('a', 'shared')])
  const a = nodeOf(v, 'a')
  commit(v, taken('a', ['gpu-0'], '24Gi'), taken('a', ['gpu-0'], '16Gi'), taken('a', ['gpu-1'], '80Gi'))
  // 80Gi − 40Gi = 500; the second GPU is all taken.
  assert.deepEqual(gpuNodeState(v, a).gpuMilliFree, [500, 0])
  assert.deepEqual(workloadShape(v, a, [taken('a', ['gpu-1'], '24Gi')], 4000), { cpuMilli: 4000, gpuCount: 1, gpuMilliPerGpu: 300 })
})

/**
 * Nodes a and b (pool=x) of two shared 80Gi GPUs; c (pool=warm) only warms the window.
 * a: GPU 0 holds 20Gi → free [750, 1000], one GPU of two in use.
 * b: 40Gi on each GPU → free [500, 500], both GPUs in use.
 */
function sharedCluster(profile: Profile) {
  const v = view([host('a', 'shared'), host('b', 'shared'), host('c', 'shared')], { a: { pool: 'x' }, b: { pool: 'x' }, c: { pool: 'warm' } })
  commit(v, taken('a', ['gpu-0'], '20Gi'), taken('b', ['gpu-0'], '40Gi'), taken('b', ['gpu-1'], '40Gi'))
  const s = new Scheduler(v, profile)
  // Two 40Gi workloads make the window, hence the mix: M = {⟨4 CPU, 500 milli⟩: 1}.
  const warm = [0, 1].map((i) => s.scheduleOne(workload(`warm-${i}`, memoryShare('40Gi'), { pool: 'warm' })))
  assert.ok(warm.every((d) => d.ok))
  return { v, s }
}

test('fragmentation and binpack disagree: FGD takes a fresh GPU where binpack fills the busiest node', () => {
  // A 24Gi (300 milli) workload, mix M = {500}. F_n(M) = Σ free·1[free < 500], before: a 0, b 0.
  //   a, GPU 0: [450, 1000] → F 450, Δ +450, fgdScore = trunc(100/(1+e^0.45)) = 38;
  //   a, GPU 1: [750, 700]  → F 0,   Δ 0,    fgdScore 50: FGD's GPU on a, node score 50;
  //   b, either GPU: [200, 500] → F 200, Δ +200, fgdScore = trunc(100/(1+e^0.2)) = 45.
  // FGD: node a, gpu-1. Binpack: b (both GPUs in use: 100 against a's 50).
  const fgd = sharedCluster(defaultProfile({ fragmentation: 1 }))
  assert.equal(placed(fgd.s.scheduleOne(workload('w', memoryShare('24Gi'), { pool: 'x' }))), 'a:gpu-1')
  assert.deepEqual(gpuNodeState(fgd.v, nodeOf(fgd.v, 'a')).gpuMilliFree, [750, 700])
  const mix = typicalWorkloadMix(fragmentation.recentWorkloads(fgd.v).slice(0, 2))
  assert.deepEqual([nodeFragmentation({ gpuMilliFree: [450, 1000], cpuMilliFree: 60000 }, mix), nodeFragmentation({ gpuMilliFree: [200, 500], cpuMilliFree: 60000 }, mix)], [450, 200])
  assert.deepEqual([fgdScore(450), fgdScore(0), fgdScore(200)], [38, 50, 45])

  const packed = sharedCluster(defaultProfile({ binpack: 1 }))
  assert.match(placed(packed.s.scheduleOne(workload('w', memoryShare('24Gi'), { pool: 'x' }))), /^b:/)
})

test('MIG: a fractional request goes to the partly used GPU, where first fit opens a fresh one', () => {
  // GPU 1 holds a 3g.40gb (slices 0-3): free [1000, 500]. Nothing seen yet: M = DEFAULT_MIX (a whole GPU),
  // F = Σ free·1[free < 1000] = 500. A 1g.10gb:
  //   on GPU 0: [857, 500] → F 1357, Δ +857;  on GPU 1: 3/7 compute, 3/8 memory → [1000, 375], F 375, Δ −125.
  const run = (weights: Record<string, number>) => {
    const v = view([host('a', 'mig-dynamic')])
    commit(v, taken('a', ['gpu-1-mig-3g40gb-9-0']))
    return placed(new Scheduler(v, defaultProfile(weights)).scheduleOne(workload('w', migDevice('1g.10gb'))))
  }
  assert.equal(run({ fragmentation: 1 }), 'a:gpu-1-mig-1g10gb-19-4')
  assert.deepEqual([[1000, 500], [857, 500], [1000, 375]].map((gpuMilliFree) => nodeFragmentation({ gpuMilliFree, cpuMilliFree: 64000 }, DEFAULT_MIX)), [500, 1357, 375])
  assert.equal(run({ spread: 1 }), 'a:gpu-0-mig-1g10gb-19-0', 'first fit, for contrast')
})

test('a CPU-only workload keeps away from the node whose GPU it would strand', () => {
  // Nodes a (6 CPUs) and b (64 CPUs), one whole GPU each. A workload that fits nowhere is not
  // scored, hence not seen. The first one seen, ⟨4 CPU, 1 whole GPU⟩, is scored with DEFAULT_MIX
  // (Δ 0 on both: a by name) and then makes the mix M = {⟨4 CPU, 1000⟩}; it is then removed.
  // A 4-CPU workload without GPUs: on a, the 2 CPUs left could no longer host M's task, so a's
  // 1000 free milli become fragment: Δ +1000, fgdScore = trunc(100/(1+e)) = 26. On b: Δ 0, 50.
  const v = clusterView({ nodes: [{ ...schedNode('a'), cpuMilli: 6000 }, schedNode('b')], slices: [host('a', 'whole', 1), host('b', 'whole', 1)].flatMap((h) => publishHost(h)), classes: deviceClasses() })
  const s = new Scheduler(v, defaultProfile({ fragmentation: 1 }))
  assert.match(placed(s.scheduleOne(workload('nowhere', wholeGpus(1), { pool: 'none' }))), /^refused/)
  assert.deepEqual(fragmentation.recentWorkloads(v), [])
  assert.equal(placed(s.scheduleOne(workload('warm', wholeGpus(1)))), 'a:gpu-0')
  assert.deepEqual(fragmentation.recentWorkloads(v), [{ cpuMilli: 4000, gpuCount: 1, gpuMilliPerGpu: 1000 }])
  assert.ok(s.unschedule('team/warm'))
  assert.equal(placed(s.scheduleOne(workload('cpu'))), 'b:')
  assert.equal(fgdScore(1000), 26)
})

test('the same input gives the same decisions', () => {
  const sizes = ['8Gi', '24Gi', '40Gi', '12Gi', '60Gi', '20Gi', '4Gi', '32Gi', '16Gi', '48Gi', '8Gi', '24Gi']
  const run = () => {
    const s = new Scheduler(view([host('a', 'shared', 4), host('b', 'shared', 4), host('c', 'mig-dynamic', 2)]), defaultProfile({ fragmentation: 2, binpack: 1 }))
    const batch = sizes.flatMap((m, i) => [workload(`s${i}`, memoryShare(m)), workload(`m${i}`, migDevice(i % 2 ? '1g.10gb' : '2g.20gb'))])
    return s.scheduleAll(batch).map(placed)
  }
  const first = run()
  assert.deepEqual(run(), first)
  assert.ok(first.filter((d) => !d.startsWith('refused')).length >= 20)
})

test('the window is bounded, per ClusterView, and only a weighted plugin fills it', () => {
  const small = fragmentationPlugin({ window: 3 })
  const profile: Profile = { ...defaultProfile({ fragmentation: 1 }), plugins: defaultProfile().plugins.map((p) => (p.name === 'fragmentation' ? small : p)) }
  const v = view([host('a', 'shared', 4)])
  const s = new Scheduler(v, profile)
  for (const [i, m] of ['8Gi', '16Gi', '24Gi', '32Gi', '40Gi'].entries()) assert.ok(s.scheduleOne(workload(`w${i}`, memoryShare(m))).ok)
  // The last three, oldest first: 24Gi, 32Gi, 40Gi of 80Gi.
  assert.deepEqual(small.recentWorkloads(v).map((t) => t.gpuMilliPerGpu), [300, 400, 500])
  assert.deepEqual(small.recentWorkloads(view([host('a', 'shared')])), [], 'another view has its own window')

  const unweighted = view([host('a', 'shared')])
  assert.ok(new Scheduler(unweighted).scheduleOne(workload('w', memoryShare('8Gi'))).ok)
  assert.deepEqual(fragmentation.recentWorkloads(unweighted), [], 'the default profile does not weight fragmentation')
  assert.throws(() => fragmentationPlugin({ window: 0 }), (e: unknown) => e instanceof GpuplaneError && /positive integer/.test(e.message))
})
