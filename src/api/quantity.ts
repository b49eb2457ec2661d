// Kubernetes resource.Quantity: parsing, exact arithmetic and formatting that match apimachinery byte for byte.

import { GpuplaneError } from '../common/errors.ts'

/** How a quantity prints; kept from the string it was parsed from, as upstream does. */
export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent'

/** The grammar upstream states in its error; quoted in our messages so users see what is accepted. */
export const QUANTITY_PATTERN = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'

/**
 * Most decimal digits one quantity operation may materialise. Upstream has no limit and hangs on
 * inputs such as `1234567890123456789e2000000000`; we refuse them instead (about 2 ms of work at the limit).
 */
export const QUANTITY_MAX_DIGITS = 100_000

const INT64_MAX = (1n << 63n) - 1n
const INT64_MIN = -(1n << 63n)
/** Upstream keeps at most nano precision: finer values round away from zero to a multiple of 1e-9. */
const NANO_SCALE = 9
const PARSE_CACHE_LIMIT = 4096
const PARSE_CACHE_MAX_KEY = 64

const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 }
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 }
const DECIMAL_SUFFIX_BY_EXP = new Map(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]))
const BINARY_SUFFIX_BY_POWER = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei']
const SUFFIX_CHARS = new Set('eEinumkKMGTP')

const POW10: bigint[] = [1n]
for (let i = 1; i <= 40; i++) POW10.push(POW10[i - 1] * 10n)

function pow10(n: number): bigint {
  if (n <= 40) return POW10[n]
  if (n > QUANTITY_MAX_DIGITS) {
    throw new GpuplaneError('INVALID_INPUT', `quantity needs more than ${QUANTITY_MAX_DIGITS} digits to represent exactly; use a value of sensible magnitude`)
  }
  return 10n ** BigInt(n)
}

const inInt64 = (v: bigint): boolean => v >= INT64_MIN && v <= INT64_MAX
const absBig = (v: bigint): bigint => (v < 0n ? -v : v)
const digitCount = (v: bigint): number => absBig(v).toString().length

/** Go's int64Multiply: refuses overflow, and (like upstream) any non-trivial product involving MinInt64. */
function int64Multiply(a: bigint, b: bigint): bigint | undefined {
  if (a === 0n || b === 0n || a === 1n || b === 1n) return a * b
  if (a === INT64_MIN || b === INT64_MIN) return undefined
  const c = a * b
  return inInt64(c) ? c : undefined
}

/** v * 10^shift if it fits an int64 (upstream positiveScaleInt64). */
function scaleInt64(v: bigint, shift: number): bigint | undefined {
  if (v === 0n || shift === 0) return v
  if (shift > 18) return undefined
  const c = v * POW10[shift]
  return inInt64(c) ? c : undefined
}

/** v / 10^shift rounded away from zero; cheap when the divisor dwarfs v. */
function divRoundAway(v: bigint, shift: number): bigint {
  if (v === 0n || shift === 0) return v
  if (shift > digitCount(v)) return v > 0n ? 1n : -1n
  const d = pow10(shift)
  const q = v / d
  if (q * d === v) return q
  return v > 0n ? q + 1n : q - 1n
}

// Go's math.Pow10, table for table, so asApproximateFloat rounds exactly as upstream.
const GO_POW10_TAB = Array.from({ length: 32 }, (_, i) => Number(`1e${i}`))
const GO_POW10_POS32 = Array.from({ length: 10 }, (_, i) => Number(`1e${32 * i}`))
const GO_POW10_NEG32 = Array.from({ length: 11 }, (_, i) => Number(`1e-${32 * i}`))
function goPow10(n: number): number {
  if (n >= 0 && n <= 308) return GO_POW10_POS32[n >>> 5] * GO_POW10_TAB[n & 31]
  if (n < 0 && n >= -323) return GO_POW10_NEG32[-n >>> 5] / GO_POW10_TAB[-n & 31]
  return n > 0 ? Infinity : 0
}

interface Scanned {
  positive: boolean
  /** The numeric text with sign and leading zeros, as upstream hands it to its decimal parser. */
  value: string
  num: string
  denom: string
  suffix: string
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57

/** Splits a quantity string like upstream's parseQuantityString; undefined when the shape is wrong. */
function scan(str: string): Scanned | undefined {
  const end = str.length
  let pos = 0
  let positive = true
  if (end > 0 && (str[0] === '-' || str[0] === '+')) {
    positive = str[0] !== '-'
    pos++
  }
  while (pos < end && str.charCodeAt(pos) === 48) pos++
  if (pos >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' }
  const numStart = pos
  while (pos < end && isDigit(str.charCodeAt(pos))) pos++
  const num = pos > numStart ? str.slice(numStart, pos) : '0'
  if (pos >= end) return { positive, value: str, num, denom: '', suffix: '' }
  let denom = ''
  if (str[pos] === '.') {
    const denomStart = ++pos
    while (pos < end && isDigit(str.charCodeAt(pos))) pos++
    denom = str.slice(denomStart, pos)
    if (pos >= end) return { positive, value: str, num, denom, suffix: '' }
  }
  const value = str.slice(0, pos)
  const suffixStart = pos
  while (pos < end && SUFFIX_CHARS.has(str[pos])) pos++
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++
  while (pos < end && isDigit(str.charCodeAt(pos))) pos++
  if (pos < end) return undefined
  return { positive, value, num, denom, suffix: str.slice(suffixStart) }
}

interface Suffix {
  base: 2 | 10
  exponent: number
  format: QuantityFormat
}

/** Reads a suffix; an exponent is a Go int64 truncated to int32, exactly as upstream does. */
function interpretSuffix(s: string): Suffix | undefined {
  const dec = DECIMAL_SUFFIXES[s]
  if (dec !== undefined && Object.hasOwn(DECIMAL_SUFFIXES, s)) return { base: 10, exponent: dec, format: 'DecimalSI' }
  const bin = BINARY_SUFFIXES[s]
  if (bin !== undefined && Object.hasOwn(BINARY_SUFFIXES, s)) return { base: 2, exponent: bin, format: 'BinarySI' }
  if (s.length > 1 && (s[0] === 'e' || s[0] === 'E')) {
    const m = /^[+-]?[0-9]+$/.exec(s.slice(1))
    if (!m) return undefined
    const v = BigInt(m[0])
    if (!inInt64(v)) return undefined
    return { base: 10, exponent: Number(BigInt.asIntN(32, v)), format: 'DecimalExponent' }
  }
  return undefined
}

type ParseResult = Quantity | string

function formatError(input: string, reason: string, path?: string): GpuplaneError {
  return new GpuplaneError(
    'INVALID_INPUT',
    `invalid quantity ${JSON.stringify(input)}: ${reason}; a quantity is an optional sign, a decimal number and an ` +
      `optional suffix (n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or an exponent such as e3), matching ${QUANTITY_PATTERN}, ` +
      `e.g. "500m", "1.5Gi", "4", "2e6"`,
    path ? { path } : {},
  )
}

let parseCache = new Map<string, ParseResult>()
let parseCacheOld = new Map<string, ParseResult>()

/** The private constructor, handed to the parser below by a static block. */
let make: (unscaled: bigint, exp: number, dec: boolean, format: QuantityFormat, text?: string) => Quantity

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
    const r = Quantity.parseCached(s)
    if (typeof r === 'string') throw formatError(s, r, path)
    return r
  }

  /** Like parse, but undefined instead of an error. */
  static tryParse(s: string): Quantity | undefined {
    const r = Quantity.parseCached(s)
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

  /**
   * Two generations of results: a hit in the older one is promoted, and when the newer one is full
   * it becomes the older one. Bounded at 2 × PARSE_CACHE_LIMIT entries with O(1) eviction (deleting
   * a Map's first key one by one costs O(deleted entries) in V8).
   */
  private static parseCached(s: string): ParseResult {
    if (s.length > PARSE_CACHE_MAX_KEY) return parseUncached(s)
    let r = parseCache.get(s)
    if (r !== undefined) return r
    r = parseCacheOld.get(s) ?? parseUncached(s)
    if (parseCache.size >= PARSE_CACHE_LIMIT) {
      parseCacheOld = parseCache
      parseCache = new Map()
    }
    parseCache.set(s, r)
    return r
  }

  static {
    make = (unscaled, exp, dec, format, text) => new Quantity(unscaled, exp, dec, format, text)
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

/** Upstream ParseQuantity. Returns the quantity, or the reason it is invalid. */
function parseUncached(str: string): ParseResult {
  try {
    return parseQuantity(str)
  } catch (e) {
    if (e instanceof GpuplaneError) return e.message
    throw e
  }
}

function parseQuantity(str: string): ParseResult {
  if (str.length === 0) return 'it is empty'
  if (str === '0') return make(0n, 0, false, 'DecimalSI', '0')
  const sc = scan(str)
  if (!sc) return `it does not have the shape ${QUANTITY_PATTERN}`
  const suf = interpretSuffix(sc.suffix)
  if (!suf) return `its suffix ${JSON.stringify(sc.suffix)} is not one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or e<integer>`
  return parseFast(str, sc, suf) ?? parseDecimal(sc, suf)
}

/** Upstream's int64 fast path; undefined when the value needs the decimal path. */
function parseFast(str: string, sc: Scanned, suf: Suffix): Quantity | undefined {
  const { num, denom } = sc
  let precision: number
  let scale = 0
  let mantissa = 1n
  if (suf.base === 10) {
    scale = suf.exponent
    precision = 18 - (num.length + denom.length)
  } else if (suf.exponent >= 0 && denom.length === 0) {
    mantissa = 1n << BigInt(suf.exponent)
    precision = 15 - num.length - Math.trunc((suf.exponent * 3) / 10) - 1
  } else {
    precision = -1
  }
  if (precision < 0) return undefined
  scale = (scale - denom.length) | 0
  if (scale < -NANO_SCALE) return undefined
  const shifted = num + denom
  const v = BigInt(shifted)
  const product = int64Multiply(v, mantissa)
  if (product === undefined) return undefined
  const result = sc.positive ? product : -product
  let keepText: boolean
  if (suf.base === 2) keepText = (v & 7n) !== 0n
  else keepText = scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0'
  return make(result, scale, false, suf.format, keepText ? str : undefined)
}

/** Upstream's arbitrary-precision path: round up to nano, cap BinarySI at MaxInt64. */
function parseDecimal(sc: Scanned, suf: Suffix): ParseResult {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/.exec(sc.value)
  if (!m || m[2].length + (m[3] ?? '').length === 0) return 'its numeric part is not a number'
  const fraction = m[3] ?? ''
  let unscaled = BigInt(m[2] + fraction)
  // inf.Dec scale (digits after the point), with upstream's int32 arithmetic.
  let scale = fraction.length
  if (suf.base === 10) scale = (scale + (-suf.exponent | 0)) | 0
  else unscaled <<= BigInt(suf.exponent)
  let format = suf.format
  if (unscaled !== 0n) {
    unscaled = scale <= NANO_SCALE ? unscaled * pow10(NANO_SCALE - scale) : divRoundAway(unscaled, scale - NANO_SCALE)
    scale = NANO_SCALE
    if (format === 'BinarySI' && unscaled > INT64_MAX * POW10[NANO_SCALE]) {
      unscaled = INT64_MAX
      scale = 0
    }
    if (format === 'BinarySI' && scale === NANO_SCALE && unscaled < POW10[NANO_SCALE]) format = 'DecimalSI'
  }
  if (!sc.positive) unscaled = -unscaled
  return make(unscaled, -scale, true, format)
}
