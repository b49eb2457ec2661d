// FGD's target workload M: task shapes with their popularity, as exact integer weights.
//
// Popularity p_m is held as weight_m / scale with integer weights, so that Σ_m weight_m·F_n(m)
// is an exact integer and fragmentation comparisons never drift (see fragmentation-measure.ts).
import { GpuplaneError } from '../common/errors.ts'
import { gpuSpecKey, isCpuOnly, type TaskShape, validateTaskShape } from './fragmentation-types.ts'

/**
 * Parts per unit that float popularities are rounded to (ppm). Rounding moves a node's
 * fragmentation by at most 0.5e-6 × |M| × its free milli-GPU (under 0.15 milli-GPU for 35 task
 * types on an 8-GPU node); build the mix from counts (`workloadMixFromCounts`,
 * `typicalWorkloadMix`) to have none at all.
 */
export const POPULARITY_SCALE = 1_000_000

/** One task type of the target workload with its popularity (probability, 0..1). */
export interface TypicalTask {
  readonly task: TaskShape
  readonly popularity: number
}

/**
 * The target workload M. For exact arithmetic popularity(m) = weights[m] / scale, with
 * non-negative integer weights and Σ weights <= scale, so F_n(M) never exceeds the node's free
 * GPU. `popularities` keeps each popularity as the float the FGD simulator would hold
 * (`TargetPod.Percentage`); only the simulator-compatible evaluation uses it.
 */
export interface WorkloadMix {
  readonly tasks: readonly TaskShape[]
  readonly weights: readonly number[]
  readonly scale: number
  readonly popularities: readonly number[]
}

/**
 * A mix from popularities. Each is rounded to the nearest ppm (`POPULARITY_SCALE`). The scale is
 * `max(POPULARITY_SCALE, Σ rounded weights)`: when rounding pushes the sum past one, the mix is
 * renormalised by at most 1 + |M|·0.5e-6, which keeps F_n(M) <= free GPU exactly.
 * Popularities may sum to less than one (a partial mix scales F down); past one (beyond 1e-6 of
 * tolerance for published rounded percentages) is an error.
 */
export function workloadMix(entries: readonly TypicalTask[]): WorkloadMix {
  let sum = 0
  const weights = entries.map((e, i) => {
    validateTaskShape(e.task, `mix[${i}].task`)
    const p = e.popularity
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 1) {
      throw new GpuplaneError('INVALID_INPUT', `popularity must be a probability from 0 to 1, got ${String(p)}`, { path: `mix[${i}].popularity` })
    }
    sum += p
    return Math.round(p * POPULARITY_SCALE)
  })
  if (sum > 1 + 1e-6) throw new GpuplaneError('INVALID_INPUT', `popularities sum to ${sum}, more than 1: normalise them to a probability distribution`, { path: 'mix' })
  const total = weights.reduce((a, b) => a + b, 0)
  return { tasks: entries.map((e) => e.task), weights, scale: Math.max(POPULARITY_SCALE, total), popularities: entries.map((e) => e.popularity) }
}

/**
 * A mix from task counts: popularity = count / Σ counts, exactly (the paper derives popularity
 * from how often each shape occurs in the trace). An empty or all-zero mix has F = 0 everywhere.
 */
export function workloadMixFromCounts(entries: readonly { readonly task: TaskShape; readonly count: number }[]): WorkloadMix {
  const weights = entries.map((e, i) => {
    validateTaskShape(e.task, `mix[${i}].task`)
    if (!Number.isSafeInteger(e.count) || e.count < 0) throw new GpuplaneError('INVALID_INPUT', `count must be a non-negative integer, got ${String(e.count)}`, { path: `mix[${i}].count` })
    return e.count
  })
  const total = weights.reduce((a, b) => a + b, 0)
  if (!Number.isSafeInteger(total)) throw new GpuplaneError('INVALID_INPUT', 'counts sum past 2^53: scale them down', { path: 'mix' })
  return { tasks: entries.map((e) => e.task), weights, scale: Math.max(1, total), popularities: weights.map((w) => (total === 0 ? 0 : w / total)) }
}

/** How the typical tasks are picked from a trace; defaults are the FGD artifact's settings. */
export interface TypicalMixOptions {
  /** Keep the most frequent shapes until they cover at least this % of tasks (artifact: 95). */
  readonly popularityThresholdPercent?: number
  /** Shapes added per round (artifact: 1; the simulator's own default is 10). */
  readonly increaseStep?: number
  /** Count CPU-only tasks as task types (artifact: true, `isInvolvedCpuPods`). */
  readonly includeCpuOnly?: boolean
}

/** A mix derived from a trace, with what it covers. `scale` is the number of covered tasks. */
export interface TypicalMix extends WorkloadMix {
  /** Tasks counted (CPU-only ones excluded when `includeCpuOnly` is false). */
  readonly totalTasks: number
  /** Distinct shapes among them, before the cut. */
  readonly distinctShapes: number
}

interface ShapeCount {
  task: TaskShape
  count: number
}

/** `sort.Reverse` of `TargetPodList.Less`: higher count first, then cpu, milli, count, spec all descending. */
function byPopularity(a: ShapeCount, b: ShapeCount): number {
  if (a.count !== b.count) return b.count - a.count
  const x = a.task
  const y = b.task
  if (x.cpuMilli !== y.cpuMilli) return y.cpuMilli - x.cpuMilli
  if (x.gpuMilliPerGpu !== y.gpuMilliPerGpu) return y.gpuMilliPerGpu - x.gpuMilliPerGpu
  if (x.gpuCount !== y.gpuCount) return y.gpuCount - x.gpuCount
  const sx = gpuSpecKey(x)
  const sy = gpuSpecKey(y)
  return sx < sy ? 1 : sx > sy ? -1 : 0
}

/**
 * The paper's typical workload from a trace (`GetTypicalPods`): tasks keyed by (CPU, milli-GPU
 * per GPU, GPU count, GPU spec), memory ignored; shapes sorted by count (ties as `byPopularity`);
 * taken `increaseStep` at a time until the taken counts reach the threshold share of all tasks;
 * popularity = count / covered tasks. The cut test is exact integer arithmetic
 * (covered·100 < threshold·total), where the simulator compares floats.
 */
export function typicalWorkloadMix(tasks: readonly TaskShape[], options: TypicalMixOptions = {}): TypicalMix {
  const threshold = options.popularityThresholdPercent ?? 95
  const step = options.increaseStep ?? 1
  const includeCpuOnly = options.includeCpuOnly ?? true
  if (!(threshold > 0 && threshold <= 100)) throw new GpuplaneError('INVALID_INPUT', `popularityThresholdPercent must be in (0, 100], got ${threshold}`, { path: 'popularityThresholdPercent' })
  if (!Number.isSafeInteger(step) || step < 1) throw new GpuplaneError('INVALID_INPUT', `increaseStep must be a positive integer, got ${step}`, { path: 'increaseStep' })

  const byKey = new Map<string, ShapeCount>()
  let total = 0
  tasks.forEach((task, i) => {
    validateTaskShape(task, `tasks[${i}]`)
    if (!includeCpuOnly && isCpuOnly(task)) return
    total++
    const key = `${task.cpuMilli}/${task.gpuMilliPerGpu}/${task.gpuCount}/${gpuSpecKey(task)}`
    const entry = byKey.get(key)
    if (entry) entry.count++
    else {
      const shape: TaskShape = { cpuMilli: task.cpuMilli, gpuCount: task.gpuCount, gpuMilliPerGpu: task.gpuMilliPerGpu, ...(task.gpuModels?.length ? { gpuModels: [...task.gpuModels] } : {}) }
      byKey.set(key, { task: shape, count: 1 })
    }
  })
  const sorted = [...byKey.values()].sort(byPopularity)

  let taken = 0
  let covered = 0
  while (taken < sorted.length && covered * 100 < threshold * total) {
    const end = Math.min(taken + step, sorted.length)
    for (; taken < end; taken++) covered += sorted[taken].count
  }
  const kept = sorted.slice(0, taken)
  // The simulator's floats: count/total, then divided by covered/total (GetTypicalPods).
  const popularities = kept.map((s) => s.count / total / (covered / total))
  return { tasks: kept.map((s) => s.task), weights: kept.map((s) => s.count), scale: Math.max(1, covered), popularities, totalTasks: total, distinctShapes: sorted.length }
}
