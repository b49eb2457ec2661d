// The slice of @marcbachmann/cel-js internals gpuplane relies on: AST node shape and a child walker.
//
// cel-js 8.0.0 exposes its parsed AST (`env.parse(expr).ast`) but types it loosely. The type checker
// annotates every node it visits with `checkedType` and, for operators and calls, a `handle`; macros
// are either expanded into an `alternate` node (all/exists/exists_one/map/filter become a
// `comprehension`) or kept as a `macro` object with its own typeCheck/evaluate hooks (has, cel.bind).
// Everything here is read from lib/*.js of that pinned version; a library upgrade must re-check it.

/** A cel-js TypeDeclaration, reduced to what the estimator and the patches read. */
export interface CelType {
  readonly kind: 'primitive' | 'list' | 'map' | 'message' | 'dyn' | 'optional' | 'param'
  readonly name: string
  readonly valueType?: CelType
  readonly keyType?: CelType
}

export interface NodeMeta {
  alternate?: CelNode
  macro?: CelMacro
  evaluate?: EvaluateFn
  async?: boolean
}

export type EvaluateFn = (ev: unknown, ast: CelNode, ctx: unknown) => unknown

/** Macro objects as cel-js keeps them on `meta.macro`; the fields are those of the macro that made it. */
export interface CelMacro {
  typeCheck: (chk: unknown, macro: CelMacro, ctx: unknown) => unknown
  evaluate: (ev: unknown, macro: CelMacro, ctx: unknown) => unknown
  async?: boolean
  /** cel.bind */
  var?: string
  val?: CelNode
  exp?: CelNode
  /** Macros defined by gpuplane list the nodes they evaluate, for the walkers below. */
  children?: CelNode[]
  [key: string]: unknown
}

export interface ComprehensionArgs {
  iterable: CelNode
  iterVarName: string
  init: CelNode
  step: CelNode
  kind?: string
  errorsAreFatal?: boolean
}

export interface CelNode {
  readonly op: string
  // The args layout depends on op (see children()); kept untyped like cel-js does.
  readonly args: any
  readonly meta: NodeMeta
  readonly pos: number
  readonly input: string
  checkedType?: CelType
  handle?: (...a: any[]) => unknown
  evaluate: EvaluateFn
  setMeta(key: string, value: unknown): CelNode
}

/** The nodes a node evaluates (after type checking has resolved constants and macros). */
export function children(node: CelNode): CelNode[] {
  const meta = node.meta
  if (meta.alternate) return [meta.alternate]
  if (meta.macro) {
    const m = meta.macro
    if (m.children) return m.children
    // cel-js macro objects keep their operands under varying names (cel.bind: val/exp;
    // optional.or/orValue: receiver/arg; has: args): take every node they hold but the call itself.
    const out: CelNode[] = []
    for (const [key, v] of Object.entries(m)) {
      if (key === 'ast') continue
      if (isNode(v)) out.push(v)
      else if (Array.isArray(v)) for (const x of v) if (isNode(x)) out.push(x)
    }
    return out
  }
  const a = node.args
  switch (node.op) {
    case 'value':
    case 'id':
    case 'accuValue':
    case 'accuInc':
      return []
    case '.':
    case '.?':
      return [a[0]]
    case '!_':
    case '-_':
    case 'accuPush':
      return [a]
    case 'call':
      return a[1]
    case 'rcall':
      return [a[1], ...a[2]]
    case 'list':
      return a
    case 'map':
      return (a as CelNode[][]).flat()
    case 'comprehension': {
      const c = a as ComprehensionArgs
      return [c.iterable, c.init, c.step]
    }
    default:
      return Array.isArray(a) ? a : []
  }
}

function isNode(v: unknown): v is CelNode {
  return v !== null && typeof v === 'object' && typeof (v as CelNode).op === 'string' && 'args' in v && 'meta' in v
}

/** Visits every node reachable through children(), parents first. */
export function walk(node: CelNode, visit: (n: CelNode) => void): void {
  const stack = [node]
  const seen = new Set<CelNode>()
  while (stack.length > 0) {
    const n = stack.pop() as CelNode
    if (seen.has(n)) continue
    seen.add(n)
    visit(n)
    for (const c of children(n)) if (c) stack.push(c)
  }
}

/** The string value of a literal node, when it is one. */
export function stringLiteral(node: CelNode | undefined): string | undefined {
  if (node && node.op === 'value' && typeof node.args === 'string') return node.args
  return undefined
}

/** The integer value of a literal node, when it is one. */
export function intLiteral(node: CelNode | undefined): bigint | undefined {
  if (node && node.op === 'value' && typeof node.args === 'bigint') return node.args
  return undefined
}
