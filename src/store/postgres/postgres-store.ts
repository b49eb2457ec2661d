// The scale-out Store: PostgreSQL through a pg pool, shared by several server replicas.
//
// Revisions come from the single row of `meta`: a transaction that writes starts with
// `SELECT ... FROM meta WHERE id = 1 FOR UPDATE` and ends by writing the advanced revision back,
// so it holds the row lock until COMMIT. That serialises writers, and in exchange the revision is
// gap-free and commit-ordered: when a reader sees revision R, every revision below R is committed
// and visible too, so a watch that resumes after R misses nothing. A SEQUENCE would not give
// that: its values are taken at nextval(), not at commit, so a transaction holding 41 may commit
// after another's 42 is already seen, and a watcher that has read 42 and resumes "after 42"
// skips 41 forever.
//
// The allocation epoch lives in the same row and is checked under the same lock: a commit made
// with `allocationEpoch` that no longer matches is CONFLICT, one that matches bumps it. Since the
// lock is taken before the epoch and the objects are read, two replicas can never both pass the
// same epoch, and every resourceVersion condition is checked against the latest committed row.
//
// Commits that one process submits while one is in flight go together into its next transaction
// (group-commit.ts, writes.ts): they would wait for the lock anyway, and so they share one WAL
// flush and a handful of round trips instead of paying them each; each still applies or fails
// alone, all or nothing.
//
// Serialisation failures and deadlocks are retried (the transaction rolled back as a whole and
// is re-planned on fresh rows); a connection lost or refused is UNAVAILABLE, never retried after
// COMMIT was sent (its outcome is unknown; the message says so).
//
// Lists and changesSince are single statements, so the revision they report and the rows they
// return come from one snapshot. Label selectors are evaluated in SQL, as in the SQLite store.
import pg from 'pg'
import { GpuplaneError } from '../../common/errors.ts'
import { matchesLabels } from '../../api/labels.ts'
import {
  auditConditions,
  auditEntry,
  auditLimit,
  auditValues,
  closedError,
  goneError,
  historyRevisions,
  labelCondition,
  splitSelector,
  tokenHashTaken,
  tokenRecord,
  tokenValues,
  type AuditRow,
  type BackendOptions,
  type TokenRow,
} from '../backend.ts'
import { checkSchemaKnown, MIGRATIONS, SCHEMA_MIGRATIONS_TABLE } from '../migrations.ts'
import { keyOfWrite, keyString, normalizeKey, parseRevision, type FullKey } from '../objects.ts'
import type {
  AuditEntry,
  AuditQuery,
  CommitOptions,
  ListOptions,
  ListResult,
  NewObject,
  ObjectKey,
  Store,
  StoredObject,
  LedgerEntry,
  TokenRecord,
  UsageQuery,
  WatchEvent,
  WatchEventType,
  Write,
} from '../types.ts'
import { describeUrl, isRetryable, postgresError } from './errors.ts'
import { GroupCommit } from './group-commit.ts'
import { appendUsage, queryUsage } from './ledger.ts'
import { PostgresTelemetryStore } from './telemetry.ts'
import type { TelemetryStore } from '../../telemetry/types.ts'


export interface PostgresStoreOptions extends BackendOptions {
  /** Schema to work in (sets search_path on every connection); absent: the URL's or the server's default. */
  schema?: string
  /** Connections in the pool (default 10). */
  poolSize?: number
  /** How long to wait for a connection before UNAVAILABLE (default 5,000 ms). */
  connectTimeoutMs?: number
  /** Retries of a transaction that failed with a serialisation failure or deadlock (default 5). */
  maxRetries?: number
}

/** Key of the advisory lock that serialises migrations of replicas starting together. */
const MIGRATION_LOCK = 0x67707031 // 'gpp1'

export class PostgresStore implements Store {
  private readonly pool: pg.Pool
  private readonly keep: number
  private readonly now: () => Date
  private readonly maxRetries: number
  private readonly where: string
  private readonly group: GroupCommit
  private closed = false

  /** Telemetry kept in this store's database, on its pool (lives as long as the store). */
  telemetry(): TelemetryStore {
    return new PostgresTelemetryStore(this.pool, this.where)
  }

  /** A pool on `url` (postgres://user@host:port/db); no connection is made until the first call. Call migrate() before use. */
  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.keep = historyRevisions(options)
    this.now = options.now ?? (() => new Date())
    this.maxRetries = options.maxRetries ?? 5
    this.where = describeUrl(url) + (options.schema ? ` (schema ${options.schema})` : '')
    if (options.schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.schema)) {
      throw new GpuplaneError('INVALID_INPUT', `PostgreSQL schema name ${JSON.stringify(options.schema)} must be letters, digits and '_'`)
    }
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    })
    // An idle connection that breaks (server restart) is dropped by the pool; the next query
    // reports it. Without a listener the error would crash the process.
    this.pool.on('error', () => {})
    this.group = new GroupCommit(
      (fn) => this.transaction(fn),
      () => ({ keep: this.keep, now: this.now() }),
    )
  }

  async migrate(): Promise<void> {
    for (const m of MIGRATIONS) {
      await this.transaction(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
        await c.query(SCHEMA_MIGRATIONS_TABLE)
        const applied = await this.appliedVersion(c)
        checkSchemaKnown(applied)
        if ((await c.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version])).rowCount) return
        await c.query(m.postgres)
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()])
      })
    }
  }

  async schemaVersion(): Promise<number> {
    const exists = await this.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t")
    if (exists[0].t === null) return 0
    return this.appliedVersion(this.pool)
  }

  async get(key: ObjectKey): Promise<StoredObject | undefined> {
    const k = normalizeKey(key)
    const rows = await this.query<{ json: StoredObject }>('SELECT json FROM objects WHERE kind = $1 AND namespace = $2 AND name = $3', [k.kind, k.namespace, k.name])
    return rows[0]?.json
  }

  async list(kind: string, options: ListOptions = {}): Promise<ListResult> {
    const { sql, js } = splitSelector(options.labelSelector)
    const values: unknown[] = []
    const param = (value: unknown) => {
      values.push(value)
      return `$${values.length}`
    }
    const conditions = [`o.kind = ${param(kind)}`]
    if (options.namespace !== undefined) conditions.push(`o.namespace = ${param(options.namespace)}`)
    for (const r of sql) {
      let key: string | undefined
      const label = () => `(o.labels ->> ${(key ??= param(r.key))}::text)`
      conditions.push(labelCondition(r, label, param, 'IS DISTINCT FROM'))
    }
    // One statement: the revision and the rows come from the same snapshot.
    const rows = await this.query<{ revision: string; items: StoredObject[] }>(
      `SELECT m.revision::text AS revision,
              COALESCE((SELECT json_agg(o.json ORDER BY o.namespace, o.name) FROM objects o WHERE ${conditions.join(' AND ')}), '[]'::json) AS items
         FROM meta m WHERE m.id = 1`,
      values,
    )
    let items = rows[0].items
    if (js.length > 0) items = items.filter((o) => matchesLabels(o.metadata.labels, js))
    return { items, resourceVersion: rows[0].revision }
  }

  async create(object: NewObject): Promise<StoredObject> {
    return (await this.commit([{ op: 'create', object }]))[0]
  }

  async update(object: StoredObject | NewObject, expectResourceVersion?: string): Promise<StoredObject> {
    return (await this.commit([{ op: 'update', object, expectResourceVersion }]))[0]
  }

  async updateStatus(key: ObjectKey, status: unknown, expectResourceVersion?: string): Promise<StoredObject> {
    return (await this.commit([{ op: 'updateStatus', key, status, expectResourceVersion }]))[0]
  }

  async delete(key: ObjectKey, expectResourceVersion?: string): Promise<StoredObject> {
    return (await this.commit([{ op: 'delete', key, expectResourceVersion }]))[0]
  }

  async commit(writes: Write[], options: CommitOptions = {}): Promise<StoredObject[]> {
    const epoch = options.allocationEpoch
    if (writes.length === 0 && epoch === undefined) return []
    if (this.closed) throw closedError()
    // distinctKeys checks the writes' keys before queuing, so a malformed write fails alone.
    return this.group.submit({ writes, keys: distinctKeys(writes), epoch })
  }

  async allocationEpoch(): Promise<number> {
    const rows = await this.query<{ e: string }>('SELECT allocation_epoch AS e FROM meta WHERE id = 1')
    return Number(rows[0].e)
  }

  async revision(): Promise<string> {
    const rows = await this.query<{ r: string }>('SELECT revision::text AS r FROM meta WHERE id = 1')
    return rows[0].r
  }

  async changesSince(resourceVersion: string, options: { kinds?: string[]; namespace?: string; limit?: number } = {}): Promise<WatchEvent[]> {
    const from = parseRevision(resourceVersion)
    const conditions = ['e.revision > $1']
    const values: unknown[] = [from]
    if (options.kinds !== undefined) {
      values.push(options.kinds)
      conditions.push(`e.kind = ANY($${values.length}::text[])`)
    }
    if (options.namespace !== undefined) {
      values.push(options.namespace)
      conditions.push(`e.namespace = $${values.length}`)
    }
    const limit = options.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(options.limit))}`
    // One statement: the compaction point and the events come from the same snapshot, so a
    // compaction between two reads cannot hide a gap.
    const rows = await this.query<{ compacted: string; type: WatchEventType | null; json: StoredObject | null }>(
      `SELECT m.compacted_revision AS compacted, e.type, e.json
         FROM meta m LEFT JOIN LATERAL (
           SELECT e.revision, e.type, e.json FROM events e WHERE ${conditions.join(' AND ')} ORDER BY e.revision${limit}
         ) e ON true
        WHERE m.id = 1 ORDER BY e.revision`,
      values,
    )
    const compacted = Number(rows[0].compacted)
    if (from < compacted) throw goneError(from, compacted)
    return rows.filter((r) => r.type !== null).map((r) => ({ type: r.type as WatchEventType, object: r.json as StoredObject }))
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.query('INSERT INTO audit (time, actor, action, kind, namespace, name, result, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', auditValues(entry))
  }

  async queryAudit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = auditLimit(query)
    const { where, values } = auditConditions(query, (i) => `$${i}`)
    const rows = await this.query<AuditRow>(`SELECT * FROM audit ${where} ORDER BY id LIMIT ${limit}`, values)
    return rows.map(auditEntry)
  }

  async appendUsage(entries: readonly LedgerEntry[]): Promise<number> {
    return appendUsage((sql, values) => this.query(sql, values), entries)
  }

  async queryUsage(query: UsageQuery = {}): Promise<LedgerEntry[]> {
    return queryUsage((sql, values) => this.query(sql, values), query)
  }

  async saveToken(token: TokenRecord): Promise<void> {
    const values = tokenValues(token)
    await this.transaction(async (c) => {
      const other = await c.query('SELECT id FROM tokens WHERE hash = $1 AND id <> $2', [token.hash, token.id])
      if (other.rowCount) throw tokenHashTaken(token.id)
      await c.query(
        `INSERT INTO tokens (id, hash, namespace, description, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET hash = EXCLUDED.hash, namespace = EXCLUDED.namespace, description = EXCLUDED.description, created_at = EXCLUDED.created_at`,
        values,
      )
    })
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const rows = await this.query<TokenRow>('SELECT * FROM tokens WHERE hash = $1', [hash])
    return rows[0] ? tokenRecord(rows[0]) : undefined
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.query<TokenRow>('SELECT * FROM tokens ORDER BY created_at, id')).map(tokenRecord)
  }

  async deleteToken(id: string): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM tokens WHERE id = $1', [id]).catch((e: unknown) => {
      throw postgresError(e, this.where)
    })
    return (result.rowCount ?? 0) > 0
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pool.end()
  }

  /** One statement on any pooled connection. */
  private async query<R extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]> {
    if (this.closed) throw closedError()
    try {
      return (await this.pool.query<R>(sql, values)).rows
    } catch (e) {
      throw postgresError(e, this.where)
    }
  }

  /**
   * Runs `fn` in a transaction on one connection; retries it (from BEGIN) after a serialisation
   * failure or deadlock, at most maxRetries times. A GpuplaneError from `fn` rolls back and is rethrown.
   */
  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw closedError()
      let client: pg.PoolClient
      try {
        client = await this.pool.connect()
      } catch (e) {
        throw postgresError(e, this.where)
      }
      let broken: Error | undefined
      let committing = false
      try {
        await client.query('BEGIN')
        const result = await fn(client)
        committing = true
        await client.query('COMMIT')
        return result
      } catch (e) {
        if (!committing) {
          await client.query('ROLLBACK').catch((rollbackError: Error) => {
            broken = rollbackError
          })
        } else if (!(e instanceof pg.DatabaseError)) {
          broken = e as Error
        }
        if (isRetryable(e) && attempt < this.maxRetries) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 ** attempt))
          continue
        }
        throw postgresError(e, this.where, committing)
      } finally {
        client.release(broken)
      }
    }
  }

  private async appliedVersion(c: pg.Pool | pg.PoolClient): Promise<number> {
    const result = await c.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')
    return result.rows[0].v ?? 0
  }
}

function distinctKeys(writes: readonly Write[]): FullKey[] {
  const keys = new Map<string, FullKey>()
  for (const w of writes) {
    const key = keyOfWrite(w)
    keys.set(keyString(key), key)
  }
  return [...keys.values()]
}
