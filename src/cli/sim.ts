// `gpuplane sim`: replays the Alibaba GPU trace with one policy over several seeds, prints the FGD paper's metrics, writes JSON and the HTML report.
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command, Option } from 'commander'
import { SingleBar } from 'cli-progress'
import { GpuplaneError } from '../common/errors.ts'
import { findPaperCurve, PAPER_POLICIES, type PaperResults } from '../sim/paper.ts'
import { POLICY_DESCRIPTIONS, POLICY_NAMES, type PolicyName } from '../sim/policies.ts'
import { DEFAULT_INFLATE, DEFAULT_SEED_BASE, DEFAULT_SEEDS, parseSimInput, runSim, type SimProgress, type SimResult } from '../sim/run.ts'
import { SLICING_MODES, type SlicingMode } from '../sim/slicing.ts'
import { POD_KINDS } from '../sim/trace.ts'
import { formatTable } from './schedule.ts'
import { registerSimCompare, resolvePodLists, SHIPPED_TRACE_DIR } from './sim-compare.ts'
import { loadPaperResults, writeReport } from './sim-report.ts'

/** The node list `--nodes` defaults to: the trace's 1,213 GPU nodes (6,212 GPUs), as in every FGD experiment. */
export const DEFAULT_NODES = join(SHIPPED_TRACE_DIR, 'openb_node_list_gpu_node.csv')

/** Arrived loads the summary table shows. */
const TABLE_LEVELS = [80, 90, 95, 100, 110, 120, 130]

const SIM_HELP = `
What it does (the FGD paper's methodology, Weng et al., USENIX ATC'23, as its artifact runs it):
  For each seed (--seed-base, --seed-base+1, ...): the pod list is shuffled, then inflated by
  drawing random clones of its pods (or trimmed by removing random pods) until its GPU request is
  --inflate × the cluster's GPU capacity; nodes get a random tie-break order. Pods are submitted
  one by one, with no departures; a pod that fits nowhere fails and is dropped. Memory and CPU
  are hard limits, gpu_spec restricts GPU models, a multi-GPU pod needs whole free GPUs.
  Seeded and deterministic: the same seed gives the same result (the random numbers are not Go's,
  so counts differ slightly from the artifact's; statistics over seeds are what compare).

Policies (--policy):
${POLICY_NAMES.map((p) => `  ${p.padEnd(11)}${POLICY_DESCRIPTIONS[p]}`).join('\n')}

Metrics, per integer arrived load x = GPU requested so far (placed or failed) / capacity, in %:
  allocated  milli-GPU requested by placed pods / capacity (the paper's GPU allocation ratio)
  unallocated  100 − allocated; the headline is its mean ± sd (population) and median over
             seeds at x = 100, as in the paper's bar charts
  frag       FGD's fragmentation amount, Σ_n F_n(M) / capacity, M the trace's typical pods
  frag rate  the same / free GPU (saturates near 99% for every policy once the cluster is full)
  failed     pods failed so far by kind: cpu (no GPU), share (part of one GPU), whole (one
             whole GPU), multi (several whole GPUs)
  utilization  at x = 100: GPUs holding a pod, how full they are, and what the same pods would
             need and use without sharing (every pod on whole GPUs)

Pod lists (--pods): a shipped variant of the Alibaba trace by name (default, cpu050,
  gpushare40, gpuspec10, multigpu20, ...; see data/alibaba-gpu-v2023/README.md), or a CSV path
  (openb_pod_list_*.csv layout, 11 columns or the 5 of the multigpu files).

Slicing (--slicing): mig or vgpu replays the same seeds on GPUs that offer only catalog profiles
  (MIG instances with their placements, or equal-size vGPUs); a share is rounded up to the
  smallest fitting profile. The result adds the ideal-sharing run of the same seeds and the
  extra unallocated GPU partitioning costs. Trace models without MIG get A100-80GB's geometry,
  models without catalog vGPU profiles split into 1/2/4/8 (assumptions; --gpu-model G2=MODEL
  maps a trace code to a catalog model).

Output: a summary on stdout; a progress bar on stderr when it is a terminal (not with --quiet).
  --json FILE: {"policy","trace","seeds","points":[{"arrivedPct","allocatedPct",
  "unallocatedPct","fragPct",...}],"unallocatedAt100":{"mean","sd","median"}, ...}.
  --report DIR: index.html with SVG charts (and the paper's curves), results.json.

Exit codes:
  0  done
  1  internal error
  2  invalid input (unknown policy or variant, malformed CSV: the message names file and line)

Examples:
  gpuplane sim --policy gpuplane --seeds 1
  gpuplane sim --pods gpuspec20 --policy fgd --json /tmp/fgd.json --report /tmp/fgd
  gpuplane sim --policy gpuplane --slicing mig --seeds 3
  gpuplane sim compare --report /tmp/compare --pods default --policies fgd,gpuplane --seeds 3
`

interface SimCliOptions {
  nodes: string
  pods: string
  policy: PolicyName
  seeds: string
  seedBase: string
  inflate: string
  slicing: SlicingMode
  gpuModel?: string[]
  json?: string
  report?: string
  quiet?: boolean
}

/** Registers `sim` (and its `compare` subcommand). */
export function registerSim(program: Command, out: (s: string) => void, err: (s: string) => void): void {
  const sim = program
    .command('sim')
    .description('replay the Alibaba GPU trace with a placement policy (the FGD paper methodology): unallocated GPU, fragmentation, failures')
    .enablePositionalOptions()
    .option('--nodes <CSV>', 'node list (sn,cpu_milli,memory_mib,gpu,model)', DEFAULT_NODES)
    .option('--pods <CSV|VARIANT>', 'pod list: a shipped variant name or a CSV path', 'default')
    .addOption(new Option('--policy <NAME>', 'placement policy').choices(POLICY_NAMES).default('gpuplane'))
    .option('--seeds <N>', 'number of seeds', String(DEFAULT_SEEDS))
    .option('--seed-base <N>', 'first seed', String(DEFAULT_SEED_BASE))
    .option('--inflate <RATIO>', 'inflate (or trim) the pods to this share of GPU capacity; 0 keeps the trace as it is', String(DEFAULT_INFLATE))
    .addOption(new Option('--slicing <MODE>', 'GPU partitioning: ideal milli shares, MIG profiles or equal-size vGPUs').choices(SLICING_MODES).default('none'))
    .option('--gpu-model <CODE=MODEL...>', 'for --slicing: treat trace GPU type CODE as catalog model MODEL, e.g. G2=A100-80GB')
    .option('--json <FILE>', 'write the result as JSON')
    .option('--report <DIR>', 'write the HTML report with SVG charts into DIR')
    .option('--quiet', 'no progress bar')
    .addHelpText('after', SIM_HELP)
    .action(async (opts: SimCliOptions) => {
      await runSimCommand(opts, out, err)
    })
  registerSimCompare(sim, out, err)
}

function number(text: string, option: string, integer: boolean): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) throw new GpuplaneError('INVALID_INPUT', `${option}: expected ${integer ? 'a whole number' : 'a number'}, got "${text}"`)
  return n
}

function readInput(file: string, option: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    throw new GpuplaneError('INVALID_INPUT', `${option}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file }, { cause: e })
  }
}

function gpuModelPairs(pairs: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs ?? []) {
    const m = /^([^=\s]+)=(\S+)$/.exec(pair)
    if (!m) throw new GpuplaneError('INVALID_INPUT', `--gpu-model ${pair}: write CODE=MODEL, e.g. G2=A100-80GB`)
    out[m[1]] = m[2]
  }
  return out
}

async function runSimCommand(opts: SimCliOptions, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  const seeds = number(opts.seeds, '--seeds', true)
  const seedBase = number(opts.seedBase, '--seed-base', true)
  const inflate = number(opts.inflate, '--inflate', false)
  if (seeds < 1 || seeds > 1000) throw new GpuplaneError('INVALID_INPUT', `--seeds: expected 1 to 1000 seeds, got ${seeds}`)
  if (inflate < 0 || inflate > 10) throw new GpuplaneError('INVALID_INPUT', `--inflate: expected a share of GPU capacity from 0 to 10 (1.3 = 130%), got ${inflate}`)
  const gpuModels = gpuModelPairs(opts.gpuModel)
  if (Object.keys(gpuModels).length > 0 && opts.slicing === 'none') throw new GpuplaneError('INVALID_INPUT', '--gpu-model only matters with --slicing mig or vgpu')
  const lists = resolvePodLists([opts.pods])
  if (lists.length !== 1) throw new GpuplaneError('INVALID_INPUT', `--pods ${opts.pods}: names ${lists.length} pod lists; gpuplane sim replays one (gpuplane sim compare runs several)`)
  const [{ trace, file }] = lists
  const input = parseSimInput({ nodesCsv: readInput(opts.nodes, '--nodes'), nodesFile: opts.nodes, podsCsv: readInput(file, '--pods'), podsFile: file, gpuModels })
  const bar = !opts.quiet && process.stderr.isTTY ? progressBar() : undefined
  const started = performance.now()
  let result: SimResult
  try {
    result = runSim({ ...input, trace, policy: opts.policy, seeds, seedBase, inflate, slicing: opts.slicing, gpuModels, ...(bar ? { onProgress: bar.update } : {}) })
  } finally {
    bar?.stop()
  }
  const elapsedMs = performance.now() - started
  const paper = await loadPaperResults().catch(() => undefined)
  out(renderSummary(result, elapsedMs, paper))
  if (opts.json) await writeFile(opts.json, JSON.stringify(result, null, 2) + '\n')
  if (opts.report) {
    const command = ['gpuplane sim', `--nodes ${opts.nodes}`, `--pods ${opts.pods}`, `--policy ${opts.policy}`, `--seeds ${seeds}`, `--seed-base ${seedBase}`, `--inflate ${inflate}`, ...(opts.slicing === 'none' ? [] : [`--slicing ${opts.slicing}`])].join(' ')
    const written = await writeReport(opts.report, [{ ...result, elapsedMs }], { title: `gpuplane sim: ${result.policy} on ${result.trace}`, command, ...(paper ? { paper } : { paper: null }) })
    err(`report: ${written[0]} (${written.length} files)\n`)
  }
}

/** A progress bar on stderr: trace, policy, seed, pods placed, rate. */
function progressBar(): { update: (p: SimProgress) => void; stop: () => void } {
  const bar = new SingleBar({ format: '{trace} {policy}{phase} seed {seed} ({seedNo}/{seeds}) [{bar}] {value}/{total} pods, {placed} placed, {rate} pods/s', hideCursor: true, stream: process.stderr, barsize: 24 })
  let started = false
  let seedStart = performance.now()
  let current = ''
  return {
    update(p) {
      const key = `${p.phase}/${p.seedIndex}`
      if (key !== current) {
        current = key
        seedStart = performance.now()
      }
      const payload = { trace: p.trace, policy: p.policy, phase: p.phase === 'ideal' ? ' (ideal sharing)' : '', seed: p.seed, seedNo: p.seedIndex + 1, seeds: p.seeds, placed: p.placed, rate: Math.round(p.podsDone / Math.max(1e-3, (performance.now() - seedStart) / 1000)) }
      if (!started) {
        bar.start(p.podsTotal, p.podsDone, payload)
        started = true
      } else {
        bar.setTotal(p.podsTotal)
        bar.update(p.podsDone, payload)
      }
    },
    stop: () => bar.stop(),
  }
}

const pct = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—')

/** The paper's unallocated GPU % at 100% for the trace: the same policy's, or FGD's for gpuplane. */
function paperLine(result: SimResult, paper: PaperResults | undefined): string {
  if (!paper) return ''
  const policy = result.policy === 'gpuplane' ? 'fgd' : result.policy
  const curve = findPaperCurve(paper, result.trace, policy)
  if (!curve) return ''
  const name = Object.entries(PAPER_POLICIES).find(([, ours]) => ours === policy)?.[0] ?? policy
  const s = curve.unallocatedAt100
  return `  paper (${name}, seeds ${curve.seeds[0]}..${curve.seeds[curve.seeds.length - 1]}): ${pct(s.mean)} ± ${pct(s.sd)} (median ${pct(s.median)}); ours − paper ${(result.unallocatedAt100.mean - s.mean >= 0 ? '+' : '') + pct(result.unallocatedAt100.mean - s.mean)}\n`
}

/** The summary printed on stdout. */
export function renderSummary(r: SimResult, elapsedMs: number, paper?: PaperResults): string {
  const seeds = r.seeds.length === 1 ? `seed ${r.seeds[0]}` : `${r.seeds.length} seeds (${r.seeds[0]}..${r.seeds[r.seeds.length - 1]})`
  const submitted = r.runs.reduce((s, x) => s + x.submitted, 0) / r.runs.length
  const lines = [
    `${r.policy} on ${r.trace}: ${seeds}, ${r.cluster.nodes.toLocaleString('en')} nodes, ${r.cluster.gpus.toLocaleString('en')} GPUs, ${r.tracePods.toLocaleString('en')} trace pods inflated to ${Math.round(r.inflate * 100)}% of GPU capacity (${Math.round(submitted).toLocaleString('en')} submitted per seed)${r.slicing === 'none' ? '' : `, ${r.slicing} slicing`}`,
    `unallocated GPU at 100% arrived: ${pct(r.unallocatedAt100.mean)}% ± ${pct(r.unallocatedAt100.sd)} (median ${pct(r.unallocatedAt100.median)})`,
  ]
  const paperText = paperLine(r, paper)
  const table = formatTable(
    ['ARRIVED %', 'UNALLOCATED %', 'SD', 'FRAG %', 'FRAG RATE %', 'FAILED cpu/share/whole/multi'],
    TABLE_LEVELS.flatMap((x) => {
      const p = r.points.find((q) => q.arrivedPct === x)
      return p ? [[String(x), pct(p.unallocatedPct), pct(p.unallocatedSd), pct(p.fragPct), pct(p.fragRatePct), POD_KINDS.map((k) => Math.round(p.failedPods[k])).join('/')]] : []
    }),
  )
  const u = r.utilizationAt100
  const utilization = `utilization at 100% arrived: ${pct(u.busyGpuPct)}% of GPUs hold a pod and are ${pct(u.busyGpuUtilizationPct)}% used (fleet: ${pct(u.fleetPct)}%); without sharing the same pods would need ${pct(u.dedicatedGpuPct)}% of the GPUs, used at ${pct(u.dedicatedUtilizationPct)}%`
  const slicing = r.slicingCost
    ? `${r.slicing} slicing costs ${pct(r.slicingCost.extraUnallocatedAt100.mean)} points of unallocated GPU at 100% (± ${pct(r.slicingCost.extraUnallocatedAt100.sd)}; ideal sharing: ${pct(r.slicingCost.idealUnallocatedAt100.mean)}%); profile rounding holds ${pct(r.slicingCost.roundingPct.mean)}% of capacity beyond the requests`
    : undefined
  return [...lines, ...(paperText ? [paperText.trimEnd()] : []), '', table.trimEnd(), '', utilization, ...(slicing ? [slicing] : []), `time: ${(elapsedMs / 1000).toFixed(1)} s`, ''].join('\n')
}
