// The usage ledger on SQLite: idempotent batched appends (INSERT OR IGNORE on the unique id) and filtered reads, for SqliteStore.
import type Database from 'better-sqlite3'
import { checkLedgerEntries, LEDGER_COLUMNS, ledgerEntry, ledgerValues, usageConditions, usageLimit, type LedgerRow } from '../ledger.ts'
import type { LedgerEntry, UsageQuery } from '../types.ts'

type Prepare = (sql: string) => Database.Statement

const INSERT = `INSERT INTO usage_ledger (${LEDGER_COLUMNS.join(', ')}) VALUES (${LEDGER_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`

/** Appends the entries in one IMMEDIATE transaction; an id already present adds nothing. Returns how many were new. */
export function appendUsage(db: Database.Database, prepare: Prepare, entries: readonly LedgerEntry[]): number {
  const fresh = checkLedgerEntries(entries)
  if (fresh.length === 0) return 0
  const insert = prepare(INSERT)
  return db
    .transaction(() => {
      let added = 0
      for (const e of fresh) added += insert.run(...ledgerValues(e)).changes
      return added
    })
    .immediate()
}

/** The entries matching `query`, oldest (lowest seq) first. */
export function queryUsage(prepare: Prepare, query: UsageQuery): LedgerEntry[] {
  const limit = usageLimit(query)
  const { where, values } = usageConditions(query, () => '?')
  const rows = prepare(`SELECT * FROM usage_ledger ${where} ORDER BY seq LIMIT ${limit}`).all(...values) as LedgerRow[]
  return rows.map(ledgerEntry)
}
