// compileSelector: parse, type-check, cost-check and prepare one DRA selector; cached by its text.
//
// Upstream: dynamic-resource-allocation/cel/compile.go (CompileCELExpression, DeviceMatches) and
// the selector validation of pkg/apis/resource/validation. Runtime semantics cel-js does not have
// on its own are added here by patching the checked AST (see patchEvaluation).
import { Optional } from '@marcbachmann/cel-js'
import { GpuplaneError } from '../common/errors.ts'
import { CEL_SELECTOR_EXPRESSION_MAX_LENGTH } from '../api/limits.ts'
import type { CelMacro, CelNode, CelType, EvaluateFn, NodeMeta } from './ast.ts'
import { stringLiteral, walk } from './ast.ts'
import { estimateCost } from './cost.ts'
import { CelDeviceView, EMPTY_DOMAIN, celDeviceView, isDomainMap, type DeviceInput } from './device-view.ts'
import { draEnvironment } from './environment.ts'
import { regexMatches, regexProblem } from './regex.ts'
import {
  CEL_SELECTOR_EXPRESSION_MAX_COST,
  COST_LIMIT_MESSAGE,
  budgetExceeded,
  charge,
  resetBudget,
} from './runtime-cost.ts'
import { celTypeName } from './values.ts'

export interface CompileOptions {
  /**
   * Reject a selector whose estimated worst-case cost exceeds CEL_SELECTOR_EXPRESSION_MAX_COST
   * (default true), as API validation does for new objects. With false, only the runtime limit
   * applies, as for upstream's scheduler evaluating stored objects.
   */
  enforceEstimatedCost?: boolean
}

/** Most compiled selectors (and compile errors) kept; the oldest entry goes first. */
export const SELECTOR_CACHE_LIMIT = 10_000

const caches = { enforced: new Map<string, CompiledSelector | GpuplaneError>(), stored: new Map<string, CompiledSelector | GpuplaneError>() }

/**
 * Compiles a selector in the DRA environment. The same text (and options) always yields the same
 * object. Throws GpuplaneError SELECTOR_INVALID (syntax, type, length or result-type problems) or
 * SELECTOR_TOO_COSTLY (estimated cost over the limit).
 */
export function compileSelector(expression: string, options?: CompileOptions): CompiledSelector {
  const enforce = options?.enforceEstimatedCost !== false
  const cache = enforce ? caches.enforced : caches.stored
  let entry = cache.get(expression)
  if (entry === undefined) {
    try {
      entry = compileUncached(expression, enforce)
    } catch (e) {
      if (!(e instanceof GpuplaneError)) throw e
      entry = e
    }
    if (cache.size >= SELECTOR_CACHE_LIMIT) cache.delete(cache.keys().next().value as string)
    cache.set(expression, entry)
  }
  if (entry instanceof GpuplaneError) throw entry
  return entry
}

/** Empties the compile caches (tests and long-running processes that want memory back). */
export function clearSelectorCache(): void {
  caches.enforced.clear()
  caches.stored.clear()
}

type Program = (activation: object) => unknown

/** A compiled, type-checked selector, ready to run on any number of devices. */
export class CompiledSelector {
  constructor(
    readonly expression: string,
    /** Worst-case cost of one evaluation in cel-go units; Infinity when unbounded. */
    readonly estimatedCost: number,
    /** The checked result type: bool, or dyn (checked again on every evaluation). */
    readonly outputType: 'bool' | 'dyn',
    private readonly program: Program,
  ) {}

  /**
   * Evaluates the selector on a device. Pass a view from celDeviceView() when the same device is
   * evaluated against several selectors. Throws GpuplaneError SELECTOR_RUNTIME_ERROR when
   * evaluation fails, the result is not a bool, or the runtime cost limit is exceeded; the message
   * names the expression but not the device, which the caller adds.
   */
  matches(device: CelDeviceView | DeviceInput): boolean {
    const view = device instanceof CelDeviceView ? device : celDeviceView(device)
    if (view.problem !== undefined) throw runtimeError(this.expression, view.problem)
    resetBudget()
    let result: unknown
    // Errors raised inside cel-js are data (the caller gets our error with the reason); capturing
    // their stacks would make a failing evaluation several times slower than a passing one.
    const stackLimit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    try {
      result = this.program(view.activation)
    } catch (e) {
      throw runtimeError(this.expression, budgetExceeded() ? COST_LIMIT_MESSAGE : describe(e), e)
    } finally {
      Error.stackTraceLimit = stackLimit
    }
    if (budgetExceeded()) throw runtimeError(this.expression, COST_LIMIT_MESSAGE)
    if (result === true || result === false) return result
    throw runtimeError(this.expression, `CEL result of type ${celTypeName(result)} could not be converted to bool`)
  }
}

// ---------------------------------------------------------------- compilation

function compileUncached(expression: string, enforce: boolean): CompiledSelector {
  const bytes = Buffer.byteLength(expression, 'utf8')
  if (bytes > CEL_SELECTOR_EXPRESSION_MAX_LENGTH) {
    throw invalid(expression, `too long: ${bytes} bytes, the limit is ${CEL_SELECTOR_EXPRESSION_MAX_LENGTH} (CELSelectorExpressionMaxLength); shorten the expression`)
  }
  const env = draEnvironment()
  let parsed: ReturnType<typeof env.parse>
  try {
    parsed = env.parse(expression)
  } catch (e) {
    throw invalid(expression, `compilation failed: Syntax error: ${describe(e)}`)
  }
  const root = parsed.ast as unknown as CelNode
  replacePresenceMacros(root)
  const checked = parsed.check()
  if (!checked.valid) throw invalid(expression, `compilation failed: ${describe(checked.error)}`)
  const type = root.checkedType as CelType
  const outputType = resultType(type)
  if (outputType === undefined) {
    throw invalid(expression, `must evaluate to bool or the unknown type, not ${checked.type ?? type.name}`)
  }
  validateRegexLiterals(expression, root)
  const cost = estimateCost(root)
  if (enforce && cost.max > CEL_SELECTOR_EXPRESSION_MAX_COST) {
    const est = Number.isFinite(cost.max) ? String(cost.max) : 'unbounded'
    throw new GpuplaneError(
      'SELECTOR_TOO_COSTLY',
      `CEL selector ${quoteExpression(expression)}: too complex, exceeds cost limit: estimated worst-case cost ${est} > ` +
        `${CEL_SELECTOR_EXPRESSION_MAX_COST} (CELSelectorExpressionMaxCost); avoid nested loops over large lists and unbounded list sizes`,
    )
  }
  patchEvaluation(root, cost.perIteration)
  return new CompiledSelector(expression, cost.max, outputType, parsed as unknown as Program)
}

function resultType(t: CelType): 'bool' | 'dyn' | undefined {
  if (t.kind === 'primitive' && t.name === 'bool') return 'bool'
  if (t.kind === 'dyn' && (t.name === 'dyn' || t.name === 'dyn<bool>')) return 'dyn'
  return undefined
}

/** cel-go's ValidateRegexLiterals: a constant pattern must compile when the selector is created. */
function validateRegexLiterals(expression: string, root: CelNode): void {
  walk(root, (n) => {
    let pattern: string | undefined
    if (n.op === 'rcall' && ['matches', 'find', 'findAll'].includes(n.args[0])) pattern = stringLiteral(n.args[2][0])
    else if (n.op === 'call' && n.args[0] === 'matches') pattern = stringLiteral(n.args[1][1])
    if (pattern === undefined) return
    const problem = regexProblem(pattern)
    if (problem !== undefined) throw invalid(expression, `compilation failed: ${problem}`)
  })
}

// ---------------------------------------------------------------- has()

interface MacroChecker {
  check(node: CelNode, ctx: unknown): CelType
  createError(code: string, message: string, node: CelNode): Error
  boolType: CelType
}

/**
 * cel-js's has() accepts only `ident.field.field`; CEL allows any operand, and DRA selectors test
 * `has(device.attributes["gpu.nvidia.com"].foo)`. Replaces every has() with a general one.
 */
function replacePresenceMacros(root: CelNode): void {
  walk(root, (n) => {
    if (n.op === 'call' && n.args[0] === 'has' && n.meta.macro && n.args[1].length === 1) {
      n.setMeta('macro', presenceMacro(n.args[1][0] as CelNode)).setMeta('async', false)
    }
  })
}

function presenceMacro(sel: CelNode): CelMacro {
  const operand = sel.op === '.' ? (sel.args[0] as CelNode) : undefined
  const field = sel.op === '.' ? (sel.args[1] as string) : ''
  return {
    kind: 'has',
    async: false,
    operand,
    children: operand ? [operand] : [],
    typeCheck(chk: unknown, _m: CelMacro, ctx: unknown) {
      const checker = chk as MacroChecker
      if (!operand) throw checker.createError('invalid_macro_argument', 'has() invalid argument', sel)
      checker.check(sel, ctx)
      return checker.boolType
    },
    evaluate(ev: unknown, _m: CelMacro, ctx: unknown) {
      const obj = (ev as { run(n: CelNode, c: unknown): unknown }).run(operand as CelNode, ctx)
      return hasField(obj, field)
    },
  }
}

function hasField(obj: unknown, field: string): boolean {
  if (obj instanceof Optional) obj = obj.orValue(undefined)
  if (obj instanceof Map) return obj.has(field)
  if (obj instanceof CelDeviceView) return true
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) return Object.hasOwn(obj, field)
  throw new TypeError(`invalid type for field selection: ${celTypeName(obj)}`)
}

// ---------------------------------------------------------------- evaluation patches

type AccessHandle = (l: unknown, r: unknown, ast: CelNode, ev: unknown) => unknown
type CallHandle = (args: unknown[], a: unknown, b: unknown) => unknown

/**
 * After type checking: (1) `device.attributes[d]` / `device.capacity[d]` of an unknown domain
 * yield an empty map; (2) every comprehension step charges its cost to the runtime budget;
 * (3) `matches` uses cached RE2-translated regexes; (4) lowerAscii/upperAscii change ASCII only.
 */
function patchEvaluation(root: CelNode, perIteration: ReadonlyMap<CelNode, number>): void {
  walk(root, (n) => {
    switch (n.op) {
      case '.':
      case '[]':
      case '.?':
      case '[?]':
        patchDomainAccess(n)
        break
      case 'rcall':
      case 'call':
        patchStringCall(n)
        break
      case 'comprehension':
        patchRange(n)
        break
    }
  })
  for (const [node, cost] of perIteration) {
    if (node.op === 'comprehension') chargeEveryEvaluation(node.args.step as CelNode, Math.max(1, cost))
    else if (node.meta.macro) node.meta.macro.perItem = Math.max(1, cost)
  }
}

function patchDomainAccess(n: CelNode): void {
  const left = (n.args[0] as CelNode).checkedType
  const mayBeDomainMap = left === undefined || left.kind === 'dyn' || (left.kind === 'map' && left.valueType?.kind === 'map')
  const orig = n.handle as AccessHandle | undefined
  if (!mayBeDomainMap || !orig) return
  const optional = n.op === '.?' || n.op === '[?]'
  n.handle = optional
    ? (l: unknown, r: unknown, ast: CelNode, ev: unknown) =>
        isDomainMap(l) ? Optional.of(l.get(r as string) ?? EMPTY_DOMAIN) : orig(l, r, ast, ev)
    : (l: unknown, r: unknown, ast: CelNode, ev: unknown) => (isDomainMap(l) ? (l.get(r as string) ?? EMPTY_DOMAIN) : orig(l, r, ast, ev))
}

/**
 * cel-js iterates the own properties of any object; CEL iterates lists and maps only, so ranging
 * over a Quantity or Semver must fail (upstream: "expected iterable type").
 */
function patchRange(n: CelNode): void {
  const orig = n.handle
  if (!orig) return
  n.handle = (items: unknown, args: unknown, ev: unknown, ctx: unknown) => {
    if (items !== null && typeof items === 'object' && !Array.isArray(items) && !(items instanceof Map) && !(items instanceof Set)) {
      const proto = Object.getPrototypeOf(items)
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(`got '${celTypeName(items)}', expected iterable type`)
      }
    }
    return orig(items, args, ev, ctx)
  }
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
}

function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase())
}

function patchStringCall(n: CelNode): void {
  const orig = n.handle as CallHandle | undefined
  if (!orig || n.meta.alternate || n.meta.macro) return
  const name = n.args[0] as string
  const member = n.op === 'rcall'
  const argCount = member ? n.args[2].length : n.args[1].length
  let impl: ((a: unknown[]) => unknown) | undefined
  if (name === 'matches' && argCount === (member ? 1 : 2)) {
    impl = (a) => (typeof a[0] === 'string' && typeof a[1] === 'string' ? regexMatches(a[0], a[1]) : undefined)
  } else if (member && argCount === 0 && (name === 'lowerAscii' || name === 'upperAscii')) {
    const f = name === 'lowerAscii' ? asciiLower : asciiUpper
    impl = (a) => (typeof a[0] === 'string' ? f(a[0]) : undefined)
  }
  if (!impl) return
  const fast = impl
  n.handle = (args: unknown[], x: unknown, y: unknown) => {
    const r = fast(args)
    return r !== undefined ? r : orig(args, x, y)
  }
}

/** Makes `node` charge `cost` to the runtime budget each time it is evaluated. */
function chargeEveryEvaluation(node: CelNode, cost: number): void {
  const meta: NodeMeta = node.meta
  const inner: EvaluateFn = meta.alternate
    ? (ev, _ast, ctx) => (meta.alternate as CelNode).evaluate(ev, meta.alternate as CelNode, ctx)
    : meta.macro
      ? (ev, _ast, ctx) => (meta.macro as CelMacro).evaluate(ev, meta.macro as CelMacro, ctx)
      : (ev, ast, ctx) => (meta.evaluate as EvaluateFn)(ev, ast, ctx)
  node.evaluate = (ev, ast, ctx) => {
    charge(cost)
    return inner(ev, ast, ctx)
  }
}

// ---------------------------------------------------------------- errors

const MAX_QUOTED = 200

function quoteExpression(expression: string): string {
  const short = expression.length > MAX_QUOTED ? `${expression.slice(0, MAX_QUOTED)}…` : expression
  return JSON.stringify(short)
}

/** One line for a cel-js error: its summary and where in the expression it points. */
function describe(e: unknown): string {
  if (e && typeof e === 'object') {
    const err = e as { summary?: string; message?: string; range?: { start: number } }
    const text = err.summary ?? err.message ?? String(e)
    return err.range && typeof err.range.start === 'number' ? `${text} (at offset ${err.range.start})` : text
  }
  return String(e)
}

function invalid(expression: string, problem: string): GpuplaneError {
  return new GpuplaneError('SELECTOR_INVALID', `CEL selector ${quoteExpression(expression)}: ${problem}`)
}

/**
 * A runtime failure is an outcome the allocator records per device, not a bug: built without a
 * stack trace, which would cost more than the evaluation itself.
 */
function runtimeError(expression: string, problem: string, cause?: unknown): GpuplaneError {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new GpuplaneError('SELECTOR_RUNTIME_ERROR', `CEL selector ${quoteExpression(expression)}: ${problem}`, {}, cause ? { cause } : undefined)
  } finally {
    Error.stackTraceLimit = limit
  }
}
