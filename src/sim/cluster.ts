// The simulated cluster's state in typed arrays: free CPU, memory and per-GPU milli of every node, kept for fast placement and incremental fragmentation.
//
// Nodes are held in tie-break order (index 0 wins ties), so a policy's "first of equals" is the
// artifact's "smallest prefixed node name" (workload.ts). Every placement bumps the node's stamp,
// which per-node caches compare against; it also updates the node's FGD fragmentation F_n(M)
// (`nodeFragmentationScaled` of src/scheduler/fragmentation, the function the authors' run was
// replayed against), so the cluster total Σ_n F_n(M) is maintained exactly with one F per event.
// Nothing here allocates per event except what a policy asks for.
import { GpuplaneError } from '../common/errors.ts'
import { type GpuNodeState, MILLI_PER_GPU, nodeFragmentationScaled, type TaskShape, type WorkloadMix } from '../scheduler/fragmentation.ts'
import type { PodKind } from './trace.ts'

/** A node of the simulated cluster. */
export interface SimNode {
  name: string
  cpuMilli: number
  memoryMiB: number
  gpuCount: number
  /** GPU model code ('' for none). */
  model: string
}

/**
 * A pod shape as policies score it: everything but memory (no policy scores memory, which is only
 * a filter), so scores can be cached per node and shape. `id` indexes the shape table of a run.
 */
export interface PodShape {
  id: number
  cpuMilli: number
  gpuCount: number
  /** Milli-GPU per GPU as requested (before any slicing profile rounding). */
  gpuMilli: number
  /**
   * Mean memory (MiB) of the trace's pods of this shape: what shape-level scores may use. The
   * memory filter uses each pod's own request.
   */
  memoryMiB: number
  kind: PodKind
  /** True when the pod names allowed GPU models (gpu_spec). */
  restricted: boolean
  /** Bit i set when the cluster's model i is allowed (meaningful when `restricted`). */
  modelMask: number
  /** The same shape for the fragmentation functions. */
  task: TaskShape
}

/**
 * GPU partitioning rules for `--slicing` (slicing.ts): which share a request holds on a GPU of a
 * model and whether a GPU can still host it. Absent means ideal sharing: any milli on any GPU.
 */
export interface Slicer {
  /** Milli-GPU a request of `milli` per GPU holds on a GPU of cluster model `model` (its profile). */
  held(milli: number, model: number): number
  /** Whether GPU `gpu` (global index) can host a request of `milli` on a node of model `model`. */
  fits(gpu: number, milli: number, model: number): boolean
  /** Places the request on the GPU; returns the GPU's free milli after. */
  take(gpu: number, milli: number, model: number): number
}

/** A node as FGD's `GpuNodeState`, mutable so that hypothetical placements need no copy. */
export interface ScratchNode extends GpuNodeState {
  gpuMilliFree: number[]
  cpuMilliFree: number
  gpuModel: string
}

/** Most distinct GPU models a cluster may have (they are bits of a 32-bit mask). */
export const MAX_MODELS = 31

/** GPU affinity tags of the GpuClustering policy: index 0 shares a GPU, k (1..8) takes k whole GPUs. */
export const AFFINITY_TAGS = 9

/** The distinct GPU models of the nodes with GPUs, sorted: model i is bit i of a PodShape's mask. */
export function clusterModels(nodes: readonly SimNode[]): string[] {
  return [...new Set(nodes.filter((x) => x.gpuCount > 0).map((x) => x.model))].sort()
}

/** The simulated cluster: static shape plus mutable free capacity. */
export class SimCluster {
  readonly size: number
  readonly names: string[]
  /** GPU model codes; a node's `model` indexes this (-1: no GPU). */
  readonly models: string[]
  readonly model: Int32Array
  readonly cpuCapacity: Int32Array
  readonly gpuCount: Int32Array
  /** Node n's GPUs are gpuFree[gpuStart[n] .. gpuStart[n+1]). */
  readonly gpuStart: Int32Array
  readonly gpuFree: Int16Array
  readonly cpuFree: Int32Array
  readonly memFree: Float64Array
  /** Fully free GPUs per node. */
  readonly fullFree: Int32Array
  /** Largest free milli of a GPU per node. */
  readonly maxFree: Int32Array
  /** Change stamp per node (starts at 1). */
  readonly stamp: Int32Array
  /** GPU pods per node and affinity tag (AFFINITY_TAGS per node), and how many tags are present. */
  readonly tags: Int32Array
  readonly tagKinds: Int32Array
  /** F_n(M)·scale per node, and the cluster sum. */
  readonly frag: Float64Array
  fragTotal = 0
  readonly capacityGpuMilli: number
  readonly totalGpus: number
  /** Requested milli-GPU of placed pods (under slicing, less than the milli held). */
  allocatedGpuMilli = 0
  /** Milli-GPU held on GPUs (capacity − free). */
  heldGpuMilli = 0
  /** GPUs with any allocation. */
  busyGpus = 0
  /** GPUs the placed GPU pods would hold if each took whole GPUs. */
  dedicatedGpus = 0

  private readonly scratch: ScratchNode[] = []

  /** `nodes` in tie-break order; `mix` is FGD's target workload for the fragmentation metric. */
  constructor(nodes: readonly SimNode[], readonly mix: WorkloadMix, readonly slicer?: Slicer) {
    const n = nodes.length
    this.size = n
    this.names = nodes.map((x) => x.name)
    this.models = clusterModels(nodes)
    if (this.models.length > MAX_MODELS) throw new GpuplaneError('INVALID_INPUT', `the cluster has ${this.models.length} GPU models; the simulator handles at most ${MAX_MODELS}`, { path: 'nodes' })
    this.model = new Int32Array(n)
    this.cpuCapacity = new Int32Array(n)
    this.gpuCount = new Int32Array(n)
    this.gpuStart = new Int32Array(n + 1)
    this.cpuFree = new Int32Array(n)
    this.memFree = new Float64Array(n)
    this.fullFree = new Int32Array(n)
    this.maxFree = new Int32Array(n)
    this.stamp = new Int32Array(n).fill(1)
    this.tags = new Int32Array(n * AFFINITY_TAGS)
    this.tagKinds = new Int32Array(n)
    this.frag = new Float64Array(n)
    let gpus = 0
    nodes.forEach((x, i) => {
      this.model[i] = x.gpuCount > 0 ? this.models.indexOf(x.model) : -1
      this.cpuCapacity[i] = this.cpuFree[i] = x.cpuMilli
      this.memFree[i] = x.memoryMiB
      this.gpuCount[i] = this.fullFree[i] = x.gpuCount
      this.maxFree[i] = x.gpuCount > 0 ? MILLI_PER_GPU : 0
      this.gpuStart[i] = gpus
      gpus += x.gpuCount
    })
    this.gpuStart[n] = gpus
    this.totalGpus = gpus
    this.capacityGpuMilli = gpus * MILLI_PER_GPU
    this.gpuFree = new Int16Array(gpus).fill(MILLI_PER_GPU)
    for (let i = 0; i < n; i++) {
      this.frag[i] = this.nodeFrag(i)
      this.fragTotal += this.frag[i]
    }
  }

  /** Whether the node's GPU model is one the shape allows (always true for CPU-only shapes). */
  modelAllows(n: number, shape: PodShape): boolean {
    if (shape.gpuCount === 0 || !shape.restricted) return true
    const m = this.model[n]
    return m >= 0 && ((shape.modelMask >>> m) & 1) === 1
  }

  /** Milli-GPU a share of the shape holds on one of node n's GPUs (the request itself without slicing). */
  held(n: number, shape: PodShape): number {
    return this.slicer && shape.gpuCount > 0 && this.model[n] >= 0 ? this.slicer.held(shape.gpuMilli, this.model[n]) : shape.gpuMilli
  }

  /** Whether GPU g of node n can host a share of the shape. */
  gpuFits(g: number, n: number, shape: PodShape): boolean {
    return this.slicer ? this.slicer.fits(g, shape.gpuMilli, this.model[n]) : this.gpuFree[g] >= shape.gpuMilli
  }

  /**
   * The hard filter: CPU, memory (MiB), GPU model, and room for the GPUs: one GPU that can host a
   * share, or `gpuCount` fully free GPUs for whole-GPU pods.
   */
  fits(n: number, shape: PodShape, memoryMiB: number): boolean {
    if (this.cpuFree[n] < shape.cpuMilli || this.memFree[n] < memoryMiB) return false
    if (shape.gpuCount === 0) return true
    if (!this.modelAllows(n, shape)) return false
    if (shape.kind !== 'share') return this.fullFree[n] >= shape.gpuCount
    if (!this.slicer) return this.maxFree[n] >= shape.gpuMilli
    for (let g = this.gpuStart[n]; g < this.gpuStart[n + 1]; g++) if (this.slicer.fits(g, shape.gpuMilli, this.model[n])) return true
    return false
  }

  /** Total free milli-GPU of node n. */
  freeGpuMilli(n: number): number {
    let sum = 0
    for (let g = this.gpuStart[n]; g < this.gpuStart[n + 1]; g++) sum += this.gpuFree[g]
    return sum
  }

  /** Takes the first `count` fully free GPUs of node n by index (the artifact's `AllocateExclusiveGpuId`). */
  private takeWhole(n: number, count: number): void {
    let left = count
    for (let g = this.gpuStart[n]; g < this.gpuStart[n + 1] && left > 0; g++) {
      if (this.gpuFree[g] !== MILLI_PER_GPU) continue
      this.gpuFree[g] = this.slicer ? this.slicer.take(g, MILLI_PER_GPU, this.model[n]) : 0
      left--
    }
  }

  /**
   * Places a pod of the shape on node n: on GPU `gpu` (global index) for a share, on the first
   * fully free GPUs for whole-GPU pods. The caller has checked `fits`.
   */
  place(n: number, shape: PodShape, memoryMiB: number, gpu: number): void {
    const heldBefore = this.capacityGpuMilliOf(n) - this.freeGpuMilli(n)
    const busyBefore = this.busyOn(n)
    this.cpuFree[n] -= shape.cpuMilli
    this.memFree[n] -= memoryMiB
    if (shape.kind === 'share') this.gpuFree[gpu] = this.slicer ? this.slicer.take(gpu, shape.gpuMilli, this.model[n]) : this.gpuFree[gpu] - shape.gpuMilli
    else if (shape.gpuCount > 0) this.takeWhole(n, shape.gpuCount)
    if (shape.gpuCount > 0) {
      this.refreshGpuSummary(n)
      const tag = shape.kind === 'share' ? 0 : shape.gpuCount
      const at = n * AFFINITY_TAGS + Math.min(tag, AFFINITY_TAGS - 1)
      if (this.tags[at]++ === 0) this.tagKinds[n]++
      this.allocatedGpuMilli += shape.gpuCount * shape.gpuMilli
      this.heldGpuMilli += this.capacityGpuMilliOf(n) - this.freeGpuMilli(n) - heldBefore
      this.busyGpus += this.busyOn(n) - busyBefore
      this.dedicatedGpus += shape.gpuCount
    }
    this.stamp[n]++
    const f = this.nodeFrag(n)
    this.fragTotal += f - this.frag[n]
    this.frag[n] = f
  }

  private capacityGpuMilliOf(n: number): number {
    return this.gpuCount[n] * MILLI_PER_GPU
  }

  private busyOn(n: number): number {
    let busy = 0
    for (let g = this.gpuStart[n]; g < this.gpuStart[n + 1]; g++) if (this.gpuFree[g] < MILLI_PER_GPU) busy++
    return busy
  }

  private refreshGpuSummary(n: number): void {
    let full = 0
    let max = 0
    for (let g = this.gpuStart[n]; g < this.gpuStart[n + 1]; g++) {
      const f = this.gpuFree[g]
      if (f === MILLI_PER_GPU) full++
      if (f > max) max = f
    }
    this.fullFree[n] = full
    this.maxFree[n] = max
  }

  /**
   * Node n as FGD's `GpuNodeState`, in a scratch object reused per GPU count (valid until the
   * next call for a node with as many GPUs). Memory is left out: F never uses it.
   */
  nodeState(n: number): ScratchNode {
    const count = this.gpuCount[n]
    let s = this.scratch[count]
    if (!s) s = this.scratch[count] = { gpuMilliFree: new Array<number>(count).fill(0), cpuMilliFree: 0, gpuModel: '' }
    const start = this.gpuStart[n]
    for (let i = 0; i < count; i++) s.gpuMilliFree[i] = this.gpuFree[start + i]
    s.cpuMilliFree = this.cpuFree[n]
    s.gpuModel = this.model[n] >= 0 ? this.models[this.model[n]] : ''
    return s
  }

  /** F_n(M)·scale of node n now (`nodeFragmentationScaled`). */
  nodeFrag(n: number, mix: WorkloadMix = this.mix): number {
    return this.gpuCount[n] === 0 ? 0 : nodeFragmentationScaled(this.nodeState(n), mix)
  }

  /**
   * F_n(M)·scale of node n after a hypothetical placement of the shape: on global GPU `gpu` for a
   * share (holding `held(n, shape)` milli), on fully free GPUs for whole-GPU pods, CPU only for
   * CPU-only pods. The state is not changed.
   */
  fragAfter(n: number, shape: PodShape, gpu: number, mix: WorkloadMix = this.mix): number {
    if (this.gpuCount[n] === 0) return 0
    const s = this.nodeState(n)
    s.cpuMilliFree -= shape.cpuMilli
    if (shape.kind === 'share') s.gpuMilliFree[gpu - this.gpuStart[n]] -= this.held(n, shape)
    else {
      let left = shape.gpuCount
      for (let i = 0; i < s.gpuMilliFree.length && left > 0; i++) {
        if (s.gpuMilliFree[i] === MILLI_PER_GPU) {
          s.gpuMilliFree[i] = 0
          left--
        }
      }
    }
    return nodeFragmentationScaled(s, mix)
  }
}
