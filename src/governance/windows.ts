// Limit windows: the UTC minute, hour, day or calendar month a time falls in, when it resets, and how long its counters live.
//
// Windows are fixed and aligned in UTC, so every replica computes the same window (and counter key)
// for the same instant without talking to the others. A month is the calendar month (28 to 31
// days). Times are milliseconds since the epoch, passed in by the caller: nothing here reads a clock.
import type { LimitWindow } from '../api/tokenpolicy-v1alpha1.ts'

/**
 * Seconds a window's counters outlive the window. Long enough that a request admitted at the end
 * of a window reconciles into a counter that still exists (a long stream finishes minutes later),
 * and that a replica whose clock lags by a few minutes does not recreate a counter that expired.
 */
export const WINDOW_TTL_SLACK_SECONDS = 15 * 60

const FIXED_MS: Record<Exclude<LimitWindow, 'month'>, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
}

/** A window: [start, end) in milliseconds since the epoch. */
export interface WindowSpan {
  start: number
  end: number
}

/** The window of kind `window` that `now` (ms since the epoch) falls in. */
export function windowSpan(window: LimitWindow, now: number): WindowSpan {
  if (window === 'month') {
    const d = new Date(now)
    return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) }
  }
  const len = FIXED_MS[window]
  const start = Math.floor(now / len) * len
  return { start, end: start + len }
}

/** A window start as counter keys write it: ISO 8601 in UTC to the second, e.g. `2026-11-26T00:00:00Z`. */
export function windowLabel(start: number): string {
  return new Date(start).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Seconds a counter of the window ending at `end` must still live at `now`: to the end, plus the slack; at least 1. */
export function counterTtlSeconds(end: number, now: number): number {
  return Math.max(1, Math.ceil((end - now) / 1000) + WINDOW_TTL_SLACK_SECONDS)
}

/** Whether a counter of the window ending at `end` has expired by `now` (reconciling into it would recreate it for nothing). */
export function counterExpired(end: number, now: number): boolean {
  return now >= end + WINDOW_TTL_SLACK_SECONDS * 1000
}
