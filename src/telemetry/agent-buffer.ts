// The node agent's send queue: a bounded buffer of samples cut into numbered batches, sent one at a time and retried unchanged until acknowledged; and the retry backoff. Pure (no clocks, no I/O).
//
// Exactly once, with the server's appendBatch: a batch gets its seq when it is cut and keeps its
// samples and seq until ack(), so a retry after a lost response is the same (agentId, seq) and
// the server answers `duplicate`. Batches are cut in order and one is in flight at a time, so
// seq only grows. When the buffer is full the oldest samples not yet cut into a batch are dropped
// (the newest say more about now), never the batch in flight: the server may already hold it.
import type { UtilizationSample } from './types.ts'

export interface Batch {
  seq: number
  samples: UtilizationSample[]
}

export class SampleBuffer {
  private pending: UtilizationSample[] = []
  private inflight: Batch | undefined
  private nextSeq: number
  /** Samples dropped because the buffer was full, since the start. */
  dropped = 0

  /**
   * @param capacity most samples held (pending plus the batch in flight)
   * @param batchSize most samples per batch (at most capacity)
   * @param firstSeq the seq of the first batch (1 for a new agentId)
   */
  constructor(
    readonly capacity: number,
    readonly batchSize: number,
    firstSeq = 1,
  ) {
    if (!(batchSize >= 1 && capacity >= batchSize)) throw new RangeError(`buffer capacity (${capacity}) must be at least the batch size (${batchSize}), which must be at least 1`)
    this.nextSeq = firstSeq
  }

  /** Samples held now (pending and in flight). */
  get size(): number {
    return this.pending.length + (this.inflight?.samples.length ?? 0)
  }

  /** Adds samples; returns how many old ones were dropped to make room. */
  push(samples: readonly UtilizationSample[]): number {
    for (const s of samples) this.pending.push(s)
    const over = this.size - this.capacity
    if (over <= 0) return 0
    this.pending.splice(0, over)
    this.dropped += over
    return over
  }

  /** The batch to send: the one in flight (a retry) or the next cut from the pending samples; undefined when empty. */
  next(): Batch | undefined {
    if (this.inflight) return this.inflight
    if (this.pending.length === 0) return undefined
    this.inflight = { seq: this.nextSeq++, samples: this.pending.splice(0, this.batchSize) }
    return this.inflight
  }

  /** The batch in flight was stored (or answered duplicate): forget it. */
  ack(seq: number): void {
    if (this.inflight?.seq === seq) this.inflight = undefined
  }
}

/**
 * Exponential backoff with full jitter: a uniformly random wait in [base, min(max, base x 2^attempt)],
 * so agents that lost the server together do not come back in lockstep.
 */
export function backoffMs(attempt: number, random: () => number, baseMs = 500, maxMs = 30_000): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(baseMs + random() * (cap - baseMs))
}
