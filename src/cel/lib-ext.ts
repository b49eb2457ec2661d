// cel-go extension libraries of the Kubernetes base environment that cel-js lacks: the missing
// ext.Strings functions, ext.Sets, ext.Lists (v3), plus DRA's `includes()`.
//
// cel-js already provides the rest of ext.Strings: indexOf/lastIndexOf (with offset), lowerAscii,
// upperAscii, trim, substring, split, join. compile.ts fixes lowerAscii/upperAscii to touch ASCII only.
import { Optional, ParseError, type Environment } from '@marcbachmann/cel-js'
import type { CelMacro, CelNode, CelType } from './ast.ts'
import { fn, traversal } from './lib-kubernetes.ts'
import { formatTemplate, quote } from './format.ts'
import { charge } from './runtime-cost.ts'
import { celCompare, celEquals, celTypeName, evalError, listItems } from './values.ts'

/**
 * resource.k8s.io/v1 types.go: ResourceSliceMaxAttributeValuesPerDevice. `includes()` refuses
 * longer lists, and its estimated cost is this length.
 */
export const INCLUDES_MAX_LIST_LENGTH = 48

const SYNC = { async: false } as const

// ---------------------------------------------------------------- strings

function charAt(s: string, i: bigint): string {
  const chars = [...s]
  if (i < 0n || i > BigInt(chars.length)) throw evalError(`index out of range: ${i}`)
  return i === BigInt(chars.length) ? '' : chars[Number(i)]
}

function replaceN(s: string, from: string, to: string, n: bigint): string {
  charge(traversal(s.length) * 2)
  if (n === 0n) return s
  if (n < 0n) return from === '' ? [...s].map((c) => to + c).join('') + to : s.split(from).join(to)
  let out = ''
  let rest = s
  let left = n
  if (from === '') {
    const chars = [...s]
    let i = 0
    while (left > 0n && i <= chars.length) {
      out += to + (chars[i] ?? '')
      i++
      left--
    }
    return out + chars.slice(i).join('')
  }
  while (left > 0n) {
    const at = rest.indexOf(from)
    if (at < 0) break
    out += rest.slice(0, at) + to
    rest = rest.slice(at + from.length)
    left--
  }
  return out + rest
}

export function registerStrings(env: Environment): void {
  fn(env, 'string.charAt(int): string', charAt)
  fn(env, 'string.replace(string, string): string', (s: string, a: string, b: string) => replaceN(s, a, b, -1n))
  fn(env, 'string.replace(string, string, int): string', replaceN)
  fn(env, 'string.reverse(): string', (s: string) => {
    charge(traversal(s.length))
    return [...s].reverse().join('')
  })
  fn(env, 'string.format(list): string', (template: string, args: unknown) => {
    charge(traversal(template.length) + listItems(args).length)
    return formatTemplate(template, args)
  })
  class StringsNamespace {}
  env.registerType('StringsNamespace', StringsNamespace)
  env.registerConstant('strings', 'StringsNamespace', new StringsNamespace())
  fn(env, 'StringsNamespace.quote(string): string', (_ns: unknown, s: string) => {
    charge(traversal(s.length))
    return quote(s)
  })
}

// ---------------------------------------------------------------- sets

function contains(a: readonly unknown[], b: readonly unknown[]): boolean {
  charge(Math.max(1, a.length * b.length))
  return b.every((x) => a.some((y) => celEquals(x, y)))
}

export function registerSets(env: Environment): void {
  class SetsNamespace {}
  env.registerType('SetsNamespace', SetsNamespace)
  env.registerConstant('sets', 'SetsNamespace', new SetsNamespace())
  fn(env, 'SetsNamespace.contains(list<T>, list<T>): bool', (_ns: unknown, a: unknown, b: unknown) =>
    contains(listItems(a), listItems(b)),
  )
  fn(env, 'SetsNamespace.equivalent(list<T>, list<T>): bool', (_ns: unknown, a: unknown, b: unknown) => {
    const x = listItems(a)
    const y = listItems(b)
    return contains(x, y) && contains(y, x)
  })
  fn(env, 'SetsNamespace.intersects(list<T>, list<T>): bool', (_ns: unknown, a: unknown, b: unknown) => {
    const x = listItems(a)
    const y = listItems(b)
    charge(Math.max(1, x.length * y.length))
    return x.some((v) => y.some((w) => celEquals(v, w)))
  })
}

// ---------------------------------------------------------------- lists (ext.Lists v3)

function flatten(list: readonly unknown[], depth: number): unknown[] {
  const out: unknown[] = []
  for (const v of list) {
    if (depth > 0 && (Array.isArray(v) || v instanceof Set)) out.push(...flatten(listItems(v), depth - 1))
    else out.push(v)
  }
  charge(out.length)
  return out
}

function sortItems(items: readonly unknown[], keys: readonly unknown[]): unknown[] {
  const n = items.length
  charge(n + Math.ceil(n * Math.log2(n + 1)))
  const order = items.map((_, i) => i)
  order.sort((i, j) => celCompare(keys[i], keys[j]) || i - j)
  return order.map((i) => items[i])
}

export function registerLists(env: Environment): void {
  class ListsNamespace {}
  env.registerType('ListsNamespace', ListsNamespace)
  env.registerConstant('lists', 'ListsNamespace', new ListsNamespace())
  fn(env, 'ListsNamespace.range(int): list<int>', (_ns: unknown, n: bigint) => {
    if (n < 0n) throw evalError(`lists.range(${n}): the length must not be negative`)
    charge(Number(n) + 1)
    const out = new Array<bigint>(Number(n))
    for (let i = 0; i < out.length; i++) out[i] = BigInt(i)
    return out
  })
  fn(env, 'list<T>.slice(int, int): list<T>', (list: unknown, from: bigint, to: bigint) => {
    const items = listItems(list)
    if (from < 0n || to < 0n) throw evalError(`cannot slice(${from}, ${to}), negative indexes not supported`)
    if (from > to) throw evalError(`cannot slice(${from}, ${to}), start index must be less than or equal to end index`)
    if (to > BigInt(items.length)) throw evalError(`cannot slice(${from}, ${to}), list is length ${items.length}`)
    charge(Number(to - from) + 1)
    return items.slice(Number(from), Number(to))
  })
  fn(env, 'list.flatten(): list', (list: unknown) => flatten(listItems(list), 1))
  fn(env, 'list.flatten(int): list', (list: unknown, depth: bigint) => {
    if (depth < 0n) throw evalError('level must be non-negative')
    return flatten(listItems(list), depth > 64n ? 64 : Number(depth))
  })
  fn(env, 'list<T>.distinct(): list<T>', (list: unknown) => {
    const items = listItems(list)
    charge(Math.max(1, items.length * items.length))
    const out: unknown[] = []
    for (const v of items) if (!out.some((w) => celEquals(v, w))) out.push(v)
    return out
  })
  fn(env, 'list<T>.reverse(): list<T>', (list: unknown) => {
    const items = listItems(list)
    charge(items.length + 1)
    return [...items].reverse()
  })
  fn(env, 'list<T>.sort(): list<T>', (list: unknown) => {
    const items = listItems(list)
    return sortItems(items, items)
  })
  fn(env, 'list<T>.first(): optional<T>', (list: unknown) => {
    const items = listItems(list)
    return items.length > 0 ? Optional.of(items[0]) : Optional.none()
  })
  fn(env, 'list<T>.last(): optional<T>', (list: unknown) => {
    const items = listItems(list)
    return items.length > 0 ? Optional.of(items[items.length - 1]) : Optional.none()
  })
  env.registerFunction('list.sortBy(ast, ast): list<dyn>', sortByMacro, SYNC)
}

// The cel-js checker/evaluator/context objects, as far as the sortBy macro uses them.
interface Checker {
  check(node: CelNode, ctx: unknown): CelType
  createError(code: string, message: string, node: CelNode): Error
  dynType: CelType
}
interface Ctx {
  forkWithVariable(name: string, type: CelType): IterCtx
}
interface IterCtx {
  reuse(parent: unknown): { setIterValue(v: unknown, ev: unknown): unknown }
}
interface Evaluator {
  run(node: CelNode, ctx: unknown): unknown
}

/** `list.sortBy(e, keyExpr)`: the list ordered by the key each element maps to (stable). */
function sortByMacro(opts: { args: CelNode[]; receiver: CelNode | null }): CelMacro {
  const [iterVar, key] = opts.args
  if (!opts.receiver || iterVar.op !== 'id') {
    throw new ParseError('sortBy(var, keyExpr) needs a list receiver and an identifier as its first argument')
  }
  const receiver = opts.receiver
  return {
    kind: 'sortBy',
    async: false,
    children: [receiver, key],
    receiver,
    key,
    varName: iterVar.args as string,
    iterCtx: undefined,
    typeCheck(chk: unknown, m: CelMacro, ctx: unknown) {
      const checker = chk as Checker
      const listType = checker.check(receiver, ctx)
      if (listType.kind !== 'list' && listType.kind !== 'dyn') {
        throw checker.createError('no_matching_overload', `sortBy() needs a list, got '${listType.name}'`, receiver)
      }
      const elemType = listType.kind === 'list' ? (listType.valueType as CelType) : checker.dynType
      m.iterCtx = (ctx as Ctx).forkWithVariable(m.varName as string, elemType)
      checker.check(key, m.iterCtx)
      return listType
    },
    evaluate(evaluator: unknown, m: CelMacro, ctx: unknown) {
      const ev = evaluator as Evaluator
      const items = listItems(ev.run(receiver, ctx))
      const iterCtx = m.iterCtx as IterCtx
      const perItem = (m.perItem as number | undefined) ?? 1
      const keys = items.map((item) => {
        charge(perItem)
        const c = iterCtx.reuse(ctx).setIterValue(item, ev)
        return ev.run(key, c)
      })
      return sortItems(items, keys)
    },
  }
}

// ---------------------------------------------------------------- DRA includes()

/**
 * DRA's `includes()` (dynamic-resource-allocation/cel, 1.36): true when the attribute is the value,
 * or is a list holding it. Lists longer than ResourceSliceMaxAttributeValuesPerDevice are refused.
 */
export function registerIncludes(env: Environment): void {
  fn(env, 'dyn.includes(dyn): bool', (attr: unknown, v: unknown) => {
    if (Array.isArray(attr) || attr instanceof Set) {
      const items = listItems(attr)
      if (items.length > INCLUDES_MAX_LIST_LENGTH) {
        throw evalError(`'includes' function cannot be applied to lists longer than ${INCLUDES_MAX_LIST_LENGTH} values`)
      }
      return items.some((x) => celEquals(x, v))
    }
    if (attr instanceof Map || celTypeName(attr) === 'map') throw evalError(`'includes' cannot be applied to a map`)
    return celEquals(attr, v)
  })
}
