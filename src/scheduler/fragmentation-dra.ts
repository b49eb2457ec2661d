// DRA devices as FGD sees them: a node's GPUs with their free milli-GPU, and a workload's task shape.
//
// A node becomes one GpuNodeState (fragmentation-types.ts):
//   GPUs   the node's devices grouped by `parentUUID`, else `uuid` (a MIG or vGPU device's parent,
//          a whole or shared GPU itself), in device order. Devices with neither are not GPUs; a GPU
//          that publishes no device (mig-static without MIG devices) offers nothing and is left out.
//   free   each GPU's free share in milli-GPU, measured along its share dimensions:
//            whole        the GPU itself: 1000 free, 0 once allocated;
//            mig-dynamic  the counters `compute-slices` and `memory-slice-*` (summed) of its set;
//            vgpu         the counter `framebuffer`;
//            another driver's counters: each counter a dimension;
//            mig-static   compute slices (profile name `<n>g.…`) and memory slices (`memorySlice<i>`
//                         capacities) of the MIG devices not allocated, over the catalog model's MIG
//                         geometry (over the published devices' sum for a model the catalog lacks);
//            shared       capacity `memory` less what the shares consumed.
//          free milli = round(1000 × min over dimensions of free/total): the scarcest dimension
//          binds, as a task needs some of each. Engine and instance counters and the vGPU
//          equal-size code counters state rules, not amounts, and are left out (a MIG device
//          holding the GPU's only OFA engine would otherwise make a half-free GPU look full).
//   CPU    node.cpuMilli less the node's usage (not limited: Number.MAX_SAFE_INTEGER).
//   model  the catalog key of the GPUs' product name when all GPUs share one.
//
// A workload's shape: per GPU it takes from, round(1000 × max over dimensions of taken/total) —
// a whole GPU 1000, a MIG or vGPU device its share of the parent's counters, a shared-memory
// request its memory over the GPU's. One GPU gives a sharing shape (gpuCount 1); several give that
// many whole GPUs, the nearest shape FGD has (it knows no multi-GPU shares).
import { Quantity } from '../api/quantity.ts'
import type { AllocationResult, DeviceAttribute } from '../api/resource-v1.ts'
import type { AllocationState, Snapshot } from '../allocator/index.ts'
import { modelForProductName, type MigGeometry } from '../catalog/index.ts'
import { ATTR_MIG_PLACEMENT_START } from '../inventory/publish-attributes.ts'
import { FRAMEBUFFER_COUNTER } from '../inventory/publish-vgpu.ts'
import { type GpuNodeState, MILLI_PER_GPU, type TaskShape } from './fragmentation-types.ts'
import type { ClusterView, SchedNode } from './types.ts'

type Attrs = Record<string, DeviceAttribute>
type DeviceRec = NonNullable<ReturnType<Snapshot['device']>>

/** One physical GPU: the totals of its share dimensions and how its state is read. */
export type GpuRec = PartsGpu | CountersGpu | SharedGpu

/** Whole and mig-static GPUs: fixed parts, each free while none of its devices is allocated. */
export interface PartsGpu {
  kind: 'parts'
  totals: number[]
  parts: Array<{ devices: string[]; takes: number[] }>
}

/** Partitionable devices (mig-dynamic, vgpu): the shared counters in use, per dimension. */
export interface CountersGpu {
  kind: 'counters'
  totals: number[]
  poolKey: string
  /** [counter set, counter, dimension]. */
  counters: Array<[string, string, number]>
}

/** A multi-allocatable GPU whose `memory` capacity the shares consume. */
export interface SharedGpu {
  kind: 'shared'
  totals: number[]
  device: string
  /** The capacity's fully qualified name, as the allocation state aggregates it. */
  capacity: string
}

/** A GPU device of a node: what it takes of its GPU's dimensions (a shared device: its default request). */
export interface GpuDevice {
  driver: string
  pool: string
  id: string
  gpu: number
  takes: number[]
}

/** A node's GPUs and GPU devices; fixed for a snapshot. */
export interface DraNode {
  readonly gpus: readonly GpuRec[]
  /** GPU devices by name (several where drivers or pools repeat a name). */
  readonly devices: ReadonlyMap<string, readonly GpuDevice[]>
  readonly model?: string
}

const INDEX = new WeakMap<Snapshot, Map<string, DraNode>>()

/** The node's GPUs, indexed once per snapshot: what changes is read from the allocation state. */
export function draNode(snapshot: Snapshot, node: string): DraNode {
  let byNode = INDEX.get(snapshot)
  if (!byNode) INDEX.set(snapshot, (byNode = new Map()))
  let dra = byNode.get(node)
  if (!dra) byNode.set(node, (dra = indexNode(snapshot, node)))
  return dra
}

function indexNode(snapshot: Snapshot, node: string): DraNode {
  const groups = new Map<string, DeviceRec[]>()
  for (const slice of snapshot.slicesOnNode.get(node) ?? []) {
    for (const rec of slice.devices) {
      if (snapshot.device(rec.id, rec.slice.poolKey) !== rec) continue // an older generation
      const a = (rec.device.attributes ?? {}) as Attrs
      const gpu = a.parentUUID?.string ?? a.uuid?.string
      if (gpu === undefined) continue
      let list = groups.get(gpu)
      if (!list) groups.set(gpu, (list = []))
      list.push(rec)
    }
  }
  const gpus: GpuRec[] = []
  const devices = new Map<string, GpuDevice[]>()
  const models = new Set<string | undefined>()
  for (const recs of groups.values()) {
    const productName = ((recs[0].device.attributes ?? {}) as Attrs).productName?.string
    const model = productName === undefined ? undefined : modelForProductName(productName)
    models.add(model?.key)
    const multi = recs.find((r) => r.multi)
    const [gpu, takes] = recs.some((r) => r.consumes.length > 0) ? countersGpu(snapshot, recs) : multi ? sharedGpu(multi) : partsGpu(recs, model?.mig ?? undefined)
    for (const rec of recs) {
      const t = takes.get(rec.id)
      if (!t) continue
      let list = devices.get(rec.name)
      if (!list) devices.set(rec.name, (list = []))
      list.push({ driver: rec.driver, pool: rec.pool, id: rec.id, gpu: gpus.length, takes: t })
    }
    gpus.push(gpu)
  }
  const [model] = models
  return { gpus, devices, ...(models.size === 1 && model !== undefined ? { model } : {}) }
}

/** A GPU device of the node by the allocator's (driver, pool, name), or undefined for any other device. */
export function gpuDevice(dra: DraNode, driver: string, pool: string, name: string): GpuDevice | undefined {
  return dra.devices.get(name)?.find((d) => d.driver === driver && d.pool === pool)
}

const amount = (value: string) => Number(Quantity.parse(value).value())

/** The share dimension of one of our counters; undefined for counters that state rules, not amounts. */
function dimensionOf(counter: string): string | undefined {
  if (counter === 'compute-slices' || counter === FRAMEBUFFER_COUNTER) return counter
  return /^memory-slice-\d+$/.test(counter) ? 'memory-slices' : undefined
}

function countersGpu(snapshot: Snapshot, recs: DeviceRec[]): [CountersGpu, Map<string, number[]>] {
  const poolKey = recs[0].slice.poolKey
  const setNames = new Set(recs.flatMap((r) => r.consumes.map((c) => c.counterSet)))
  const all: Array<[string, string, number]> = []
  for (const slice of snapshot.slicesByPool.get(poolKey) ?? []) {
    for (const set of slice.slice.spec.sharedCounters ?? []) {
      if (setNames.has(set.name)) for (const [name, q] of Object.entries(set.counters)) all.push([set.name, name, amount(q.value)])
    }
  }
  // Ours have named share dimensions; another driver's counters are each a dimension.
  const ours = all.some(([, name]) => dimensionOf(name) !== undefined)
  const dims = new Map<string, number>()
  const dimOf = new Map<string, Map<string, number>>()
  const counters: Array<[string, string, number]> = []
  const totals: number[] = []
  for (const [set, name, total] of all) {
    const dim = ours ? dimensionOf(name) : `${set}/${name}`
    if (dim === undefined) continue
    let d = dims.get(dim)
    if (d === undefined) dims.set(dim, (d = totals.push(0) - 1))
    totals[d] += total
    counters.push([set, name, d])
    let inSet = dimOf.get(set)
    if (!inSet) dimOf.set(set, (inSet = new Map()))
    inSet.set(name, d)
  }
  const takes = new Map<string, number[]>()
  for (const rec of recs) {
    const t = totals.map(() => 0)
    for (const c of rec.consumes) {
      const inSet = dimOf.get(c.counterSet)
      for (const [name, q] of c.counters) {
        const d = inSet?.get(name)
        if (d !== undefined) t[d] += Number(q.value())
      }
    }
    takes.set(rec.id, t)
  }
  return [{ kind: 'counters', poolKey, counters, totals }, takes]
}

function sharedGpu(rec: DeviceRec): [SharedGpu, Map<string, number[]>] {
  const memory = rec.device.capacity?.memory ?? rec.device.capacity?.[`${rec.driver}/memory`]
  const total = memory ? amount(memory.value) : 0
  const fallback = memory?.requestPolicy?.default
  return [{ kind: 'shared', device: rec.id, capacity: `${rec.driver}/memory`, totals: [total] }, new Map([[rec.id, [fallback ? amount(fallback) : total]]])]
}

function partsGpu(recs: DeviceRec[], geometry: MigGeometry | undefined): [PartsGpu, Map<string, number[]>] {
  const parts = new Map<string, { devices: string[]; takes: number[] }>()
  let mig = false
  for (const rec of recs) {
    const a = (rec.device.attributes ?? {}) as Attrs
    const profile = a.type?.string === 'mig' ? a.profile?.string : undefined
    // Compute instances of one GPU instance share its placement: one part.
    const key = profile === undefined ? rec.id : `${profile}@${a[ATTR_MIG_PLACEMENT_START]?.int ?? rec.id}`
    let part = parts.get(key)
    if (!part) {
      mig ||= profile !== undefined
      const takes = profile === undefined ? [1] : [Number(/^(\d+)g/.exec(profile)?.[1] ?? 0), Object.keys(rec.device.capacity ?? {}).filter((k) => /^memorySlice\d+$/.test(k)).length]
      parts.set(key, (part = { devices: [], takes }))
    }
    part.devices.push(rec.id)
  }
  const list = [...parts.values()]
  const totals = mig && geometry ? [geometry.computeSlices, geometry.memorySlices] : list.reduce((sum, p) => sum.map((s, d) => s + (p.takes[d] ?? 0)), mig ? [0, 0] : [0])
  return [{ kind: 'parts', parts: list, totals }, new Map(list.flatMap((p) => p.devices.map((id) => [id, p.takes] as [string, number[]])))]
}

/** Devices taken on top of the allocation state, by id, with what each takes of its GPU's dimensions. */
type Extra = ReadonlyMap<string, readonly number[]>
const NONE: Extra = new Map()

/** The free amount of each dimension of a GPU, with `extra` taken on top of the allocation state. */
function freeDims(gpu: GpuRec, state: AllocationState, extra: Extra): number[] {
  switch (gpu.kind) {
    case 'parts': {
      const free = gpu.totals.map(() => 0)
      for (const part of gpu.parts) {
        if (part.devices.some((id) => state.isAllocated(id) || extra.has(id))) continue
        part.takes.forEach((t, d) => (free[d] += t))
      }
      return free
    }
    case 'counters': {
      const free = [...gpu.totals]
      const used = state.countersUsed.get(gpu.poolKey)
      for (const [set, name, d] of gpu.counters) free[d] -= Number(used?.get(set)?.get(name)?.value() ?? 0n)
      // Counters are charged once per device: one already allocated takes nothing more.
      for (const [id, takes] of extra) if (!state.isAllocated(id)) takes.forEach((t, d) => (free[d] -= t))
      return free
    }
    case 'shared': {
      const used = Number(state.aggregatedCapacity.get(gpu.device)?.get(gpu.capacity)?.value() ?? 0n)
      return [gpu.totals[0] - used - (extra.get(gpu.device)?.[0] ?? 0)]
    }
  }
}

/**
 * round(1000 × the least (`least`) or greatest fraction amount/total over the dimensions), each
 * fraction within [0, 1]; a dimension of total 0 does not count.
 */
function milliOf(totals: readonly number[], amounts: readonly number[], least: boolean): number {
  let fraction = least ? 1 : 0
  for (let d = 0; d < totals.length; d++) {
    if (totals[d] <= 0) continue
    const f = Math.min(1, Math.max(0, amounts[d] / totals[d]))
    fraction = least ? Math.min(fraction, f) : Math.max(fraction, f)
  }
  return Math.round(MILLI_PER_GPU * fraction)
}

/** The free amounts of every GPU's dimensions now. */
export function freeAmounts(dra: DraNode, state: AllocationState): number[][] {
  return dra.gpus.map((g) => freeDims(g, state, NONE))
}

/** The node as FGD sees it, from its GPUs' free amounts (see the header). */
export function nodeState(view: ClusterView, node: SchedNode, dra: DraNode, free: readonly (readonly number[])[]): GpuNodeState {
  const used = view.nodeUsage.get(node.name)?.cpuMilli ?? 0
  const cpuMilliFree = node.cpuMilli === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, node.cpuMilli - used)
  return { gpuMilliFree: dra.gpus.map((g, i) => milliOf(g.totals, free[i], true)), cpuMilliFree, ...(dra.model !== undefined ? { gpuModel: dra.model } : {}) }
}

/** The node as FGD sees it now. */
export function gpuNodeState(view: ClusterView, node: SchedNode): GpuNodeState {
  const dra = draNode(view.snapshot, node.name)
  return nodeState(view, node, dra, freeAmounts(dra, view.state))
}

/**
 * The free milli-GPU of a device's GPU once the device takes `takes` (default: what the device
 * takes) from the GPU's free amounts `free`.
 */
export function milliAfter(dra: DraNode, device: GpuDevice, free: readonly number[], takes: readonly number[] = device.takes): number {
  return milliOf(dra.gpus[device.gpu].totals, free.map((f, d) => f - takes[d]), true)
}

/** The GPU devices of allocation results, grouped by GPU, with what each takes. */
function extrasOf(dra: DraNode, results: readonly AllocationResult[]): Map<number, Map<string, number[]>> {
  const out = new Map<number, Map<string, number[]>>()
  for (const a of results) {
    for (const r of a.devices?.results ?? []) {
      if (r.adminAccess === true) continue
      const device = gpuDevice(dra, r.driver, r.pool, r.device)
      if (!device) continue
      const gpu = dra.gpus[device.gpu]
      const memory = gpu.kind === 'shared' ? (r.consumedCapacity?.memory ?? r.consumedCapacity?.[gpu.capacity]) : undefined
      const takes = memory !== undefined ? [amount(memory)] : device.takes
      let m = out.get(device.gpu)
      if (!m) out.set(device.gpu, (m = new Map()))
      const prev = m.get(device.id)
      m.set(device.id, prev ? prev.map((t, d) => t + takes[d]) : [...takes])
    }
  }
  return out
}

/** The node `before` once the results are allocated and `cpuMilli` more CPU is used. */
export function stateAfter(view: ClusterView, dra: DraNode, before: GpuNodeState, results: readonly AllocationResult[], cpuMilli: number): GpuNodeState {
  const gpuMilliFree = [...before.gpuMilliFree]
  for (const [g, extra] of extrasOf(dra, results)) gpuMilliFree[g] = milliOf(dra.gpus[g].totals, freeDims(dra.gpus[g], view.state, extra), true)
  return { ...before, gpuMilliFree, cpuMilliFree: Math.max(0, before.cpuMilliFree - cpuMilli) }
}

/**
 * The FGD shape of a workload that takes `results` on the node and `cpuMilli` of CPU (see the
 * header): CPU-only without GPU devices, a sharing shape on one GPU, whole GPUs on several.
 */
export function workloadShape(view: ClusterView, node: SchedNode, results: readonly AllocationResult[], cpuMilli: number): TaskShape {
  const dra = draNode(view.snapshot, node.name)
  const shares: number[] = []
  for (const [g, extra] of extrasOf(dra, results)) {
    const taken = dra.gpus[g].totals.map((_, d) => [...extra.values()].reduce((sum, t) => sum + t[d], 0))
    shares.push(Math.max(1, milliOf(dra.gpus[g].totals, taken, false)))
  }
  if (shares.length === 0) return { cpuMilli, gpuCount: 0, gpuMilliPerGpu: 0 }
  return { cpuMilli, gpuCount: shares.length, gpuMilliPerGpu: shares.length === 1 ? shares[0] : MILLI_PER_GPU }
}
