// FGD's fragmentation gradient: Δ F_n(M) of a placement, the candidate placements, the best one.
//
// The paper's FGD (Weng et al., USENIX ATC'23, the Fragmentation Gradient Descent algorithm)
// places a task where the target workload's fragmentation grows least. The simulator's plugin
// (pkg/simulator/plugin/fgd_score.go `calculateGpuShareFragExtendScore`) fixes the details kept
// here: which GPU(s) are tried, how the score is formed and how ties break
// (reference/fgd-trace.md §3).
import { GpuplaneError } from '../common/errors.ts'
import { type GpuNodeState, isCpuOnly, isGpuShare, MILLI_PER_GPU, modelAllows, type TaskShape } from './fragmentation-types.ts'
import type { WorkloadMix } from './fragmentation-mix.ts'
import { nodeFragmentationScaled, simulatorNodeFragmentation } from './fragmentation-measure.ts'

/** Where on a node a task goes: the GPU indices it takes (empty for a CPU-only task). */
export interface Placement {
  readonly gpuIndices: readonly number[]
}

function memoryFits(node: GpuNodeState, task: TaskShape): boolean {
  return node.memoryBytesFree === undefined || (task.memoryBytes ?? 0) <= node.memoryBytesFree
}

/**
 * The simulator's hard filter for a task on a node: CPU and memory (k8s NodeResourcesFit), and
 * for a GPU task the GPU model (`IsNodeAccessibleToPodByType`) and enough GPUs with the per-GPU
 * milli free (Open-Gpu-Share: one GPU with R >= d for a sharing task, `gpuCount` fully free GPUs
 * for a whole-GPU task). A CPU-only task passes the GPU checks whatever its model list.
 */
export function fitsNode(node: GpuNodeState, task: TaskShape): boolean {
  return candidatePlacements(node, task).length > 0
}

/**
 * The placements FGD tries for a task on a node, in the order it tries them (none if the task
 * does not fit, see `fitsNode`):
 * - CPU-only: one, taking no GPU;
 * - GPU-sharing (1 GPU, d < 1000): every GPU g with R_g >= d, by ascending index;
 * - whole GPUs (d = 1000): one, the first `gpuCount` fully free GPUs by index
 *   (`AllocateExclusiveGpuId`). Fully free GPUs are interchangeable for the measure, so the
 *   simulator scores only this one (its `NodeResource.Sub` picks the same ones).
 */
export function candidatePlacements(node: GpuNodeState, task: TaskShape): Placement[] {
  if (node.cpuMilliFree < task.cpuMilli || !memoryFits(node, task)) return []
  if (isCpuOnly(task)) return [{ gpuIndices: [] }]
  if (!modelAllows(task, node)) return []
  const free = node.gpuMilliFree
  if (isGpuShare(task)) {
    const out: Placement[] = []
    for (let g = 0; g < free.length; g++) if (free[g] >= task.gpuMilliPerGpu) out.push({ gpuIndices: [g] })
    return out
  }
  const picked: number[] = []
  for (let g = 0; g < free.length && picked.length < task.gpuCount; g++) if (free[g] === MILLI_PER_GPU) picked.push(g)
  return picked.length === task.gpuCount ? [{ gpuIndices: picked }] : []
}

function badPlacement(message: string): never {
  throw new GpuplaneError('INVALID_INPUT', `${message}: take a placement from candidatePlacements`, { path: 'placement.gpuIndices' })
}

/**
 * The node after placing the task: CPU, memory (when both are given) and the task's milli on each
 * chosen GPU subtracted. Throws `INVALID_INPUT` if the placement is not one the task could take
 * (wrong GPU count, a GPU repeated, out of range or short of milli, CPU or memory short, GPU
 * model not allowed): free capacity never goes negative.
 */
export function applyPlacement(node: GpuNodeState, task: TaskShape, placement: Placement): GpuNodeState {
  const indices = placement.gpuIndices
  if (node.cpuMilliFree < task.cpuMilli) badPlacement(`the task needs ${task.cpuMilli} milli-CPU, the node has ${node.cpuMilliFree}`)
  if (!memoryFits(node, task)) badPlacement(`the task needs ${task.memoryBytes} bytes of memory, the node has ${node.memoryBytesFree}`)
  if (indices.length !== task.gpuCount) badPlacement(`the task takes ${task.gpuCount} GPU(s), the placement names ${indices.length}`)
  if (task.gpuCount > 0 && !modelAllows(task, node)) badPlacement(`the node's GPU model ${JSON.stringify(node.gpuModel ?? '')} is not one the task allows`)
  const gpuMilliFree = [...node.gpuMilliFree]
  for (const g of indices) {
    if (!Number.isInteger(g) || g < 0 || g >= gpuMilliFree.length) badPlacement(`GPU ${g} is not on the node (it has ${gpuMilliFree.length})`)
    if (gpuMilliFree[g] < task.gpuMilliPerGpu) badPlacement(`GPU ${g} has ${gpuMilliFree[g]} milli free (or is named twice), the task needs ${task.gpuMilliPerGpu}`)
    gpuMilliFree[g] -= task.gpuMilliPerGpu
  }
  const after: GpuNodeState = { ...node, gpuMilliFree, cpuMilliFree: node.cpuMilliFree - task.cpuMilli }
  if (node.memoryBytesFree !== undefined) return { ...after, memoryBytesFree: node.memoryBytesFree - (task.memoryBytes ?? 0) }
  return after
}

/**
 * Δ F_n(M)·scale = F_{n+task}(M)·scale − F_n(M)·scale for the placement: an exact integer
 * (unit: milli-GPU / `mix.scale`). Smaller is better; negative means the placement reduces
 * fragmentation.
 */
export function fragmentationGradientScaled(node: GpuNodeState, task: TaskShape, placement: Placement, mix: WorkloadMix): number {
  return nodeFragmentationScaled(applyPlacement(node, task, placement), mix) - nodeFragmentationScaled(node, mix)
}

/**
 * The fragmentation gradient of placing the task: F_{n+task}(M) − F_n(M) in milli-GPU (after
 * minus before; FGD prefers the smallest). Note the simulator's Δ is the opposite sign
 * (before − after), used inside `fgdScore`.
 */
export function fragmentationGradient(node: GpuNodeState, task: TaskShape, placement: Placement, mix: WorkloadMix): number {
  return fragmentationGradientScaled(node, task, placement, mix) / mix.scale
}

/**
 * The simulator's FGD score for a gradient (after − before, milli-GPU):
 * int64(sigmoid((before − after)/1000) × 100), 0..100, higher is better, 50 for no change. The
 * truncation makes ties; the simulator breaks node ties by node name and GPU ties by lowest
 * index. Evaluated with the simulator's float operations in its order.
 */
export function fgdScore(gradientMilli: number): number {
  const x = -gradientMilli / 1000
  return Math.trunc((1 / (1 + Math.exp(-x))) * 100)
}

/** A placement with its gradient and score. */
export interface PlacementChoice {
  readonly placement: Placement
  /** Δ F_n(M) in milli-GPU (after − before). */
  readonly gradient: number
  /** The same, exact: Δ F_n(M)·scale. */
  readonly gradientScaled: number
  /**
   * The simulator's FGD score of this placement, 0..100: `fgdScore` of the gradient as the
   * simulator computes it (`simulatorNodeFragmentation` before and after, in float64). Compare it
   * across nodes to rank them as the simulator does (ties: smallest node name).
   */
  readonly score: number
}

/**
 * How `bestPlacement` ranks candidates:
 * - `gradient`: smallest exact Δ F_n(M), the paper's steepest descent, free of float noise;
 * - `fgd-score`: highest `score`, exactly as the simulator picks a sharing task's GPU (truncated
 *   integer score over float sums); use it to replay the simulator decision by decision.
 * Either way ties go to the candidate tried first (lowest GPU index).
 */
export type PlacementRanking = 'gradient' | 'fgd-score'

/**
 * The best placement of the task on the node by fragmentation gradient, or undefined when the
 * task does not fit. Deterministic: candidates in `candidatePlacements` order, the first of equals
 * wins.
 */
export function bestPlacement(node: GpuNodeState, task: TaskShape, mix: WorkloadMix, options: { ranking?: PlacementRanking } = {}): PlacementChoice | undefined {
  const ranking = options.ranking ?? 'gradient'
  const candidates = candidatePlacements(node, task)
  if (candidates.length === 0) return undefined
  const before = nodeFragmentationScaled(node, mix)
  const simBefore = simulatorNodeFragmentation(node, mix)
  let best: PlacementChoice | undefined
  for (const placement of candidates) {
    const after = applyPlacement(node, task, placement)
    const gradientScaled = nodeFragmentationScaled(after, mix) - before
    const score = fgdScore(simulatorNodeFragmentation(after, mix) - simBefore)
    const choice: PlacementChoice = { placement, gradient: gradientScaled / mix.scale, gradientScaled, score }
    const better = best === undefined || (ranking === 'gradient' ? gradientScaled < best.gradientScaled : choice.score > best.score)
    if (better) best = choice
  }
  return best
}
