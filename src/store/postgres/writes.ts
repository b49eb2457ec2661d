// A batch of commits in one PostgreSQL transaction: lock the meta row, read the touched rows, plan each commit in turn, write everything in one statement.
//
// The commits of a batch are planned one after the other in JS against the state the previous
// ones leave (objects, revision, allocation epoch), exactly as if each ran in its own transaction
// in that order; one that cannot apply (CONFLICT, NOT_FOUND, a stale epoch, ...) is left out and
// fails alone, so each stays all-or-nothing. Then the objects, events and meta row are written in
// one statement. Round trips per batch: BEGIN, lock, read, write, COMMIT, whatever its size.
import type pg from 'pg'
import { GpuplaneError } from '../../common/errors.ts'
import { compactionPoint } from '../backend.ts'
import { encodeObject, keyString, planCommit, storedJson, type FullKey, type PlannedEvent } from '../objects.ts'
import type { StoredObject, Write } from '../types.ts'

export interface CommitRequest {
  writes: readonly Write[]
  /** The distinct keys of `writes` (checked when the commit was submitted). */
  keys: FullKey[]
  epoch: number | undefined
}

export type CommitOutcome = { ok: true; objects: StoredObject[] } | { ok: false; error: unknown }

export interface BatchContext {
  /** Revisions of watch history to keep. */
  keep: number
  now: Date
}

interface Meta {
  revision: number
  epoch: number
  compacted: number
}

/**
 * Applies the commits on connection `c`, inside a transaction the caller owns and commits; returns
 * each commit's outcome. Throws only for database errors, which abort the whole batch.
 */
export async function applyBatch(c: pg.PoolClient, requests: readonly CommitRequest[], context: BatchContext): Promise<CommitOutcome[]> {
  const meta = await lockMeta(c)
  const start = { ...meta }
  // A separate statement after the lock: under READ COMMITTED it takes a new snapshot, which sees
  // everything the previous holder of the lock committed. (In the statement that waited for the
  // lock, other tables would be read in the snapshot from before the wait.)
  const state = await currentObjects(c, requests.flatMap((r) => r.keys))
  const rows = new Map<string, { key: FullKey; object: StoredObject | null }>()
  const events: PlannedEvent[] = []
  const outcomes = requests.map((request): CommitOutcome => {
    try {
      if (request.epoch !== undefined && request.epoch !== meta.epoch) {
        throw new GpuplaneError('CONFLICT', `another allocation committed since epoch ${request.epoch} (now ${meta.epoch}): read again and decide again`)
      }
      const plan = planCommit(request.writes, state, meta.revision, { now: context.now })
      meta.revision += request.writes.length
      if (request.epoch !== undefined) meta.epoch++
      for (const [ks, row] of plan.rows) {
        rows.set(ks, row)
        if (row.object) state.set(ks, row.object)
        else state.delete(ks)
      }
      events.push(...plan.events)
      return { ok: true, objects: plan.results }
    } catch (e) {
      return { ok: false, error: e }
    }
  })
  if (meta.revision !== start.revision || meta.epoch !== start.epoch) {
    await persist(c, [...rows.values()], events, meta)
    const compactTo = compactionPoint(meta.revision, meta.compacted, context.keep)
    if (compactTo !== undefined) {
      await c.query('WITH m AS (UPDATE meta SET compacted_revision = $1 WHERE id = 1) DELETE FROM events WHERE revision <= $1', [compactTo])
    }
  }
  return outcomes
}

/** Takes the meta row lock (held until the transaction ends) and reads the counters. */
async function lockMeta(c: pg.PoolClient): Promise<Meta> {
  const result = await c.query<{ revision: string; allocation_epoch: string; compacted_revision: string }>(
    'SELECT revision, allocation_epoch, compacted_revision FROM meta WHERE id = 1 FOR UPDATE',
  )
  const row = result.rows[0]
  return { revision: Number(row.revision), epoch: Number(row.allocation_epoch), compacted: Number(row.compacted_revision) }
}

/** The stored objects of `keys`, by keyString, in one round trip. */
async function currentObjects(c: pg.PoolClient, keys: FullKey[]): Promise<Map<string, StoredObject>> {
  const result = await c.query<{ kind: string; namespace: string; name: string; json: StoredObject }>(
    `SELECT DISTINCT ON (o.kind, o.namespace, o.name) o.kind, o.namespace, o.name, o.json FROM objects o
       JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(kind, namespace, name)
         ON o.kind = k.kind AND o.namespace = k.namespace AND o.name = k.name`,
    columns(keys),
  )
  return new Map(result.rows.map((r) => [keyString(r), r.json]))
}

/**
 * The final state of every key touched (upserted or deleted, never both), the events and the
 * counters, in one statement of data-modifying CTEs.
 */
async function persist(c: pg.PoolClient, rows: { key: FullKey; object: StoredObject | null }[], events: PlannedEvent[], meta: Meta): Promise<void> {
  const upserts = rows.filter((r) => r.object !== null)
  const deletes = rows.filter((r) => r.object === null).map((r) => r.key)
  await c.query(
    `WITH counters AS (
       UPDATE meta SET revision = $16, allocation_epoch = $17 WHERE id = 1
     ), upserted AS (
       INSERT INTO objects (kind, namespace, name, uid, resource_version, labels, json)
         SELECT kind, namespace, name, uid, rv, labels::jsonb, json::json
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $18::text[], $6::text[]) AS u(kind, namespace, name, uid, rv, labels, json)
       ON CONFLICT (kind, namespace, name) DO UPDATE
         SET uid = EXCLUDED.uid, resource_version = EXCLUDED.resource_version, labels = EXCLUDED.labels, json = EXCLUDED.json
     ), deleted AS (
       DELETE FROM objects o USING unnest($7::text[], $8::text[], $9::text[]) AS k(kind, namespace, name)
        WHERE o.kind = k.kind AND o.namespace = k.namespace AND o.name = k.name
     )
     INSERT INTO events (revision, type, kind, namespace, name, json)
       SELECT revision, type, kind, namespace, name, json::json
         FROM unnest($10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[]) AS e(revision, type, kind, namespace, name, json)`,
    [
      ...columns(upserts.map((r) => r.key)),
      upserts.map((r) => r.object!.metadata.uid),
      upserts.map((r) => r.object!.metadata.resourceVersion),
      upserts.map((r) => storedJson(r.object!)),
      ...columns(deletes),
      events.map((e) => e.revision),
      events.map((e) => e.type),
      ...columns(events.map((e) => e.key)),
      events.map((e) => storedJson(e.object)),
      meta.revision,
      meta.epoch,
      upserts.map((r) => encodeObject(r.object!.metadata.labels ?? {})),
    ],
  )
}

/** Keys as three parallel arrays (kinds, namespaces, names) for unnest. */
function columns(keys: readonly FullKey[]): [string[], string[], string[]] {
  return [keys.map((k) => k.kind), keys.map((k) => k.namespace), keys.map((k) => k.name)]
}
