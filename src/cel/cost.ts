// Static worst-case cost of a checked selector, in cel-go cost units, over the cel-js AST.
//
// Mirrors cel-go's checker cost estimation (checker/cost.go) with the Kubernetes extension
// estimator (apiserver/pkg/cel/library/cost.go) and the size bounds DRA declares for `device`
// (dynamic-resource-allocation/cel/compile.go): driver ≤ 63 chars, domains ≤ 63, ids ≤ 32,
// attribute values ≤ 64, at most 32 attributes (and 32 capacities) per device. Rules:
// identifiers and selections cost 1, literals 0, list/map literals 10/30, calls 1 unless a rule
// below says otherwise, `&&`/`||` the sum of their sides, `?:` the condition plus the dearer
// branch, a comprehension its range + init + result + iterations × (condition + step), where the
// number of iterations is the declared (or literal) size of the range. Unknown sizes are
// unbounded (Infinity), which puts a selector over any limit.
//
// Besides the total, every loop's per-iteration cost is recorded: evaluation charges it per actual
// iteration to enforce the runtime limit (see compile.ts). Functions that charge their own actual
// cost at run time are marked `self` in cost-model.ts, so loops do not charge them twice.
import type { CelNode, CelType } from './ast.ts'
import { children, stringLiteral } from './ast.ts'
import {
  DEVICE_SHAPE,
  LIST_CREATE,
  MAP_CREATE,
  SCALAR,
  UNKNOWN,
  elementShape,
  literalShape,
  mul,
  ceil,
  ownCost,
  select,
  traversal,
  typeShape,
  type Est,
  type Shape,
} from './cost-model.ts'

interface Scope {
  readonly name: string
  readonly shape: Shape
  readonly parent: Scope | undefined
}

export interface CostEstimate {
  /** Worst-case cost of one evaluation. */
  readonly max: number
  /** Cost to charge per iteration, keyed by the comprehension node (or the sortBy macro node). */
  readonly perIteration: ReadonlyMap<CelNode, number>
}

function merge(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
  if (a === b) return a
  if (!a || !b) return undefined
  return {
    size: Math.max(a.size, b.size),
    elem: merge(a.elem, b.elem),
    key: merge(a.key, b.key),
  }
}

function lookup(scope: Scope | undefined, name: string): Shape | undefined {
  for (let s = scope; s; s = s.parent) if (s.name === name) return s.shape
  return undefined
}

/** Estimates the worst-case cost of a type-checked expression. */
export function estimateCost(root: CelNode): CostEstimate {
  const perIteration = new Map<CelNode, number>()
  const e = new Estimator(perIteration)
  return { max: e.est(root, undefined).cost, perIteration }
}

class Estimator {
  constructor(private readonly perIteration: Map<CelNode, number>) {}

  est(node: CelNode, scope: Scope | undefined): Est {
    const meta = node.meta
    if (meta.alternate) {
      if (meta.alternate.op === 'comprehension' && (node.op === 'rcall' || node.op === 'call')) {
        return this.macro(node, scope)
      }
      return this.est(meta.alternate, scope)
    }
    if (meta.macro) return this.customMacro(node, scope)
    switch (node.op) {
      case 'value':
        return { cost: 0, flat: 0, shape: literalShape(node.args) }
      case 'id': {
        const s = lookup(scope, node.args as string) ?? (node.args === 'device' ? DEVICE_SHAPE : typeShape(node.checkedType))
        return { cost: 1, flat: 1, shape: s }
      }
      case '.':
      case '.?': {
        const l = this.est(node.args[0], scope)
        return this.plus(node, 1, [l], select(l.shape, node.args[1] as string))
      }
      case '[]':
      case '[?]': {
        const l = this.est(node.args[0], scope)
        const i = this.est(node.args[1], scope)
        const key = stringLiteral(node.args[1])
        return this.plus(node, 1, [l, i], key !== undefined ? select(l.shape, key) : l.shape.elem)
      }
      case '&&':
      case '||':
        return this.plus(node, 0, [this.est(node.args[0], scope), this.est(node.args[1], scope)], SCALAR)
      case '?:': {
        const c = this.est(node.args[0], scope)
        const a = this.est(node.args[1], scope)
        const b = this.est(node.args[2], scope)
        return {
          cost: c.cost + Math.max(a.cost, b.cost),
          flat: c.flat + Math.max(a.flat, b.flat),
          shape: merge(a.shape, b.shape) ?? typeShape(node.checkedType),
        }
      }
      case '!_':
      case '-_':
        return this.plus(node, 1, [this.est(node.args, scope)])
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const l = this.est(node.args[0], scope)
        const r = this.est(node.args[1], scope)
        return this.plus(node, traversal(Math.min(l.shape.size, r.shape.size)), [l, r], SCALAR)
      }
      case 'in': {
        const l = this.est(node.args[0], scope)
        const r = this.est(node.args[1], scope)
        const t = node.args[1].checkedType as CelType | undefined
        const isMap = t?.kind === 'map' || (t?.kind !== 'list' && r.shape.key !== undefined)
        return this.plus(node, isMap ? 1 : r.shape.size, [l, r], SCALAR)
      }
      case '+':
        return this.add(node, this.est(node.args[0], scope), this.est(node.args[1], scope))
      case '-':
      case '*':
      case '/':
      case '%':
        return this.plus(node, 1, [this.est(node.args[0], scope), this.est(node.args[1], scope)])
      case 'list': {
        const items = (node.args as CelNode[]).map((n) => this.est(n, scope))
        let elem: Shape | undefined = items[0]?.shape
        for (const it of items) elem = merge(elem, it.shape)
        return this.plus(node, LIST_CREATE, items, { size: items.length, elem })
      }
      case 'map': {
        const entries = node.args as CelNode[][]
        const keys = entries.map((kv) => this.est(kv[0], scope))
        const values = entries.map((kv) => this.est(kv[1], scope))
        let key: Shape | undefined = keys[0]?.shape
        let elem: Shape | undefined = values[0]?.shape
        for (const k of keys) key = merge(key, k.shape)
        for (const v of values) elem = merge(elem, v.shape)
        return this.plus(node, MAP_CREATE, [...keys, ...values], { size: entries.length, key, elem })
      }
      case 'call':
        return this.call(node, undefined, node.args[1], scope)
      case 'rcall':
        return this.call(node, node.args[1], node.args[2], scope)
      case 'comprehension':
        return this.comprehension(node, scope)
      default:
        return { cost: 1, flat: 1, shape: typeShape(node.checkedType) }
    }
  }

  /** own + the parts, with the result's shape (defaulting to its checked type's). */
  private plus(node: CelNode, own: number, parts: Est[], shape?: Shape, selfCharging = false): Est {
    let cost = own
    let flat = selfCharging ? 0 : own
    for (const p of parts) {
      cost += p.cost
      flat += p.flat
    }
    return { cost, flat, shape: shape ?? typeShape(node.checkedType) }
  }

  private add(node: CelNode, l: Est, r: Est): Est {
    const t = node.checkedType
    const numeric = t !== undefined && ((t.kind === 'primitive' && t.name !== 'string' && t.name !== 'bytes') || t.kind === 'message')
    if (numeric) return this.plus(node, 1, [l, r])
    const size = l.shape.size + r.shape.size
    return this.plus(node, traversal(size), [l, r], { size, elem: merge(l.shape.elem, r.shape.elem) })
  }

  private call(node: CelNode, targetNode: CelNode | undefined, argNodes: CelNode[], scope: Scope | undefined): Est {
    const target = targetNode ? this.est(targetNode, scope) : undefined
    const args = argNodes.map((n) => this.est(n, scope))
    const own = ownCost({ node, target, args, argNodes })
    const parts = target ? [target, ...args] : args
    return this.plus(node, own.cost, parts, own.shape, own.self)
  }

  /** all / exists / exists_one / map / filter, expanded by cel-js into a comprehension. */
  private macro(node: CelNode, scope: Scope | undefined): Est {
    const name = node.args[0] as string
    const argNodes: CelNode[] = node.op === 'rcall' ? node.args[2] : node.args[1]
    const rangeNode: CelNode | undefined = node.op === 'rcall' ? node.args[1] : undefined
    const alt = node.meta.alternate as CelNode
    const range = this.est(rangeNode ?? alt.args.iterable, scope)
    const n = range.shape.size
    const iterScope: Scope = { name: argNodes[0].args as string, shape: elementShape(rangeNode ?? alt.args.iterable, range.shape), parent: scope }
    const parts = argNodes.slice(1).map((a) => this.est(a, iterScope))
    const partsCost = parts.reduce((s, p) => s + p.cost, 0)
    const partsFlat = parts.reduce((s, p) => s + p.flat, 0)
    // init, loop condition and step overhead, result: as cel-go's expansions of each macro cost.
    let init = 0
    let overhead = 0
    let result = 1
    let shape: Shape = SCALAR
    switch (name) {
      case 'all':
        overhead = 3 // @not_strictly_false(accu), accu && p
        break
      case 'exists':
        overhead = 4 // @not_strictly_false(!accu), accu || p
        break
      case 'exists_one':
        overhead = 2 // p ? accu + 1 : accu
        result = 2 // accu == 1
        break
      case 'map':
        init = LIST_CREATE
        overhead = LIST_CREATE + 2 // accu + [t]
        shape = { size: n, elem: parts[parts.length - 1]?.shape }
        break
      case 'filter':
        init = LIST_CREATE
        overhead = LIST_CREATE + 3 // p ? accu + [x] : accu
        shape = { size: n, elem: iterScope.shape }
        break
      default:
        overhead = 1
        shape = typeShape(node.checkedType)
    }
    const perIter = overhead + partsFlat
    this.perIteration.set(alt, perIter)
    return {
      cost: range.cost + init + mul(n, overhead + partsCost) + result,
      flat: range.flat + init + result,
      shape,
    }
  }

  /** A bare comprehension node (not reached through a known macro): range + init + n × step. */
  private comprehension(node: CelNode, scope: Scope | undefined): Est {
    const a = node.args
    const range = this.est(a.iterable, scope)
    const iterScope: Scope = { name: a.iterVarName, shape: elementShape(a.iterable, range.shape), parent: scope }
    const init = this.est(a.init, scope)
    const step = this.est(a.step, iterScope)
    this.perIteration.set(node, step.flat + 1)
    return {
      cost: range.cost + init.cost + mul(range.shape.size, step.cost + 1) + 1,
      flat: range.flat + init.flat + 1,
      shape: typeShape(node.checkedType),
    }
  }

  /** has(), cel.bind and sortBy: macros cel-js keeps as objects with their own hooks. */
  private customMacro(node: CelNode, scope: Scope | undefined): Est {
    const m = node.meta.macro as NonNullable<CelNode['meta']['macro']>
    if (m.var !== undefined && m.val && m.exp) {
      // cel.bind(v, val, exp): a comprehension over [] whose accumulator is val.
      const val = this.est(m.val, scope)
      const exp = this.est(m.exp, { name: m.var, shape: val.shape, parent: scope })
      return this.plus(node, LIST_CREATE, [val, exp], exp.shape)
    }
    if (m.kind === 'has' && m.operand) {
      // Kubernetes sets PresenceTestHasCost(false): has() costs what its operand costs.
      return this.plus(node, 0, [this.est(m.operand as CelNode, scope)], SCALAR)
    }
    if (m.kind === 'twoVar') return this.twoVar(node, m, scope)
    if (m.kind === 'sortBy' || (m.receiver && m.key)) {
      const recv = this.est(m.receiver as CelNode, scope)
      const n = recv.shape.size
      const key = this.est(m.key as CelNode, { name: m.varName as string, shape: recv.shape.elem ?? UNKNOWN, parent: scope })
      this.perIteration.set(node, key.flat + 1)
      return {
        cost: recv.cost + mul(n, key.cost + 1) + ceil(mul(n, Math.log2(n + 1))),
        flat: recv.flat,
        shape: recv.shape,
      }
    }
    // optional.or / optional.orValue and any other macro: 1 plus its operands.
    return this.plus(node, 1, children(node).map((c) => this.est(c, scope)))
  }

  /** all/exists/existsOne/transformList/transformMap/transformMapEntry with (key, value) variables. */
  private twoVar(node: CelNode, m: NonNullable<CelNode['meta']['macro']>, scope: Scope | undefined): Est {
    const recvNode = m.receiver as CelNode
    const recv = this.est(recvNode, scope)
    const n = recv.shape.size
    const isMap = recvNode.checkedType?.kind === 'map' || (recvNode.checkedType?.kind !== 'list' && recv.shape.key !== undefined)
    const keyShape = isMap ? (recv.shape.key ?? UNKNOWN) : SCALAR
    const inner: Scope = {
      name: m.valueVar as string,
      shape: recv.shape.elem ?? UNKNOWN,
      parent: { name: m.keyVar as string, shape: keyShape, parent: scope },
    }
    const parts = [m.filter, m.body].filter((x): x is CelNode => x !== undefined).map((x) => this.est(x, inner))
    const body = parts[parts.length - 1]
    const overhead = 3
    this.perIteration.set(node, overhead + parts.reduce((s, p) => s + p.flat, 0))
    let shape: Shape = SCALAR
    if (m.macroName === 'transformList') shape = { size: n, elem: body.shape }
    else if (m.macroName === 'transformMap') shape = { size: n, key: keyShape, elem: body.shape }
    else if (m.macroName === 'transformMapEntry') shape = { size: n }
    return {
      cost: recv.cost + LIST_CREATE + mul(n, overhead + parts.reduce((s, p) => s + p.cost, 0)) + 1,
      flat: recv.flat + LIST_CREATE + 1,
      shape,
    }
  }
}

