// What the SQLite and PostgreSQL telemetry stores share: the SQL of rollups and usage queries (one text, two placeholder styles), row <-> object conversions and the retention rules.
//
// Resolution: raw samples are kept until rollUp(rawBefore) moves them into minute rows; minute
// rows until rollUp(.., minutesBefore) moves them into hour rows. Cut points are aligned down to
// the bucket (a minute, an hour), so a bucket is never split between two tables and each
// sample's contribution lives in exactly one row: usage() adds raw (grouped per minute), minute
// and hour rows without double counting. A bucket rolled again (samples that arrived late) is
// merged into the existing row as a sample-weighted average.
import type { AllocationInterval, AttributedSample, TelemetryQuery, UsageRow } from '../telemetry/types.ts'

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000

/** Columns of telemetry_samples in insert order. */
export const SAMPLE_COLUMNS = ['time_ms', 'node', 'device', 'namespace', 'workload', 'uuid', 'gpu_model', 'share', 'used_percent', 'sm_util', 'mem_used', 'mem_total', 'power', 'processes'] as const

export type SampleValues = [number, string, string, string, string, string | null, string | null, number, number, number, number, number, number | null, string | null]

/** A sample as the values of one row (unallocated: namespace and workload ''). */
export function sampleValues(s: AttributedSample): SampleValues {
  return [
    s.time,
    s.node,
    s.device,
    s.namespace ?? '',
    s.workload ?? '',
    s.uuid ?? null,
    s.gpuModel ?? null,
    s.share,
    s.usedPercent,
    s.smUtil,
    s.memUsedBytes,
    s.memTotalBytes,
    s.powerWatts ?? null,
    s.processes && s.processes.length > 0 ? JSON.stringify(s.processes) : null,
  ]
}

export interface SampleRow {
  time_ms: number | string
  node: string
  device: string
  namespace: string
  workload: string
  uuid: string | null
  gpu_model: string | null
  share: number
  used_percent: number
  sm_util: number
  mem_used: number | string
  mem_total: number | string
  power: number | null
  processes: string | null
}

export function sampleOfRow(r: SampleRow): AttributedSample {
  const s: AttributedSample = {
    time: Number(r.time_ms),
    node: r.node,
    device: r.device,
    smUtil: Number(r.sm_util),
    memUsedBytes: Number(r.mem_used),
    memTotalBytes: Number(r.mem_total),
    share: Number(r.share),
    usedPercent: Number(r.used_percent),
  }
  if (r.uuid !== null) s.uuid = r.uuid
  if (r.power !== null) s.powerWatts = Number(r.power)
  if (r.processes !== null) s.processes = JSON.parse(r.processes) as AttributedSample['processes']
  if (r.gpu_model !== null) s.gpuModel = r.gpu_model
  if (r.namespace !== '') s.namespace = r.namespace
  if (r.workload !== '') s.workload = r.workload
  return s
}

/** A usage row as read (raw grouped per minute, or a rollup row). */
export interface UsageDbRow {
  start_ms: number | string
  step_ms: number | string
  node: string
  device: string
  namespace: string
  workload: string
  gpu_model: string | null
  share: number | string
  used_percent: number | string
  sm_util: number | string
  mem_used: number | string
  samples: number | string
}

/** A usage row clipped to the query's range (a bucket reaching past either end counts only its part inside). */
export function usageOfRow(r: UsageDbRow, query: TelemetryQuery): UsageRow {
  const start = Number(r.start_ms)
  const row: UsageRow = {
    start: Math.max(start, query.from),
    end: Math.min(start + Number(r.step_ms), query.to),
    node: r.node,
    device: r.device,
    share: Number(r.share),
    usedPercent: Number(r.used_percent),
    smUtil: Number(r.sm_util),
    memUsedBytes: Math.round(Number(r.mem_used)),
    samples: Number(r.samples),
  }
  if (r.gpu_model !== null) row.gpuModel = r.gpu_model
  if (r.namespace !== '') row.namespace = r.namespace
  if (r.workload !== '') row.workload = r.workload
  return row
}

/** usageOfRow for a row read as an array in usageSql's column order (skips building an object per row: a month of hour rows for 1,000 GPUs is 720,000 rows). */
export function usageOfArray(a: readonly unknown[], query: TelemetryQuery): UsageRow {
  const [start_ms, step_ms, node, device, namespace, workload, gpu_model, share, used_percent, sm_util, mem_used, samples] = a
  return usageOfRow({ start_ms, step_ms, node, device, namespace, workload, gpu_model, share, used_percent, sm_util, mem_used, samples } as UsageDbRow, query)
}

export function compareUsage(a: UsageRow, b: UsageRow): number {
  return a.start - b.start || cmp(a.node, b.node) || cmp(a.device, b.device) || cmp(a.namespace ?? '', b.namespace ?? '') || cmp(a.workload ?? '', b.workload ?? '')
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export interface IntervalRow {
  node: string
  device: string
  namespace: string
  workload: string
  gpu_model: string
  share: number | string
  gpu_uuid: string | null
  is_partition: number | null
  from_ms: number | string
  to_ms: number | string | null
}

export function intervalValues(i: AllocationInterval): unknown[] {
  return [i.node, i.device, i.namespace, i.workload, i.gpuModel, i.share, i.gpuUuid ?? null, i.partition === undefined ? null : i.partition ? 1 : 0, i.from, i.to ?? null]
}

export function intervalOfRow(r: IntervalRow): AllocationInterval {
  const i: AllocationInterval = { node: r.node, device: r.device, gpuModel: r.gpu_model, namespace: r.namespace, workload: r.workload, share: Number(r.share), from: Number(r.from_ms) }
  if (r.gpu_uuid !== null) i.gpuUuid = r.gpu_uuid
  if (r.is_partition !== null) i.partition = Number(r.is_partition) === 1
  if (r.to_ms !== null) i.to = Number(r.to_ms)
  return i
}

/** Cut points aligned down to their bucket (see the file comment). */
export function rollupCuts(rawBefore: number, minutesBefore: number): { raw: number; minutes: number } {
  return { raw: Math.floor(rawBefore / MINUTE_MS) * MINUTE_MS, minutes: Math.floor(minutesBefore / HOUR_MS) * HOUR_MS }
}

/** SQL dialect differences: placeholders and the two-argument maximum. */
export interface Dialect {
  /** The placeholder of the n-th value (1-based): '?' or '$n'. */
  param: (n: number) => string
  greatest: string
  /** The two-argument minimum. */
  least: string
  /** Cast to floating point for weighted averages (PostgreSQL's SUM(bigint) is numeric). */
  float: (expr: string) => string
}

export const SQLITE_DIALECT: Dialect = { param: () => '?', greatest: 'MAX', least: 'MIN', float: (e) => `CAST(${e} AS REAL)` }
export const POSTGRES_DIALECT: Dialect = { param: (n) => `$${n}`, greatest: 'GREATEST', least: 'LEAST', float: (e) => `(${e})::double precision` }

/** WHERE conditions of the query's optional filters, appended to `values`. */
export function filterConditions(query: TelemetryQuery, values: unknown[], d: Dialect): string[] {
  const out: string[] = []
  for (const key of ['node', 'namespace', 'workload'] as const) {
    const v = query[key]
    if (v === undefined) continue
    values.push(v)
    out.push(`${key} = ${d.param(values.length)}`)
  }
  return out
}

const ROLLUP_KEY = 'step_ms, start_ms, node, device, namespace, workload'
const ROLLUP_COLUMNS = `${ROLLUP_KEY}, gpu_model, share, used_percent, sm_util, mem_used, samples`

function mergeOnConflict(d: Dialect): string {
  const weighted = (c: string) => `(telemetry_rollups.${c} * telemetry_rollups.samples + excluded.${c} * excluded.samples) / ${d.float('telemetry_rollups.samples + excluded.samples')}`
  return `ON CONFLICT (${ROLLUP_KEY}) DO UPDATE SET
    used_percent = ${weighted('used_percent')}, sm_util = ${weighted('sm_util')}, mem_used = ${weighted('mem_used')},
    share = ${d.greatest}(telemetry_rollups.share, excluded.share), gpu_model = COALESCE(telemetry_rollups.gpu_model, excluded.gpu_model),
    samples = telemetry_rollups.samples + excluded.samples`
}

/** Raw samples before the cut ($1) -> minute rows (merged into existing ones). */
export function rollRawSql(d: Dialect): string {
  return `INSERT INTO telemetry_rollups (${ROLLUP_COLUMNS})
    SELECT ${MINUTE_MS}, (time_ms / ${MINUTE_MS}) * ${MINUTE_MS}, node, device, namespace, workload,
      MAX(gpu_model), MAX(share), AVG(used_percent), AVG(sm_util), AVG(${d.float('mem_used')}), COUNT(*)
    FROM telemetry_samples WHERE time_ms < ${d.param(1)}
    GROUP BY (time_ms / ${MINUTE_MS}) * ${MINUTE_MS}, node, device, namespace, workload
    ${mergeOnConflict(d)}`
}

/** Minute rows before the cut ($1) -> hour rows, sample-weighted. */
export function rollMinutesSql(d: Dialect): string {
  const avg = (c: string) => `SUM(${c} * samples) / ${d.float('SUM(samples)')}`
  return `INSERT INTO telemetry_rollups (${ROLLUP_COLUMNS})
    SELECT ${HOUR_MS}, (start_ms / ${HOUR_MS}) * ${HOUR_MS}, node, device, namespace, workload,
      MAX(gpu_model), MAX(share), ${avg('used_percent')}, ${avg('sm_util')}, ${avg('mem_used')}, SUM(samples)
    FROM telemetry_rollups WHERE step_ms = ${MINUTE_MS} AND start_ms < ${d.param(1)}
    GROUP BY (start_ms / ${HOUR_MS}) * ${HOUR_MS}, node, device, namespace, workload
    ${mergeOnConflict(d)}`
}

export const DELETE_RAW_SQL = (d: Dialect) => `DELETE FROM telemetry_samples WHERE time_ms < ${d.param(1)}`
export const DELETE_MINUTES_SQL = (d: Dialect) => `DELETE FROM telemetry_rollups WHERE step_ms = ${MINUTE_MS} AND start_ms < ${d.param(1)}`

/** usage(): raw samples grouped per minute, plus the minute and hour rows overlapping [from, to). */
export function usageSql(query: TelemetryQuery, d: Dialect): { sql: string; values: unknown[] } {
  const values: unknown[] = []
  const p = (v: unknown) => {
    values.push(v)
    return d.param(values.length)
  }
  const rawWhere = [`time_ms >= ${p(query.from)}`, `time_ms < ${p(query.to)}`, ...filterConditions(query, values, d)]
  const raw = `SELECT (time_ms / ${MINUTE_MS}) * ${MINUTE_MS} AS start_ms, ${MINUTE_MS} AS step_ms, node, device, namespace, workload,
      MAX(gpu_model) AS gpu_model, MAX(share) AS share, AVG(used_percent) AS used_percent, AVG(sm_util) AS sm_util, AVG(${d.float('mem_used')}) AS mem_used, COUNT(*) AS samples
    FROM telemetry_samples WHERE ${rawWhere.join(' AND ')}
    GROUP BY (time_ms / ${MINUTE_MS}) * ${MINUTE_MS}, node, device, namespace, workload`
  const range = (step: number) => `(step_ms = ${step} AND start_ms > ${p(query.from - step)} AND start_ms < ${p(query.to)})`
  const rollWhere = [`(${range(MINUTE_MS)} OR ${range(HOUR_MS)})`, ...filterConditions(query, values, d)]
  const rolled = `SELECT start_ms, step_ms, node, device, namespace, workload, gpu_model, share, used_percent, sm_util, mem_used, samples
    FROM telemetry_rollups WHERE ${rollWhere.join(' AND ')}`
  return { sql: `${raw} UNION ALL ${rolled}`, values }
}

/** samples(): raw rows in [from, to), oldest first. */
export function samplesSql(query: TelemetryQuery, d: Dialect): { sql: string; values: unknown[] } {
  const values: unknown[] = [query.from, query.to]
  const where = [`time_ms >= ${d.param(1)}`, `time_ms < ${d.param(2)}`, ...filterConditions(query, values, d)]
  return { sql: `SELECT * FROM telemetry_samples WHERE ${where.join(' AND ')} ORDER BY time_ms, node, device, namespace, workload`, values }
}

/** intervals(): those overlapping [from, to). */
export function intervalsSql(query: TelemetryQuery, d: Dialect): { sql: string; values: unknown[] } {
  const values: unknown[] = [query.to, query.from]
  const where = [`from_ms < ${d.param(1)}`, `(to_ms IS NULL OR to_ms > ${d.param(2)})`, ...filterConditions(query, values, d)]
  return { sql: `SELECT * FROM telemetry_intervals WHERE ${where.join(' AND ')} ORDER BY from_ms, node, device, namespace, workload`, values }
}

export const INTERVAL_COLUMNS = 'node, device, namespace, workload, gpu_model, share, gpu_uuid, is_partition, from_ms, to_ms'
