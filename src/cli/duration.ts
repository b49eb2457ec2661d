// Duration options of the CLI (--interval 10s, --raw-retention 24h, --step 1d): Go-style durations as Kubernetes writes them (30m, 1h30m, 500ms), whole days (7d), or a bare number of seconds.
import { parseDuration as parseGoDuration } from '../api/namespace-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'

/** Milliseconds of a duration option; a clear error naming the option when it is not one or is under 1 ms. */
export function parseDuration(text: string, option: string): number {
  const t = text.trim()
  const days = /^(\d+)d$/.exec(t)
  const ms = /^\d+(\.\d+)?$/.test(t) ? Number(t) * 1000 : days ? Number(days[1]) * 86_400_000 : parseGoDuration(t)
  if (ms === undefined) throw new GpuplaneError('INVALID_INPUT', `${option} "${text}" is not a duration: use e.g. 500ms, 10s, 5m, 1h30m, 1d`)
  if (ms < 1) throw new GpuplaneError('INVALID_INPUT', `${option} must be at least 1ms`)
  return ms
}
