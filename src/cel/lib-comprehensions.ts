// cel-go ext.TwoVarComprehensions (Kubernetes base environment since 1.32), as cel-js macros:
// all(k, v, p), exists(k, v, p), existsOne(k, v, p), transformList(k, v, [f,] t),
// transformMap(k, v, [f,] t), transformMapEntry(k, v, [f,] e). For a list, k is the index and v
// the element; for a map, k is the key and v its value.
import { ParseError, type Environment } from '@marcbachmann/cel-js'
import type { CelMacro, CelNode, CelType } from './ast.ts'
import { charge } from './runtime-cost.ts'
import { celTypeName, evalError } from './values.ts'

const SYNC = { async: false } as const

interface Checker {
  check(node: CelNode, ctx: unknown): CelType
  createError(code: string, message: string, node: CelNode): Error
  dynType: CelType
  boolType: CelType
  intType: CelType
  registry: { getListType(t: CelType): CelType; getMapType(k: CelType, v: CelType): CelType }
}
interface OverlayCtx {
  forkWithVariable(name: string, type: CelType): OverlayCtx
  reuse(parent: unknown): OverlayCtx
  setIterValue(v: unknown, ev: unknown): OverlayCtx
}
interface Evaluator {
  run(node: CelNode, ctx: unknown): unknown
}

type Kind = 'all' | 'exists' | 'existsOne' | 'transformList' | 'transformMap' | 'transformMapEntry'

/** The (key, value) pairs a two-variable comprehension visits. */
function entries(coll: unknown): Array<[unknown, unknown]> {
  if (Array.isArray(coll)) return coll.map((v, i) => [BigInt(i), v])
  if (coll instanceof Set) return [...coll].map((v, i) => [BigInt(i), v])
  if (coll instanceof Map) return [...coll.entries()]
  if (coll !== null && typeof coll === 'object') {
    const proto = Object.getPrototypeOf(coll)
    if (proto === Object.prototype || proto === null) return Object.entries(coll)
  }
  throw evalError(`got '${celTypeName(coll)}', expected iterable type`)
}

function identifier(node: CelNode, what: string): string {
  if (node.op !== 'id') throw new ParseError(`${what} must be a simple identifier`)
  return node.args as string
}

function makeMacro(kind: Kind, filtered: boolean) {
  return (opts: { args: CelNode[]; receiver: CelNode | null }): CelMacro => {
    const receiver = opts.receiver
    if (!receiver) throw new ParseError(`${kind}() must be called on a list or map`)
    const keyVar = identifier(opts.args[0], `${kind}() first variable`)
    const valueVar = identifier(opts.args[1], `${kind}() second variable`)
    if (keyVar === valueVar) throw new ParseError(`${kind}(): the two variables must differ`)
    const filter = filtered ? opts.args[2] : undefined
    const body = opts.args[filtered ? 3 : 2]
    return {
      kind: 'twoVar',
      macroName: kind,
      async: false,
      receiver,
      keyVar,
      valueVar,
      filter,
      body,
      children: filter ? [receiver, filter, body] : [receiver, body],
      keyCtx: undefined,
      iterCtx: undefined,
      typeCheck(chk: unknown, m: CelMacro, ctx: unknown) {
        const c = chk as Checker
        const t = c.check(receiver, ctx)
        let kt: CelType
        let vt: CelType
        if (t.kind === 'list') [kt, vt] = [c.intType, t.valueType as CelType]
        else if (t.kind === 'map') [kt, vt] = [t.keyType as CelType, t.valueType as CelType]
        else if (t.kind === 'dyn') [kt, vt] = [c.dynType, c.dynType]
        else throw c.createError('invalid_comprehension_range', `${kind}() cannot range over '${t.name}'`, receiver)
        const keyCtx = (ctx as OverlayCtx).forkWithVariable(keyVar, kt)
        const inner = keyCtx.forkWithVariable(valueVar, vt)
        m.keyCtx = keyCtx
        m.iterCtx = inner
        if (filter) expectBool(c, c.check(filter, inner), filter, kind)
        const bt = c.check(body, inner)
        switch (kind) {
          case 'all':
          case 'exists':
          case 'existsOne':
            expectBool(c, bt, body, kind)
            return c.boolType
          case 'transformList':
            return c.registry.getListType(bt)
          case 'transformMap':
            return c.registry.getMapType(kt, bt)
          case 'transformMapEntry':
            return bt.kind === 'map' ? bt : c.registry.getMapType(c.dynType, c.dynType)
        }
      },
      evaluate(evaluator: unknown, m: CelMacro, ctx: unknown) {
        return run(kind, evaluator as Evaluator, m, ctx)
      },
    }
  }
}

function expectBool(c: Checker, t: CelType, node: CelNode, kind: string): void {
  if (t.kind === 'dyn' || (t.kind === 'primitive' && t.name === 'bool')) return
  throw c.createError('invalid_macro_argument', `${kind}() predicate must return bool, got '${t.name}'`, node)
}

function run(kind: Kind, ev: Evaluator, m: CelMacro, ctx: unknown): unknown {
  const pairs = entries(ev.run(m.receiver as CelNode, ctx))
  const perItem = (m.perItem as number | undefined) ?? 1
  const keyCtx = m.keyCtx as OverlayCtx
  const inner = m.iterCtx as OverlayCtx
  const filter = m.filter as CelNode | undefined
  const body = m.body as CelNode
  let count = 0
  let firstError: unknown
  const listOut: unknown[] = []
  const mapOut = new Map<unknown, unknown>()
  for (const [k, v] of pairs) {
    charge(perItem)
    // cel-js contexts are chained overlays: the value variable's has the key variable's as parent.
    const c = inner.reuse(keyCtx.reuse(ctx).setIterValue(k, ev)).setIterValue(v, ev)
    if (filter) {
      const keep = ev.run(filter, c)
      if (keep === false) continue
      if (keep !== true) throw evalError(`${kind}() filter must return bool, got ${celTypeName(keep)}`)
    }
    if (kind === 'all' || kind === 'exists' || kind === 'existsOne') {
      let r: unknown
      try {
        r = ev.run(body, c)
      } catch (e) {
        if (kind === 'existsOne') throw e
        firstError ??= e
        continue
      }
      if (typeof r !== 'boolean') throw evalError(`${kind}() predicate must return bool, got ${celTypeName(r)}`)
      if (kind === 'all' && !r) return false
      if (kind === 'exists' && r) return true
      if (kind === 'existsOne' && r) count++
      continue
    }
    const r = ev.run(body, c)
    if (kind === 'transformList') listOut.push(r)
    else if (kind === 'transformMap') mapOut.set(k, r)
    else {
      const entry = r instanceof Map ? [...r.entries()] : r && typeof r === 'object' ? Object.entries(r) : undefined
      if (!entry) throw evalError(`transformMapEntry() must produce a map, got ${celTypeName(r)}`)
      for (const [ek, evv] of entry) {
        if (mapOut.has(ek)) throw evalError(`insert failed: key ${String(ek)} already exists`)
        mapOut.set(ek, evv)
      }
    }
  }
  switch (kind) {
    case 'all':
      if (firstError !== undefined) throw firstError
      return true
    case 'exists':
      if (firstError !== undefined) throw firstError
      return false
    case 'existsOne':
      return count === 1
    case 'transformList':
      return listOut
    default:
      return mapOut
  }
}

export function registerTwoVarComprehensions(env: Environment): void {
  const macros: Array<[Kind, number, boolean]> = [
    ['all', 3, false],
    ['exists', 3, false],
    ['existsOne', 3, false],
    ['transformList', 3, false],
    ['transformList', 4, true],
    ['transformMap', 3, false],
    ['transformMap', 4, true],
    ['transformMapEntry', 3, false],
    ['transformMapEntry', 4, true],
  ]
  for (const [kind, n, filtered] of macros) {
    const args = Array.from({ length: n }, () => 'ast').join(', ')
    const ret = kind === 'transformList' ? 'list<dyn>' : kind.startsWith('transform') ? 'map<dyn, dyn>' : 'bool'
    const make = makeMacro(kind, filtered)
    env.registerFunction(`list.${kind}(${args}): ${ret}`, (o: { args: CelNode[]; receiver: CelNode | null }) => make(o), SYNC)
  }
  // cel-go also accepts exists_one with two variables.
  const one = makeMacro('existsOne', false)
  env.registerFunction('list.exists_one(ast, ast, ast): bool', (o: { args: CelNode[]; receiver: CelNode | null }) => one(o), SYNC)
}
