// The embedded Store: one SQLite file through better-sqlite3, in WAL mode.
//
// Durability: WAL with synchronous=NORMAL by default. A commit is appended to the WAL with write()
// before it returns, so it survives the process being killed (SIGKILL, a crash): the data is in the
// operating system's cache and reaches the disk without us. It is not fsynced per commit, so a
// power loss or kernel crash can lose the last commits (never corrupt the database; a checkpoint
// fsyncs). `synchronous: 'FULL'` fsyncs the WAL on every commit and also survives power loss, at
// the price of one fsync per write (see bench/store.ts for both figures).
//
// better-sqlite3 is synchronous, so every method runs to completion in one call: writes are one
// BEGIN IMMEDIATE transaction (the write lock is taken first, so two connections to the same file
// never deadlock upgrading a read lock), reads that need one snapshot run in one transaction, and
// the async methods of the Store interface wrap those calls. Several connections (processes) may
// share a file; a writer waits up to the busy timeout for another's transaction, then gets
// UNAVAILABLE.
//
// Label selectors are evaluated in SQL with json_extract on the `labels` column: parsing the JSON
// of rows dominates a list, so filtering before it pays (10,000 objects, a selector matching 1%:
// about a third of the time of parsing every row and filtering in JS; bench/store.ts measures it).
import Database from 'better-sqlite3'
import { GpuplaneError } from '../../common/errors.ts'
import { matchesLabels } from '../../api/labels.ts'
import {
  auditConditions,
  auditEntry,
  auditLimit,
  auditValues,
  closedError,
  compactionPoint,
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
import { encodeObject, keyOfWrite, keyString, normalizeKey, parseRevision, planCommit, storedJson, type PlannedCommit } from '../objects.ts'
import { appendUsage, queryUsage } from './ledger.ts'
import { SqliteTelemetryStore } from './telemetry.ts'
import type { TelemetryStore } from '../../telemetry/types.ts'
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

export interface SqliteStoreOptions extends BackendOptions {
  /** NORMAL (default): durable when the process dies; FULL: also when the machine loses power. */
  synchronous?: 'NORMAL' | 'FULL'
  /** How long a write waits for another connection's transaction before UNAVAILABLE (default 5,000 ms). */
  busyTimeoutMs?: number
}

interface MetaRow {
  revision: number
  allocation_epoch: number
  compacted_revision: number
}

export class SqliteStore implements Store {
  private readonly db: Database.Database
  private readonly statements = new Map<string, Database.Statement>()
  private readonly keep: number
  private readonly now: () => Date
  private closed = false
  private commitTx?: Database.Transaction<(writes: Write[], epoch: number | undefined) => StoredObject[]>

  /** Telemetry kept in this store's database, on its connection (lives as long as the store). */
  telemetry(): TelemetryStore {
    return new SqliteTelemetryStore(this.db, this.path)
  }

  /** Opens (creating if needed) the database at `path` (':memory:' for a private in-memory one). Call migrate() before use. */
  constructor(
    readonly path: string,
    options: SqliteStoreOptions = {},
  ) {
    this.keep = historyRevisions(options)
    this.now = options.now ?? (() => new Date())
    try {
      this.db = new Database(path)
      this.db.pragma('journal_mode = WAL')
      this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`)
      this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`)
    } catch (e) {
      throw new GpuplaneError('UNAVAILABLE', `cannot open SQLite database ${path}: ${(e as Error).message} (check that the directory exists and is writable)`, {}, { cause: e })
    }
  }

  async migrate(): Promise<void> {
    this.run(() => {
      this.db.exec(SCHEMA_MIGRATIONS_TABLE)
      checkSchemaKnown(this.appliedVersion())
      for (const m of MIGRATIONS) {
        this.db
          .transaction(() => {
            if (this.db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)) return
            this.db.exec(m.sqlite)
            this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString())
          })
          .immediate()
      }
    })
  }

  async schemaVersion(): Promise<number> {
    return this.run(() => {
      const table = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()
      return table ? this.appliedVersion() : 0
    })
  }

  async get(key: ObjectKey): Promise<StoredObject | undefined> {
    const k = normalizeKey(key)
    return this.run(() => {
      const row = this.stmt('SELECT json FROM objects WHERE kind = ? AND namespace = ? AND name = ?').get(k.kind, k.namespace, k.name) as { json: string } | undefined
      return row ? (JSON.parse(row.json) as StoredObject) : undefined
    })
  }

  async list(kind: string, options: ListOptions = {}): Promise<ListResult> {
    return this.run(() =>
      this.db.transaction(() => {
        const { revision } = this.meta()
        const { sql, js } = splitSelector(options.labelSelector)
        const values: unknown[] = [kind]
        const conditions = ['kind = ?']
        if (options.namespace !== undefined) {
          conditions.push('namespace = ?')
          values.push(options.namespace)
        }
        const param = (value: unknown) => {
          values.push(value)
          return '?'
        }
        for (const r of sql) conditions.push(labelCondition(r, () => `json_extract(labels, ${param(`$."${r.key}"`)})`, param, 'IS NOT'))
        const query = `SELECT json FROM objects WHERE ${conditions.join(' AND ')} ORDER BY namespace, name`
        const rows = (sql.length === 0 ? this.stmt(query) : this.db.prepare(query)).all(...values) as { json: string }[]
        let items = rows.map((r) => JSON.parse(r.json) as StoredObject)
        if (js.length > 0) items = items.filter((o) => matchesLabels(o.metadata.labels, js))
        return { items, resourceVersion: String(revision) }
      })(),
    )
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
    return this.run(() => this.commitTransaction().immediate(writes, epoch))
  }

  /** The transaction of commit(), made once: better-sqlite3's transaction() builds four wrapper functions per call. */
  private commitTransaction(): Database.Transaction<(writes: Write[], epoch: number | undefined) => StoredObject[]> {
    return (this.commitTx ??= this.db.transaction((writes: Write[], epoch: number | undefined) => {
      const meta = this.meta()
      if (epoch !== undefined && epoch !== meta.allocation_epoch) {
        throw new GpuplaneError('CONFLICT', `another allocation committed since epoch ${epoch} (now ${meta.allocation_epoch}): read again and decide again`)
      }
      const revision = meta.revision + writes.length
      this.stmt('UPDATE meta SET revision = ?, allocation_epoch = ? WHERE id = 1').run(revision, meta.allocation_epoch + (epoch === undefined ? 0 : 1))
      const plan = planCommit(writes, this.current(writes), meta.revision, { now: this.now() })
      this.persist(plan)
      const compactTo = compactionPoint(revision, meta.compacted_revision, this.keep)
      if (compactTo !== undefined) {
        this.stmt('DELETE FROM events WHERE revision <= ?').run(compactTo)
        this.stmt('UPDATE meta SET compacted_revision = ? WHERE id = 1').run(compactTo)
      }
      return plan.results
    }))
  }

  async allocationEpoch(): Promise<number> {
    return this.run(() => this.meta().allocation_epoch)
  }

  async revision(): Promise<string> {
    return this.run(() => String(this.meta().revision))
  }

  async changesSince(resourceVersion: string, options: { kinds?: string[]; namespace?: string; limit?: number } = {}): Promise<WatchEvent[]> {
    const from = parseRevision(resourceVersion)
    return this.run(() =>
      this.db.transaction(() => {
        const { compacted_revision } = this.meta()
        if (from < compacted_revision) throw goneError(from, compacted_revision)
        const conditions = ['revision > ?']
        const values: unknown[] = [from]
        if (options.kinds !== undefined) {
          conditions.push(`kind IN (${options.kinds.map(() => '?').join(',') || 'NULL'})`)
          values.push(...options.kinds)
        }
        if (options.namespace !== undefined) {
          conditions.push('namespace = ?')
          values.push(options.namespace)
        }
        const limit = options.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(options.limit))}`
        const rows = this.stmt(`SELECT type, json FROM events WHERE ${conditions.join(' AND ')} ORDER BY revision${limit}`).all(...values) as {
          type: WatchEventType
          json: string
        }[]
        return rows.map((r) => ({ type: r.type, object: JSON.parse(r.json) as StoredObject }))
      })(),
    )
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.run(() => {
      this.stmt('INSERT INTO audit (time, actor, action, kind, namespace, name, result, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(...auditValues(entry))
    })
  }

  async queryAudit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = auditLimit(query)
    const { where, values } = auditConditions(query, () => '?')
    return this.run(() => {
      const rows = this.stmt(`SELECT * FROM audit ${where} ORDER BY id LIMIT ${limit}`).all(...values) as AuditRow[]
      return rows.map(auditEntry)
    })
  }

  async appendUsage(entries: readonly LedgerEntry[]): Promise<number> {
    return this.run(() => appendUsage(this.db, (sql) => this.stmt(sql), entries))
  }

  async queryUsage(query: UsageQuery = {}): Promise<LedgerEntry[]> {
    return this.run(() => queryUsage((sql) => this.stmt(sql), query))
  }

  async saveToken(token: TokenRecord): Promise<void> {
    const values = tokenValues(token)
    this.run(() => {
      this.db
        .transaction(() => {
          const other = this.stmt('SELECT id FROM tokens WHERE hash = ? AND id <> ?').get(token.hash, token.id)
          if (other) throw tokenHashTaken(token.id)
          this.stmt(
            `INSERT INTO tokens (id, hash, namespace, description, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, namespace = excluded.namespace, description = excluded.description, created_at = excluded.created_at`,
          ).run(...values)
        })
        .immediate()
    })
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    return this.run(() => {
      const row = this.stmt('SELECT * FROM tokens WHERE hash = ?').get(hash) as TokenRow | undefined
      return row ? tokenRecord(row) : undefined
    })
  }

  async listTokens(): Promise<TokenRecord[]> {
    return this.run(() => (this.stmt('SELECT * FROM tokens ORDER BY created_at, id').all() as TokenRow[]).map(tokenRecord))
  }

  async deleteToken(id: string): Promise<boolean> {
    return this.run(() => this.stmt('DELETE FROM tokens WHERE id = ?').run(id).changes > 0)
  }

  /**
   * Group commit (not part of the Store interface; src/server/group-commit.ts uses it): runs `fn`
   * in one write transaction, so that the writes it makes reach the WAL in one commit. Each store
   * write inside stays atomic on its own (a nested transaction is a savepoint: one that fails is
   * undone alone and its promise rejects). Nothing fn wrote is durable before this returns; when
   * the final commit fails, everything is undone and this throws — callers must then treat every
   * write of the group as failed, whatever its promise says.
   */
  group(fn: () => void): void {
    this.run(() => this.db.transaction(fn).immediate())
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.statements.clear()
    this.db.close()
  }

  /** Runs a synchronous database call, turning SQLite's errors into GpuplaneErrors. */
  private run<T>(fn: () => T): T {
    if (this.closed) throw closedError()
    try {
      return fn()
    } catch (e) {
      throw sqliteError(e, this.path)
    }
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql)
    if (!s) {
      s = this.db.prepare(sql)
      this.statements.set(sql, s)
    }
    return s
  }

  private appliedVersion(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }
    return row.v ?? 0
  }

  private meta(): MetaRow {
    return this.stmt('SELECT revision, allocation_epoch, compacted_revision FROM meta WHERE id = 1').get() as MetaRow
  }

  /** The stored objects of every key the writes touch, by keyString. */
  private current(writes: readonly Write[]): Map<string, StoredObject> {
    const current = new Map<string, StoredObject>()
    const select = this.stmt('SELECT json FROM objects WHERE kind = ? AND namespace = ? AND name = ?')
    for (const w of writes) {
      const key = keyOfWrite(w)
      const ks = keyString(key)
      if (current.has(ks)) continue
      const row = select.get(key.kind, key.namespace, key.name) as { json: string } | undefined
      if (row) current.set(ks, JSON.parse(row.json) as StoredObject)
    }
    return current
  }

  private persist(plan: PlannedCommit): void {
    const upsert = this.stmt(
      `INSERT INTO objects (kind, namespace, name, uid, resource_version, labels, json) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, namespace, name) DO UPDATE
         SET uid = excluded.uid, resource_version = excluded.resource_version, labels = excluded.labels, json = excluded.json`,
    )
    const remove = this.stmt('DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?')
    for (const { key, object } of plan.rows.values()) {
      if (object) {
        const labels = encodeObject(object.metadata.labels ?? {})
        upsert.run(key.kind, key.namespace, key.name, object.metadata.uid, Number(object.metadata.resourceVersion), labels, storedJson(object))
      } else {
        remove.run(key.kind, key.namespace, key.name)
      }
    }
    const event = this.stmt('INSERT INTO events (revision, type, kind, namespace, name, json) VALUES (?, ?, ?, ?, ?, ?)')
    for (const e of plan.events) event.run(e.revision, e.type, e.key.kind, e.key.namespace, e.key.name, storedJson(e.object))
  }
}

/** SQLite errors as GpuplaneErrors: a busy database is UNAVAILABLE (retry), a missing table means migrate() was not run. */
function sqliteError(e: unknown, path: string): unknown {
  if (e instanceof GpuplaneError || !(e instanceof Error)) return e
  const code = (e as { code?: string }).code ?? ''
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new GpuplaneError('UNAVAILABLE', `SQLite database ${path} is locked by another connection for longer than the busy timeout: retry`, {}, { cause: e })
  }
  if (/no such table/.test(e.message)) {
    return new GpuplaneError('UNAVAILABLE', `SQLite database ${path} has no gpuplane schema yet: call migrate() first (${e.message})`, {}, { cause: e })
  }
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY')) {
    return new GpuplaneError('UNAVAILABLE', `SQLite database ${path}: ${e.message} (check the disk and the file's permissions)`, {}, { cause: e })
  }
  return e
}
