// TelemetryStore.usageTotals in SQL, shared by the SQLite and PostgreSQL stores: the statements, in order, and how their rows add up (src/telemetry/usage-totals.ts says what is summed and why it equals usageTotalsOf over the rows).
//
// Per source (raw samples grouped per minute, minute rows, hour rows — the rows usage() returns):
//   1. groups   per device, holder and model: Σ usedPercent × (b − a) unclipped, samples, and the
//               extent of row starts and ends (~1,000 groups for a month of 1,000 GPUs);
//   2. spans    per row span (step_ms, start_ms), one column per model seen in 1: the cluster view.
//               On SQLite this groups in primary-key order (no sort), which is why it is by span
//               and not by the report's bucket; chargeback() spreads the spans into buckets;
//   3. windows  only where dirtyWindows() names device-holders whose rows may need clipping to the
//               holder's intervals: those rows, read and corrected one by one (few: the rows around
//               the start and end of holdings).
// The caller runs them in one read snapshot (a rollUp in between would count a sample twice).
import type { AllocationInterval, TelemetryQuery, UsageTotals } from '../telemetry/types.ts'
import { dirtyWindows, holderTime, UsageTotalsBuilder, type DeviceHolderExtent, type DirtyWindow } from '../telemetry/usage-totals.ts'
import { filterConditions, HOUR_MS, MINUTE_MS, type Dialect } from './telemetry-sql.ts'

/** A rollup row's primary key, to read it for clipping. */
export interface Probe {
  step: number
  start: number
  node: string
  device: string
  namespace: string
  workload: string
}

/**
 * Most primary-key lookups of one usageTotals: beyond, one scan of the windows' range is cheaper.
 * GPUPLANE_USAGE_MAX_PROBES overrides it (the contract suite sets 0 to run the scan path too).
 */
const MAX_PROBES = 200_000

function maxProbes(): number {
  const n = Number(process.env.GPUPLANE_USAGE_MAX_PROBES)
  return process.env.GPUPLANE_USAGE_MAX_PROBES !== undefined && Number.isFinite(n) ? n : MAX_PROBES
}

/** A dirty window of the source at `source` (SOURCES order). */
export type SourceWindow = DirtyWindow & { source: number }

export interface Statement {
  sql: string
  values: unknown[]
}

/** Where usage rows come from, and the length of their rows. */
interface Source {
  raw: boolean
  step: number
}

const SOURCES: readonly Source[] = [
  { raw: true, step: MINUTE_MS },
  { raw: false, step: MINUTE_MS },
  { raw: false, step: HOUR_MS },
]

/** The rows of one source overlapping the query as a subquery (columns start_ms, step_ms, node, device, namespace, workload, gpu_model, used_percent, samples); `starts`: only rows starting in [lo, hi). */
function sourceRows(source: Source, query: TelemetryQuery, d: Dialect, values: unknown[], starts?: { lo: number; hi: number }): string {
  const p = (v: unknown) => {
    values.push(v)
    return d.param(values.length)
  }
  if (source.raw) {
    // Whole minutes only: a minute row's average is over all its samples.
    const lo = Math.max(query.from, starts ? Math.ceil(starts.lo / MINUTE_MS) * MINUTE_MS : -Infinity)
    const hi = Math.min(query.to, starts ? Math.ceil(starts.hi / MINUTE_MS) * MINUTE_MS : Infinity)
    const where = [`time_ms >= ${p(lo)}`, `time_ms < ${p(hi)}`, ...filterConditions(query, values, d)]
    return `SELECT (time_ms / ${MINUTE_MS}) * ${MINUTE_MS} AS start_ms, ${MINUTE_MS} AS step_ms, node, device, namespace, workload,
        MAX(gpu_model) AS gpu_model, AVG(used_percent) AS used_percent, COUNT(*) AS samples
      FROM telemetry_samples WHERE ${where.join(' AND ')}
      GROUP BY (time_ms / ${MINUTE_MS}) * ${MINUTE_MS}, node, device, namespace, workload`
  }
  const where = [`step_ms = ${source.step}`, `start_ms > ${p(query.from - source.step)}`, `start_ms < ${p(query.to)}`]
  if (starts) where.push(`start_ms >= ${p(starts.lo)}`, `start_ms < ${p(starts.hi)}`)
  where.push(...filterConditions(query, values, d))
  return `SELECT start_ms, step_ms, node, device, namespace, workload, gpu_model, used_percent, samples FROM telemetry_rollups WHERE ${where.join(' AND ')}`
}

/**
 * The steps of one usageTotals call: run groupStatements(), feed each result to addGroups(); then
 * spanStatements() to addSpans(); then windows(intervals), make its windows and probes readable as
 * relations, and run windowStatements() into addWindowRows(); then build().
 */
export class UsageTotalsPlan {
  private readonly totals: UsageTotalsBuilder
  /** Per source (SOURCES order), per device-holder: the extent of its rows. */
  private readonly extents = SOURCES.map(() => new Map<string, DeviceHolderExtent>())
  private readonly models = new Set<string>()
  /** Per source: the windows whose rows need clipping. */
  private dirty: DirtyWindow[][] = SOURCES.map(() => [])

  constructor(
    private readonly query: TelemetryQuery,
    private readonly d: Dialect,
  ) {
    this.totals = new UsageTotalsBuilder(query.from, query.to)
  }

  /** Per source (SOURCES order: feed the rows of the i-th to addGroups(i, rows)): per device, holder and model, Σ usedPercent × (b − a), Σ samples, min start, max end. */
  groupStatements(): Statement[] {
    const { from, to } = this.query
    return SOURCES.map((source) => {
      // Parameters in the order they appear in the text ('?' binds by position on SQLite).
      const values: unknown[] = [to, from]
      const b = `${this.d.least}(start_ms + step_ms, ${this.d.param(1)})`
      const a = `${this.d.greatest}(start_ms, ${this.d.param(2)})`
      const rows = sourceRows(source, this.query, this.d, values)
      return {
        sql: `SELECT node, device, namespace, workload, gpu_model, SUM(used_percent * (${b} - ${a})), SUM(samples), MIN(start_ms), MAX(start_ms + step_ms)
          FROM (${rows}) u GROUP BY node, device, namespace, workload, gpu_model`,
        values,
      }
    })
  }

  /** The rows of groupStatements()[source]. */
  addGroups(source: number, rows: readonly unknown[][]): void {
    const extents = this.extents[source]!
    for (const [node, device, namespace, workload, gpuModel, used, samples, minStart, maxEnd] of rows as Array<[string, string, string, string, string | null, unknown, unknown, unknown, unknown]>) {
      const model = gpuModel ?? undefined
      this.totals.addHolder(namespace, workload, Number(used) / 100, Number(samples))
      if (model !== undefined) {
        this.totals.addDevice(model, node, device)
        this.models.add(model)
      }
      const key = `${node}\u0000${device}\u0000${namespace}\u0000${workload}`
      const e = extents.get(key)
      if (e) {
        e.minStart = Math.min(e.minStart, Number(minStart))
        e.maxEnd = Math.max(e.maxEnd, Number(maxEnd))
      } else extents.set(key, { node, device, namespace, workload, minStart: Number(minStart), maxEnd: Number(maxEnd), rowMs: SOURCES[source]!.step })
    }
  }

  /** Per source: per row span, Σ usedPercent of each model seen (absent where the model has no row in the span). */
  spanStatements(): Statement[] {
    if (this.models.size === 0) return []
    return SOURCES.map((source) => {
      const values: unknown[] = []
      const columns = [...this.models].map((m) => {
        values.push(m)
        return `SUM(CASE WHEN gpu_model = ${this.d.param(values.length)} THEN used_percent END)`
      })
      const rows = sourceRows(source, this.query, this.d, values)
      // GROUP BY step_ms first: the rollups' primary key order, so SQLite groups without sorting.
      return { sql: `SELECT step_ms, start_ms, ${columns.join(', ')} FROM (${rows}) u GROUP BY step_ms, start_ms`, values }
    })
  }

  addSpans(rows: readonly unknown[][]): void {
    const models = [...this.models]
    for (const row of rows) {
      const start = Number(row[1])
      const a = Math.max(start, this.query.from)
      const b = Math.min(start + Number(row[0]), this.query.to)
      models.forEach((m, i) => {
        const sum = row[2 + i]
        if (sum !== null && sum !== undefined) this.totals.addSpan(m, a, b, (Number(sum) * (b - a)) / 100)
      })
    }
  }

  /**
   * The windows of rows that need clipping (see dirtyWindows), per source; keeps them for
   * windowStatements. Returns those to read by a scan (`windows`: the raw source's, and all when
   * the rollups' would take over MAX_PROBES lookups; `source` says whose) and the rollup rows to read by primary key
   * (`probes`: every start at the rollup's step within each of its windows; a window around the
   * start or end of a holding is under a row long, so one or a few keys).
   */
  windows(intervals: readonly AllocationInterval[]): { windows: SourceWindow[]; probes: Probe[] } {
    this.dirty = this.extents.map((extents) => dirtyWindows([...extents.values()], intervals, this.query.from, this.query.to))
    let n = 0
    SOURCES.forEach((source, i) => {
      if (!source.raw) for (const w of this.dirty[i]!) n += Math.ceil((w.hi - w.lo) / source.step) + 1
    })
    this.probing = n <= maxProbes()
    const windows: SourceWindow[] = []
    const probes: Probe[] = []
    SOURCES.forEach((source, i) => {
      if (source.raw || !this.probing) {
        for (const w of this.dirty[i]!) windows.push({ ...w, source: i })
        return
      }
      for (const w of this.dirty[i]!) {
        for (let start = Math.ceil(w.lo / source.step) * source.step; start < w.hi; start += source.step) probes.push({ step: source.step, start, node: w.node, device: w.device, namespace: w.namespace, workload: w.workload })
      }
    })
    return { windows, probes }
  }

  private probing = false

  /**
   * Per source: the rows in the windows, read from the relation `windows(values)` returns (a table
   * or a set-returning expression aliased `w`, with columns node, device, namespace, workload, lo,
   * hi, source: the `windows` of windows()); the rollup rows by `probes(values)` (aliased `p`, columns
   * step_ms, start_ms, node, device, namespace, workload: the `probes` of windows()) unless there
   * were too many. Only sources with dirty windows.
   */
  windowStatements(windows: (values: unknown[]) => string, probes: (values: unknown[]) => string): Statement[] {
    return SOURCES.flatMap((source, i) => {
      const dirty = this.dirty[i]!
      if (dirty.length === 0) return []
      const values: unknown[] = []
      if (!source.raw && this.probing) {
        // Each probe is one primary-key lookup; the keys come from groups of this query, so its filters hold.
        const relation = probes(values)
        values.push(this.query.from - source.step, this.query.to)
        return [{
          sql: `SELECT r.start_ms, r.step_ms, r.node, r.device, r.namespace, r.workload, r.gpu_model, r.used_percent
            FROM ${relation} JOIN telemetry_rollups r ON r.step_ms = p.step_ms AND r.start_ms = p.start_ms AND r.node = p.node AND r.device = p.device
              AND r.namespace = p.namespace AND r.workload = p.workload
            WHERE p.step_ms = ${source.step} AND r.start_ms > ${this.d.param(values.length - 1)} AND r.start_ms < ${this.d.param(values.length)}`,
          values,
        }]
      }
      let lo = Infinity
      let hi = -Infinity
      for (const w of dirty) {
        lo = Math.min(lo, w.lo)
        hi = Math.max(hi, w.hi)
      }
      const rows = sourceRows(source, this.query, this.d, values, { lo, hi })
      const relation = windows(values)
      return [
        {
          sql: `SELECT u.start_ms, u.step_ms, u.node, u.device, u.namespace, u.workload, u.gpu_model, u.used_percent
            FROM (${rows}) u JOIN ${relation} ON w.node = u.node AND w.device = u.device AND w.namespace = u.namespace AND w.workload = u.workload
              AND w.source = ${i} AND u.start_ms >= w.lo AND u.start_ms < w.hi`,
          values,
        },
      ]
    })
  }

  /** Corrects the rows read by windowStatements to their holder's time (intervals: those of windows()). */
  addWindowRows(rows: readonly unknown[][], intervals: readonly AllocationInterval[]): void {
    const held = holderTime(intervals)
    for (const [start, step, node, device, namespace, workload, gpuModel, usedPercent] of rows as Array<[unknown, unknown, string, string, string, string, string | null, unknown]>) {
      const a = Math.max(Number(start), this.query.from)
      const b = Math.min(Number(start) + Number(step), this.query.to)
      this.totals.addCorrection({ node, device, namespace, workload, ...(gpuModel !== null ? { gpuModel } : {}), usedPercent: Number(usedPercent) }, a, b, held)
    }
  }

  build(): UsageTotals {
    return this.totals.build()
  }
}
