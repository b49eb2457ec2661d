// `gpuplane report usage` (chargeback and efficiency per namespace and workload, and the cluster view) and `gpuplane get idle` (idle allocations), read from the server.
import { Option, type Command } from 'commander'
import { stringify } from 'yaml'
import { parseDuration } from './duration.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { IdleEntry } from '../server/idle-controller.ts'
import { IDLE_PATH, REPORT_USAGE_PATH } from '../server/report-routes.ts'
import type { ChargebackReport, ChargebackRow } from '../telemetry/chargeback.ts'
import { connect, withConnection } from './client.ts'
import { formatTable } from './table.ts'

const REPORT_HELP = `
What it reports, per namespace and, below it, per workload, over [--from, --to):
  GPU-H ALLOC   GPU-hours allocated: time held × share of the GPU (a 3g.40gb MIG device of an
                H100 counts 1/2: it takes 4 of the 8 memory slices)
  GPU-H USED    GPU-hours used: time × SM utilization (a whole GPU at 50% for an hour: 0.5)
  EFFICIENCY    used / allocated
  GPU-H RECL    GPU-hours given back by idle reclaims (until the workload held GPUs again)
  TOKENS        gateway tokens (prompt + completion) of the namespace's agents
  COST          GPU-hours allocated × the model's price (gpuplane server --gpu-prices FILE)
                + the gateway's token cost
Then the cluster view: per GPU model, allocated % and utilized % of its GPUs (-o json: per step).

Times: an ISO time or date (2026-11-01, 2026-11-01T12:00:00Z), "now", or relative to now
(-7d, -24h, -30m). Default: the last 24 hours. A namespace token sees its namespace only.

Output: -o table (default), csv (one line per namespace and workload), json (the whole report).

Examples:
  gpuplane report usage --from -7d
  gpuplane report usage --namespace research --from 2026-11-01 --to 2026-12-01 -o csv
`

interface ReportOptions {
  namespace?: string
  from?: string
  to?: string
  step?: string
  output: 'table' | 'csv' | 'json'
  server?: string
  token?: string
}

/** A time flag: ISO, "now", or -N{d,h,m,s} before `now`; milliseconds since the epoch. */
export function parseTimeFlag(value: string, flag: string, now = Date.now()): number {
  if (value === 'now') return now
  const rel = /^-(\d+(?:\.\d+)?)(d|h|m|s)$/.exec(value)
  if (rel) return now - Number(rel[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[rel[2] as 'd' | 'h' | 'm' | 's']
  const ms = Date.parse(value)
  if (!Number.isFinite(ms)) throw new GpuplaneError('INVALID_INPUT', `${flag} ${value} is not a time; give an ISO time or date (2026-11-01), "now", or -7d, -24h, -30m`)
  return ms
}

export function registerReport(program: Command, out: (s: string) => void): void {
  const report = program.command('report').description('reports from the server: usage (chargeback and efficiency)')
  const usage = report
    .command('usage')
    .description('GPU-hours allocated and used, efficiency, idle reclaims, tokens and cost per namespace and workload; allocated and utilized % per GPU model')
    .option('-n, --namespace <NS>', 'one namespace (a namespace token: its own)')
    .option('--from <TIME>', 'start of the range (default: 24 hours before --to)')
    .option('--to <TIME>', 'end of the range (default: now)')
    .option('--step <DURATION>', 'bucket of the cluster view, e.g. 1h, 1d (default 1h)')
    .addOption(new Option('-o, --output <FORMAT>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .addHelpText('after', REPORT_HELP)
  withConnection(usage).action(async (opts: ReportOptions) => {
    const now = Date.now()
    const to = opts.to !== undefined ? parseTimeFlag(opts.to, '--to', now) : now
    const from = opts.from !== undefined ? parseTimeFlag(opts.from, '--from', now) : to - 24 * 3_600_000
    if (!(from < to)) throw new GpuplaneError('INVALID_INPUT', `--from (${new Date(from).toISOString()}) must be before --to (${new Date(to).toISOString()})`)
    let step: string | undefined
    if (opts.step !== undefined) {
      const seconds = parseDuration(opts.step, '--step') / 1000
      if (!(seconds >= 60)) throw new GpuplaneError('INVALID_INPUT', `--step ${opts.step} must be at least 1m`)
      step = String(Math.round(seconds))
    }
    const client = connect(opts)
    const r = await client.call<ChargebackReport>('GET', REPORT_USAGE_PATH, { query: { from: String(Math.round(from)), to: String(Math.round(to)), namespace: opts.namespace, step } })
    out(renderUsage(r, opts.output))
  })
}

/** One line of the table or CSV: a namespace (workload '-') or a workload. */
function cells(r: Omit<ChargebackRow, 'namespace'> & { namespace: string }, csv: boolean): string[] {
  const n = (x: number, d = 2) => (csv ? String(Math.round(x * 1e6) / 1e6) : x.toFixed(d))
  return [
    r.namespace,
    r.workload ?? '-',
    r.gpuModels.join(csv ? ' ' : ',') || '-',
    n(r.allocatedGpuHours),
    n(r.usedGpuHours),
    r.efficiency === null ? '-' : csv ? n(r.efficiency) : `${(r.efficiency * 100).toFixed(0)}%`,
    n(r.reclaimedGpuHours),
    String(r.promptTokens + r.completionTokens),
    n(r.totalCost),
  ]
}

const HEADER = ['NAMESPACE', 'WORKLOAD', 'MODELS', 'GPU-H ALLOC', 'GPU-H USED', 'EFFICIENCY', 'GPU-H RECL', 'TOKENS', 'COST']
const CSV_HEADER = ['namespace', 'workload', 'gpu_models', 'allocated_gpu_hours', 'used_gpu_hours', 'efficiency', 'reclaimed_gpu_hours', 'tokens', 'cost']

/** The report as a table, CSV or JSON. */
export function renderUsage(r: ChargebackReport, output: 'table' | 'csv' | 'json'): string {
  if (output === 'json') return JSON.stringify(r, null, 2) + '\n'
  const csv = output === 'csv'
  const rows: string[][] = []
  for (const ns of r.namespaces) {
    rows.push(cells(ns, csv))
    for (const w of r.workloads) if (w.namespace === ns.namespace) rows.push(cells(w, csv))
  }
  if (csv) return [CSV_HEADER, ...rows].map((row) => row.map(csvCell).join(',')).join('\n') + '\n'
  rows.push(cells({ ...r.totals, namespace: 'TOTAL' }, false))
  const range = `${new Date(r.from).toISOString()} to ${new Date(r.to).toISOString()}, cost in ${r.currency}`
  const cluster = r.cluster.models.map((m) => {
    const avg = (k: 'allocatedPercent' | 'utilizedPercent') => (m.points.length === 0 ? 0 : m.points.reduce((a, p) => a + p[k], 0) / m.points.length)
    return [m.gpuModel, String(m.gpus), `${avg('allocatedPercent').toFixed(1)}%`, `${avg('utilizedPercent').toFixed(1)}%`]
  })
  const unpriced = r.unpricedModels.length > 0 ? `\nNo price for ${r.unpricedModels.join(', ')} (charged 0): start the server with --gpu-prices FILE (see examples/gpu-prices.yaml).\n` : ''
  return `Usage ${range}\n\n${formatTable(HEADER, rows, 3)}\nCluster (average over the range)\n\n${formatTable(['GPU MODEL', 'GPUS', 'ALLOCATED', 'UTILIZED'], cluster, 3)}${unpriced}`
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

/** `gpuplane get idle`: the idle list as a table, YAML or JSON. */
export async function runGetIdle(opts: { namespace?: string; allNamespaces?: boolean; output: string; server?: string; token?: string }, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  const client = connect(opts)
  const list = await client.call<{ items: IdleEntry[] }>('GET', IDLE_PATH, { query: { namespace: opts.allNamespaces ? undefined : opts.namespace } })
  if (opts.output === 'json') return out(JSON.stringify(list, null, 2) + '\n')
  if (opts.output === 'yaml') return out(stringify(list, { lineWidth: 0 }))
  if (list.items.length === 0) return err('No workloads under an idle policy hold GPUs.\n')
  const rows = list.items.map((e) => [e.namespace, e.workload, e.gpuModels.join(',') || '-', String(Math.round(e.gpus * 100) / 100), e.state === 'idle' ? `Idle since ${e.since}` : e.state === 'unknown' ? `Unknown (${e.reason ?? 'no samples'})` : 'Busy', `<${e.policy.smUtilBelow}% for ${e.policy.forSeconds}s, ${e.policy.action}`, e.reclaimAt ?? '-'])
  out(formatTable(['NAMESPACE', 'WORKLOAD', 'MODELS', 'GPUS', 'STATE', 'POLICY', 'RECLAIM AT'], rows, 3))
}
