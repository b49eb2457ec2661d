// After a request: the counter adjustments that turn its reservation into what it really used, and the usage to assume when the upstream reported none.
//
// Each counter ends up holding exactly the request's actual amount: reconcile adds
// `actual - reserved`, which releases the unused part of a reservation (negative) and never takes
// the counter below what was really used. A positive delta happens for soft counters (which
// reserved the estimate) and, for hard ones, only if the upstream reported more than the bound;
// the result flags usage beyond the bound so that the gateway can log it (a Model whose
// templateOverhead is too low, an upstream that ignored max_tokens). Counters of windows expired
// by now are skipped: nothing reads them any more.
import { costMicro } from './cost.ts'
import type { AdjustItem } from './counters.ts'
import type { Reservation } from './admission.ts'
import { counterExpired, counterTtlSeconds } from './windows.ts'

/** What a request really used. */
export interface Usage {
  promptTokens: number
  completionTokens: number
  /**
   * Whether the request counts against request limits: 1 (the default) once it reached the
   * upstream; 0 to release it entirely (refused or failed before the upstream saw it).
   */
  requests?: 0 | 1
}

/** The request's reconciliation. */
export interface ReconcileResult {
  /** Pass to Counters.adjust (skip the call when empty). */
  adjustments: AdjustItem[]
  /** The upstream reported more prompt tokens than the bound, or more completion tokens than max_tokens allows (the bound's assumptions failed: log it). */
  boundExceeded: boolean
}

/** The adjustments that make each reserved counter hold the request's actual usage. */
export function reconcile(reservation: Reservation, usage: Usage, now: number): ReconcileResult {
  const adjustments: AdjustItem[] = []
  reservation.counters.forEach((counter, i) => {
    const delta = actualAmount(counter.class, reservation, usage) - reservation.reserved[i]
    if (delta === 0 || counterExpired(counter.resetAt, now)) return
    adjustments.push({ key: counter.key, delta, ttlSeconds: counterTtlSeconds(counter.resetAt, now) })
  })
  const boundExceeded = usage.promptTokens > reservation.promptBound || usage.completionTokens > reservation.maxTokens * reservation.completions
  return { adjustments, boundExceeded }
}

/** The usage to assume when it is not known at all (the upstream reported none and nothing was streamed): the whole reservation. */
export function reservedUsage(reservation: Reservation): Usage {
  return { promptTokens: reservation.promptBound, completionTokens: reservation.maxTokens * reservation.completions }
}

/**
 * Usage when the upstream reported none but the gateway saw the generated text (a stream cut
 * short, an upstream that ignores include_usage): the prompt bound, and the completion's UTF-8
 * bytes plus one end-of-sequence token per completion, capped by max_tokens. Bytes bound tokens
 * as in bound.ts; a tokenizer's count of the text could undercount and let a cap be overshot.
 */
export function usageFromText(reservation: Reservation, completionBytes: number): Usage {
  const cap = reservation.maxTokens * reservation.completions
  return { promptTokens: reservation.promptBound, completionTokens: Math.min(cap, completionBytes + reservation.completions) }
}

/** The cost of a usage at the reservation's prices, in micro-dollars (what the ledger records). */
export function usageCostMicro(reservation: Reservation, usage: Usage): number {
  return costMicro(reservation.prices, usage.promptTokens, usage.completionTokens)
}

function actualAmount(cls: Reservation['counters'][number]['class'], reservation: Reservation, usage: Usage): number {
  switch (cls) {
    case 'requests':
      return usage.requests ?? 1
    case 'tokens':
      return usage.promptTokens + usage.completionTokens
    case 'cost':
      return usageCostMicro(reservation, usage)
  }
}
