// Kubernetes' own CEL libraries as the DRA environment has them: quantity, semver, lists, regex.
//
// Semantics follow k8s.io/apiserver/pkg/cel/library/{quantity,semverlib,lists,regex}.go (re-expressed,
// not copied). Functions whose cost grows with their input charge the runtime budget themselves.
import type { Environment } from '@marcbachmann/cel-js'
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator'
import { Quantity } from '../api/quantity.ts'
import { Semver } from '../api/semver.ts'
import { charge } from './runtime-cost.ts'
import { regexFind, regexFindAll } from './regex.ts'
import { celCompare, celEquals, evalError, listItems } from './values.ts'

export const QUANTITY_TYPE = 'kubernetes.Quantity'
export const SEMVER_TYPE = 'kubernetes.Semver'

const INT64_MAX = (1n << 63n) - 1n
const INT64_MIN = -(1n << 63n)
const SYNC = { async: false } as const

type Handler = (...args: any[]) => unknown

/** Registers a synchronous function; cel-js treats handlers as maybe-async unless told otherwise. */
export function fn(env: Environment, signature: string, handler: Handler): void {
  env.registerFunction(signature, handler, SYNC)
}

/** Ceil(size × 0.1): cel-go's common.StringTraversalCostFactor applied to a size. */
export function traversal(size: number): number {
  return Math.ceil(size * 0.1)
}

export function registerTypes(env: Environment): void {
  // `fields: {}` makes `q.anything` a type error instead of a dynamic lookup, as upstream.
  env.registerType(QUANTITY_TYPE, { ctor: Quantity as unknown as new () => unknown, fields: {} })
  env.registerType(SEMVER_TYPE, { ctor: Semver as unknown as new () => unknown, fields: {} })
}

// ---------------------------------------------------------------- quantity

function parseQuantity(s: string): Quantity {
  const q = Quantity.tryParse(s)
  if (q === undefined) {
    throw evalError(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(s)}`)
  }
  return q
}

export function registerQuantity(env: Environment): void {
  const Q = QUANTITY_TYPE
  fn(env, `quantity(string): ${Q}`, (s: string) => parseQuantity(s))
  fn(env, 'isQuantity(string): bool', (s: string) => Quantity.tryParse(s) !== undefined)
  // Upstream declares sign as a global overload although its docs show the member form; accept both.
  fn(env, `sign(${Q}): int`, (q: Quantity) => BigInt(q.sign()))
  fn(env, `${Q}.sign(): int`, (q: Quantity) => BigInt(q.sign()))
  fn(env, `${Q}.isGreaterThan(${Q}): bool`, (a: Quantity, b: Quantity) => a.cmp(b) === 1)
  fn(env, `${Q}.isLessThan(${Q}): bool`, (a: Quantity, b: Quantity) => a.cmp(b) === -1)
  fn(env, `${Q}.compareTo(${Q}): int`, (a: Quantity, b: Quantity) => BigInt(a.cmp(b)))
  fn(env, `${Q}.add(${Q}): ${Q}`, (a: Quantity, b: Quantity) => a.add(b))
  fn(env, `${Q}.add(int): ${Q}`, (a: Quantity, n: bigint) => a.add(Quantity.fromBigInt(n, 'DecimalExponent')))
  fn(env, `${Q}.sub(${Q}): ${Q}`, (a: Quantity, b: Quantity) => a.sub(b))
  fn(env, `${Q}.sub(int): ${Q}`, (a: Quantity, n: bigint) => a.sub(Quantity.fromBigInt(n, 'DecimalExponent')))
  fn(env, `${Q}.isInteger(): bool`, (q: Quantity) => q.isInteger())
  fn(env, `${Q}.asInteger(): int`, (q: Quantity) => {
    const v = q.asInt64()
    if (v === undefined) throw evalError('cannot convert value to integer')
    return v
  })
  fn(env, `${Q}.asApproximateFloat(): double`, (q: Quantity) => q.asApproximateFloat())
  env.registerOperator(`${Q} == ${Q}`, (a: Quantity, b: Quantity) => a.cmp(b) === 0)
}

// ---------------------------------------------------------------- semver

function parseSemver(s: string, normalize: boolean): Semver {
  try {
    return Semver.parse(s, normalize)
  } catch (e) {
    throw evalError((e as Error).message)
  }
}


export function registerSemver(env: Environment): void {
  const S = SEMVER_TYPE
  fn(env, `semver(string): ${S}`, (s: string) => parseSemver(s, false))
  fn(env, `semver(string, bool): ${S}`, (s: string, n: boolean) => parseSemver(s, n))
  fn(env, 'isSemver(string): bool', (s: string) => Semver.isSemver(s, false))
  fn(env, 'isSemver(string, bool): bool', (s: string, n: boolean) => Semver.isSemver(s, n))
  // Upstream returns types.Int(v.Major) of a uint64: Go's conversion wraps above 2^63-1.
  fn(env, `${S}.major(): int`, (v: Semver) => BigInt.asIntN(64, v.major()))
  fn(env, `${S}.minor(): int`, (v: Semver) => BigInt.asIntN(64, v.minor()))
  fn(env, `${S}.patch(): int`, (v: Semver) => BigInt.asIntN(64, v.patch()))
  fn(env, `${S}.isGreaterThan(${S}): bool`, (a: Semver, b: Semver) => a.compare(b) > 0)
  fn(env, `${S}.isLessThan(${S}): bool`, (a: Semver, b: Semver) => a.compare(b) < 0)
  fn(env, `${S}.compareTo(${S}): int`, (a: Semver, b: Semver) => BigInt(Math.sign(a.compare(b))))
  env.registerOperator(`${S} == ${S}`, (a: Semver, b: Semver) => a.compare(b) === 0)
}

// ---------------------------------------------------------------- lists (k8s lists library)

function checkedInt(v: bigint): bigint {
  if (v > INT64_MAX || v < INT64_MIN) throw evalError('integer overflow')
  return v
}

function extreme(list: unknown[], name: 'min' | 'max', want: 1 | -1): unknown {
  charge(list.length)
  if (list.length === 0) throw evalError(`${name}(list) called on an empty list`)
  let best = list[0]
  for (let i = 1; i < list.length; i++) if (celCompare(list[i], best) === want) best = list[i]
  return best
}

export function registerLists(env: Environment): void {
  fn(env, 'list<T>.isSorted(): bool', (list: unknown[]) => {
    const items = listItems(list)
    charge(items.length)
    for (let i = 1; i < items.length; i++) if (celCompare(items[i - 1], items[i]) > 0) return false
    return true
  })
  fn(env, 'list<int>.sum(): int', (list: bigint[]) => {
    charge(list.length)
    let s = 0n
    for (const v of list) s = checkedInt(s + v)
    return s
  })
  fn(env, 'list<double>.sum(): double', (list: number[]) => {
    charge(list.length)
    let s = 0
    for (const v of list) s += v
    return s
  })
  fn(env, 'list<uint>.sum(): uint', (list: UnsignedInt[]) => {
    charge(list.length)
    let s = 0n
    for (const v of list) s += v.valueOf()
    return new UnsignedInt(s)
  })
  fn(env, 'list<google.protobuf.Duration>.sum(): google.protobuf.Duration', (list: Duration[]) => {
    charge(list.length)
    let s = new Duration(0n, 0)
    for (const v of list) s = s.addDuration(v)
    return s
  })
  fn(env, 'list<T>.min(): T', (list: unknown[]) => extreme(listItems(list) as unknown[], 'min', -1))
  fn(env, 'list<T>.max(): T', (list: unknown[]) => extreme(listItems(list) as unknown[], 'max', 1))
  fn(env, 'list<T>.indexOf(T): int', (list: unknown[], v: unknown) => {
    const items = listItems(list)
    charge(items.length)
    for (let i = 0; i < items.length; i++) if (celEquals(items[i], v)) return BigInt(i)
    return -1n
  })
  fn(env, 'list<T>.lastIndexOf(T): int', (list: unknown[], v: unknown) => {
    const items = listItems(list)
    charge(items.length)
    for (let i = items.length - 1; i >= 0; i--) if (celEquals(items[i], v)) return BigInt(i)
    return -1n
  })
}

// ---------------------------------------------------------------- regex

export function registerRegex(env: Environment): void {
  fn(env, 'string.find(string): string', (s: string, re: string) => {
    charge(traversal(s.length + 1) * Math.ceil(re.length * 0.25))
    return regexFind(s, re)
  })
  fn(env, 'string.findAll(string): list<string>', (s: string, re: string) => {
    charge(traversal(s.length + 1) * Math.ceil(re.length * 0.25))
    return regexFindAll(s, re)
  })
  fn(env, 'string.findAll(string, int): list<string>', (s: string, re: string, n: bigint) => {
    charge(traversal(s.length + 1) * Math.ceil(re.length * 0.25))
    return regexFindAll(s, re, n > 2147483647n ? -1 : Number(n))
  })
}
