// Pieces both Store backends share: their common options, the history compaction policy, audit and token rows.
import { GpuplaneError } from '../common/errors.ts'
import type { AuditEntry, AuditQuery, LabelRequirement, TokenRecord } from './types.ts'

/** Watch history kept by default: the last 10,000 revisions. */
export const DEFAULT_HISTORY_REVISIONS = 10_000
/** queryAudit returns at most this many entries when the query sets no limit, and never more than AUDIT_MAX_LIMIT. */
export const AUDIT_DEFAULT_LIMIT = 500
export const AUDIT_MAX_LIMIT = 10_000

export interface BackendOptions {
  /** Watch history to keep, in revisions (default 10,000); older events are compacted away and a watch from before them gets GONE. */
  historyRevisions?: number
  /** The clock for creationTimestamp (tests). */
  now?: () => Date
}

export function historyRevisions(options: BackendOptions): number {
  const n = options.historyRevisions ?? DEFAULT_HISTORY_REVISIONS
  if (!Number.isInteger(n) || n < 1) throw new GpuplaneError('INVALID_INPUT', `historyRevisions must be a positive integer, got ${n}`)
  return n
}

/**
 * The revision to compact history up to (inclusive) after a write reached `revision`, or undefined
 * when it is not yet time. History is compacted in batches of a tenth of what is kept, so the cost
 * is one bulk delete every keep/10 writes and between `keep` and 1.1×`keep` revisions stay.
 */
export function compactionPoint(revision: number, compacted: number, keep: number): number | undefined {
  const batch = Math.max(1, Math.ceil(keep / 10))
  return revision - compacted >= keep + batch ? revision - keep : undefined
}

/**
 * Splits a selector into the requirements a backend evaluates in SQL and those left to JS
 * (matchesLabels): keys of the label-key alphabet go to SQL; anything else (which only a caller
 * that skipped parseLabelSelector can produce) is matched in JS, so no key is ever spliced into a
 * JSON path it could escape from.
 */
export function splitSelector(requirements: readonly LabelRequirement[] = []): { sql: LabelRequirement[]; js: LabelRequirement[] } {
  const sql: LabelRequirement[] = []
  const js: LabelRequirement[] = []
  for (const r of requirements) (/^[A-Za-z0-9._/-]+$/.test(r.key) ? sql : js).push(r)
  return { sql, js }
}

/**
 * A requirement as an SQL condition on `label` (an expression giving the label's value, NULL when
 * absent), with Kubernetes semantics: `!=` and `notin` also match objects without the label.
 * `param(v)` binds a value and returns its placeholder; `distinct` is the dialect's NULL-safe `<>`.
 */
export function labelCondition(r: LabelRequirement, label: () => string, param: (value: unknown) => string, distinct: string): string {
  if ((r.op === 'in' || r.op === 'notin') && r.values.length === 0) return r.op === 'in' ? '1 = 0' : '1 = 1'
  switch (r.op) {
    case '=':
      return `${label()} = ${param(r.value)}`
    case '!=':
      return `${label()} ${distinct} ${param(r.value)}`
    case 'in':
      return `${label()} IN (${r.values.map((v) => param(v)).join(', ')})`
    case 'notin':
      return `(${label()} IS NULL OR ${label()} NOT IN (${r.values.map((v) => param(v)).join(', ')}))`
    case 'exists':
      return `${label()} IS NOT NULL`
    case '!':
      return `${label()} IS NULL`
  }
}

export function goneError(resourceVersion: number, compacted: number): GpuplaneError {
  return new GpuplaneError(
    'GONE',
    `resourceVersion ${resourceVersion} is older than the kept history (it starts after ${compacted}): list again and watch from the list's resourceVersion`,
  )
}

export function auditLimit(query: AuditQuery): number {
  const limit = query.limit ?? AUDIT_DEFAULT_LIMIT
  if (!Number.isInteger(limit) || limit < 1) throw new GpuplaneError('INVALID_INPUT', `audit limit must be a positive integer, got ${limit}`, { path: 'limit' })
  return Math.min(limit, AUDIT_MAX_LIMIT)
}

/** Audit query filters as SQL conditions with positional parameter values; `param(i)` writes the i-th placeholder. */
export function auditConditions(query: AuditQuery, param: (i: number) => string): { where: string; values: unknown[] } {
  const conditions: string[] = []
  const values: unknown[] = []
  const add = (column: string, value: unknown, op = '=') => {
    values.push(value)
    conditions.push(`${column} ${op} ${param(values.length)}`)
  }
  if (query.actor !== undefined) add('actor', query.actor)
  if (query.namespace !== undefined) add('namespace', query.namespace)
  if (query.kind !== undefined) add('kind', query.kind)
  if (query.after !== undefined) add('id', query.after, '>')
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', values }
}

export interface AuditRow {
  id: number | string
  time: string
  actor: string
  action: string
  kind: string | null
  namespace: string | null
  name: string | null
  result: string
  detail: string | null
}

export function auditValues(entry: AuditEntry): (string | null)[] {
  return [entry.time, entry.actor, entry.action, entry.kind ?? null, entry.namespace ?? null, entry.name ?? null, entry.result, entry.detail ?? null]
}

export function auditEntry(row: AuditRow): AuditEntry {
  const entry: AuditEntry = { id: Number(row.id), time: row.time, actor: row.actor, action: row.action, result: row.result }
  if (row.kind !== null) entry.kind = row.kind
  if (row.namespace !== null) entry.namespace = row.namespace
  if (row.name !== null) entry.name = row.name
  if (row.detail !== null) entry.detail = row.detail
  return entry
}

export interface TokenRow {
  id: string
  hash: string
  namespace: string | null
  description: string | null
  created_at: string
}

/** Column values of a token: id, hash, namespace (null for admin), description, created_at. */
export function tokenValues(token: TokenRecord): (string | null)[] {
  if (!/^[0-9a-f]{64}$/.test(token.hash)) throw new GpuplaneError('INVALID_INPUT', 'a token hash must be the sha256 hex digest of the token (64 lowercase hex digits)')
  const namespace = 'admin' in token.scope ? null : token.scope.namespace
  return [token.id, token.hash, namespace, token.description ?? null, token.createdAt]
}

export function tokenRecord(row: TokenRow): TokenRecord {
  const token: TokenRecord = {
    id: row.id,
    hash: row.hash,
    scope: row.namespace === null ? { admin: true } : { namespace: row.namespace },
    createdAt: row.created_at,
  }
  if (row.description !== null) token.description = row.description
  return token
}

export function tokenHashTaken(id: string): GpuplaneError {
  return new GpuplaneError('ALREADY_EXISTS', `another token than ${id} has the same hash: generate a new token`)
}

export function closedError(): GpuplaneError {
  return new GpuplaneError('UNAVAILABLE', 'the store is closed')
}
