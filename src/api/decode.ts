// Reading objects: multi-document YAML, JSON and `kind: List`, version normalisation, shape and rule checks with field paths.
import { parseAllDocuments } from 'yaml'
import { z } from 'zod'
import { GpuplaneError, type ErrorLocation } from '../common/errors.ts'
import { DeviceClass, RESOURCE_GROUP, RESOURCE_V1, ResourceClaim, ResourceClaimTemplate, ResourceSlice, type DraObject } from './resource-v1.ts'
import { normalizeV1beta1, V1BETA1_PATH_RULES } from './v1beta1.ts'
import { validateObject } from './validate.ts'

/** A decoded object with where it came from, for error messages. */
export interface Decoded<T = DraObject> {
  object: T
  location: ErrorLocation
  /** Position among all objects of the text (Decoded and Foreign alike), for document order. */
  seq: number
}

/** An object of a kind gpuplane does not interpret here (a Pod, a Namespace, ...), kept as it was. */
export interface Foreign {
  apiVersion: string
  kind: string
  raw: Record<string, unknown>
  location: ErrorLocation
  seq: number
}

const SCHEMAS = {
  ResourceSlice,
  DeviceClass,
  ResourceClaim,
  ResourceClaimTemplate,
} as const satisfies Record<DraObject['kind'], z.ZodType>

const RESOURCE_VERSIONS = new Set([`${RESOURCE_GROUP}/v1`, `${RESOURCE_GROUP}/v1beta2`, `${RESOURCE_GROUP}/v1beta1`])

/**
 * Hooks the decoder runs on each DRA object after shape and rule validation; the CLI uses it to
 * compile CEL selectors so that a bad expression is reported with its file and path. Each hook
 * returns errors as field paths relative to the object.
 */
export type ObjectCheck = (obj: DraObject) => Array<{ path: string; message: string; code?: GpuplaneError['code'] }>

/**
 * Parses every document of a YAML or JSON text. Items of `kind: List` documents are returned one
 * by one, with their index in the path. Throws GpuplaneError (INVALID_INPUT, or the code a check
 * gives) naming file, document and field path at the first invalid object.
 */
export interface DecodeOptions {
  /** Run upstream's semantic validation rules (validate.ts) after the shape check; default true. */
  validate?: boolean
}

export function decodeText(text: string, file?: string, checks: ObjectCheck[] = [], options: DecodeOptions = {}): { objects: Decoded[]; foreign: Foreign[] } {
  const objects: Decoded[] = []
  const foreign: Foreign[] = []
  const docs = parseAllDocuments(text, { intAsBigInt: true, uniqueKeys: true })
  const list = Array.isArray(docs) ? docs : [docs]
  list.forEach((doc, index) => {
    const location: ErrorLocation = { file, document: index }
    if (doc.errors.length > 0) {
      const err = doc.errors[0]
      throw new GpuplaneError('INVALID_INPUT', `not valid YAML or JSON: ${err.message.split('\n')[0]}; fix the syntax at line ${err.linePos?.[0].line ?? '?'}`, location)
    }
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown
    if (value === null || value === undefined) return
    if (!isRecord(value)) throw new GpuplaneError('INVALID_INPUT', 'a document must be an object with apiVersion and kind', location)
    if (value.kind === 'List' || (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items))) {
      const items = value.items
      if (!Array.isArray(items)) throw new GpuplaneError('INVALID_INPUT', 'a List must have an items array', { ...location, path: 'items' })
      items.forEach((item, i) => decodeOne(item, { ...location, path: `items[${i}]` }, objects, foreign, checks, options))
      return
    }
    decodeOne(value, location, objects, foreign, checks, options)
  })
  return { objects, foreign }
}

function decodeOne(value: unknown, location: ErrorLocation, objects: Decoded[], foreign: Foreign[], checks: ObjectCheck[], options: DecodeOptions): void {
  const prefix = location.path ? `${location.path}.` : ''
  const at = (path: string): ErrorLocation => ({ ...location, path: prefix + path })
  if (!isRecord(value)) throw new GpuplaneError('INVALID_INPUT', 'an object must be a mapping with apiVersion and kind', location)
  const { apiVersion, kind } = value
  if (typeof apiVersion !== 'string' || apiVersion === '') throw new GpuplaneError('INVALID_INPUT', 'apiVersion is required, e.g. resource.k8s.io/v1', at('apiVersion'))
  if (typeof kind !== 'string' || kind === '') throw new GpuplaneError('INVALID_INPUT', 'kind is required, e.g. ResourceClaim', at('kind'))

  if (!(kind in SCHEMAS) || !apiVersion.startsWith(`${RESOURCE_GROUP}/`)) {
    foreign.push({ apiVersion, kind, raw: value, location, seq: objects.length + foreign.length })
    return
  }
  if (!RESOURCE_VERSIONS.has(apiVersion)) {
    throw new GpuplaneError('INVALID_INPUT', `apiVersion ${apiVersion} is not supported for ${kind}; use resource.k8s.io/v1 (v1beta2 and v1beta1 are also read)`, at('apiVersion'))
  }
  const isV1beta1 = apiVersion.endsWith('/v1beta1')
  const input = isV1beta1 ? normalizeV1beta1(kind as DraObject['kind'], value) : value
  const mapPath = (p: string) => (isV1beta1 ? V1BETA1_PATH_RULES[kind as DraObject['kind']](p) : p)

  const parsed = SCHEMAS[kind as DraObject['kind']].safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new GpuplaneError('INVALID_INPUT', describeIssue(issue), at(mapPath(formatPath(issue.path))))
  }
  const object = { ...(parsed.data as DraObject), apiVersion: RESOURCE_V1 } as DraObject
  const errors = options.validate === false ? [] : validateObject(object)
  if (errors.length > 0) throw new GpuplaneError('INVALID_INPUT', errors[0].message, at(mapPath(errors[0].path)))
  for (const check of checks) {
    const problems = check(object)
    if (problems.length > 0) throw new GpuplaneError(problems[0].code ?? 'INVALID_INPUT', problems[0].message, at(mapPath(problems[0].path)))
  }
  objects.push({ object, location, seq: objects.length + foreign.length })
}

export function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling against resource.k8s.io/v1`
    case 'invalid_type':
      return `expected ${issue.expected}${'input' in issue && issue.input === undefined ? ', but the field is missing' : ''}`
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
    default:
      return issue.message
  }
}

/** `['spec', 'devices', 0, 'attributes', 'gpu.nvidia.com/x']` → `spec.devices[0].attributes[gpu.nvidia.com/x]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(seg))) out += (out ? '.' : '') + String(seg)
    else out += `[${String(seg)}]`
  }
  return out
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Decoded objects for output: int64 bigints become numbers where that is exact; undefined fields go. */
export function toPlain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value
  if (Array.isArray(value)) return value.map(toPlain)
  if (isRecord(value)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toPlain(v)
    return out
  }
  return value
}
