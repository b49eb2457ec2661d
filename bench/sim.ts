// npm run bench:sim — the trace replay: every policy on the `default` trace, one seed, timed, beside the FGD paper's numbers.
//
// Default run: seed 42 of data/alibaba-gpu-v2023 `default` (8,152 pods inflated to 130% of 6,212
// GPUs, 1,213 nodes) with each policy, in this process, one after the other: unallocated GPU % at
// 100% arrived load (ours) beside the paper's for the same policy (mean over seeds 42..51 of the
// authors' artifact, data/fgd-artifact-results/), and the replay's wall time. Then the whole
// command `gpuplane sim --seeds 1 --quiet` (gpuplane policy) as a child process, start-up
// included. Writes bench/results/sim.json.
//
// `--full`: every shipped trace variant × every policy × 10 seeds (42..51), the paper's protocol,
// in two child processes (one per core); prints ours vs the paper per trace and policy and writes
// bench/results/sim-full.json. `--seeds N` changes the seed count of --full.
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { findPaperCurve, parsePaperResults, type PaperResults } from '../src/sim/paper.ts'
import { POLICY_NAMES, type PolicyName } from '../src/sim/policies.ts'
import { parseSimInput, runSim } from '../src/sim/run.ts'

const ROOT = join(import.meta.dirname, '..')
const TRACE_DIR = join(ROOT, 'data', 'alibaba-gpu-v2023', 'csv')
const NODES = join(TRACE_DIR, 'openb_node_list_gpu_node.csv')
const PAPER_DIR = join(ROOT, 'data', 'fgd-artifact-results')
const RESULTS = join(import.meta.dirname, 'results')

/** Targets of the issue: gpuplane under 3.8% on default (paper FGD 4.77%), our fgd within 0.3 points of the paper's, one gpuplane seed under 3 s. */
const TARGET_GPUPLANE_DEFAULT = 3.8
const TARGET_FGD_GAP = 0.3
const TARGET_SECONDS = 3

interface Row {
  trace: string
  policy: PolicyName
  seeds: number
  mean: number
  sd: number
  median: number
  seconds: number
}

function paperResults(): PaperResults {
  return parsePaperResults({
    allocationCsv: readFileSync(join(PAPER_DIR, 'analysis_allo_discrete.csv'), 'utf8'),
    fragmentationCsv: readFileSync(join(PAPER_DIR, 'analysis_frag_discrete.csv'), 'utf8'),
  })
}

/** The paper's number to compare a policy with: the same policy's, FGD's for gpuplane. */
function paperAt100(paper: PaperResults, trace: string, policy: PolicyName): number | undefined {
  return findPaperCurve(paper, trace, policy === 'gpuplane' ? 'fgd' : policy)?.unallocatedAt100.mean
}

function run(trace: string, policy: PolicyName, seeds: number): Row {
  const input = parseSimInput({ nodesCsv: readFileSync(NODES, 'utf8'), podsCsv: readFileSync(join(TRACE_DIR, `openb_pod_list_${trace}.csv`), 'utf8') })
  const t0 = performance.now()
  const r = runSim({ ...input, trace, policy, seeds })
  const seconds = (performance.now() - t0) / 1000
  return { trace, policy, seeds, mean: r.unallocatedAt100.mean, sd: r.unallocatedAt100.sd, median: r.unallocatedAt100.median, seconds }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  return [header, ...rows].map((r) => r.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(2))
const machine = () => `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores; one used)`

function quick(): void {
  const paper = paperResults()
  const rows: Row[] = []
  for (const policy of POLICY_NAMES) {
    process.stderr.write(`default / ${policy} / seed 42...\n`)
    rows.push(run('default', policy, 1))
  }
  const t0 = performance.now()
  execFileSync(process.execPath, [join(ROOT, 'bin', 'gpuplane.js'), 'sim', '--seeds', '1', '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] })
  const cliSeconds = (performance.now() - t0) / 1000
  const byPolicy = (p: PolicyName) => rows.find((r) => r.policy === p)!
  const fgdPaper = paperAt100(paper, 'default', 'fgd')!
  const scenarios = [
    ...rows.map((r) => ({
      name: `default seed 42: ${r.policy} unallocated GPU at 100% arrived`,
      metric: 'unallocated GPU',
      value: round(r.mean),
      unit: '%',
      target: r.policy === 'gpuplane' ? TARGET_GPUPLANE_DEFAULT : round(paperAt100(paper, 'default', r.policy)! + TARGET_FGD_GAP),
      better: 'lower',
      baseline: { name: r.policy === 'gpuplane' ? 'paper 06-FGD, mean of seeds 42..51' : `paper, same policy, mean of seeds 42..51`, value: round(paperAt100(paper, 'default', r.policy)!) },
    })),
    { name: 'default seed 42: |fgd − paper FGD|', metric: 'gap', value: round(Math.abs(byPolicy('fgd').mean - fgdPaper)), unit: 'points', target: TARGET_FGD_GAP, better: 'lower' },
    ...rows.map((r) => ({ name: `default seed 42: ${r.policy} replay time`, metric: 'wall time', value: round(r.seconds), unit: 's', target: TARGET_SECONDS, better: 'lower' })),
    { name: 'gpuplane sim --seeds 1 --quiet (whole command: Node + tsx start-up, loading, replay, paper numbers)', metric: 'wall time', value: round(cliSeconds), unit: 's', target: TARGET_SECONDS, better: 'lower' },
  ]
  const report = { machine: machine(), node: process.version, date: new Date().toISOString(), scenarios }
  mkdirSync(RESULTS, { recursive: true })
  writeFileSync(join(RESULTS, 'sim.json'), JSON.stringify(report, null, 2) + '\n')
  console.log(`\nsim benchmark — ${report.machine}, Node ${report.node}; default trace, seed 42\n`)
  console.log(table(['policy', 'unallocated @100 %', 'paper (same policy, 10 seeds)', 'ours − paper', 'replay s'], rows.map((r) => [r.policy, f2(r.mean), f2(paperAt100(paper, 'default', r.policy)), f2(r.mean - (paperAt100(paper, 'default', r.policy) ?? NaN)), r.seconds.toFixed(2)])))
  console.log('(gpuplane is compared with the paper\'s FGD)')
  console.log(`\nwhole command, gpuplane sim --seeds 1 --quiet: ${cliSeconds.toFixed(2)} s`)
  console.log('\nwrote bench/results/sim.json')
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

function shippedVariants(): string[] {
  return readdirSync(TRACE_DIR)
    .filter((f) => f.startsWith('openb_pod_list_') && f.endsWith('.csv'))
    .map((f) => f.slice('openb_pod_list_'.length, -'.csv'.length))
    .sort((a, b) => Number(b === 'default') - Number(a === 'default') || a.localeCompare(b, 'en', { numeric: true }))
}

/** Runs `traces` (all policies each) in a child process; resolves to its rows. */
function child(traces: string[], seeds: number): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--worker', traces.join(','), '--seeds', String(seeds)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row)) : reject(new Error(`worker exited with ${code}`))))
  })
}

async function full(seeds: number): Promise<void> {
  const paper = paperResults()
  const variants = shippedVariants()
  const t0 = performance.now()
  const halves = [variants.filter((_, i) => i % 2 === 0), variants.filter((_, i) => i % 2 === 1)]
  const rows = (await Promise.all(halves.map((h) => child(h, seeds)))).flat()
  const minutes = (performance.now() - t0) / 60000
  rows.sort((a, b) => variants.indexOf(a.trace) - variants.indexOf(b.trace) || POLICY_NAMES.indexOf(a.policy) - POLICY_NAMES.indexOf(b.policy))
  const printed = rows.map((r) => {
    const p = paperAt100(paper, r.trace, r.policy)
    return [r.trace, r.policy, `${f2(r.mean)} ± ${f2(r.sd)}`, f2(r.median), p === undefined ? '—' : f2(p), p === undefined ? '—' : f2(r.mean - p), r.seconds.toFixed(1)]
  })
  console.log(`\nsim benchmark --full — ${machine().replace('one used', 'two used')}, Node ${process.version}; ${seeds} seeds from 42, all shipped variants × policies, ${minutes.toFixed(1)} min\n`)
  console.log(table(['trace', 'policy', 'ours mean ± sd', 'median', 'paper', 'ours − paper', 's'], printed))
  const beat = variants.map((v) => {
    const ours = rows.find((r) => r.trace === v && r.policy === 'gpuplane')!.mean
    const fgd = rows.find((r) => r.trace === v && r.policy === 'fgd')!.mean
    return { trace: v, gpuplane: round(ours), fgd: round(fgd), paperFgd: paperAt100(paper, v, 'fgd') }
  })
  console.log('\ngpuplane vs fgd (ours) and the paper\'s FGD where it ran the trace:')
  console.log(table(['trace', 'gpuplane', 'fgd (ours)', 'paper FGD', 'gpuplane beats both'], beat.map((b) => [b.trace, f2(b.gpuplane), f2(b.fgd), f2(b.paperFgd), b.gpuplane < b.fgd && (b.paperFgd === undefined || b.gpuplane < b.paperFgd) ? 'yes' : 'NO'])))
  mkdirSync(RESULTS, { recursive: true })
  writeFileSync(join(RESULTS, 'sim-full.json'), JSON.stringify({ machine: machine(), node: process.version, date: new Date().toISOString(), seeds, minutes: round(minutes, 1), rows, gpuplaneVsFgd: beat }, null, 2) + '\n')
  console.log('\nwrote bench/results/sim-full.json')
}

const arg = (name: string) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const seeds = Number(arg('--seeds') ?? 10)
const worker = arg('--worker')
if (worker) {
  for (const trace of worker.split(',')) {
    for (const policy of POLICY_NAMES) {
      process.stderr.write(`${trace} / ${policy} / ${seeds} seeds...\n`)
      process.stdout.write(JSON.stringify(run(trace, policy, seeds)) + '\n')
    }
  }
} else if (process.argv.includes('--full')) await full(seeds)
else quick()
