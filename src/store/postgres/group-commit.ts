// Group commit: the commits a process submits while one is in flight go together into its next transaction.
//
// Every commit locks the meta row and holds it through COMMIT, so commits are serial in the
// database anyway, and each pays a WAL flush (an fsync: milliseconds on most disks). Queuing them
// in the process and running the queue as one batch (writes.ts: applyBatch) pays one flush and
// five round trips per batch instead of per commit, without giving up atomicity: each commit of a
// batch is planned on its own and fails alone. A database error fails the batch: the transaction
// runner retries it whole (deadlock, serialisation failure) or every commit of it gets the error.
import type pg from 'pg'
import { applyBatch, type BatchContext, type CommitRequest } from './writes.ts'
import type { StoredObject } from '../types.ts'

type Transaction = <R>(fn: (c: pg.PoolClient) => Promise<R>) => Promise<R>

interface Pending extends CommitRequest {
  resolve: (objects: StoredObject[]) => void
  reject: (error: unknown) => void
}

export class GroupCommit {
  private queue: Pending[] = []
  private running = false

  /**
   * `transaction` runs a function in one database transaction (with its retries); `context` gives
   * each batch its settings and clock; batches take at most `maxBatch` commits.
   */
  constructor(
    private readonly transaction: Transaction,
    private readonly context: () => BatchContext,
    private readonly maxBatch = 100,
  ) {}

  /** Resolves with the commit's objects once the transaction that carried it committed. */
  submit(request: CommitRequest): Promise<StoredObject[]> {
    return new Promise<StoredObject[]>((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject })
      void this.drain()
    })
  }

  private async drain(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch)
        try {
          const outcomes = await this.transaction((c) => applyBatch(c, batch, this.context()))
          outcomes.forEach((o, i) => (o.ok ? batch[i].resolve(o.objects) : batch[i].reject(o.error)))
        } catch (e) {
          for (const pending of batch) pending.reject(e)
        }
      }
    } finally {
      this.running = false
    }
  }
}
