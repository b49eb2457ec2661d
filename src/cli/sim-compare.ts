// `gpuplane sim compare`: every listed policy on every listed trace variant, one table and one report against the FGD paper's artifact numbers.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { GpuplaneError } from '../common/errors.ts'
import { traceVariant } from '../sim/paper.ts'
import { POLICY_NAMES, type PolicyName } from '../sim/policies.ts'
import { comparisonRows, formatComparisonTable, type ReportResult } from '../sim/report.ts'
import { DEFAULT_SEEDS, parseSimInput, runSim } from '../sim/run.ts'
import { loadPaperResults, writeReport } from './sim-report.ts'

/** The trace shipped with gpuplane (data/alibaba-gpu-v2023/README.md names its source). */
export const SHIPPED_TRACE_DIR = fileURLToPath(new URL('../../data/alibaba-gpu-v2023/csv/', import.meta.url))
const DEFAULT_NODES = join(SHIPPED_TRACE_DIR, 'openb_node_list_gpu_node.csv')
const POD_LIST_PREFIX = 'openb_pod_list_'

const COMPARE_HELP = `
What it does:
  Replays every policy of --policies on every pod list of --pods against the node list of
  --nodes, over --seeds seeds (42, 43, ...; 10 seeds are the paper's 42..51), pods submitted one
  by one up to 130% of the cluster's GPU capacity as in the FGD artifact. Then it prints one
  table: per trace and policy, the unallocated GPU % at 100% arrived load (ours, mean ± sd and
  median over the seeds) beside the paper's from its artifact results, their difference and
  the wall time; and writes the report (charts and the same table) into --report DIR.

Traces (--pods):
  A shipped variant by name (default, cpu050, gpushare40, gpuspec10, multigpu20, ...), "all"
  for every shipped variant, or the path of a pod list CSV (openb_pod_list_*.csv layout). The
  paper has numbers for 13 variants; other traces show "—" in its columns.

Output:
  The table on stdout; progress on stderr unless --quiet. In DIR: index.html (charts inline),
  charts/*.svg (and *.png where playwright-core and a Chromium are installed), results.json.
  --json FILE: {"results": [one per trace × policy, as gpuplane sim --json], "comparison": [rows]}.

Exit codes:
  0  done
  1  internal error
  2  invalid input (unknown policy or trace, malformed CSV: the message names file and line)

Example:
  gpuplane sim compare --report /tmp/compare --pods default cpu050 --policies bestfit,fgd,gpuplane --seeds 3
`

interface CompareOptions {
  report: string
  pods: string[]
  nodes: string
  policies?: string
  seeds: string
  quiet?: boolean
  json?: string
}

/** Registers `compare` under the `sim` command. */
export function registerSimCompare(sim: Command, out: (s: string) => void, err: (s: string) => void): void {
  sim
    .command('compare')
    .description("all policies on several trace variants: one table and chart against the paper's artifact numbers")
    .requiredOption('--report <DIR>', 'folder to write the report into (created if missing)')
    .requiredOption('--pods <CSV...>', 'pod lists: shipped variant names (default, cpu050, ...), "all", or CSV paths')
    .option('--nodes <CSV>', 'node list', DEFAULT_NODES)
    .option('--policies <LIST>', `comma-separated policies (default: all of ${POLICY_NAMES.join(',')})`)
    .option('--seeds <N>', 'seeds per trace and policy (42, 43, ...)', String(DEFAULT_SEEDS))
    .option('--quiet', 'no progress on stderr')
    .option('--json <FILE>', 'also write the results and the comparison as JSON')
    .addHelpText('after', COMPARE_HELP)
    .action(async (opts: CompareOptions) => {
      await runCompare(opts, out, opts.quiet ? () => {} : err)
    })
}

async function runCompare(opts: CompareOptions, out: (s: string) => void, progress: (s: string) => void): Promise<void> {
  const policies = parsePolicies(opts.policies)
  const seeds = parseSeeds(opts.seeds)
  const traces = resolvePodLists(opts.pods)
  const nodesCsv = readInput(opts.nodes, '--nodes')
  const paper = await loadPaperResults()
  const results: ReportResult[] = []
  for (const { trace, file } of traces) {
    const input = parseSimInput({ nodesCsv, nodesFile: opts.nodes, podsCsv: readInput(file, '--pods'), podsFile: file })
    for (const policy of policies) {
      const started = performance.now()
      const result = runSim({ ...input, trace, policy, seeds })
      const elapsedMs = performance.now() - started
      results.push({ ...result, elapsedMs })
      const s = result.unallocatedAt100
      progress(`${trace}/${policy}: ${seeds} seed${seeds > 1 ? 's' : ''} in ${(elapsedMs / 1000).toFixed(1)} s, unallocated at 100%: ${s.mean.toFixed(2)} ± ${s.sd.toFixed(2)}\n`)
    }
  }
  const command = `gpuplane sim compare --report ${opts.report} --nodes ${opts.nodes} --pods ${opts.pods.join(' ')} --policies ${policies.join(',')} --seeds ${seeds}`
  const written = await writeReport(opts.report, results, { title: 'gpuplane sim compare: policies × traces against the FGD paper', command, paper })
  out(formatComparisonTable(comparisonRows(results, paper)))
  if (opts.json) await writeFile(opts.json, JSON.stringify({ results, comparison: comparisonRows(results, paper) }) + '\n')
  progress(`report: ${written[0]} (${written.length} files)\n`)
}

function parsePolicies(list: string | undefined): PolicyName[] {
  if (list === undefined) return [...POLICY_NAMES]
  const names = list.split(',').map((p) => p.trim()).filter((p) => p !== '')
  const unknown = names.filter((p) => !(POLICY_NAMES as readonly string[]).includes(p))
  if (unknown.length > 0 || names.length === 0) throw new GpuplaneError('INVALID_INPUT', `--policies: unknown policy ${unknown.join(', ') || '(none given)'}; choose from ${POLICY_NAMES.join(', ')}`)
  return [...new Set(names)] as PolicyName[]
}

function parseSeeds(text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new GpuplaneError('INVALID_INPUT', `--seeds: expected a whole number from 1 to 1000, got "${text}"`)
  return n
}

/** The pod lists `--pods` names: shipped variants by name, "all" of them, or paths; one trace name each. */
export function resolvePodLists(entries: readonly string[]): { trace: string; file: string }[] {
  const shipped = shippedVariants()
  const lists = entries.flatMap((entry) => {
    if (entry === 'all') return shipped.map((v) => ({ trace: v, file: join(SHIPPED_TRACE_DIR, `${POD_LIST_PREFIX}${v}.csv`) }))
    if (existsSync(entry)) return [{ trace: traceVariant(entry), file: entry }]
    if (shipped.includes(entry)) return [{ trace: entry, file: join(SHIPPED_TRACE_DIR, `${POD_LIST_PREFIX}${entry}.csv`) }]
    throw new GpuplaneError('INVALID_INPUT', `--pods ${entry}: no such file and no shipped trace variant of that name; variants: ${shipped.join(', ')} (or "all")`)
  })
  const byTrace = new Map<string, string>()
  for (const { trace, file } of lists) {
    const other = byTrace.get(trace)
    if (other !== undefined && other !== file) throw new GpuplaneError('INVALID_INPUT', `--pods: ${other} and ${file} are both trace "${trace}"; rename one so that the report can tell them apart`)
    byTrace.set(trace, file)
  }
  return [...byTrace].map(([trace, file]) => ({ trace, file }))
}

/** Variant names of the shipped pod lists, `default` first, then in name order. */
function shippedVariants(): string[] {
  const files = existsSync(SHIPPED_TRACE_DIR) ? readdirSync(SHIPPED_TRACE_DIR) : []
  const variants = files.filter((f) => f.startsWith(POD_LIST_PREFIX) && f.endsWith('.csv')).map((f) => traceVariant(f))
  return variants.sort((a, b) => Number(b === 'default') - Number(a === 'default') || a.localeCompare(b, 'en', { numeric: true }))
}

function readInput(file: string, option: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    throw new GpuplaneError('INVALID_INPUT', `${option}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file }, { cause: e })
  }
}
