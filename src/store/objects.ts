// What each write makes of a stored object, shared by the Store implementations: keys, assigned metadata, events, JSON encoding.
//
// A backend loads the current rows of every key a commit touches, asks planCommit for the result
// (pure: no I/O), and persists it in the same transaction. Each write of a commit gets its own
// revision (base+1, base+2, ...), so every watch event has a distinct resourceVersion and a client
// that resumes from any of them misses nothing.
import { randomUUID } from 'node:crypto'
import { GpuplaneError } from '../common/errors.ts'
import type { NewObject, ObjectKey, StoredMeta, StoredObject, WatchEventType, Write } from './types.ts'

/** An object key with the namespace made explicit ('' for cluster-scoped kinds). */
export interface FullKey {
  kind: string
  namespace: string
  name: string
}

/** The key with its namespace made explicit; INVALID_INPUT when kind or name is missing. */
export function normalizeKey(key: ObjectKey): FullKey {
  if (typeof key.kind !== 'string' || key.kind === '') throw new GpuplaneError('INVALID_INPUT', 'an object key needs a kind (e.g. "Workload")')
  if (typeof key.name !== 'string' || key.name === '') throw new GpuplaneError('INVALID_INPUT', 'an object key needs a name')
  return { kind: key.kind, namespace: key.namespace ?? '', name: key.name }
}

/** A string that identifies a key in maps (the parts cannot contain NUL). */
export function keyString(key: FullKey): string {
  return `${key.kind}\u0000${key.namespace}\u0000${key.name}`
}

/** `Kind ns/name` or `Kind name`, for messages. */
export function describeKey(key: FullKey): string {
  return `${key.kind} ${key.namespace ? `${key.namespace}/` : ''}${key.name}`
}

/** The key of an object a client sends, checked: kind and name are required, namespace optional. */
export function keyOfObject(object: NewObject | StoredObject): FullKey {
  if (object === null || typeof object !== 'object') throw new GpuplaneError('INVALID_INPUT', 'an object must be a JSON object')
  if (typeof object.kind !== 'string' || object.kind === '') {
    throw new GpuplaneError('INVALID_INPUT', 'kind is required (e.g. "Workload")', { path: 'kind' })
  }
  if (typeof object.apiVersion !== 'string' || object.apiVersion === '') {
    throw new GpuplaneError('INVALID_INPUT', 'apiVersion is required (e.g. "gpuplane.io/v1alpha1")', { path: 'apiVersion' })
  }
  const meta = object.metadata
  if (meta === null || typeof meta !== 'object') throw new GpuplaneError('INVALID_INPUT', 'metadata is required', { path: 'metadata' })
  if (typeof meta.name !== 'string' || meta.name === '') {
    throw new GpuplaneError('INVALID_INPUT', 'metadata.name is required', { path: 'metadata.name' })
  }
  if (meta.namespace !== undefined && typeof meta.namespace !== 'string') {
    throw new GpuplaneError('INVALID_INPUT', 'metadata.namespace must be a string', { path: 'metadata.namespace' })
  }
  return { kind: object.kind, namespace: meta.namespace ?? '', name: meta.name }
}

/** The key a write addresses. */
export function keyOfWrite(write: Write): FullKey {
  return write.op === 'create' || write.op === 'update' ? keyOfObject(write.object) : normalizeKey(write.key)
}

/**
 * JSON text of an object. bigint values (the YAML decoder gives them for int64 fields) are
 * written as numbers when exact, else refused: the store keeps JSON, which has no bigints.
 */
export function encodeObject(object: unknown): string {
  // Most objects hold no bigint: the plain (much faster) stringify then succeeds, and only a
  // bigint makes it throw a TypeError, after which the replacer handles them.
  try {
    return JSON.stringify(object)
  } catch (e) {
    if (!(e instanceof TypeError)) throw e
  }
  return JSON.stringify(object, (_key, value: unknown) => {
    if (typeof value !== 'bigint') return value
    if (value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(value)
    throw new GpuplaneError('INVALID_INPUT', `integer ${value} is too large to store exactly: write it as a string or a quantity`)
  })
}

/** Kubernetes writes timestamps in RFC 3339 with second precision (metav1.Time). */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A parsed resourceVersion; INVALID_INPUT when it is not a non-negative decimal integer. */
export function parseRevision(resourceVersion: string, field = 'resourceVersion'): number {
  if (!/^\d{1,15}$/.test(resourceVersion)) {
    throw new GpuplaneError('INVALID_INPUT', `resourceVersion ${JSON.stringify(resourceVersion)} is not a store revision: use a value a list or watch returned`, {
      path: field,
    })
  }
  return Number(resourceVersion)
}

export function notFound(key: FullKey): GpuplaneError {
  return new GpuplaneError('NOT_FOUND', `${describeKey(key)} not found`)
}

export interface PlannedEvent {
  revision: number
  type: WatchEventType
  key: FullKey
  object: StoredObject
}

export interface PlannedCommit {
  /** The object each write produced, in order (a deleted object as it was, with the deletion's resourceVersion). */
  results: StoredObject[]
  events: PlannedEvent[]
  /** The final state of every key touched, by keyString: the object, or null when deleted. */
  rows: Map<string, { key: FullKey; object: StoredObject | null }>
}

export interface PlanContext {
  now: Date
  newUid?: () => string
}

/**
 * What `writes` make of `current` (the stored objects of the keys they touch, by keyString),
 * write i getting revision baseRevision+i+1. Throws the GpuplaneError of the first write that
 * cannot apply (NOT_FOUND, ALREADY_EXISTS, CONFLICT, INVALID_INPUT); then nothing must be persisted.
 */
export function planCommit(writes: readonly Write[], current: ReadonlyMap<string, StoredObject>, baseRevision: number, context: PlanContext): PlannedCommit {
  const state = new Map<string, StoredObject | null>(current)
  const plan: PlannedCommit = { results: [], events: [], rows: new Map() }
  writes.forEach((write, i) => {
    const revision = baseRevision + i + 1
    try {
      const key = keyOfWrite(write)
      const ks = keyString(key)
      const before = state.get(ks) ?? undefined
      const { type, object } = applyWrite(write, key, before, revision, context)
      state.set(ks, type === 'DELETED' ? null : object)
      plan.rows.set(ks, { key, object: type === 'DELETED' ? null : object })
      plan.results.push(object)
      plan.events.push({ revision, type, key, object })
    } catch (e) {
      if (e instanceof GpuplaneError && writes.length > 1) {
        throw new GpuplaneError(e.code, `write ${i + 1} of ${writes.length} (${write.op}): ${e.message}; nothing was written`, e.location, { cause: e })
      }
      throw e
    }
  })
  return plan
}

function applyWrite(write: Write, key: FullKey, before: StoredObject | undefined, revision: number, context: PlanContext): { type: WatchEventType; object: StoredObject } {
  if (write.op === 'create') {
    if (before) throw new GpuplaneError('ALREADY_EXISTS', `${describeKey(key)} already exists: update it, or delete it first`)
    return { type: 'ADDED', object: created(write.object, key, revision, context) }
  }
  if (!before) throw notFound(key)
  checkExpected(key, before, write.expectResourceVersion)
  switch (write.op) {
    case 'update':
      return { type: 'MODIFIED', object: updated(write.object, key, before, revision) }
    case 'updateStatus': {
      const draft: Record<string, unknown> = { ...before, metadata: { ...before.metadata, resourceVersion: String(revision) }, status: write.status }
      if (write.status === undefined) delete draft.status
      return { type: 'MODIFIED', object: encodedCopy(draft as StoredObject) }
    }
    case 'delete':
      return { type: 'DELETED', object: { ...before, metadata: { ...before.metadata, resourceVersion: String(revision) } } }
  }
}

function checkExpected(key: FullKey, before: StoredObject, expected: string | undefined): void {
  if (expected === undefined || expected === before.metadata.resourceVersion) return
  throw new GpuplaneError(
    'CONFLICT',
    `${describeKey(key)} was changed since resourceVersion ${expected} (it is now ${before.metadata.resourceVersion}): get it again, reapply your change and retry`,
    { path: 'metadata.resourceVersion' },
  )
}

/** A deep copy through JSON, so that what a write returns is exactly what a read gives back. */
function reencode<T>(value: T): T {
  return JSON.parse(encodeObject(value)) as T
}

/** The JSON text each object planCommit made was copied from (a backend stores that text: one encoding less per write). */
const plannedJson = new WeakMap<object, string>()

/** reencode, remembering the text for storedJson. */
function encodedCopy(value: StoredObject): StoredObject {
  const text = encodeObject(value)
  const copy = JSON.parse(text) as StoredObject
  plannedJson.set(copy, text)
  return copy
}

/** The JSON text to store for an object of a PlannedCommit (the text it was made from when there is one; plans are never changed after). */
export function storedJson(object: StoredObject): string {
  return plannedJson.get(object) ?? encodeObject(object)
}

function created(input: NewObject, key: FullKey, revision: number, context: PlanContext): StoredObject {
  // Assembled from the input, then copied once through JSON (the copy's text is what is stored).
  const { name: _n, namespace: _ns, uid: _u, resourceVersion: _rv, generation: _g, creationTimestamp: _c, ...rest } = input.metadata
  const metadata: StoredMeta = {
    ...identity(key),
    uid: (context.newUid ?? randomUUID)(),
    resourceVersion: String(revision),
    generation: 1,
    creationTimestamp: formatTimestamp(context.now),
    ...rest,
  }
  return encodedCopy(ordered(input, metadata, input.status))
}

/** update: new spec and metadata (labels, annotations, ...); uid and creationTimestamp kept; status kept unless given. */
function updated(input: StoredObject | NewObject, key: FullKey, before: StoredObject, revision: number): StoredObject {
  const object = reencode(input)
  const { name: _n, namespace: _ns, uid: _u, resourceVersion: _rv, generation: _g, creationTimestamp: _c, ...rest } = object.metadata
  const specChanged = encodeObject(object.spec) !== encodeObject(before.spec)
  const generation = (before.metadata.generation ?? 1) + (specChanged ? 1 : 0)
  const metadata: StoredMeta = {
    ...identity(key),
    uid: before.metadata.uid,
    resourceVersion: String(revision),
    generation,
    creationTimestamp: before.metadata.creationTimestamp,
    ...rest,
  }
  return ordered(object, metadata, 'status' in object && object.status !== undefined ? object.status : before.status)
}

function identity(key: FullKey): { name: string; namespace?: string } {
  return key.namespace ? { name: key.name, namespace: key.namespace } : { name: key.name }
}

/** Top-level fields in the order kubectl prints them: apiVersion, kind, metadata, the rest, status last. */
function ordered(object: NewObject | StoredObject, metadata: StoredMeta, status: unknown): StoredObject {
  const { apiVersion, kind, metadata: _m, status: _s, ...rest } = object
  const result: StoredObject = { apiVersion, kind, metadata, ...rest }
  if (status !== undefined) result.status = status
  return result
}
