// The usage ledger on PostgreSQL: idempotent batched appends (one INSERT ... ON CONFLICT DO NOTHING over unnest'ed arrays) and filtered reads, for PostgresStore.
//
// One statement per append is one transaction whatever the batch size, and one round trip.
// `seq` comes from an identity column: it orders entries by when their insert took its value, not
// by commit, so two replicas appending together may commit seq 8 before seq 7; a reader paging
// with `after` over the last second may skip such an entry. Readers of whole time ranges (reports,
// counter rebuilds) are not affected.
import { checkLedgerEntries, LEDGER_COLUMNS, ledgerEntry, ledgerValues, usageConditions, usageLimit, type LedgerRow } from '../ledger.ts'
import type { LedgerEntry, UsageQuery } from '../types.ts'

type Query = <R extends Record<string, unknown>>(sql: string, values?: unknown[]) => Promise<R[]>

/** The PostgreSQL array type of each column, in LEDGER_COLUMNS order. */
const TYPES = ['text', 'bigint', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'integer', 'integer', 'text', 'bigint', 'bigint']

const INSERT = `INSERT INTO usage_ledger (${LEDGER_COLUMNS.join(', ')})
  SELECT * FROM unnest(${TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})
  ON CONFLICT (id) DO NOTHING RETURNING seq`

/** Appends the entries in one statement; an id already present adds nothing. Returns how many were new. */
export async function appendUsage(query: Query, entries: readonly LedgerEntry[]): Promise<number> {
  const fresh = checkLedgerEntries(entries)
  if (fresh.length === 0) return 0
  const columns: unknown[][] = LEDGER_COLUMNS.map(() => [])
  for (const e of fresh) ledgerValues(e).forEach((v, i) => columns[i].push(v))
  return (await query(INSERT, columns)).length
}

/** The entries matching `query`, oldest (lowest seq) first. */
export async function queryUsage(query: Query, q: UsageQuery): Promise<LedgerEntry[]> {
  const limit = usageLimit(q)
  const { where, values } = usageConditions(q, (i) => `$${i}`)
  const rows = await query<LedgerRow & Record<string, unknown>>(`SELECT * FROM usage_ledger ${where} ORDER BY seq LIMIT ${limit}`, values)
  return rows.map(ledgerEntry)
}
