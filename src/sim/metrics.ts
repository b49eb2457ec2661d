// Per-event metrics of a replay, binned by integer arrived load as the FGD artifact bins them, and their aggregation over seeds.
//
// After every pod event (placed or failed) the engine records the cluster's state against the
// arrived load x = cumulative GPU request of all pods submitted so far / cluster GPU capacity, in %.
// Binning follows the artifact's experiments/analysis/merge_*_discrete.py: an event belongs to bin
// round(x) (Python's round, half to even); a bin's value is the mean over its events; a bin with no
// event takes the mean over the events of bins x−1 and x+1; with none there either it has no value.
// (The artifact also rounds each event's value to 2 decimals before averaging; we keep full
// precision, a difference below 0.005 points.)
import { MILLI_PER_GPU } from '../scheduler/fragmentation.ts'
import type { SimCluster } from './cluster.ts'
import { quantile, summarize, type Summary } from './report-stats.ts'
import { POD_KINDS, type PodKind } from './trace.ts'

/**
 * The per-event series, each in %:
 * - allocatedPct: requested milli-GPU of placed pods / cluster milli-GPU (the paper's GPU
 *   allocation ratio; unallocated = 100 − it);
 * - heldPct: milli-GPU held on GPUs / cluster milli-GPU (above allocatedPct only under slicing,
 *   where a request holds a whole profile);
 * - fragPct: FGD fragmentation Σ_n F_n(M) / cluster milli-GPU (the paper's fragmentation amount);
 * - fragRatePct: Σ_n F_n(M) / free milli-GPU (the paper's fragmentation rate; 0 when none is free);
 * - busyGpuPct: GPUs holding at least one pod / all GPUs;
 * - busyGpuUtilizationPct: requested milli-GPU / (busy GPUs × 1000): how full the GPUs in use are;
 * - dedicatedGpuPct: GPUs the placed GPU pods would take if every pod held whole GPUs / all GPUs;
 * - dedicatedUtilizationPct: requested milli-GPU / (those GPUs × 1000): the utilization of a
 *   fleet that does not share GPUs, for the same placed pods.
 */
export const SERIES = ['allocatedPct', 'heldPct', 'fragPct', 'fragRatePct', 'busyGpuPct', 'busyGpuUtilizationPct', 'dedicatedGpuPct', 'dedicatedUtilizationPct'] as const
export type Series = (typeof SERIES)[number]

/** Python's round(x) to an integer: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** One seed's binned curves. Arrays are indexed by arrived % (0..bins-1); null where a bin has no value. */
export interface SeedCurves {
  values: Record<Series, (number | null)[]>
  /** Pods failed so far by kind, after the last event of each bin (carried over empty bins). */
  failed: Record<PodKind, number[]>
}

/** Accumulates per-event values into bins (no allocation per event). */
export class MetricsRecorder {
  private readonly sums: Float64Array
  private readonly counts: Int32Array
  private readonly failedAt: Int32Array
  readonly failed: Record<PodKind, number> = { cpu: 0, share: 0, whole: 0, multi: 0 }

  /** `bins`: one more than the highest arrived % to keep (events past it are not binned). */
  constructor(readonly bins: number) {
    this.sums = new Float64Array(bins * SERIES.length)
    this.counts = new Int32Array(bins)
    this.failedAt = new Int32Array(bins * POD_KINDS.length)
  }

  /** Records the cluster after one event; `arrivedGpuMilli` includes this event's pod. */
  record(c: SimCluster, arrivedGpuMilli: number, failedKind: PodKind | undefined): void {
    if (failedKind) this.failed[failedKind]++
    const bin = roundHalfEven(arrivedGpuMilli / c.totalGpus / 10)
    if (bin >= this.bins) return
    const cap = c.capacityGpuMilli
    const fragMilli = c.fragTotal / c.mix.scale
    const free = cap - c.heldGpuMilli
    const at = bin * SERIES.length
    const s = this.sums
    s[at] += (c.allocatedGpuMilli / cap) * 100
    s[at + 1] += (c.heldGpuMilli / cap) * 100
    s[at + 2] += (fragMilli / cap) * 100
    s[at + 3] += free > 0 ? (fragMilli / free) * 100 : 0
    s[at + 4] += (c.busyGpus / c.totalGpus) * 100
    s[at + 5] += c.busyGpus > 0 ? (c.allocatedGpuMilli / (c.busyGpus * MILLI_PER_GPU)) * 100 : 0
    s[at + 6] += (c.dedicatedGpus / c.totalGpus) * 100
    s[at + 7] += c.dedicatedGpus > 0 ? (c.allocatedGpuMilli / (c.dedicatedGpus * MILLI_PER_GPU)) * 100 : 0
    this.counts[bin]++
    for (let k = 0; k < POD_KINDS.length; k++) this.failedAt[bin * POD_KINDS.length + k] = this.failed[POD_KINDS[k]]
  }

  /** The binned curves. */
  curves(): SeedCurves {
    const values = Object.fromEntries(SERIES.map((name, i) => [name, Array.from({ length: this.bins }, (_, x) => this.binValue(x, i))])) as Record<Series, (number | null)[]>
    const failed = Object.fromEntries(POD_KINDS.map((k) => [k, [] as number[]])) as Record<PodKind, number[]>
    const carry = POD_KINDS.map(() => 0)
    for (let x = 0; x < this.bins; x++) {
      POD_KINDS.forEach((k, j) => {
        if (this.counts[x] > 0) carry[j] = this.failedAt[x * POD_KINDS.length + j]
        failed[k].push(carry[j])
      })
    }
    return { values, failed }
  }

  private binValue(x: number, series: number): number | null {
    const S = SERIES.length
    if (this.counts[x] > 0) return this.sums[x * S + series] / this.counts[x]
    let sum = 0
    let count = 0
    for (const y of [x - 1, x + 1]) {
      if (y < 0 || y >= this.bins) continue
      sum += this.sums[y * S + series]
      count += this.counts[y]
    }
    return count > 0 ? sum / count : null
  }
}

/** One point of an aggregated curve: means over the seeds with a value at that arrived %, plus spread. */
export interface SimPoint {
  arrivedPct: number
  allocatedPct: number
  unallocatedPct: number
  fragPct: number
  fragRatePct: number
  heldPct: number
  unallocatedMedian: number
  unallocatedSd: number
  unallocatedP25: number
  unallocatedP75: number
  fragMedian: number
  fragSd: number
  /** Pods failed so far, by kind (mean over seeds). */
  failedPods: Record<PodKind, number>
}

/** Aggregates seed curves into points (bins where at least one seed has a value; a mean is over those seeds). */
export function aggregateCurves(curves: readonly SeedCurves[]): SimPoint[] {
  // Seeds reach different arrived loads (their inflated totals differ), so their curves differ in length.
  const bins = Math.max(0, ...curves.map((c) => c.values.allocatedPct.length))
  const points: SimPoint[] = []
  for (let x = 0; x < bins; x++) {
    const present = curves.filter((c) => (c.values.allocatedPct[x] ?? null) !== null)
    if (present.length === 0) continue
    const get = (s: Series) => present.map((c) => c.values[s][x] as number)
    const unallocated = get('allocatedPct').map((a) => 100 - a)
    const u = summarize(unallocated)
    const frag = summarize(get('fragPct'))
    points.push({
      arrivedPct: x,
      allocatedPct: summarize(get('allocatedPct')).mean,
      unallocatedPct: u.mean,
      fragPct: frag.mean,
      fragRatePct: summarize(get('fragRatePct')).mean,
      heldPct: summarize(get('heldPct')).mean,
      unallocatedMedian: u.median,
      unallocatedSd: u.sd,
      unallocatedP25: quantile(unallocated, 0.25),
      unallocatedP75: quantile(unallocated, 0.75),
      fragMedian: frag.median,
      fragSd: frag.sd,
      failedPods: Object.fromEntries(POD_KINDS.map((k) => [k, summarize(present.map((c) => c.failed[k][x])).mean])) as Record<PodKind, number>,
    })
  }
  return points
}

/** A series at one arrived %, summarised over the seeds that have a value there. */
export function seriesAt(curves: readonly SeedCurves[], series: Series, arrivedPct: number): Summary {
  return summarize(curves.map((c) => c.values[series][arrivedPct]).filter((v): v is number => v !== null && v !== undefined))
}
