// Group commit on SQLite: the object writes and audit entries the server makes in one turn of the event loop commit together, in one transaction.
//
// Why: on SQLite a commit's fixed cost (the write lock, the WAL frames of the revision counter and
// of the index pages, the system calls) is larger than one write's own work; concurrent requests
// each paid it. Here a write is queued, and at the end of the event loop's turn (setImmediate:
// after every request that arrived in it has reached its write) the queue runs inside one
// SqliteStore.group() transaction, each write a savepoint of its own.
//
// What does not change: each write is atomic on its own and fails alone (its savepoint is undone,
// the others commit); a caller's promise settles only after the group's commit returned, so an
// acknowledged write is as durable as before (WAL, in the file before the answer); when the commit
// itself fails, every write of the group is refused with that error. Conditional writes, the
// allocation epoch and the order of writes are those of the calls, as before. Reads are not
// queued: they see what is committed. Stores without group() (PostgreSQL: writes are round trips
// already overlapped by the pool) are returned as they are.
import type { Store } from '../store/types.ts'
import { wrapStoreMethods } from './store-proxy.ts'

/** The writes that are grouped; every other method is called straight through. */
const GROUPED = new Set(['create', 'update', 'updateStatus', 'delete', 'commit', 'appendAudit'])

/** A store that can run synchronous writes inside one transaction (SqliteStore). */
interface GroupingStore extends Store {
  group(fn: () => void): void
}

interface Queued {
  call: () => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (reason: unknown) => void
}

function canGroup(store: Store): store is GroupingStore {
  return typeof (store as Partial<GroupingStore>).group === 'function'
}

/** The store with its writes group-committed per event-loop turn (SQLite), or the store itself. */
export function groupCommits(store: Store): Store {
  if (!canGroup(store)) return store
  let queue: Queued[] = []
  const flush = () => {
    const batch = queue
    queue = []
    const results: Array<Promise<unknown>> = []
    try {
      // better-sqlite3 runs each write to completion inside its call, so the group's transaction
      // holds all of them; their promises are only looked at once it has committed.
      store.group(() => {
        for (const q of batch) {
          try {
            results.push(q.call())
          } catch (e) {
            results.push(Promise.reject(e))
          }
        }
      })
    } catch (e) {
      for (const q of batch) q.reject(e)
      for (const r of results) r.catch(() => undefined)
      return
    }
    batch.forEach((q, i) => results[i]!.then(q.resolve, q.reject))
  }
  return wrapStoreMethods(store, GROUPED, (method, target) => (...args: unknown[]) =>
    new Promise((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush)
      queue.push({ call: () => method.apply(target, args), resolve, reject })
    }),
  )
}
