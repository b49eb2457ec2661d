// The cost model of the DRA environment: value shapes (declared size bounds) and the cost of each
// function, in cel-go units. cost.ts walks the AST with it.
//
// Sources: cel-go checker/cost.go (built-in functions and operators), Kubernetes
// apiserver/pkg/cel/library/cost.go (extension libraries), dynamic-resource-allocation/cel/compile.go
// (the declared sizes of `device`). Functions marked `self` charge their actual cost at run time
// themselves, so loops must not charge them again.
import type { CelNode, CelType } from './ast.ts'
import { intLiteral, stringLiteral } from './ast.ts'
import {
  DEVICE_ATTRIBUTE_MAX_VALUE_LENGTH,
  DEVICE_MAX_DOMAIN_LENGTH,
  DEVICE_MAX_ID_LENGTH,
  DRIVER_NAME_MAX_LENGTH,
  RESOURCE_SLICE_MAX_ATTRIBUTES_AND_CAPACITIES_PER_DEVICE,
} from '../api/limits.ts'
import { INCLUDES_MAX_LIST_LENGTH } from './lib-ext.ts'
import { codePointLength } from './values.ts'

/** What is statically known of a value: its maximum size, and the shapes of its parts. */
export interface Shape {
  /** Max length of a string/bytes/list, entries of a map; 1 for scalars; Infinity when unknown. */
  readonly size: number
  /** List elements, or map values. */
  readonly elem?: Shape
  /** Map keys. */
  readonly key?: Shape
  /** Fields of an object type. */
  readonly fields?: Readonly<Record<string, Shape>>
}

export const UNKNOWN: Shape = { size: Infinity }
export const SCALAR: Shape = { size: 1 }
const ENTRIES = RESOURCE_SLICE_MAX_ATTRIBUTES_AND_CAPACITIES_PER_DEVICE

/**
 * An attribute value: scalar or (1.36 list-type attributes) list; upstream declares it as
 * AnyType with MaxElements = max(DeviceAttributeMaxValueLength, ResourceSliceMaxAttributeValuesPerDevice).
 */
const ATTRIBUTE: Shape = {
  size: Math.max(DEVICE_ATTRIBUTE_MAX_VALUE_LENGTH, INCLUDES_MAX_LIST_LENGTH),
  elem: { size: DEVICE_ATTRIBUTE_MAX_VALUE_LENGTH },
}
const DOMAIN: Shape = { size: DEVICE_MAX_DOMAIN_LENGTH }
const ID: Shape = { size: DEVICE_MAX_ID_LENGTH }

export const DEVICE_SHAPE: Shape = {
  size: 1,
  fields: {
    driver: { size: DRIVER_NAME_MAX_LENGTH },
    attributes: { size: ENTRIES, key: DOMAIN, elem: { size: ENTRIES, key: ID, elem: ATTRIBUTE } },
    capacity: { size: ENTRIES, key: DOMAIN, elem: { size: ENTRIES, key: ID, elem: SCALAR } },
    allowMultipleAllocations: SCALAR,
  },
}

/** cel-go common.StringTraversalCostFactor and RegexStringLengthCostFactor; list/map creation. */
export const STRING_TRAVERSAL = 0.1
export const REGEX_LENGTH = 0.25
export const LIST_CREATE = 10
export const MAP_CREATE = 30

export interface Est {
  /** Worst-case cost including every loop iteration. */
  cost: number
  /** Cost charged outside loops at run time: `cost` without iterations and self-charging calls. */
  flat: number
  shape: Shape
}

export const mul = (a: number, b: number): number => (a === 0 || b === 0 ? 0 : a * b)
export const ceil = (x: number): number => (Number.isFinite(x) ? Math.ceil(x) : x)
export const traversal = (size: number): number => ceil(mul(size, STRING_TRAVERSAL))

export function typeShape(t: CelType | undefined): Shape {
  if (!t) return UNKNOWN
  if (t.kind === 'primitive') return t.name === 'string' || t.name === 'bytes' ? UNKNOWN : SCALAR
  if (t.kind === 'message') return SCALAR
  return UNKNOWN
}

export interface CallCtx {
  node: CelNode
  target: Est | undefined
  args: Est[]
  argNodes: CelNode[]
}

/** A function's own cost and result shape; `self` marks functions that charge at run time. */
export interface Own {
  cost: number
  shape?: Shape
  self?: boolean
}

export function literalShape(v: unknown): Shape {
  if (typeof v === 'string') return { size: codePointLength(v) }
  if (v instanceof Uint8Array) return { size: v.length }
  return SCALAR
}

export function select(shape: Shape, field: string): Shape | undefined {
  if (shape.fields) return shape.fields[field]
  return shape.elem
}

/** What a comprehension's variable ranges over: list elements, or map keys. */
export function elementShape(rangeNode: CelNode, shape: Shape): Shape {
  const t = rangeNode.checkedType
  if (t?.kind === 'map') return shape.key ?? UNKNOWN
  if (t?.kind === 'list') return shape.elem ?? UNKNOWN
  return shape.key ?? shape.elem ?? UNKNOWN
}

function isStringType(t: CelType | undefined): boolean {
  return t?.kind === 'primitive' && (t.name === 'string' || t.name === 'bytes')
}

/** cost.go's charge for the O(n) list functions: one per element, plus a traversal of string elements. */
function listScanCost(list: Est, node: CelNode | undefined): number {
  const elemType = node?.checkedType?.valueType
  const elem = list.shape.elem ?? UNKNOWN
  const per = 1 + (isStringType(elemType) ? traversal(elem.size) : 0)
  return mul(list.shape.size, per)
}

export function ownCost(c: CallCtx): Own {
  const name = c.node.args[0] as string
  const t = c.target
  const a0 = c.args[0]
  const sT = t?.shape.size ?? 0
  const sA = a0?.shape.size ?? 0
  const recvType = c.node.op === 'rcall' ? (c.node.args[1] as CelNode).checkedType : undefined
  if (isSetsCall(c.node)) {
    const pairs = Math.max(1, mul(sA, c.args[1]?.shape.size ?? Infinity))
    return { cost: name === 'equivalent' ? 2 * pairs : pairs, shape: SCALAR, self: true }
  }
  switch (name) {
    case 'contains':
      if (!t) return { cost: 1 }
      return { cost: Math.max(1, mul(traversal(sT), traversal(sA))) }
    case 'startsWith':
    case 'endsWith':
      return { cost: Math.max(1, traversal(sA)) }
    case 'matches': {
      const [str, re] = t ? [t, a0] : [c.args[0], c.args[1]]
      return { cost: mul(traversal(str.shape.size + 1), ceil(mul(re?.shape.size ?? 0, REGEX_LENGTH))) }
    }
    case 'find':
    case 'findAll': {
      const cost = mul(traversal(sT + 1), ceil(mul(sA, REGEX_LENGTH)))
      const shape = name === 'find' ? { size: sT } : { size: sT, elem: { size: sT } }
      return { cost, shape, self: true }
    }
    case 'lowerAscii':
    case 'upperAscii':
    case 'trim':
    case 'substring':
      return { cost: traversal(sT), shape: { size: sT } }
    case 'reverse':
      if (isStringType(recvType)) return { cost: traversal(sT), shape: { size: sT }, self: true }
      return { cost: sT + 1, shape: t?.shape, self: true }
    case 'charAt':
      return { cost: 1, shape: { size: 1 } }
    case 'indexOf':
    case 'lastIndexOf':
      if (!t) return { cost: 1 }
      if (isStringType(recvType)) return { cost: traversal(sT), shape: SCALAR }
      return { cost: listScanCost(t, c.node.args[1]), shape: SCALAR, self: true }
    case 'isSorted':
    case 'sum':
    case 'min':
    case 'max':
      if (!t) return { cost: 1 }
      return { cost: listScanCost(t, c.node.args[1]), shape: name === 'isSorted' ? SCALAR : (t.shape.elem ?? undefined), self: true }
    case 'replace': {
      if (!t) return { cost: 1 }
      const from = stringLiteral(c.argNodes[0])
      const withSize = c.args[1]?.shape.size ?? Infinity
      const count = from !== undefined && from.length > 0 ? Math.ceil(sT / codePointLength(from)) : sT + 1
      const size = withSize <= (from?.length ?? 0) ? sT : mul(count, withSize) + sT
      return { cost: ceil(mul(sT, 2 * STRING_TRAVERSAL)), shape: { size }, self: true }
    }
    case 'split': {
      if (!t) return { cost: 1 }
      const limit = intLiteral(c.argNodes[1])
      const parts = limit !== undefined && limit >= 0n ? Number(limit) : sT + 1
      return { cost: ceil(mul(sT, 2 * STRING_TRAVERSAL)), shape: { size: parts, elem: { size: sT } } }
    }
    case 'join': {
      if (!t) return { cost: 1 }
      const n = t.shape.size
      const size = mul(n, t.shape.elem?.size ?? Infinity) + mul(Math.max(0, n - 1), sA)
      return { cost: traversal(size), shape: { size } }
    }
    case 'format':
      return { cost: traversal(sT) + sA, shape: UNKNOWN, self: true }
    case 'quote':
      return { cost: traversal(sA), shape: { size: mul(sA, 6) + 2 }, self: true }
    case 'quantity':
    case 'isQuantity':
      return { cost: Math.max(1, traversal(sA)) }
    case 'includes':
      return { cost: INCLUDES_MAX_LIST_LENGTH, shape: SCALAR }
    case 'range': {
      const n = intLiteral(c.argNodes[0])
      const size = n !== undefined && n >= 0n ? Number(n) : Infinity
      return { cost: size + 1, shape: { size, elem: SCALAR }, self: true }
    }
    case 'slice':
      return { cost: sT + 1, shape: t?.shape, self: true }
    case 'flatten': {
      const inner = t?.shape.elem
      const size = inner ? mul(sT, inner.size) : Infinity
      return { cost: size + 1, shape: { size, elem: inner?.elem }, self: true }
    }
    case 'distinct':
      return { cost: Math.max(1, mul(sT, sT)), shape: t?.shape, self: true }
    case 'sort':
      return { cost: sT + ceil(mul(sT, Math.log2(sT + 1))), shape: t?.shape, self: true }
    case 'dyn':
      return { cost: 1, shape: a0?.shape }
    case 'string': {
      const argType = c.argNodes[0]?.checkedType
      if (isStringType(argType)) return { cost: 1, shape: a0.shape }
      if (argType?.kind === 'primitive') return { cost: 1, shape: { size: 32 } }
      return { cost: 1 }
    }
  }
  return { cost: 1 }
}

/** sets.contains/equivalent/intersects: told apart from string contains by their receiver. */
function isSetsCall(node: CelNode): boolean {
  return node.op === 'rcall' && node.args[1]?.op === 'id' && node.args[1].args === 'sets'
}
