// The quantity string parser (upstream ParseQuantity): grammar, suffixes, the int64 and decimal paths, and the parse cache.
//
// It returns raw parts (QuantityParts) rather than a Quantity, so that it does not import
// quantity.ts; the Quantity class wraps the parts through cachedQuantityParser.

import { GpuplaneError } from '../common/errors.ts'
import { INT64_MAX, POW10, divRoundAway, inInt64, int64Multiply, pow10 } from './quantity-math.ts'

/** How a quantity prints; kept from the string it was parsed from, as upstream does. */
export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent'

/** The grammar upstream states in its error; quoted in our messages so users see what is accepted. */
export const QUANTITY_PATTERN = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'

/** Upstream keeps at most nano precision: finer values round away from zero to a multiple of 1e-9. */
const NANO_SCALE = 9
const PARSE_CACHE_LIMIT = 4096
const PARSE_CACHE_MAX_KEY = 64

/** Decimal SI suffixes by their power of ten (also used to print canonical strings). */
export const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 }
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 }
const SUFFIX_CHARS = new Set('eEinumkKMGTP')

/**
 * A parsed quantity's representation, as the Quantity constructor takes it: value = unscaled ×
 * 10^exp; `dec` for upstream's inf.Dec form (else int64Amount); `text` when upstream would print
 * the input back as given.
 */
export interface QuantityParts {
  unscaled: bigint
  exp: number
  dec: boolean
  format: QuantityFormat
  text?: string
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

/** The INVALID_INPUT error for a string the parser refused with `reason`. */
export function formatError(input: string, reason: string, path?: string): GpuplaneError {
  return new GpuplaneError(
    'INVALID_INPUT',
    `invalid quantity ${JSON.stringify(input)}: ${reason}; a quantity is an optional sign, a decimal number and an ` +
      `optional suffix (n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or an exponent such as e3), matching ${QUANTITY_PATTERN}, ` +
      `e.g. "500m", "1.5Gi", "4", "2e6"`,
    path ? { path } : {},
  )
}

/**
 * A parser that builds each result with `build` and caches it (or the reason the string is
 * invalid), so that parsing the same short string again returns the same object.
 *
 * Two generations of results: a hit in the older one is promoted, and when the newer one is full
 * it becomes the older one. Bounded at 2 × PARSE_CACHE_LIMIT entries with O(1) eviction (deleting
 * a Map's first key one by one costs O(deleted entries) in V8).
 */
export function cachedQuantityParser<Q>(build: (parts: QuantityParts) => Q): (s: string) => Q | string {
  let parseCache = new Map<string, Q | string>()
  let parseCacheOld = new Map<string, Q | string>()
  const parseBuilt = (s: string): Q | string => {
    const r = parseUncached(s)
    return typeof r === 'string' ? r : build(r)
  }
  return (s) => {
    if (s.length > PARSE_CACHE_MAX_KEY) return parseBuilt(s)
    let r = parseCache.get(s)
    if (r !== undefined) return r
    r = parseCacheOld.get(s) ?? parseBuilt(s)
    if (parseCache.size >= PARSE_CACHE_LIMIT) {
      parseCacheOld = parseCache
      parseCache = new Map()
    }
    parseCache.set(s, r)
    return r
  }
}

type ParseResult = QuantityParts | string

/** Upstream ParseQuantity. Returns the quantity's parts, or the reason it is invalid. */
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
  if (str === '0') return { unscaled: 0n, exp: 0, dec: false, format: 'DecimalSI', text: '0' }
  const sc = scan(str)
  if (!sc) return `it does not have the shape ${QUANTITY_PATTERN}`
  const suf = interpretSuffix(sc.suffix)
  if (!suf) return `its suffix ${JSON.stringify(sc.suffix)} is not one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or e<integer>`
  return parseFast(str, sc, suf) ?? parseDecimal(sc, suf)
}

/** Upstream's int64 fast path; undefined when the value needs the decimal path. */
function parseFast(str: string, sc: Scanned, suf: Suffix): QuantityParts | undefined {
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
  return { unscaled: result, exp: scale, dec: false, format: suf.format, text: keepText ? str : undefined }
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
  return { unscaled, exp: -scale, dec: true, format }
}
