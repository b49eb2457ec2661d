// The calendar windows of TokenPolicy limits (UTC minute, hour, day, month), as the gateway counts them: pure, shared by the Governance view and its tests.

export const WINDOW_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }

/** Start of the calendar window (UTC) that `now` is in. */
export function windowStart(window: string, now: number): number {
  if (window === 'month') {
    const d = new Date(now)
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
  }
  const size = WINDOW_MS[window as keyof typeof WINDOW_MS] ?? WINDOW_MS.day
  return Math.floor(now / size) * size
}

/** End of the calendar window (UTC) that `now` is in: the start of the next one. */
export function windowEnd(window: string, now: number): number {
  if (window === 'month') {
    const d = new Date(now)
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
  }
  return windowStart(window, now) + (WINDOW_MS[window as keyof typeof WINDOW_MS] ?? WINDOW_MS.day)
}
