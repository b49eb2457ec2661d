// FGD's fragmentation measure: F_n(m) per task type, F_n(M) per node, and the cluster totals.
//
// Definitions are the paper's (Weng et al., "Beware of Fragmentation", USENIX ATC'23: the
// statistical fragmentation measure, F_n(m) and F_n(M) = Σ_m p_m·F_n(m)); every rule below is
// checked against the simulator that produced the paper's numbers (pkg/utils/frag.go:
// `GetNodePodFrag`, `NodeGpuShareFragAmount`, `GetGpuFragMilliByNodeResAndPodRes`,
// `FragAmountSumExceptQ3`), summarised in reference/fgd-trace.md §3.
//
// Arithmetic: F_n(m) is an integer number of milli-GPU. With the mix's integer weights,
// Σ_m weight_m·F_n(m) ("scaled" values, unit: milli-GPU/scale) is an exact integer, so values are
// compared and subtracted without float drift; the milli-GPU figure is that integer / scale.
// Inputs are assumed valid (integers in range): check them once at the boundary with
// `validateNodeState` / `validateTaskShape`; mixes validate their tasks when built.
import { GpuplaneError } from '../common/errors.ts'
import { freeGpuMilli, type GpuNodeState, modelAllows, type TaskShape } from './fragmentation-types.ts'
import type { WorkloadMix } from './fragmentation-mix.ts'

/**
 * How a task type relates to a node (the simulator's frag categories, reported as q1..q4, xl, xr
 * and no_access):
 * - `q1-lack-both`: too few GPUs with enough free milli and too little CPU;
 * - `q2-lack-gpu`: too few GPUs with enough free milli;
 * - `q3-satisfied`: the task fits;
 * - `q4-lack-cpu`: too little CPU;
 * - `xl-satisfied` / `xr-lack-cpu`: a CPU-only task, with / without enough CPU;
 * - `no-access`: the node's GPU model is not one the task allows.
 */
export type FragCategory = 'q1-lack-both' | 'q2-lack-gpu' | 'q3-satisfied' | 'q4-lack-cpu' | 'xl-satisfied' | 'xr-lack-cpu' | 'no-access'

/** The categories in the simulator's bucket order (`FragRatioDataMap`). */
export const FRAG_CATEGORIES: readonly FragCategory[] = ['q1-lack-both', 'q2-lack-gpu', 'q3-satisfied', 'q4-lack-cpu', 'xl-satisfied', 'xr-lack-cpu', 'no-access']

/** Whether at least `gpuCount` GPUs each have `gpuMilliPerGpu` free (`CanNodeHostPodOnGpuMemory`). */
function enoughGpus(node: GpuNodeState, task: TaskShape): boolean {
  let needed = task.gpuCount
  for (const free of node.gpuMilliFree) {
    if (free >= task.gpuMilliPerGpu && --needed <= 0) return true
  }
  return false
}

/**
 * The category of task type m on node n (`GetNodePodFrag`), tested in the simulator's order:
 * CPU-only first, then GPU model, then GPU and CPU fit. Memory is not considered (the typical
 * task key has no memory).
 */
export function classifyTask(node: GpuNodeState, task: TaskShape): FragCategory {
  const cpuFits = node.cpuMilliFree >= task.cpuMilli
  if (task.gpuMilliPerGpu === 0) return cpuFits ? 'xl-satisfied' : 'xr-lack-cpu'
  if (!modelAllows(task, node)) return 'no-access'
  if (enoughGpus(node, task)) return cpuFits ? 'q3-satisfied' : 'q4-lack-cpu'
  return cpuFits ? 'q2-lack-gpu' : 'q1-lack-both'
}

/** Free milli-GPU on GPUs that cannot hold `milliPerGpu` (`GetGpuFragMilliByNodeResAndPodRes`). */
function tooSmallMilli(node: GpuNodeState, milliPerGpu: number): number {
  let sum = 0
  for (const free of node.gpuMilliFree) if (free < milliPerGpu) sum += free
  return sum
}

/**
 * F_n(m): the node's free milli-GPU that task type m cannot use (integer milli-GPU).
 * - m fits (q3): Σ_g R_g·1[R_g < d_m], the free GPU on GPUs too small for m's per-GPU request.
 *   For a whole-GPU task (d_m = 1000) that is every partially used GPU; a multi-GPU task is
 *   judged per GPU the same way (only GPUs with R_g >= d_m can take part in it).
 * - otherwise, all the node's free GPU Σ_g R_g: m is CPU-only (xl and xr alike: a task that asks
 *   no GPU can never use idle GPU), m's GPU model is not the node's (no-access), or m does not
 *   fit for lack of GPUs (q2), CPU (q4) or both (q1).
 * A node without free GPU has F = 0 for every m.
 */
export function taskFragmentation(node: GpuNodeState, task: TaskShape): number {
  const category = classifyTask(node, task)
  return category === 'q3-satisfied' ? tooSmallMilli(node, task.gpuMilliPerGpu) : freeGpuMilli(node)
}

/**
 * F_n(M)·scale = Σ_m weight_m·F_n(m): an exact integer (unit: milli-GPU / `mix.scale`).
 * This is the value to compare and subtract; `nodeFragmentation` is it in milli-GPU.
 */
export function nodeFragmentationScaled(node: GpuNodeState, mix: WorkloadMix): number {
  const free = freeGpuMilli(node)
  if (free === 0) return 0
  let sum = 0
  for (let i = 0; i < mix.tasks.length; i++) {
    const w = mix.weights[i]
    if (w === 0) continue
    const task = mix.tasks[i]
    sum += w * (classifyTask(node, task) === 'q3-satisfied' ? tooSmallMilli(node, task.gpuMilliPerGpu) : free)
  }
  return sum
}

/**
 * F_n(M) = Σ_m p_m·F_n(m), the expected milli-GPU of node n that the target workload M cannot use
 * (`NodeGpuShareFragAmountScore`). A float: `nodeFragmentationScaled(node, mix) / mix.scale`.
 * Always within [0, free milli-GPU of the node].
 */
export function nodeFragmentation(node: GpuNodeState, mix: WorkloadMix): number {
  return nodeFragmentationScaled(node, mix) / mix.scale
}

/**
 * The simulator's per-category accounting of one node (`NodeGpuShareFragAmount`), scaled like
 * `nodeFragmentationScaled`: each task type adds weight·(free GPU) to its category, except a
 * fitting one (q3), which adds its too-small GPU to `q2-lack-gpu` and the rest to `q3-satisfied`.
 * The sum of all but `q3-satisfied` is `nodeFragmentationScaled`; the sum of all is
 * free GPU × Σ weights.
 */
export function nodeFragmentationBreakdown(node: GpuNodeState, mix: WorkloadMix): Record<FragCategory, number> {
  const out = Object.fromEntries(FRAG_CATEGORIES.map((c) => [c, 0])) as Record<FragCategory, number>
  const free = freeGpuMilli(node)
  for (let i = 0; i < mix.tasks.length; i++) {
    const w = mix.weights[i]
    const task = mix.tasks[i]
    const category = classifyTask(node, task)
    if (category === 'q3-satisfied') {
      const small = tooSmallMilli(node, task.gpuMilliPerGpu)
      out['q2-lack-gpu'] += w * small
      out['q3-satisfied'] += w * (free - small)
    } else {
      out[category] += w * free
    }
  }
  return out
}

/**
 * F_n(M) in milli-GPU computed the way the FGD simulator computes it, in float64 and in its order
 * of operations (`NodeGpuShareFragAmount` then `FragAmountSumExceptQ3`): p_m·amount added to the
 * task's category bucket in mix order, then the buckets but q3 summed in bucket order, with the
 * mix's float `popularities`. Equal to `nodeFragmentation` up to float rounding; the difference
 * matters only where the simulator truncates a score (a Δ of ±1e-12 instead of 0 turns a 50 into
 * a 49), so use this only to replay the simulator decision by decision.
 */
export function simulatorNodeFragmentation(node: GpuNodeState, mix: WorkloadMix): number {
  const buckets = [0, 0, 0, 0, 0, 0, 0]
  const free = freeGpuMilli(node)
  for (let i = 0; i < mix.tasks.length; i++) {
    const p = mix.popularities[i]
    if (!(p >= 0 && p <= 1)) continue // the simulator logs and skips such a task type
    const task = mix.tasks[i]
    const category = classifyTask(node, task)
    if (category === 'q3-satisfied') {
      const small = tooSmallMilli(node, task.gpuMilliPerGpu)
      buckets[1] += p * small
      buckets[2] += p * (free - small)
    } else {
      buckets[FRAG_CATEGORIES.indexOf(category)] += p * free
    }
  }
  let out = 0
  for (let b = 0; b < buckets.length; b++) if (b !== 2) out += buckets[b]
  return out
}

/** Fragmentation of a whole cluster under the target workload. */
export interface ClusterFragmentation {
  /** Σ_n F_n(M) in milli-GPU (the simulator's `[Report]; Frag amount`). */
  readonly fragmentedGpuMilli: number
  /** The same, exact: Σ_n F_n(M)·scale (unit: milli-GPU / scale). */
  readonly fragmentedScaled: number
  /** Σ_n free milli-GPU (integer). */
  readonly freeGpuMilli: number
  /**
   * Fragmentation rate as the paper reports it: fragmented / free GPU, as a fraction 0..1
   * (×100 for the paper's %). 0 when nothing is free.
   */
  readonly rate: number
}

/**
 * Cluster fragmentation Σ_n F_n(M) and its rate. The simulator divides by
 * Σ_categories (free × Σ p) rather than by free; the two agree whenever popularities sum to one
 * (every mix from counts, and `workloadMix` of a full distribution up to ppm rounding).
 */
export function clusterFragmentation(nodes: Iterable<GpuNodeState>, mix: WorkloadMix): ClusterFragmentation {
  let scaled = 0
  let free = 0
  for (const node of nodes) {
    scaled += nodeFragmentationScaled(node, mix)
    free += freeGpuMilli(node)
  }
  if (!Number.isSafeInteger(scaled)) throw new GpuplaneError('INVALID_INPUT', `cluster fragmentation × mix scale (${mix.scale}) passes 2^53: build the mix with a smaller scale`, { path: 'mix.scale' })
  const fragmentedGpuMilli = scaled / mix.scale
  return { fragmentedGpuMilli, fragmentedScaled: scaled, freeGpuMilli: free, rate: fragmentationRate(fragmentedGpuMilli, free) }
}

/** fragmented / free as a fraction; 0 when nothing is free (nothing can be fragmented then). */
export function fragmentationRate(fragmentedGpuMilli: number, freeGpuMilliTotal: number): number {
  return freeGpuMilliTotal === 0 ? 0 : fragmentedGpuMilli / freeGpuMilliTotal
}
