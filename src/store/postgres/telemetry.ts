// The TelemetryStore on PostgreSQL: the telemetry_* tables (migration 5) through the PostgresStore's pool (same database and schema).
//
// A batch is one INSERT ... SELECT FROM unnest($1::bigint[], ...): 14 array parameters whatever
// the batch size, so a 10,000-sample batch is one round trip and one statement to plan, where
// multi-row VALUES would need 140,000 parameters (over the protocol's 65,535). ON CONFLICT DO
// NOTHING on the primary key makes a retried batch add nothing, also between replicas.
import type pg from 'pg'
import { GpuplaneError } from '../../common/errors.ts'
import type { AllocationInterval, AttributedSample, IntervalChanges, TelemetryQuery, TelemetryStore, UsageRow, UsageTotals } from '../../telemetry/types.ts'
import { UsageTotalsPlan, type Statement } from '../telemetry-totals-sql.ts'
import {
  compareUsage,
  DELETE_MINUTES_SQL,
  DELETE_RAW_SQL,
  INTERVAL_COLUMNS,
  intervalOfRow,
  intervalsSql,
  intervalValues,
  POSTGRES_DIALECT,
  rollMinutesSql,
  rollRawSql,
  rollupCuts,
  SAMPLE_COLUMNS,
  sampleOfRow,
  samplesSql,
  sampleValues,
  usageOfRow,
  usageSql,
  type IntervalRow,
  type SampleRow,
  type UsageDbRow,
} from '../telemetry-sql.ts'
import { postgresError } from './errors.ts'

/** work_mem of a usageTotals transaction (bench/telemetry.ts: the month report). */
const USAGE_WORK_MEM = '64MB'

const ARRAY_TYPES = ['bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'float8', 'float8', 'float8', 'bigint', 'bigint', 'float8', 'text']
const INSERT_SQL = `INSERT INTO telemetry_samples (${SAMPLE_COLUMNS.join(', ')})
  SELECT * FROM unnest(${ARRAY_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})
  ON CONFLICT DO NOTHING`

export class PostgresTelemetryStore implements TelemetryStore {
  /** Works through `pool` (the PostgresStore's; its search_path names the schema), already migrated to version 5. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly where = 'PostgreSQL',
  ) {}

  async appendSamples(samples: readonly AttributedSample[]): Promise<number> {
    if (samples.length === 0) return 0
    return this.transaction((c) => this.insert(c, samples))
  }

  async appendBatch(source: { agentId: string; seq: number }, samples: readonly AttributedSample[]): Promise<{ added: number; duplicate: boolean }> {
    return this.transaction(async (c) => {
      // The agent's row is locked and advanced only when seq is new: a concurrent retry of the same batch on another replica waits here, then sees it done.
      const advanced = await c.query(
        `INSERT INTO telemetry_agents (agent_id, node, last_seq, updated_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (agent_id) DO UPDATE SET last_seq = excluded.last_seq, node = excluded.node, updated_ms = excluded.updated_ms
         WHERE telemetry_agents.last_seq < excluded.last_seq RETURNING last_seq`,
        [source.agentId, samples[0]?.node ?? '', source.seq, Date.now()],
      )
      if (advanced.rowCount === 0) return { added: 0, duplicate: true }
      return { added: samples.length === 0 ? 0 : await this.insert(c, samples), duplicate: false }
    })
  }

  async samples(query: TelemetryQuery): Promise<AttributedSample[]> {
    const { sql, values } = samplesSql(query, POSTGRES_DIALECT)
    return (await this.query<SampleRow>(sql, values)).map(sampleOfRow)
  }

  async usage(query: TelemetryQuery): Promise<UsageRow[]> {
    const { sql, values } = usageSql(query, POSTGRES_DIALECT)
    // One statement sees one snapshot (READ COMMITTED), so a concurrent rollUp cannot split it.
    return (await this.query<UsageDbRow>(sql, values)).map((r) => usageOfRow(r, query)).sort(compareUsage)
  }

  async usageTotals(query: TelemetryQuery): Promise<UsageTotals> {
    const plan = new UsageTotalsPlan(query, POSTGRES_DIALECT)
    // One snapshot for all steps (REPEATABLE READ): a rollUp committing in between would move rows between sources.
    return this.transaction(async (c) => {
      const all = async (st: Statement) => (await c.query({ text: st.sql, values: st.values, rowMode: 'array' })).rows as unknown[][]
      // The groups of a month are ~1,000s, but without statistics the planner sorts all 720,000 rows:
      // within the default 4 MB that sort goes to disk (measured 5 s instead of 1 s). This transaction only.
      await c.query(`SET LOCAL work_mem = '${USAGE_WORK_MEM}'`)
      const groups = plan.groupStatements()
      for (let i = 0; i < groups.length; i++) plan.addGroups(i, await all(groups[i]!))
      for (const st of plan.spanStatements()) plan.addSpans(await all(st))
      const { sql, values } = intervalsSql(query, POSTGRES_DIALECT)
      const intervals = (await c.query<IntervalRow>(sql, values)).rows.map(intervalOfRow)
      const { windows, probes } = plan.windows(intervals)
      // Windows and probes as arrays, one parameter per column (unnest): any number in one statement.
      const relation = (alias: string, columns: string[], types: string[], arrays: unknown[][]) => (values: unknown[]) => {
        const first = values.length + 1
        values.push(...arrays)
        return `unnest(${types.map((t, i) => `$${first + i}::${t}[]`).join(', ')}) AS ${alias}(${columns.join(', ')})`
      }
      const windowRelation = relation('w', ['node', 'device', 'namespace', 'workload', 'lo', 'hi', 'source'], ['text', 'text', 'text', 'text', 'bigint', 'bigint', 'int'], (['node', 'device', 'namespace', 'workload', 'lo', 'hi', 'source'] as const).map((k) => windows.map((w) => w[k])))
      const probeRelation = relation('p', ['step_ms', 'start_ms', 'node', 'device', 'namespace', 'workload'], ['bigint', 'bigint', 'text', 'text', 'text', 'text'], (['step', 'start', 'node', 'device', 'namespace', 'workload'] as const).map((k) => probes.map((p) => p[k])))
      for (const st of plan.windowStatements(windowRelation, probeRelation)) plan.addWindowRows(await all(st), intervals)
      return plan.build()
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  }

  async rollUp(rawBefore: number, minutesBefore: number): Promise<void> {
    const cuts = rollupCuts(rawBefore, minutesBefore)
    await this.transaction(async (c) => {
      // Two replicas rolling up at once would both read the same raw rows; one at a time.
      await c.query('SELECT pg_advisory_xact_lock($1)', [0x67707435]) // 'gpt5'
      await c.query(rollRawSql(POSTGRES_DIALECT), [cuts.raw])
      await c.query(DELETE_RAW_SQL(POSTGRES_DIALECT), [cuts.raw])
      await c.query(rollMinutesSql(POSTGRES_DIALECT), [cuts.minutes])
      await c.query(DELETE_MINUTES_SQL(POSTGRES_DIALECT), [cuts.minutes])
    })
  }

  async openInterval(interval: AllocationInterval): Promise<void> {
    await this.query(`INSERT INTO telemetry_intervals (${INTERVAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`, intervalValues(interval))
  }

  async closeInterval(key: { node: string; device: string; namespace: string; workload: string }, to: number): Promise<void> {
    await this.query('UPDATE telemetry_intervals SET to_ms = $1 WHERE node = $2 AND device = $3 AND namespace = $4 AND workload = $5 AND to_ms IS NULL', [
      to,
      key.node,
      key.device,
      key.namespace,
      key.workload,
    ])
  }

  async applyIntervals(changes: IntervalChanges): Promise<void> {
    if (changes.open.length + changes.close.length === 0) return
    // Two set-based statements (arrays unnested), whatever the number of intervals: one round trip each.
    await this.transaction(async (c) => {
      if (changes.close.length > 0) {
        const k = (f: 'node' | 'device' | 'namespace' | 'workload') => changes.close.map((x) => x.key[f])
        await c.query(
          `UPDATE telemetry_intervals t SET to_ms = x.to_ms FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS x(node, device, namespace, workload, to_ms)
           WHERE t.node = x.node AND t.device = x.device AND t.namespace = x.namespace AND t.workload = x.workload AND t.to_ms IS NULL`,
          [k('node'), k('device'), k('namespace'), k('workload'), changes.close.map((x) => x.to)],
        )
      }
      if (changes.open.length > 0) {
        const columns: unknown[][] = Array.from({ length: 10 }, () => new Array(changes.open.length))
        changes.open.forEach((iv, i) => intervalValues(iv).forEach((v, k) => (columns[k]![i] = v)))
        await c.query(`INSERT INTO telemetry_intervals (${INTERVAL_COLUMNS}) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::int[], $9::bigint[], $10::bigint[]) ON CONFLICT DO NOTHING`, columns)
      }
    })
  }

  async intervals(query: TelemetryQuery): Promise<AllocationInterval[]> {
    const { sql, values } = intervalsSql(query, POSTGRES_DIALECT)
    return (await this.query<IntervalRow>(sql, values)).map(intervalOfRow)
  }

  private async insert(c: pg.PoolClient, samples: readonly AttributedSample[]): Promise<number> {
    const columns: unknown[][] = SAMPLE_COLUMNS.map(() => new Array(samples.length))
    samples.forEach((s, i) => sampleValues(s).forEach((v, k) => (columns[k][i] = v)))
    return (await c.query(INSERT_SQL, columns)).rowCount ?? 0
  }

  private async query<R extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, values)).rows
    } catch (e) {
      throw wrap(e, this.where)
    }
  }

  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (e) {
      throw wrap(e, this.where)
    }
    let failed: unknown
    try {
      await client.query(begin)
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (e) {
      failed = e
      await client.query('ROLLBACK').catch(() => {})
      throw wrap(e, this.where)
    } finally {
      // A connection whose transaction broke mid-way is not given back to the pool.
      client.release(failed instanceof Error && !(failed instanceof GpuplaneError) ? failed : undefined)
    }
  }
}

function wrap(e: unknown, where: string): unknown {
  if (e instanceof GpuplaneError) return e
  if (e instanceof Error && /relation "telemetry_\w+" does not exist/.test(e.message)) {
    return new GpuplaneError('UNAVAILABLE', `${where} has no telemetry tables: run migrate() (schema version 5) first`, {}, { cause: e })
  }
  return postgresError(e, where)
}
