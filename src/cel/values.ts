// CEL value helpers for the libraries: equality, ordering and type names over cel-js runtime values.
//
// cel-js represents int as bigint, double as number, uint as UnsignedInt, bytes as Uint8Array,
// lists as arrays, maps as Map or plain objects, timestamps as Date; gpuplane adds Quantity and
// Semver objects.
import { EvaluationError } from '@marcbachmann/cel-js'
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator'
import { Quantity } from '../api/quantity.ts'
import { Semver } from '../api/semver.ts'

/** An evaluation error with cel-js's type, so cel-js formats it like its own. */
export function evalError(message: string): EvaluationError {
  return new EvaluationError(message)
}

/** The CEL type name of a runtime value, for error messages. */
export function celTypeName(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return 'int'
    case 'number':
      return 'double'
    case 'string':
      return 'string'
    case 'boolean':
      return 'bool'
    case 'object':
      if (v === null) return 'null_type'
      if (Array.isArray(v) || v instanceof Set) return 'list'
      if (v instanceof Map || Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) return 'map'
      if (v instanceof Uint8Array) return 'bytes'
      if (v instanceof UnsignedInt) return 'uint'
      if (v instanceof Quantity) return 'kubernetes.Quantity'
      if (v instanceof Semver) return 'kubernetes.Semver'
      if (v instanceof Date) return 'google.protobuf.Timestamp'
      if (v instanceof Duration) return 'google.protobuf.Duration'
      return (v as object).constructor?.name ?? 'object'
    default:
      return typeof v
  }
}

function numeric(v: unknown): number | bigint | undefined {
  if (typeof v === 'bigint' || typeof v === 'number') return v
  if (v instanceof UnsignedInt) return v.valueOf()
  return undefined
}

/** CEL `==` over runtime values, numeric types compared across int/uint/double as CEL does. */
export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true
  const na = numeric(a)
  const nb = numeric(b)
  if (na !== undefined && nb !== undefined) return na == nb // eslint-disable-line eqeqeq
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (a instanceof Quantity && b instanceof Quantity) return a.cmp(b) === 0
  if (a instanceof Semver && b instanceof Semver) return a.compare(b) === 0
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime()
  if (a instanceof Duration && b instanceof Duration) return a.seconds === b.seconds && a.nanos === b.nanos
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!celEquals(a[i], b[i])) return false
    return true
  }
  const ma = asMap(a)
  const mb = asMap(b)
  if (ma && mb) {
    if (ma.size !== mb.size) return false
    for (const [k, v] of ma) if (!mb.has(k) || !celEquals(v, mb.get(k))) return false
    return true
  }
  return false
}

function asMap(v: object): Map<unknown, unknown> | undefined {
  if (v instanceof Map) return v
  const proto = Object.getPrototypeOf(v)
  if (proto === Object.prototype || proto === null) return new Map(Object.entries(v))
  return undefined
}

/** The elements of a CEL list value. */
export function listItems(v: unknown): readonly unknown[] {
  if (Array.isArray(v)) return v
  if (v instanceof Set) return [...v]
  throw evalError(`expected a list, got ${celTypeName(v)}`)
}

/**
 * CEL ordering (`<`) for the comparable types of the Kubernetes lists library: int, uint and
 * double (across each other), bool, string, bytes, timestamp and duration. Throws for others.
 */
export function celCompare(a: unknown, b: unknown): -1 | 0 | 1 {
  const na = numeric(a)
  const nb = numeric(b)
  if (na !== undefined && nb !== undefined) return na < nb ? -1 : na > nb ? 1 : 0
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b)
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const n = Math.min(a.length, b.length)
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
  }
  if (a instanceof Date && b instanceof Date) return a < b ? -1 : a > b ? 1 : 0
  if (a instanceof Duration && b instanceof Duration) {
    if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1
    return a.nanos === b.nanos ? 0 : a.nanos < b.nanos ? -1 : 1
  }
  throw evalError(`no such overload: cannot compare ${celTypeName(a)} with ${celTypeName(b)}`)
}

/** Orders strings by code point (Go compares UTF-8 bytes, which orders the same way). */
export function compareStrings(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number
    const y = b.codePointAt(i) as number
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++
  }
  return a.length < b.length ? -1 : 1
}

/** Number of Unicode code points (CEL string size). */
export function codePointLength(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++
    n++
  }
  return n
}
