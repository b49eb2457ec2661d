// The usage ledger's rules both Store backends share: what a valid entry is, its row form, query filters as SQL, and the query limits.
//
// Outcomes (what the gateway writes, one entry per request that reached admission):
//   completed  the upstream answered 2xx; usage is its report, else counted from the streamed text
//   failed     the upstream answered an error status (0 tokens, 1 request), was unreachable, or
//              broke off (the whole reservation is counted: it may have generated up to max_tokens)
//   released   nothing reached the upstream (connection refused: nothing counted), or the client
//              left first (what was streamed is counted, the rest of the reservation released)
//   refused    a limit (429) or the counter outage policy (503) refused it: counts nothing
// Every entry holds what its request's counters ended up holding, so the sums of a window's
// entries are that window's counters (governance/rebuild.ts).
import { GpuplaneError } from '../common/errors.ts'
import type { LedgerEntry, LedgerOutcome, UsageQuery } from './types.ts'

export const LEDGER_OUTCOMES: readonly LedgerOutcome[] = ['completed', 'failed', 'released', 'refused']
/** queryUsage returns at most this many entries without a limit, and never more than USAGE_MAX_LIMIT. */
export const USAGE_DEFAULT_LIMIT = 1000
export const USAGE_MAX_LIMIT = 10_000
/** Longest id, reason, and name field kept (longer input is refused, not cut). */
const MAX_TEXT = 1024

/** The table's columns in the order ledgerValues gives them. */
export const LEDGER_COLUMNS = [
  'id',
  'time',
  'namespace',
  'agent',
  'model',
  'endpoint',
  'outcome',
  'prompt_tokens',
  'completion_tokens',
  'cost_micro',
  'requests',
  'status',
  'reason',
  'reserved_tokens',
  'latency_ms',
] as const

export interface LedgerRow {
  seq: number | string
  id: string
  time: number | string
  namespace: string
  agent: string
  model: string
  endpoint: string
  outcome: string
  prompt_tokens: number | string
  completion_tokens: number | string
  cost_micro: number | string
  requests: number | string
  status: number | string
  reason: string | null
  reserved_tokens: number | string | null
  latency_ms: number | string | null
}

/** INVALID_INPUT naming the entry and field unless the entry is well-formed (whole numbers >= 0, a known outcome, refusals counting nothing). */
export function checkLedgerEntry(entry: LedgerEntry, index: number): void {
  const bad = (field: string, what: string) => {
    throw new GpuplaneError('INVALID_INPUT', `ledger entry ${index} (${JSON.stringify(entry.id)}): ${field} ${what}`, { path: `[${index}].${field}` })
  }
  for (const field of ['id', 'namespace', 'agent', 'model', 'endpoint'] as const) {
    const v = entry[field]
    if (typeof v !== 'string' || v === '' || v.length > MAX_TEXT) bad(field, `must be a non-empty string of at most ${MAX_TEXT} characters`)
  }
  if (!LEDGER_OUTCOMES.includes(entry.outcome)) bad('outcome', `must be one of ${LEDGER_OUTCOMES.join(', ')}`)
  for (const field of ['time', 'promptTokens', 'completionTokens', 'costMicro', 'status'] as const) {
    if (!whole(entry[field])) bad(field, 'must be a whole number of at least 0')
  }
  if (entry.requests !== 0 && entry.requests !== 1) bad('requests', 'must be 0 or 1')
  for (const field of ['reservedTokens', 'latencyMs'] as const) {
    if (entry[field] !== undefined && !whole(entry[field])) bad(field, 'must be a whole number of at least 0 when given')
  }
  if (entry.reason !== undefined && (typeof entry.reason !== 'string' || entry.reason.length > MAX_TEXT)) bad('reason', `must be a string of at most ${MAX_TEXT} characters`)
  if (entry.outcome === 'refused' && (entry.promptTokens > 0 || entry.completionTokens > 0 || entry.costMicro > 0 || entry.requests > 0)) {
    bad('outcome', 'refused entries count nothing: tokens, cost and requests must be 0')
  }
}

/** Checks every entry and keeps the first of each id (a batch may carry a retried entry twice). */
export function checkLedgerEntries(entries: readonly LedgerEntry[]): LedgerEntry[] {
  entries.forEach(checkLedgerEntry)
  const seen = new Set<string>()
  return entries.filter((e) => !seen.has(e.id) && seen.add(e.id) !== undefined)
}

/** Column values of an entry in LEDGER_COLUMNS order. */
export function ledgerValues(e: LedgerEntry): (string | number | null)[] {
  return [e.id, e.time, e.namespace, e.agent, e.model, e.endpoint, e.outcome, e.promptTokens, e.completionTokens, e.costMicro, e.requests, e.status, e.reason ?? null, e.reservedTokens ?? null, e.latencyMs ?? null]
}

/** A row as an entry (PostgreSQL returns BIGINT as strings: every number is converted). */
export function ledgerEntry(row: LedgerRow): LedgerEntry {
  const entry: LedgerEntry = {
    id: row.id,
    seq: Number(row.seq),
    time: Number(row.time),
    namespace: row.namespace,
    agent: row.agent,
    model: row.model,
    endpoint: row.endpoint,
    outcome: row.outcome as LedgerOutcome,
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    costMicro: Number(row.cost_micro),
    requests: Number(row.requests) === 1 ? 1 : 0,
    status: Number(row.status),
  }
  if (row.reason !== null) entry.reason = row.reason
  if (row.reserved_tokens !== null) entry.reservedTokens = Number(row.reserved_tokens)
  if (row.latency_ms !== null) entry.latencyMs = Number(row.latency_ms)
  return entry
}

/** The query's limit, checked (INVALID_INPUT) and capped at USAGE_MAX_LIMIT. */
export function usageLimit(query: UsageQuery): number {
  const limit = query.limit ?? USAGE_DEFAULT_LIMIT
  if (!Number.isInteger(limit) || limit < 1) throw new GpuplaneError('INVALID_INPUT', `usage limit must be a positive integer, got ${limit}`, { path: 'limit' })
  return Math.min(limit, USAGE_MAX_LIMIT)
}

/** The query's filters as SQL conditions with positional values; `param(i)` writes the i-th placeholder. */
export function usageConditions(query: UsageQuery, param: (i: number) => string): { where: string; values: unknown[] } {
  const conditions: string[] = []
  const values: unknown[] = []
  const add = (column: string, value: unknown, op = '=') => {
    values.push(value)
    conditions.push(`${column} ${op} ${param(values.length)}`)
  }
  for (const [name, value] of [['from', query.from], ['to', query.to], ['after', query.after]] as const) {
    if (value !== undefined && !whole(value)) throw new GpuplaneError('INVALID_INPUT', `usage query ${name} must be a whole number of at least 0, got ${value}`, { path: name })
  }
  if (query.from !== undefined) add('time', query.from, '>=')
  if (query.to !== undefined) add('time', query.to, '<')
  if (query.namespace !== undefined) add('namespace', query.namespace)
  if (query.agent !== undefined) add('agent', query.agent)
  if (query.model !== undefined) add('model', query.model)
  if (query.outcome !== undefined) add('outcome', query.outcome)
  if (query.after !== undefined) add('seq', query.after, '>')
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', values }
}

function whole(n: unknown): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}
