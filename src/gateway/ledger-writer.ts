// Writes the gateway's usage ledger off the request path: entries are buffered and appended in batches, retried with backoff, and flushed on close.
//
// add() only pushes to a buffer. A batch is written when `maxBatch` entries wait or
// `flushIntervalMs` after the first one, one batch in flight at a time. A failed write is retried
// with exponential backoff (with jitter) until it succeeds: entries carry their request id, the
// ledger's idempotency key, so a batch whose commit was applied but not acknowledged adds nothing
// the second time. The buffer is bounded: past `maxBuffer` entries (the store down for long) the
// oldest are dropped, counted in a metric and logged, so the newest (the current windows, which a
// counter rebuild needs) are kept. close() writes everything still buffered, retrying until
// `closeTimeoutMs`, so a graceful shutdown loses no entry unless the store stays down through it.
import type { FastifyBaseLogger } from 'fastify'
import type { LedgerEntry } from '../store/types.ts'
import type { GatewayMetrics } from './metrics.ts'

/** Where the ledger goes: a Store satisfies it. */
export interface LedgerSink {
  appendUsage(entries: readonly LedgerEntry[]): Promise<number>
}

export interface LedgerWriterOptions {
  /** Longest an entry waits before its batch is written (default 50 ms). */
  flushIntervalMs: number
  /** Entries per batch; a full batch is written at once (default 500). */
  maxBatch: number
  /** Most entries buffered; older ones are dropped past it (default 100,000). */
  maxBuffer: number
  /** First and longest delay between retries of a failed write (default 100 ms and 5 s). */
  retryMinMs: number
  retryMaxMs: number
  /** How long close() keeps retrying (default 10 s). */
  closeTimeoutMs: number
}

export const DEFAULT_LEDGER_WRITER: LedgerWriterOptions = { flushIntervalMs: 50, maxBatch: 500, maxBuffer: 100_000, retryMinMs: 100, retryMaxMs: 5000, closeTimeoutMs: 10_000 }

export class LedgerWriter {
  private readonly options: LedgerWriterOptions
  private buffer: LedgerEntry[] = []
  /** The batch being written (still pending until acknowledged). */
  private inFlight: LedgerEntry[] = []
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> | undefined
  private failures = 0
  private dropped = 0
  private closed = false

  constructor(
    private readonly sink: LedgerSink,
    private readonly log: FastifyBaseLogger,
    private readonly metrics?: GatewayMetrics,
    options: Partial<LedgerWriterOptions> = {},
  ) {
    this.options = { ...DEFAULT_LEDGER_WRITER, ...options }
  }

  /** Buffers an entry for the next batch (never blocks, never throws). */
  add(entry: LedgerEntry): void {
    this.buffer.push(entry)
    if (this.buffer.length + this.inFlight.length > this.options.maxBuffer) this.drop(this.buffer.length + this.inFlight.length - this.options.maxBuffer)
    this.metrics?.ledgerPending.set(this.buffer.length + this.inFlight.length)
    if (this.writing !== undefined) return
    if (this.buffer.length >= this.options.maxBatch) this.schedule(0)
    else if (this.timer === undefined) this.schedule(this.options.flushIntervalMs)
  }

  /** Entries not yet acknowledged by the store (buffered or being written): a counter rebuild adds them to what it reads. */
  pending(): LedgerEntry[] {
    return [...this.inFlight, ...this.buffer]
  }

  /** Entries dropped since the start. */
  get droppedCount(): number {
    return this.dropped
  }

  /** Writes what is buffered now and resolves when the store has it (retrying failures); rejects after `timeoutMs`. */
  async flush(timeoutMs = this.options.closeTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.buffer.length + this.inFlight.length > 0 || this.writing !== undefined) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`the usage ledger could not be written within ${timeoutMs} ms: ${this.buffer.length + this.inFlight.length} entries not written`)
      if (this.writing === undefined) this.start()
      let timer: NodeJS.Timeout | undefined
      await Promise.race([this.writing, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))])
      clearTimeout(timer)
      // After a failed write, wait before the next try rather than spin against a store that is down.
      if (this.failures > 0 && this.writing === undefined) await sleep(Math.min(this.backoff(), Math.max(1, deadline - Date.now())))
    }
  }

  /** Stops the timer and writes everything still buffered; logs what could not be written by the timeout. */
  async close(): Promise<void> {
    this.closed = true
    try {
      await this.flush()
    } catch (e) {
      this.log.error({ err: e, lost: this.buffer.length + this.inFlight.length }, 'usage ledger entries lost at shutdown: the store was unreachable')
    }
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.writing === undefined) this.start()
    }, ms)
    // The timer alone must not keep a process alive; close() flushes what is left.
    this.timer.unref()
  }

  private start(): void {
    this.writing = this.writeBatch().finally(() => {
      this.writing = undefined
      this.metrics?.ledgerPending.set(this.buffer.length + this.inFlight.length)
      if (this.buffer.length === 0) return
      if (this.failures > 0) this.schedule(this.backoff())
      else if (this.closed || this.buffer.length >= this.options.maxBatch) this.schedule(0)
      else this.schedule(this.options.flushIntervalMs)
    })
  }

  private async writeBatch(): Promise<void> {
    if (this.inFlight.length === 0) this.inFlight = this.buffer.splice(0, this.options.maxBatch)
    if (this.inFlight.length === 0) return
    try {
      await this.sink.appendUsage(this.inFlight)
      this.inFlight = []
      if (this.failures > 0) this.log.info({ failures: this.failures }, 'usage ledger writes succeed again')
      this.failures = 0
    } catch (e) {
      this.failures++
      this.metrics?.ledgerWriteFailures.inc()
      // One line per outage, then every tenth failure: the metric has the exact count.
      if (this.failures === 1 || this.failures % 10 === 0) this.log.error({ err: e, failures: this.failures, pending: this.buffer.length + this.inFlight.length }, 'could not write the usage ledger; retrying (the entries are kept)')
      // The batch stays in flight and is retried as it is (its ids make the retry safe).
      if (this.buffer.length === 0) this.schedule(this.backoff())
    }
  }

  private backoff(): number {
    const { retryMinMs, retryMaxMs } = this.options
    const ms = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(this.failures - 1, 20))
    return this.closed ? Math.min(ms, 200) : ms / 2 + (Math.random() * ms) / 2
  }

  private drop(n: number): void {
    // Oldest first: the buffer's head (the batch in flight stays, it may already be written).
    const removed = this.buffer.splice(0, Math.min(n, this.buffer.length)).length
    if (removed === 0) return
    this.dropped += removed
    this.metrics?.ledgerDropped.inc(removed)
    if (this.dropped === removed || this.dropped % 1000 < removed) this.log.error({ dropped: this.dropped, maxBuffer: this.options.maxBuffer }, 'usage ledger buffer full: oldest entries dropped (the store has been unreachable for long)')
  }
}

/** A wait that keeps the process alive: flush() and close() are waited on. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
