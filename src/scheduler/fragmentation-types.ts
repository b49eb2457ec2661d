// Shapes of FGD's fragmentation measure: a node's GPU state, a task shape, and their validation.
//
// Semantics follow the FGD paper (Weng et al., USENIX ATC'23) as its simulator implements them
// (hkust-adsl/kubernetes-scheduler-simulator, pkg/type/resource.go `NodeResource`/`PodResource`,
// pkg/utils/utils.go `IsNodeAccessibleToPodByType`); see reference/fgd-trace.md §3 and §6.
import { GpuplaneError } from '../common/errors.ts'

/** Milli-GPU in one whole GPU (`gpushareutils.MILLI` in the FGD simulator). */
export const MILLI_PER_GPU = 1000

/**
 * A node as FGD sees it. All quantities are integers.
 * The node's GPU count is `gpuMilliFree.length`; GPU i is device index i (order matters for
 * placement tie-breaking, never for the fragmentation value, which is permutation-invariant).
 */
export interface GpuNodeState {
  /** Free milli-GPU of each GPU, 0..1000 (`MilliGpuLeftList`). */
  readonly gpuMilliFree: readonly number[]
  /** Free CPU in milli-CPU (`MilliCpuLeft`). */
  readonly cpuMilliFree: number
  /**
   * Free memory in bytes; undefined means not limited. Memory is a hard filter for placement
   * (k8s NodeResourcesFit in the simulator) but never enters the fragmentation measure.
   */
  readonly memoryBytesFree?: number
  /** The node's GPU model (node label `alibabacloud.com/gpu-card-model`); '' or undefined for none. */
  readonly gpuModel?: string
}

/**
 * A task (pod) shape. Integers throughout.
 * - CPU-only: `gpuCount` 0 and `gpuMilliPerGpu` 0.
 * - GPU-sharing (fractional): `gpuCount` 1 and `gpuMilliPerGpu` 1..999.
 * - Whole GPUs: `gpuCount` >= 1 and `gpuMilliPerGpu` 1000.
 * Several partial GPUs (`gpuCount` > 1 with milli < 1000) never occur in the trace and make the
 * simulator panic; they are rejected here.
 */
export interface TaskShape {
  /** Requested CPU in milli-CPU. */
  readonly cpuMilli: number
  /** Requested memory in bytes; undefined or 0 means none. Ignored by the fragmentation measure. */
  readonly memoryBytes?: number
  /** Number of GPUs. */
  readonly gpuCount: number
  /** Milli-GPU requested on each of those GPUs (the trace's `gpu_milli`). */
  readonly gpuMilliPerGpu: number
  /** Allowed GPU models (the trace's `gpu_spec`, split on `|`); empty or undefined means any. */
  readonly gpuModels?: readonly string[]
}

/** A task asks for no GPU. The simulator tests `MilliGpu == 0` (`GetNodePodFrag`). */
export function isCpuOnly(task: TaskShape): boolean {
  return task.gpuMilliPerGpu === 0
}

/** A GPU-sharing task: one GPU, less than all of it (`PodResource.IsGpuShare`). */
export function isGpuShare(task: TaskShape): boolean {
  return task.gpuCount === 1 && task.gpuMilliPerGpu < MILLI_PER_GPU
}

/**
 * The trace's `gpu_spec` as a model list: split on `|`, empty names dropped (an all-empty spec
 * means any model, as in `IsNodeAccessibleToPodByType`). Order and duplicates are kept, so that
 * `gpuSpecKey` gives back the spec the trace wrote (the typical-mix key depends on it).
 */
export function parseGpuSpec(spec: string | undefined): string[] {
  if (!spec) return []
  return spec.split('|').filter((s) => s.length > 0)
}

/** The `|`-joined spec of a task ('' when any model is allowed). */
export function gpuSpecKey(task: TaskShape): string {
  return task.gpuModels?.join('|') ?? ''
}

/**
 * Whether the node's GPU model is acceptable to the task (`IsNodeAccessibleToPodByType`):
 * no restriction matches any node; a restriction matches only a node whose model is exactly one
 * of the listed names (no substitution by memory size); a node without a model never matches a
 * restriction.
 */
export function modelAllows(task: TaskShape, node: GpuNodeState): boolean {
  const models = task.gpuModels
  if (!models || models.length === 0) return true
  const model = node.gpuModel ?? ''
  if (model === '') return false
  return models.includes(model)
}

/** Total free milli-GPU of a node (`GetGpuMilliLeftTotal`). */
export function freeGpuMilli(node: GpuNodeState): number {
  let total = 0
  for (const free of node.gpuMilliFree) total += free
  return total
}

function invalid(path: string, message: string): never {
  throw new GpuplaneError('INVALID_INPUT', message, { path })
}

function checkCount(value: unknown, path: string, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    invalid(path, `must be an integer from 0 to ${max}, got ${String(value)}`)
  }
}

/**
 * Throws `INVALID_INPUT` (with the field path) unless the task is a shape FGD can reason about.
 * The measure's hot functions assume valid input and do not re-check; mixes validate their
 * tasks once when built.
 */
export function validateTaskShape(task: TaskShape, path = 'task'): void {
  checkCount(task.cpuMilli, `${path}.cpuMilli`)
  if (task.memoryBytes !== undefined) checkCount(task.memoryBytes, `${path}.memoryBytes`)
  checkCount(task.gpuCount, `${path}.gpuCount`)
  checkCount(task.gpuMilliPerGpu, `${path}.gpuMilliPerGpu`, MILLI_PER_GPU)
  if ((task.gpuCount === 0) !== (task.gpuMilliPerGpu === 0)) {
    invalid(`${path}.gpuMilliPerGpu`, `a task asks for GPUs exactly when gpuCount > 0; got gpuCount ${task.gpuCount} with gpuMilliPerGpu ${task.gpuMilliPerGpu}: set both to 0 for a CPU-only task`)
  }
  if (task.gpuCount > 1 && task.gpuMilliPerGpu !== MILLI_PER_GPU) {
    invalid(`${path}.gpuMilliPerGpu`, `a task with ${task.gpuCount} GPUs must take whole GPUs (1000 milli each), got ${task.gpuMilliPerGpu}: only a 1-GPU task may share a GPU`)
  }
  task.gpuModels?.forEach((m, i) => {
    if (typeof m !== 'string' || m.length === 0 || m.includes('|')) invalid(`${path}.gpuModels[${i}]`, `must be a non-empty GPU model name without '|', got ${JSON.stringify(m)}`)
  })
}

/** Throws `INVALID_INPUT` (with the field path) unless the node state is consistent. */
export function validateNodeState(node: GpuNodeState, path = 'node'): void {
  checkCount(node.cpuMilliFree, `${path}.cpuMilliFree`)
  if (node.memoryBytesFree !== undefined) checkCount(node.memoryBytesFree, `${path}.memoryBytesFree`)
  node.gpuMilliFree.forEach((free, i) => checkCount(free, `${path}.gpuMilliFree[${i}]`, MILLI_PER_GPU))
}
