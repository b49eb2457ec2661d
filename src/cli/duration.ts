// Duration options of the CLI (--interval 10s, --raw-retention 24h): Go-style durations as Kubernetes writes them (30m, 1h30m, 500ms), or a bare number of seconds.
import { parseDuration as parseGoDuration } from '../api/namespace-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'

/** Milliseconds of a duration option; a clear error naming the option when it is not one or is under 1 ms. */
export function parseDuration(text: string, option: string): number {
  const t = text.trim()
  const ms = /^\d+(\.\d+)?$/.test(t) ? Number(t) * 1000 : parseGoDuration(t)
  if (ms === undefined) throw new GpuplaneError('INVALID_INPUT', `${option} "${text}" is not a duration: use e.g. 500ms, 10s, 5m, 1h30m`)
  if (ms < 1) throw new GpuplaneError('INVALID_INPUT', `${option} must be at least 1ms`)
  return ms
}
