// Decoding the objects of one gpuplane.io/v1alpha1 kind from a YAML/JSON text, with file/document/path errors worded for our own kinds.
import type { z } from 'zod'
import { GpuplaneError, type ErrorLocation } from '../common/errors.ts'
import { decodeText, describeIssue, formatPath, type Foreign } from './decode.ts'

export const GPUPLANE_GROUP = 'gpuplane.io'
export const GPUPLANE_V1ALPHA1 = 'gpuplane.io/v1alpha1'

/** An object of a kind decoded with where it came from; `location.path` is the object's own path (e.g. `items[0]` in a List). */
export interface DecodedKind<T> {
  object: T
  location: ErrorLocation
}

/** How to decode one kind: its name, its schema, and the kind's own wording of schema issues. */
export interface KindDecoder<S extends z.ZodType> {
  /** `kind` as written in the objects, e.g. `Cluster`. */
  kind: string
  schema: S
  /** Where to read about the fields, named after the spelling hint of an unknown field, e.g. `gpuplane inventory cluster --help`. */
  help?: string
  /** The kind's own wording of an issue, given the input at the issue's path; undefined: the common wording. */
  describe?: (issue: z.core.$ZodIssue, input: unknown) => string | undefined
}

/** The location of a field of an object decoded at `base` (prefixes the object's path inside a List). */
export function fieldLocation(base: ErrorLocation, path: string): ErrorLocation {
  return { ...base, path: base.path ? (path ? `${base.path}.${path}` : base.path) : path }
}

/**
 * Reads the objects of the decoder's kind in any gpuplane.io version from a YAML/JSON text
 * (multi-document, `kind: List` too), in document order. DRA objects in the same text are decoded
 * and checked as decodeText does, then ignored; other kinds are ignored. Throws GpuplaneError
 * (INVALID_INPUT) naming file, document and field path at the first invalid object.
 */
export function decodeKind<S extends z.ZodType>(text: string, file: string | undefined, decoder: KindDecoder<S>): Array<DecodedKind<z.output<S>>> {
  const { foreign } = decodeText(text, file)
  return foreign.filter((f) => f.kind === decoder.kind && f.apiVersion.startsWith(`${GPUPLANE_GROUP}/`)).map((f) => parseKind(f, decoder))
}

/** Shape checks of one object of the decoder's kind read by decodeText; only gpuplane.io/v1alpha1 is supported. */
export function parseKind<S extends z.ZodType>(f: Foreign, decoder: KindDecoder<S>): DecodedKind<z.output<S>> {
  if (f.apiVersion !== GPUPLANE_V1ALPHA1) {
    throw new GpuplaneError('INVALID_INPUT', `apiVersion ${f.apiVersion} is not supported for ${decoder.kind}; use ${GPUPLANE_V1ALPHA1}`, fieldLocation(f.location, 'apiVersion'))
  }
  const parsed = decoder.schema.safeParse(f.raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new GpuplaneError('INVALID_INPUT', describeKindIssue(issue, valueAt(f.raw, issue.path), decoder), fieldLocation(f.location, formatPath(issue.path)))
  }
  return { object: parsed.data, location: f.location }
}

/** The kind's own wording first; then ours for unknown fields and zod's default "Too small"; then decode.ts's. */
function describeKindIssue(issue: z.core.$ZodIssue, input: unknown, decoder: KindDecoder<z.ZodType>): string {
  const own = decoder.describe?.(issue, input)
  if (own !== undefined) return own
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling against ${GPUPLANE_V1ALPHA1} ${decoder.kind}${decoder.help ? ` (${decoder.help})` : ''}`
    case 'too_small':
      // zod's own wording ("Too small: ...") is replaced; messages given in the schema are kept.
      return issue.message.startsWith('Too small') ? `must have at least ${String(issue.minimum)} ${issue.origin === 'array' ? 'item' : 'character'}${Number(issue.minimum) === 1 ? '' : 's'}` : issue.message
    default:
      // zod reports no input by default; the input found at the path tells a missing field apart.
      return describeIssue({ ...issue, input } as z.core.$ZodIssue)
  }
}

/** The input value at a zod issue path (undefined when a field on the way is missing). */
function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v = raw
  for (const seg of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[seg] : undefined
  return v
}
