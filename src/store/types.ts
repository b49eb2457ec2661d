// The Store interface: how gpuplane keeps objects, their history for watches, tokens, the audit log and the usage ledger.
//
// One contract, two implementations (sqlite/ on better-sqlite3, the embedded default; postgres/ on
// pg, for several server replicas), both run against the same contract suite (store.contract.ts).
//
// Objects are Kubernetes-style (`apiVersion`, `kind`, `metadata`, `spec`, `status`), addressed by
// kind (the Kind name, e.g. `Workload`), namespace ('' for cluster-scoped kinds) and name.
// Every write gets the next value of one store-wide revision, which becomes the object's
// `metadata.resourceVersion` (a decimal string, as etcd's revision is in Kubernetes): optimistic
// concurrency compares it, watches resume from it, lists report it.
//
// Allocation decisions change several objects at once (claims get status.allocation, the workload
// its status.nodeName) and must never oversubscribe a device, counter or quota even with two
// replicas deciding at the same time. A replica decides from a snapshot read at some allocation
// epoch and commits with `commit({ allocationEpoch })`: the commit succeeds only if no other
// allocation committed since that epoch (else CONFLICT, and the replica re-reads and decides
// again). All writes of one commit are atomic.
import type { LabelRequirement } from '../api/labels.ts'

/** Object metadata as the store keeps it. */
export interface StoredMeta {
  name: string
  namespace?: string
  uid: string
  resourceVersion: string
  generation?: number
  creationTimestamp: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  [key: string]: unknown
}

export interface StoredObject {
  apiVersion: string
  kind: string
  metadata: StoredMeta
  spec?: unknown
  status?: unknown
  [key: string]: unknown
}

/** What a client sends: metadata without the fields the store assigns. */
export interface NewObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [key: string]: unknown }
  spec?: unknown
  status?: unknown
  [key: string]: unknown
}

export interface ObjectKey {
  kind: string
  /** '' (or absent) for cluster-scoped kinds. */
  namespace?: string
  name: string
}

/** Kubernetes equality- and set-based label selector requirements, already parsed (by src/api/labels.ts). */
export type { LabelRequirement }

export interface ListOptions {
  /** Only this namespace; absent: every namespace. */
  namespace?: string
  labelSelector?: LabelRequirement[]
}

export interface ListResult {
  items: StoredObject[]
  /** The store revision the list is consistent with (watch from here). */
  resourceVersion: string
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface WatchEvent {
  type: WatchEventType
  /** The object after the change (for DELETED, as it was, with the deletion's resourceVersion). */
  object: StoredObject
}

/** One write of a commit. `expectResourceVersion` makes it conditional (GpuplaneError CONFLICT when it does not match). */
export type Write =
  | { op: 'create'; object: NewObject }
  | { op: 'update'; object: StoredObject | NewObject; expectResourceVersion?: string }
  | { op: 'updateStatus'; key: ObjectKey; status: unknown; expectResourceVersion?: string }
  | { op: 'delete'; key: ObjectKey; expectResourceVersion?: string }

export interface CommitOptions {
  /**
   * For allocation decisions: the allocation epoch the decision was made at (see
   * allocationEpoch()). The commit fails with GpuplaneError CONFLICT if another allocation committed since, and
   * advances the epoch when it succeeds.
   */
  allocationEpoch?: number
}

/** An audit record: who did what, when, with which result. */
export interface AuditEntry {
  /** Assigned by the store, increasing. */
  id?: number
  /** ISO time. */
  time: string
  /** Token subject: 'admin' or 'namespace:<ns>' (never the token itself). */
  actor: string
  /** HTTP verb or CLI action, e.g. 'create', 'update', 'delete', 'token.create'. */
  action: string
  kind?: string
  namespace?: string
  name?: string
  /** HTTP status or 'ok' / an error code. */
  result: string
  detail?: string
}

export interface AuditQuery {
  actor?: string
  namespace?: string
  kind?: string
  /** Entries with id greater than this. */
  after?: number
  limit?: number
}

/** A stored API token: only its hash is kept. */
export interface TokenRecord {
  id: string
  /** sha256 hex of the token. */
  hash: string
  /** 'admin', or the namespace the token is bound to. */
  scope: { admin: true } | { namespace: string }
  description?: string
  createdAt: string
}

/** How a gateway request ended (ledger.ts has the rules). */
export type LedgerOutcome = 'completed' | 'failed' | 'released' | 'refused'

/**
 * One gateway request in the usage ledger: what its counters ended up holding (never a reservation
 * left over). Append-only; `id` is the idempotency key (the request id), so a retried append of the
 * same entry adds nothing. Refused requests count nothing (0 tokens, 0 cost, 0 requests). The
 * fields a counter rebuild reads are those of governance/rebuild.ts's UsageRecord.
 */
export interface LedgerEntry {
  /** The request id: unique per request, the idempotency key. */
  id: string
  /** Assigned by the store on append, increasing in append order (ignored on input). */
  seq?: number
  /** When the request was admitted (refused), ms since the epoch: the windows its counters belong to. */
  time: number
  namespace: string
  agent: string
  /** The Model name clients send. */
  model: string
  /** chat, completions or embeddings. */
  endpoint: string
  outcome: LedgerOutcome
  promptTokens: number
  completionTokens: number
  /** Micro-dollars at the Model's prices of the time. */
  costMicro: number
  /** 1 when the request counts against request limits (it reached the upstream), else 0. */
  requests: 0 | 1
  /** The HTTP status the client got (499: the client left first). */
  status: number
  /** For refusals: the limit (counter key, class and window) or the outage that refused it. */
  reason?: string
  /** Tokens reserved at admission (prompt bound plus max_tokens per completion). */
  reservedTokens?: number
  /** Milliseconds from the request's arrival to its settlement. */
  latencyMs?: number
}

/** Filters of queryUsage; every one optional. Entries come oldest first (by seq). */
export interface UsageQuery {
  /** Entries with time >= from (ms since the epoch). */
  from?: number
  /** Entries with time < to (ms since the epoch). */
  to?: number
  namespace?: string
  agent?: string
  model?: string
  outcome?: string
  /** Entries with seq greater than this (paging). */
  after?: number
  /** At most this many (default USAGE_DEFAULT_LIMIT, at most USAGE_MAX_LIMIT). */
  limit?: number
}

export interface Store {
  /** Applies every pending schema migration (versioned, in order, each in its own transaction). */
  migrate(): Promise<void>
  /** The schema version now applied. */
  schemaVersion(): Promise<number>

  get(key: ObjectKey): Promise<StoredObject | undefined>
  list(kind: string, options?: ListOptions): Promise<ListResult>
  /** Creates (ALREADY_EXISTS if the key exists; the store assigns uid, resourceVersion, creationTimestamp). */
  create(object: NewObject): Promise<StoredObject>
  /**
   * Replaces spec/metadata (labels, annotations) and keeps status unless given; with
   * `expectResourceVersion`, fails with CONFLICT when the object changed since.
   * NOT_FOUND when absent.
   */
  update(object: StoredObject | NewObject, expectResourceVersion?: string): Promise<StoredObject>
  updateStatus(key: ObjectKey, status: unknown, expectResourceVersion?: string): Promise<StoredObject>
  delete(key: ObjectKey, expectResourceVersion?: string): Promise<StoredObject>
  /** Several writes, all or none, in order; returns the objects written (deleted ones as they were). */
  commit(writes: Write[], options?: CommitOptions): Promise<StoredObject[]>
  /** The allocation epoch now (see CommitOptions.allocationEpoch). */
  allocationEpoch(): Promise<number>

  /** The current store revision. */
  revision(): Promise<string>
  /**
   * Changes after `resourceVersion`, oldest first, at most `limit`; kinds filter optional.
   * If history before it was compacted, throws GpuplaneError GONE saying to list again.
   */
  changesSince(resourceVersion: string, options?: { kinds?: string[]; namespace?: string; limit?: number }): Promise<WatchEvent[]>

  appendAudit(entry: AuditEntry): Promise<void>
  queryAudit(query?: AuditQuery): Promise<AuditEntry[]>

  /** Appends usage entries in one transaction, skipping ids already present; returns how many were new. */
  appendUsage(entries: readonly LedgerEntry[]): Promise<number>
  /** Ledger entries matching the query, oldest (lowest seq) first. */
  queryUsage(query?: UsageQuery): Promise<LedgerEntry[]>

  saveToken(token: TokenRecord): Promise<void>
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>
  listTokens(): Promise<TokenRecord[]>
  deleteToken(id: string): Promise<boolean>

  close(): Promise<void>
}
