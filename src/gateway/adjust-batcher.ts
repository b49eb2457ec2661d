// Coalesces the counter reconciliations of requests that settle in the same event-loop turn into one adjust call on the shared counters (one Redis script for many requests).
//
// Under load, several requests end in one turn of the event loop, and each would send its own
// adjust script to Redis. Their adjustments are gathered until the turn's end (setImmediate) and
// sent as one call with the deltas of each key summed. Summing is exact when every delta of a key
// has the same sign (a counter clamped at 0 gives the same result applied once or piecewise); when
// a key has deltas of both signs (rare: a soft counter's estimate fell short while another request
// released), each request's adjustments are sent on their own, in order, as before. A lone
// request's adjustments go out unchanged. Every caller's promise settles with the shared call's
// outcome, so a failure is still logged by each settlement.
import type { AdjustItem, Counters } from '../governance/counters.ts'

interface Waiting {
  items: readonly AdjustItem[]
  resolve: () => void
  reject: (e: unknown) => void
}

export class AdjustBatcher {
  private waiting: Waiting[] = []

  constructor(private readonly counters: Counters) {}

  /** Applies `items` with the others of this turn; resolves once the counters have them. */
  adjust(items: readonly AdjustItem[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => this.flush())
      this.waiting.push({ items, resolve, reject })
    })
  }

  private flush(): void {
    const batch = this.waiting
    this.waiting = []
    const merged = batch.length > 1 ? mergeSameSign(batch) : undefined
    if (merged !== undefined) {
      this.counters.adjust(merged).then(
        () => batch.forEach((w) => w.resolve()),
        (e: unknown) => batch.forEach((w) => w.reject(e)),
      )
      return
    }
    // Issued in order in this same turn: Redis applies them in that order.
    for (const w of batch) this.counters.adjust(w.items).then(() => w.resolve(), w.reject)
  }
}

/** The batch's adjustments with each key's deltas summed (its longest TTL); undefined when a key has deltas of both signs. */
function mergeSameSign(batch: readonly Waiting[]): AdjustItem[] | undefined {
  const byKey = new Map<string, AdjustItem>()
  for (const w of batch) {
    for (const item of w.items) {
      const seen = byKey.get(item.key)
      if (seen === undefined) {
        byKey.set(item.key, { key: item.key, delta: item.delta, ttlSeconds: item.ttlSeconds })
        continue
      }
      if (seen.delta < 0 !== item.delta < 0) return undefined
      seen.delta += item.delta
      seen.ttlSeconds = Math.max(seen.ttlSeconds, item.ttlSeconds)
    }
  }
  return [...byKey.values()]
}
