// Kubernetes resource.Quantity: parsing, exact arithmetic and formatting that match apimachinery byte for byte.
//
// The string parser and its cache are in quantity-parse.ts, the int64 and power-of-ten helpers in
// quantity-math.ts; this file owns the Quantity class and its printing.

import { GpuplaneError } from '../common/errors.ts'
import { absBig, digitCount, divRoundAway, inInt64, int64Multiply, POW10, pow10, scaleInt64 } from './quantity-math.ts'
import { cachedQuantityParser, DECIMAL_SUFFIXES, formatError, type QuantityFormat } from './quantity-parse.ts'

export { QUANTITY_MAX_DIGITS } from './quantity-math.ts'
export { QUANTITY_PATTERN, type QuantityFormat } from './quantity-parse.ts'

const DECIMAL_SUFFIX_BY_EXP = new Map(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]))
const BINARY_SUFFIX_BY_POWER = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei']

// Go's math.Pow10, table for table, so asApproximateFloat rounds exactly as upstream.
const GO_POW10_TAB = Array.from({ length: 32 }, (_, i) => Number(`1e${i}`))
const GO_POW10_POS32 = Array.from({ length: 10 }, (_, i) => Number(`1e${32 * i}`))
const GO_POW10_NEG32 = Array.from({ length: 11 }, (_, i) => Number(`1e-${32 * i}`))
function goPow10(n: number): number {
  if (n >= 0 && n <= 308) return GO_POW10_POS32[n >>> 5] * GO_POW10_TAB[n & 31]
  if (n < 0 && n >= -323) return GO_POW10_NEG32[-n >>> 5] / GO_POW10_TAB[-n & 31]
  return n > 0 ? Infinity : 0
}

/** The cached parser, building quantities through the private constructor (set by a static block). */
let parseCached: (s: string) => Quantity | string

/**
 * An immutable Kubernetes quantity. Internally it mirrors upstream's two representations (a
 * 64-bit integer with a base-10 scale, or an arbitrary decimal), because a few observable results
 * depend on which one a value ended up in: `asInt64`/`isInteger` (CEL `isInteger`, `asInteger`)
 * and the last bits of `asApproximateFloat`. Value semantics (`cmp`, `equals`, arithmetic results,
 * the canonical string) never depend on it.
 */
export class Quantity {
  /** value = unscaled × 10^exp. */
  private readonly unscaled: bigint
  private readonly exp: number
  /** true for upstream's inf.Dec form, false for its int64Amount form. */
  private readonly dec: boolean
  readonly format: QuantityFormat
  /** Upstream reuses the input text as String() when it judged the text canonical. */
  private readonly text: string | undefined

  private constructor(unscaled: bigint, exp: number, dec: boolean, format: QuantityFormat, text?: string) {
    this.unscaled = unscaled
    this.exp = exp
    this.dec = dec
    this.format = format
    this.text = text
  }

  static readonly ZERO = new Quantity(0n, 0, false, 'DecimalSI')

  /** Parses like upstream ParseQuantity; throws GpuplaneError INVALID_INPUT (with `path` when given). */
  static parse(s: string, path?: string): Quantity {
    const r = parseCached(s)
    if (typeof r === 'string') throw formatError(s, r, path)
    return r
  }

  /** Like parse, but undefined instead of an error. */
  static tryParse(s: string): Quantity | undefined {
    const r = parseCached(s)
    return typeof r === 'string' ? undefined : r
  }

  /** An integer quantity (upstream NewQuantity; values beyond int64 use the decimal form). */
  static fromBigInt(n: bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
    return new Quantity(n, 0, !inInt64(n), format)
  }

  /** n/1000 (upstream NewMilliQuantity). */
  static fromMilli(n: bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
    return Quantity.fromScaled(n, -3, format)
  }

  /** n × 10^scale (upstream NewScaledQuantity, which is always DecimalSI). */
  static fromScaled(n: bigint, scale: number, format: QuantityFormat = 'DecimalSI'): Quantity {
    if (!Number.isInteger(scale)) throw new GpuplaneError('INVALID_INPUT', `quantity scale must be an integer, got ${scale}`)
    return new Quantity(n, scale, !inInt64(n), format)
  }

  /** Orders quantities by value; suits Array.prototype.sort. */
  static compare(a: Quantity, b: Quantity): -1 | 0 | 1 {
    return a.cmp(b)
  }

  static {
    parseCached = cachedQuantityParser((p) => new Quantity(p.unscaled, p.exp, p.dec, p.format, p.text))
  }

  sign(): -1 | 0 | 1 {
    return this.unscaled > 0n ? 1 : this.unscaled < 0n ? -1 : 0
  }

  isZero(): boolean {
    return this.unscaled === 0n
  }

  /** -1, 0 or 1 as this is less than, equal to or greater than o. Exact; never materialises huge numbers. */
  cmp(o: Quantity): -1 | 0 | 1 {
    const a = this.unscaled
    const b = o.unscaled
    if (this.exp === o.exp) return a < b ? -1 : a > b ? 1 : 0
    const sa = this.sign()
    const sb = o.sign()
    if (sa !== sb) return sa < sb ? -1 : 1
    if (sa === 0) return 0
    const shift = this.exp - o.exp
    if (Math.abs(shift) > 40) {
      // Different orders of magnitude decide without aligning; otherwise the shift is bounded by the digits.
      const ma = digitCount(a) + this.exp
      const mb = digitCount(b) + o.exp
      if (ma !== mb) return (ma > mb ? sa : -sa) as -1 | 1
    }
    const x = shift > 0 ? a * pow10(shift) : a
    const y = shift < 0 ? b * pow10(-shift) : b
    return x < y ? -1 : x > y ? 1 : 0
  }

  equals(o: Quantity): boolean {
    return this.cmp(o) === 0
  }

  isGreaterThan(o: Quantity): boolean {
    return this.cmp(o) > 0
  }

  isLessThan(o: Quantity): boolean {
    return this.cmp(o) < 0
  }

  /** this + o. Format: this one's, or o's when this is zero (upstream Add). */
  add(o: Quantity): Quantity {
    const format = this.unscaled === 0n ? o.format : this.format
    if (!this.dec && !o.dec) {
      const r = addInt64(this.unscaled, this.exp, o.unscaled, o.exp)
      if (r) return new Quantity(r[0], r[1], false, format)
    }
    return this.addDec(o.unscaled, o.exp, format)
  }

  /** this - o. Format: this one's, or o's when this is zero (upstream Sub). */
  sub(o: Quantity): Quantity {
    const format = this.unscaled === 0n ? o.format : this.format
    if (!this.dec && !o.dec && inInt64(-o.unscaled)) {
      const r = addInt64(this.unscaled, this.exp, -o.unscaled, o.exp)
      if (r) return new Quantity(r[0], r[1], false, format)
    }
    return this.addDec(-o.unscaled, o.exp, format)
  }

  private addDec(u: bigint, e: number, format: QuantityFormat): Quantity {
    const exp = Math.min(this.exp, e)
    // A zero term needs no alignment, however far its exponent is from the other's.
    const a = this.unscaled === 0n ? 0n : this.unscaled * pow10(this.exp - exp)
    const sum = a + (u === 0n ? 0n : u * pow10(e - exp))
    return new Quantity(sum, exp, true, format)
  }

  /** this × n (upstream Mul; n beyond int64, which upstream cannot take, goes straight to the decimal form). */
  mul(n: bigint): Quantity {
    if (!this.dec && inInt64(n)) {
      if (this.unscaled === 0n) return new Quantity(0n, this.exp, false, this.format)
      if (n === 0n) return new Quantity(0n, 0, false, this.format)
      // Upstream keeps the int64 form only if the product still fits once scaled to an integer,
      // and (for negative scales) only if that scaling is exact.
      const c = int64Multiply(this.unscaled, n)
      const keep =
        c !== undefined &&
        (this.exp >= 0 ? scaleInt64(c, this.exp) !== undefined : -this.exp <= 18 && c % POW10[-this.exp] === 0n)
      if (keep) return new Quantity(c, this.exp, false, this.format)
    }
    return new Quantity(this.unscaled * n, this.exp, true, this.format)
  }

  neg(): Quantity {
    const u = -this.unscaled
    return new Quantity(u, this.exp, this.dec || !inInt64(u), this.format)
  }

  abs(): Quantity {
    return this.unscaled < 0n ? this.neg() : this
  }

  /**
   * The value rounded away from zero to an integer, exactly. Upstream Value() agrees wherever its
   * int64 result is in range, except for negative fractions held in decimal form, which upstream
   * rounds toward +infinity or off by one (kubernetes issue 110653); beyond int64 upstream overflows.
   */
  value(): bigint {
    return this.scaledValue(0)
  }

  /** ceil(|this| × 1000) with this one's sign, exactly (upstream MilliValue()). */
  milliValue(): bigint {
    return this.scaledValue(-3)
  }

  /** The value in units of 10^scale, rounded away from zero (upstream ScaledValue, without int64 overflow). */
  scaledValue(scale: number): bigint {
    const shift = this.exp - scale
    if (shift >= 0) return this.unscaled === 0n ? 0n : this.unscaled * pow10(shift)
    return divRoundAway(this.unscaled, -shift)
  }

  /**
   * Upstream AsInt64: the value when it is held in int64 form at a scale >= 0 and fits an int64,
   * else undefined. Representation-dependent like upstream, so `1000m`, `1Pi` and `0.5Mi` give
   * undefined although their values are whole. CEL `asInteger()` errors exactly when this is undefined.
   */
  asInt64(): bigint | undefined {
    if (this.dec || this.exp < 0) return undefined
    return scaleInt64(this.unscaled, this.exp)
  }

  /** CEL `isInteger()`: asInt64() succeeds. Not "is a whole number" — see asInt64. */
  isInteger(): boolean {
    return this.asInt64() !== undefined
  }

  /** Upstream AsApproximateFloat64, bit for bit (including NaN for a zero with a huge exponent). */
  asApproximateFloat(): number {
    const base = Number(this.unscaled)
    return this.exp === 0 ? base : base * goPow10(this.exp)
  }

  /**
   * Upstream String(): the input text when upstream judged it canonical at parse time (so "+1",
   * "01", "1E3" and "1.500k" print as given), else canonical(). Reproduces upstream's dropped suffix
   * for DecimalSI values with exponent above 18 ("1000E" prints "1") and BinarySI above Ei.
   */
  toString(): string {
    return this.text ?? this.canonical()
  }

  toJSON(): string {
    return this.toString()
  }

  /** Upstream CanonicalizeBytes: largest suffix with an integer mantissa, in this quantity's format. */
  canonical(): string {
    if (this.unscaled === 0n) return '0'
    if (this.format === 'BinarySI') {
      const binary = this.canonicalBinary()
      if (binary !== undefined) return binary
      return this.canonicalDecimal('DecimalSI')
    }
    return this.canonicalDecimal(this.format)
  }

  private canonicalDecimal(format: QuantityFormat): string {
    const neg = this.unscaled < 0n
    let digits = absBig(this.unscaled).toString()
    let exp = this.exp
    let cut = digits.length
    while (cut > 1 && digits.charCodeAt(cut - 1) === 48) cut--
    exp += digits.length - cut
    digits = digits.slice(0, cut)
    const r = ((exp % 3) + 3) % 3
    if (r !== 0) {
      digits += r === 1 ? '0' : '00'
      exp -= r
    }
    const suffix = format === 'DecimalExponent' ? (exp === 0 ? '' : `e${exp}`) : (DECIMAL_SUFFIX_BY_EXP.get(exp) ?? '')
    return (neg ? '-' : '') + digits + suffix
  }

  /** undefined when upstream would fall back to DecimalSI: |value| < 1024 or not an integer. */
  private canonicalBinary(): string | undefined {
    if (this.cmp(BINARY_MIN) > 0 && this.cmp(BINARY_MAX) < 0) return undefined
    let v: bigint
    if (this.exp >= 0) v = this.unscaled * pow10(this.exp)
    else {
      const d = pow10(-this.exp)
      if (this.unscaled % d !== 0n) return undefined
      v = this.unscaled / d
    }
    const a = absBig(v)
    let power = 0
    while ((a >> BigInt((power + 1) * 10)) << BigInt((power + 1) * 10) === a) power++
    const mantissa = v >> BigInt(power * 10)
    return mantissa.toString() + (BINARY_SUFFIX_BY_POWER[power] ?? '')
  }
}

const BINARY_MIN = Quantity.fromBigInt(-1024n)
const BINARY_MAX = Quantity.fromBigInt(1024n)

/** upstream int64Amount.Add: undefined when it would overflow, so the caller falls back to decimals. */
function addInt64(a: bigint, ae: number, b: bigint, be: number): [bigint, number] | undefined {
  if (b === 0n) return [a, ae]
  if (a === 0n) return [b, be]
  const e = Math.min(ae, be)
  const x = scaleInt64(a, ae - e)
  const y = scaleInt64(b, be - e)
  if (x === undefined || y === undefined) return undefined
  const sum = x + y
  return inInt64(sum) ? [sum, e] : undefined
}

