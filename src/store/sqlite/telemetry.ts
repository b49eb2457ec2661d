// The TelemetryStore on SQLite: the telemetry_* tables (migration 5) in the same database file and connection as the SqliteStore.
//
// Ingest speed comes from three things (bench/telemetry.ts measures them): one BEGIN IMMEDIATE
// transaction per batch, multi-row INSERTs of up to CHUNK rows from cached prepared statements
// (one statement per row costs a VM setup per row), and a WITHOUT ROWID table clustered on
// (time_ms, node, device, ...) so samples arriving in time order append at the B-tree's end and
// time-range reads are a range scan. INSERT OR IGNORE on that key makes a retried batch add nothing.
import type Database from 'better-sqlite3'
import { GpuplaneError } from '../../common/errors.ts'
import type { AllocationInterval, AttributedSample, IntervalChanges, TelemetryQuery, TelemetryStore, UsageRow, UsageTotals } from '../../telemetry/types.ts'
import { UsageTotalsPlan } from '../telemetry-totals-sql.ts'
import {
  compareUsage,
  DELETE_MINUTES_SQL,
  DELETE_RAW_SQL,
  INTERVAL_COLUMNS,
  intervalOfRow,
  intervalsSql,
  intervalValues,
  rollMinutesSql,
  rollRawSql,
  rollupCuts,
  SAMPLE_COLUMNS,
  sampleOfRow,
  samplesSql,
  sampleValues,
  SQLITE_DIALECT,
  usageOfArray,
  usageSql,
  type IntervalRow,
  type SampleRow,
} from '../telemetry-sql.ts'

/** The windows and probes of usageTotals (per connection, in the temp schema: written inside a read transaction without taking the database's write lock). */
const WINDOWS_TABLES = `CREATE TEMP TABLE IF NOT EXISTS gp_usage_windows (node TEXT NOT NULL, device TEXT NOT NULL, namespace TEXT NOT NULL, workload TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, source INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS temp.gp_usage_windows_key ON gp_usage_windows (node, device, namespace, workload, lo);
  CREATE TEMP TABLE IF NOT EXISTS gp_usage_probes (step_ms INTEGER NOT NULL, start_ms INTEGER NOT NULL, node TEXT NOT NULL, device TEXT NOT NULL, namespace TEXT NOT NULL, workload TEXT NOT NULL,
    PRIMARY KEY (step_ms, start_ms, node, device, namespace, workload)) WITHOUT ROWID`

/** Rows per INSERT: 14 columns x 500 = 7,000 parameters, under SQLite's default limit of 32,766. */
const CHUNK = 500

export class SqliteTelemetryStore implements TelemetryStore {
  private readonly statements = new Map<string, Database.Statement>()

  /** Works on `db`, already migrated to version 5 (the SqliteStore's connection: closing that closes this). */
  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {}

  async appendSamples(samples: readonly AttributedSample[]): Promise<number> {
    return this.run(() => this.db.transaction(() => this.insert(samples)).immediate())
  }

  async appendBatch(source: { agentId: string; seq: number }, samples: readonly AttributedSample[]): Promise<{ added: number; duplicate: boolean }> {
    const node = samples[0]?.node ?? ''
    return this.run(() =>
      this.db
        .transaction(() => {
          // The row is written only when seq advances: RETURNING says whether it did.
          const advanced = this.stmt(
            `INSERT INTO telemetry_agents (agent_id, node, last_seq, updated_ms) VALUES (?, ?, ?, ?)
             ON CONFLICT (agent_id) DO UPDATE SET last_seq = excluded.last_seq, node = excluded.node, updated_ms = excluded.updated_ms
             WHERE telemetry_agents.last_seq < excluded.last_seq RETURNING last_seq`,
          ).get(source.agentId, node, source.seq, Date.now())
          if (advanced === undefined) return { added: 0, duplicate: true }
          return { added: this.insert(samples), duplicate: false }
        })
        .immediate(),
    )
  }

  async samples(query: TelemetryQuery): Promise<AttributedSample[]> {
    const { sql, values } = samplesSql(query, SQLITE_DIALECT)
    return this.run(() => (this.stmt(sql).all(...values) as SampleRow[]).map(sampleOfRow))
  }

  async usage(query: TelemetryQuery): Promise<UsageRow[]> {
    const { sql, values } = usageSql(query, SQLITE_DIALECT)
    // One read transaction: a rollUp between the two halves of the UNION could count a sample twice or never.
    const rows = this.run(() => this.db.transaction(() => this.stmt(sql).raw(true).all(...values) as unknown[][])())
    return rows.map((r) => usageOfArray(r, query)).sort(compareUsage)
  }

  async usageTotals(query: TelemetryQuery): Promise<UsageTotals> {
    const plan = new UsageTotalsPlan(query, SQLITE_DIALECT)
    const all = (st: { sql: string; values: unknown[] }) => this.stmt(st.sql).raw(true).all(...st.values) as unknown[][]
    // One read transaction: every step sees the same rows (see usage()). Synchronous throughout, so
    // no other statement on this connection runs in between (the windows table is ours meanwhile).
    return this.run(() =>
      this.db.transaction(() => {
        plan.groupStatements().forEach((st, i) => plan.addGroups(i, all(st)))
        for (const st of plan.spanStatements()) plan.addSpans(all(st))
        const { sql, values } = intervalsSql(query, SQLITE_DIALECT)
        const intervals = (this.stmt(sql).all(...values) as IntervalRow[]).map(intervalOfRow)
        const { windows, probes } = plan.windows(intervals)
        if (windows.length + probes.length > 0) {
          this.db.exec(WINDOWS_TABLES)
          const addWindow = this.stmt('INSERT INTO temp.gp_usage_windows (node, device, namespace, workload, lo, hi, source) VALUES (?, ?, ?, ?, ?, ?, ?)')
          for (const w of windows) addWindow.run(w.node, w.device, w.namespace, w.workload, w.lo, w.hi, w.source)
          const addProbe = this.stmt('INSERT OR IGNORE INTO temp.gp_usage_probes (step_ms, start_ms, node, device, namespace, workload) VALUES (?, ?, ?, ?, ?, ?)')
          for (const p of probes) addProbe.run(p.step, p.start, p.node, p.device, p.namespace, p.workload)
          try {
            for (const st of plan.windowStatements(() => 'temp.gp_usage_windows w', () => 'temp.gp_usage_probes p')) plan.addWindowRows(all(st), intervals)
          } finally {
            this.stmt('DELETE FROM temp.gp_usage_windows').run()
            this.stmt('DELETE FROM temp.gp_usage_probes').run()
          }
        }
        return plan.build()
      })(),
    )
  }

  async rollUp(rawBefore: number, minutesBefore: number): Promise<void> {
    const cuts = rollupCuts(rawBefore, minutesBefore)
    this.run(() =>
      this.db
        .transaction(() => {
          this.stmt(rollRawSql(SQLITE_DIALECT)).run(cuts.raw)
          this.stmt(DELETE_RAW_SQL(SQLITE_DIALECT)).run(cuts.raw)
          this.stmt(rollMinutesSql(SQLITE_DIALECT)).run(cuts.minutes)
          this.stmt(DELETE_MINUTES_SQL(SQLITE_DIALECT)).run(cuts.minutes)
        })
        .immediate(),
    )
  }

  async openInterval(interval: AllocationInterval): Promise<void> {
    this.run(() => this.stmt(`INSERT INTO telemetry_intervals (${INTERVAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`).run(...intervalValues(interval)))
  }

  async closeInterval(key: { node: string; device: string; namespace: string; workload: string }, to: number): Promise<void> {
    this.run(() =>
      this.stmt('UPDATE telemetry_intervals SET to_ms = ? WHERE node = ? AND device = ? AND namespace = ? AND workload = ? AND to_ms IS NULL').run(
        to,
        key.node,
        key.device,
        key.namespace,
        key.workload,
      ),
    )
  }

  async applyIntervals(changes: IntervalChanges): Promise<void> {
    if (changes.open.length + changes.close.length === 0) return
    this.run(() =>
      this.db
        .transaction(() => {
          const close = this.stmt('UPDATE telemetry_intervals SET to_ms = ? WHERE node = ? AND device = ? AND namespace = ? AND workload = ? AND to_ms IS NULL')
          for (const { key, to } of changes.close) close.run(to, key.node, key.device, key.namespace, key.workload)
          const open = this.stmt(`INSERT INTO telemetry_intervals (${INTERVAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
          for (const interval of changes.open) open.run(...intervalValues(interval))
        })
        .immediate(),
    )
  }

  async intervals(query: TelemetryQuery): Promise<AllocationInterval[]> {
    const { sql, values } = intervalsSql(query, SQLITE_DIALECT)
    return this.run(() => (this.stmt(sql).all(...values) as IntervalRow[]).map(intervalOfRow))
  }

  /** Inserts in chunks of CHUNK rows (inside the caller's transaction); returns how many were new. */
  private insert(samples: readonly AttributedSample[]): number {
    let added = 0
    for (let at = 0; at < samples.length; at += CHUNK) {
      const chunk = samples.slice(at, at + CHUNK)
      const values: unknown[] = []
      for (const s of chunk) for (const v of sampleValues(s)) values.push(v)
      added += this.insertStatement(chunk.length).run(...values).changes
    }
    return added
  }

  private insertStatement(rows: number): Database.Statement {
    const row = `(${SAMPLE_COLUMNS.map(() => '?').join(', ')})`
    return this.stmt(`INSERT OR IGNORE INTO telemetry_samples (${SAMPLE_COLUMNS.join(', ')}) VALUES ${Array(rows).fill(row).join(', ')}`)
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql)
    if (!s) {
      s = this.db.prepare(sql)
      // Cache the fixed statements and full chunks; one-off sizes (a last partial chunk) churn otherwise.
      if (this.statements.size < 64) this.statements.set(sql, s)
    }
    return s
  }

  private run<T>(fn: () => T): T {
    if (!this.db.open) throw new GpuplaneError('UNAVAILABLE', 'the store is closed')
    try {
      return fn()
    } catch (e) {
      if (e instanceof GpuplaneError || !(e instanceof Error)) throw e
      const code = (e as { code?: string }).code ?? ''
      if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
        throw new GpuplaneError('UNAVAILABLE', `SQLite database ${this.path} is locked by another connection for longer than the busy timeout: retry`, {}, { cause: e })
      }
      if (/no such table: telemetry_/.test(e.message)) {
        throw new GpuplaneError('UNAVAILABLE', `SQLite database ${this.path} has no telemetry tables: run migrate() (schema version 5) first`, {}, { cause: e })
      }
      throw e
    }
  }
}
