// Idle classification of one holder's utilization series under a namespace's idle policy: busy, idle since T, or unknown.
//
// The holder's utilization at a sample is its use of what it holds: usedPercent / share (a whole
// GPU: its smUtil; a 3/7 MIG device at 30% of the GPU: 70%), capped at 100. A sample below
// `smUtilBelow` is low. The holder is idle since T when every sample from T to the newest is low,
// the samples from T on leave no gap longer than `maxGapMs` (time nobody measured is not time seen
// idle), and they span at least `forMs`. Samples of all the holder's devices count together: a
// workload with one busy GPU of eight is busy.
//
// Classification reads only the samples, never the clock: the caller passes the samples of the
// holding (from its start to now). With no sample, or when the newest is older than `staleMs`
// before `now`, the state is unknown: an agent that stopped reporting never gets a workload reclaimed.
import type { AttributedSample } from './types.ts'

/** What classification needs of a policy (src/api/namespace-v1alpha1.ts resolveIdlePolicy gives the rest). */
export interface IdleThresholds {
  /** Percent of what the holder holds. */
  smUtilBelow: number
  forMs: number
}

export interface ClassifyOptions {
  /** The time of the classification (ms since the epoch). */
  now: number
  /** Longest gap between samples still counted as seen (default DEFAULT_MAX_GAP_MS). */
  maxGapMs?: number
  /** The newest sample must be at most this old at `now` (default DEFAULT_STALE_MS). */
  staleMs?: number
}

/** Default longest gap between two samples of an idle run: 5 minutes (agents sample every 10 s; rollups are per minute). */
export const DEFAULT_MAX_GAP_MS = 5 * 60_000
/** Default age past which the series says nothing about now: 5 minutes. */
export const DEFAULT_STALE_MS = 5 * 60_000

export type IdleState =
  | { state: 'unknown'; reason: string }
  /** `lowSince`: low from then on, but not yet for `forMs`. */
  | { state: 'busy'; lastBusy?: number; lowSince?: number }
  | { state: 'idle'; since: number; idleMs: number }

/** The holder's utilization of what it holds, percent. */
export function heldUtilization(s: Pick<AttributedSample, 'usedPercent' | 'share' | 'smUtil'>): number {
  const u = s.share > 0 ? s.usedPercent / s.share : s.smUtil
  return Math.min(100, Math.max(0, Number.isFinite(u) ? u : 0))
}

/** A sample reduced to what classification reads. */
export interface SeriesPoint {
  time: number
  /** Utilization of what the holder holds, percent (heldUtilization). */
  util: number
}

/** Classifies a holder's series (any order; points after `now` are ignored). */
export function classifyIdle(series: readonly SeriesPoint[], policy: IdleThresholds, options: ClassifyOptions): IdleState {
  const maxGap = options.maxGapMs ?? DEFAULT_MAX_GAP_MS
  const stale = options.staleMs ?? DEFAULT_STALE_MS
  const points = series.filter((p) => p.time <= options.now).sort((a, b) => a.time - b.time)
  if (points.length === 0) return { state: 'unknown', reason: 'no utilization samples yet' }
  const newest = points[points.length - 1]!.time
  if (options.now - newest > stale) return { state: 'unknown', reason: `no utilization sample for ${Math.round((options.now - newest) / 1000)}s` }
  // Walk back from the newest sample while samples are low and gaps are short.
  let start = points.length - 1
  if (points[start]!.util >= policy.smUtilBelow) return { state: 'busy', lastBusy: newest }
  while (start > 0 && points[start - 1]!.util < policy.smUtilBelow && points[start]!.time - points[start - 1]!.time <= maxGap) start--
  const lowSince = points[start]!.time
  const before = start > 0 ? points[start - 1] : undefined
  const lastBusy = before && before.util >= policy.smUtilBelow ? before.time : undefined
  const idleMs = newest - lowSince
  if (idleMs >= policy.forMs) return { state: 'idle', since: lowSince, idleMs }
  return { state: 'busy', ...(lastBusy !== undefined ? { lastBusy } : {}), lowSince }
}

/** Series points of attributed samples (one holder's), in time order. */
export function seriesOf(samples: readonly AttributedSample[]): SeriesPoint[] {
  return samples.map((s) => ({ time: s.time, util: heldUtilization(s) })).sort((a, b) => a.time - b.time)
}
