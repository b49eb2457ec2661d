// Restores shared counters from the usage ledger: reads the current month's entries (every window of every limit lies inside it) and raises each counter to at least their sum.
import type { TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import type { CounterEntry, Counters } from '../governance/counters.ts'
import { countersFromLedger } from '../governance/rebuild.ts'
import { windowSpan } from '../governance/windows.ts'
import type { LedgerEntry, UsageQuery } from '../store/types.ts'

/** Entries read per query while rebuilding. */
const PAGE = 5000

/** What a rebuild reads the ledger through: a Store satisfies it. */
export interface LedgerReader {
  queryUsage(query: UsageQuery): Promise<LedgerEntry[]>
}

export interface RebuildInput {
  counters: Counters
  ledger: LedgerReader
  /** Every TokenPolicy now in force. */
  policies: readonly TokenPolicy[]
  /** ms since the epoch. */
  now: number
  /** Entries not yet in the store (the ledger writer's buffer): counted too, each id once. */
  pending?: readonly LedgerEntry[]
}

/**
 * Recomputes the counters of the windows `now` falls in from the ledger (entries since the start
 * of the current UTC month) plus `pending`, and calls counters.rebuild, which never lowers a
 * counter. Reads page by page and sums as it goes, so memory stays bounded by the counters, not
 * the entries. Returns the number of counters restored. Throws what the ledger or counters throw.
 */
export async function rebuildCountersFromLedger(input: RebuildInput): Promise<number> {
  const { ledger, policies, now } = input
  const pending = input.pending ?? []
  const pendingIds = new Set(pending.map((e) => e.id))
  const totals = new Map<string, CounterEntry>()
  const addAll = (entries: readonly LedgerEntry[]) => {
    for (const c of countersFromLedger(entries.filter(counts), policies, now)) {
      const t = totals.get(c.key)
      if (t === undefined) totals.set(c.key, { ...c })
      else t.value += c.value
    }
  }
  const from = windowSpan('month', now).start
  let after: number | undefined
  for (;;) {
    const page = await ledger.queryUsage({ from, limit: PAGE, ...(after !== undefined ? { after } : {}) })
    addAll(page.filter((e) => !pendingIds.has(e.id)))
    if (page.length < PAGE) break
    after = page[page.length - 1].seq
  }
  addAll(pending.filter((e) => e.time >= from))
  const entries = [...totals.values()]
  await input.counters.rebuild(entries)
  return entries.length
}

/** Refused entries count nothing (they hold zeros anyway; skipping them says so). */
function counts(e: LedgerEntry): boolean {
  return e.outcome !== 'refused'
}
