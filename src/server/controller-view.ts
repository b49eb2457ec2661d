// From the controller's copy of the store to the scheduler's input: typed objects, placed and pending workloads, what cannot be restored.
//
// The store keeps objects as JSON; the scheduler wants them decoded (quantities checked, int64 as
// bigint), so each object is decoded once per resourceVersion (ParsedObjects). A Workload is placed
// when its status says `phase: Scheduled` on `nodeName` and every claim of it (the ResourceClaim an
// entry names, or `<workload>-<entry>`) has status.allocation; the controller's commits write all
// of these at once, so anything else is a state to repair (WorkloadProblem), never to guess from.
import { parseCluster, type DecodedCluster } from '../api/gpuplane-v1alpha1.ts'
import { parseKind } from '../api/decode-kind.ts'
import { parseNamespace, type Namespace } from '../api/namespace-v1alpha1.ts'
import { DeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice } from '../api/resource-v1.ts'
import { describeIssue, formatPath } from '../api/decode.ts'
import { Workload } from '../api/workload-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { InputWorkload, PlacementInput } from '../scheduler/restore.ts'
import type { SchedNode } from '../scheduler/types.ts'
import { schedNodeFromObject } from '../scheduler/view.ts'
import type { StoredObject } from '../store/types.ts'
import type { ObjectCache, WatchedKind } from './controller-cache.ts'

/** The label of the objects published for a Cluster: its name. */
export const LABEL_CLUSTER = 'gpuplane.io/cluster'
/** The label of the ResourceClaims made for a Workload: its name. */
export const LABEL_WORKLOAD = 'gpuplane.io/workload'

const DRA_SCHEMAS = { ResourceSlice, DeviceClass, ResourceClaim, ResourceClaimTemplate } as const

/** Decoded objects by kind and key, reused while the object's resourceVersion is unchanged. */
export class ParsedObjects {
  private current = new Map<string, { rv: string; value: unknown }>()
  private previous = new Map<string, { rv: string; value: unknown }>()

  /** Forgets what was not asked for since the last call (objects since deleted). */
  newGeneration(): void {
    this.previous = this.current
    this.current = new Map()
  }

  /** The decoded object; throws GpuplaneError INVALID_INPUT with the field path when it does not decode. */
  get<T>(o: StoredObject, decode: (o: StoredObject) => T): T {
    const id = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`
    const rv = o.metadata.resourceVersion
    const hit = this.current.get(id) ?? this.previous.get(id)
    if (hit && hit.rv === rv) {
      this.current.set(id, hit)
      if (hit.value instanceof GpuplaneError) throw hit.value
      return hit.value as T
    }
    let value: unknown
    try {
      value = decode(o)
    } catch (e) {
      if (!(e instanceof GpuplaneError)) throw e
      value = e
    }
    this.current.set(id, { rv, value })
    if (value instanceof GpuplaneError) throw value
    return value as T
  }

  workload(o: StoredObject): Workload {
    return this.get(o, (raw) => parseKind(foreign(raw), { kind: 'Workload', schema: Workload }).object)
  }

  namespace(o: StoredObject): Namespace {
    return this.get(o, (raw) => parseNamespace(foreign(withoutStatus(raw))).namespace)
  }

  cluster(o: StoredObject): DecodedCluster {
    return this.get(o, (raw) => parseCluster(foreign(withoutStatus(raw))))
  }

  dra<K extends keyof typeof DRA_SCHEMAS>(kind: K, o: StoredObject): (typeof DRA_SCHEMAS)[K]['_zod']['output'] {
    return this.get(o, (raw) => {
      const parsed = DRA_SCHEMAS[kind].safeParse(raw)
      if (parsed.success) return parsed.data
      const issue = parsed.error.issues[0]!
      throw new GpuplaneError('INVALID_INPUT', describeIssue(issue), { path: formatPath(issue.path) })
    })
  }
}

/** The object without the status the controller writes (the schemas of spec-only kinds refuse it). */
function withoutStatus(raw: StoredObject): StoredObject {
  const { status: _, ...rest } = raw
  return rest as StoredObject
}

function foreign(raw: StoredObject) {
  return { apiVersion: raw.apiVersion, kind: raw.kind, raw: raw as Record<string, unknown>, location: {}, seq: 0 }
}

/** A Workload of the store with what the controller needs of it. */
export interface WorkloadEntry {
  stored: StoredObject
  workload: Workload
  key: string
  /** `namespace/name` of the claim of each spec.resourceClaims entry. */
  claimKeys: string[]
  /** The node, when the status says it is Scheduled. */
  node?: string
}

/** A Workload the scheduler cannot take as it is, and why (written to its status.reason). */
export interface WorkloadProblem {
  key: string
  reason: string
  /** It is Scheduled in the store: its claims must be released and it must be set Pending. */
  scheduled: boolean
}

/** status.nodeName of a workload whose status says Scheduled. */
export function scheduledNode(o: StoredObject | undefined): string | undefined {
  const status = o?.status as { phase?: unknown; nodeName?: unknown } | undefined
  return status?.phase === 'Scheduled' && typeof status.nodeName === 'string' && status.nodeName !== '' ? status.nodeName : undefined
}

/** The ResourceClaim keys of a workload's entries. */
export function claimKeysOf(w: Workload): string[] {
  const ns = w.metadata.namespace ?? 'default'
  return (w.spec.resourceClaims ?? []).map((c) => `${ns}/${c.resourceClaimName ?? `${w.metadata.name}-${c.name}`}`)
}

/**
 * The Workloads of the store that decode, in submission order (creation time, then key); the
 * others with their problem. With `unscheduledOnly`, those whose status says Scheduled are left
 * out of both (the queue's case: it skips them anyway, and sorting thousands of placed workloads
 * at every pass cost more than deciding the new ones).
 */
export function workloadEntries(cache: ObjectCache, parsed: ParsedObjects, options: { unscheduledOnly?: boolean } = {}): { entries: WorkloadEntry[]; invalid: WorkloadProblem[] } {
  const entries: WorkloadEntry[] = []
  const invalid: WorkloadProblem[] = []
  for (const [key, stored] of cache.all('Workload')) {
    if (options.unscheduledOnly && scheduledNode(stored) !== undefined) continue
    try {
      const workload = parsed.workload(stored)
      const node = scheduledNode(stored)
      entries.push({ stored, workload, key, claimKeys: claimKeysOf(workload), ...(node !== undefined ? { node } : {}) })
    } catch (e) {
      const where = e instanceof GpuplaneError && e.location.path ? `${e.location.path}: ` : ''
      invalid.push({ key, reason: `invalid Workload: ${where}${(e as Error).message}; correct it with PUT`, scheduled: scheduledNode(stored) !== undefined })
    }
  }
  entries.sort(bySubmission)
  return { entries, invalid }
}

/**
 * Creation time, then key: the queue's order within one priority. Creation times have second
 * resolution (as in Kubernetes), so keys break many ties; numbers in them compare as numbers
 * (w-9 before w-10), which keeps the order of a numbered stream of submissions.
 */
export function bySubmission(a: { stored: StoredObject; key: string }, b: { stored: StoredObject; key: string }): number {
  const ta = a.stored.metadata.creationTimestamp
  const tb = b.stored.metadata.creationTimestamp
  return ta < tb ? -1 : ta > tb ? 1 : naturalCompare(a.key, b.key)
}

/** Strings compared piece by piece, runs of digits by their value. */
function naturalCompare(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? []
  const pb = b.match(/\d+|\D+/g) ?? []
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!
    const y = pb[i]!
    if (x === y) continue
    const digits = /^\d/.test(x) && /^\d/.test(y)
    if (digits && x.length !== y.length) return x.replace(/^0+/, '').length - y.replace(/^0+/, '').length || (x < y ? -1 : 1)
    return x < y ? -1 : 1
  }
  return pa.length - pb.length
}

/** The decoded objects of one DRA kind; those that do not decode are reported and left out. */
function draObjects<K extends keyof typeof DRA_SCHEMAS>(cache: ObjectCache, parsed: ParsedObjects, kind: K, warn: (msg: string) => void): Array<(typeof DRA_SCHEMAS)[K]['_zod']['output']> {
  const out: Array<(typeof DRA_SCHEMAS)[K]['_zod']['output']> = []
  for (const [key, o] of cache.all(kind as WatchedKind)) {
    try {
      out.push(parsed.dra(kind, o))
    } catch (e) {
      warn(`${kind} ${key} is left out of scheduling: ${(e as Error).message}`)
    }
  }
  return out
}

/** What restoring needs, and the Scheduled workloads that cannot be restored as they are. */
export interface ViewInput {
  /** The cluster, every claim, and the placed workloads (input.workloads); pending ones are the queue's. */
  input: PlacementInput
  /** Workloads Scheduled in the store that are inconsistent or do not decode: to release and set Pending. */
  broken: WorkloadProblem[]
}

/**
 * The scheduler's input from the cache: the cluster (Nodes, and a node for every slice's nodeName
 * that has no Node object), every claim, and the placed workloads. A claim belongs to the first
 * placed workload (in submission order) that holds it; a later one naming it too is broken.
 */
export function viewInput(cache: ObjectCache, parsed: ParsedObjects, warn: (msg: string) => void): ViewInput {
  parsed.newGeneration()
  const slices = draObjects(cache, parsed, 'ResourceSlice', warn)
  const claims = draObjects(cache, parsed, 'ResourceClaim', warn)
  const namespaces: Namespace[] = []
  for (const [key, o] of cache.all('Namespace')) {
    try {
      namespaces.push(parsed.namespace(o))
    } catch (e) {
      warn(`Namespace ${key} is left out of scheduling (its quota does not apply): ${(e as Error).message}`)
    }
  }
  const { entries, invalid } = workloadEntries(cache, parsed)
  const broken = invalid.filter((p) => p.scheduled)
  const claimByKey = new Map(claims.map((c) => [`${c.metadata.namespace ?? 'default'}/${c.metadata.name}`, c]))
  const owner = new Map<string, string>()
  const workloads: InputWorkload[] = []
  for (const e of entries) {
    if (e.node === undefined) continue
    const missing = e.claimKeys.find((k) => claimByKey.get(k)?.status?.allocation === undefined)
    const taken = e.claimKeys.find((k) => owner.has(k))
    if (missing !== undefined || taken !== undefined) {
      const why = missing !== undefined ? `its ResourceClaim ${missing} has no allocation` : `its ResourceClaim ${taken} is held by workload ${owner.get(taken!)}`
      broken.push({ key: e.key, reason: `released from node ${e.node}: ${why}; it is scheduled again`, scheduled: true })
      continue
    }
    for (const k of e.claimKeys) owner.set(k, e.key)
    workloads.push({ workload: e.workload, key: e.key, location: {}, node: e.node, claimKeys: e.claimKeys })
  }
  const input: PlacementInput = {
    nodes: nodesOf(cache, slices),
    slices,
    classes: draObjects(cache, parsed, 'DeviceClass', warn),
    claims,
    templates: draObjects(cache, parsed, 'ResourceClaimTemplate', warn),
    namespaces,
    workloads,
    owner,
  }
  return { input, broken }
}

/** The Node objects, then a bare node for each slice's nodeName that has none (name order). */
function nodesOf(cache: ObjectCache, slices: readonly ResourceSlice[]): SchedNode[] {
  const nodes = [...cache.all('Node').values()].map((o) => schedNodeFromObject(o as Record<string, unknown>))
  const known = new Set(nodes.map((n) => n.name))
  const bare = [...new Set(slices.map((s) => s.spec.nodeName).filter((n): n is string => !!n && !known.has(n)))].sort()
  return [...nodes, ...bare.map((name) => ({ name, labels: {}, taints: [] }))]
}

/**
 * JSON with object keys sorted: equal for equal content, whatever order a store keeps keys in.
 * The text is JSON.stringify's (undefined fields dropped, toJSON used, non-finite numbers null),
 * with bigints as numbers when exact, else as strings. Written out by hand: the controller
 * compares specs and allocations on every change it follows, and a replacer that rebuilds every
 * object with sorted keys cost twice as much.
 */
export function canonical(value: unknown): string {
  return canonicalText(value) ?? 'undefined'
}

function canonicalText(v: unknown): string | undefined {
  if (v === null) return 'null'
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v)
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null'
    case 'boolean':
      return v ? 'true' : 'false'
    case 'bigint':
      return Number.isSafeInteger(Number(v)) ? String(Number(v)) : JSON.stringify(v.toString())
    case 'object':
      break
    default:
      return undefined
  }
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return canonicalText((v as { toJSON(): unknown }).toJSON())
  if (Array.isArray(v)) {
    let out = '['
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + (canonicalText(v[i]) ?? 'null')
    return out + ']'
  }
  let out = '{'
  let first = true
  for (const k of Object.keys(v as object).sort()) {
    const text = canonicalText((v as Record<string, unknown>)[k])
    if (text === undefined) continue
    out += (first ? '' : ',') + JSON.stringify(k) + ':' + text
    first = false
  }
  return out + '}'
}
