// Counter values recomputed from the usage ledger, to restore counters after they were lost (a Redis restart, a failover to a stale replica).
//
// The ledger (in the store) records every request's actual usage; the counters of the current
// windows are the sums of the records inside each window, per covering policy, under the
// policies as they are now. Counters.rebuild raises each counter to at least that sum: it never
// lowers a counter that also holds reservations of requests still in flight.
import type { LimitClass, TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import type { CounterEntry } from './counters.ts'
import { coveringPolicies, limitCounters } from './policies.ts'
import { counterTtlSeconds } from './windows.ts'

/** One request's usage as the ledger keeps it. */
export interface UsageRecord {
  /** When the request was admitted (its reservation's windows), ms since the epoch. */
  time: number
  namespace: string
  agent: string
  model: string
  promptTokens: number
  completionTokens: number
  /** What the request cost, in micro-dollars, at the prices of its time (reconcile.ts usageCostMicro). */
  costMicro: number
  /** 0 for a request that was released before reaching the upstream; default 1. */
  requests?: number
}

/**
 * The counter values of the windows `now` falls in, from the ledger records (records outside
 * those windows count nothing; pass at least the current month's). Only non-zero counters.
 */
export function countersFromLedger(records: Iterable<UsageRecord>, policies: readonly TokenPolicy[], now: number): CounterEntry[] {
  const totals = new Map<string, CounterEntry>()
  for (const r of records) {
    for (const counter of limitCounters(coveringPolicies(policies, r.namespace, r.agent, r.model), r.time)) {
      // The record's window for this limit must be the current one, else it counts toward a past window.
      if (counter.windowStart > now || now >= counter.resetAt) continue
      const amount = amountOf(counter.class, r)
      if (amount === 0) continue
      const entry = totals.get(counter.key) ?? { key: counter.key, value: 0, ttlSeconds: counterTtlSeconds(counter.resetAt, now) }
      entry.value += amount
      totals.set(counter.key, entry)
    }
  }
  return [...totals.values()]
}

function amountOf(cls: LimitClass, r: UsageRecord): number {
  switch (cls) {
    case 'requests':
      return r.requests ?? 1
    case 'tokens':
      return r.promptTokens + r.completionTokens
    case 'cost':
      return r.costMicro
  }
}
