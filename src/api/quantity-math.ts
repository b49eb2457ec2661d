// Exact integer arithmetic shared by the quantity parser and the Quantity class: int64 bounds, powers of ten, rounding.

import { GpuplaneError } from '../common/errors.ts'

/**
 * Most decimal digits one quantity operation may materialise. Upstream has no limit and hangs on
 * inputs such as `1234567890123456789e2000000000`; we refuse them instead (about 2 ms of work at the limit).
 */
export const QUANTITY_MAX_DIGITS = 100_000

export const INT64_MAX = (1n << 63n) - 1n
const INT64_MIN = -(1n << 63n)

/** 10^0 … 10^40, precomputed. */
export const POW10: bigint[] = [1n]
for (let i = 1; i <= 40; i++) POW10.push(POW10[i - 1] * 10n)

/** 10^n; throws GpuplaneError INVALID_INPUT beyond QUANTITY_MAX_DIGITS. */
export function pow10(n: number): bigint {
  if (n <= 40) return POW10[n]
  if (n > QUANTITY_MAX_DIGITS) {
    throw new GpuplaneError('INVALID_INPUT', `quantity needs more than ${QUANTITY_MAX_DIGITS} digits to represent exactly; use a value of sensible magnitude`)
  }
  return 10n ** BigInt(n)
}

export const inInt64 = (v: bigint): boolean => v >= INT64_MIN && v <= INT64_MAX
export const absBig = (v: bigint): bigint => (v < 0n ? -v : v)
export const digitCount = (v: bigint): number => absBig(v).toString().length

/** Go's int64Multiply: refuses overflow, and (like upstream) any non-trivial product involving MinInt64. */
export function int64Multiply(a: bigint, b: bigint): bigint | undefined {
  if (a === 0n || b === 0n || a === 1n || b === 1n) return a * b
  if (a === INT64_MIN || b === INT64_MIN) return undefined
  const c = a * b
  return inInt64(c) ? c : undefined
}

/** v * 10^shift if it fits an int64 (upstream positiveScaleInt64). */
export function scaleInt64(v: bigint, shift: number): bigint | undefined {
  if (v === 0n || shift === 0) return v
  if (shift > 18) return undefined
  const c = v * POW10[shift]
  return inInt64(c) ? c : undefined
}

/** v / 10^shift rounded away from zero; cheap when the divisor dwarfs v. */
export function divRoundAway(v: bigint, shift: number): bigint {
  if (v === 0n || shift === 0) return v
  if (shift > digitCount(v)) return v > 0n ? 1n : -1n
  const d = pow10(shift)
  const q = v / d
  if (q * d === v) return q
  return v > 0n ? q + 1n : q - 1n
}
