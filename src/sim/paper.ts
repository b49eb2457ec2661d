// The FGD paper's own results (the authors' artifact CSVs): per trace × policy × seed curves, and the paper's numbers at 100% arrival.
//
// Input: the text of `analysis_allo_discrete.csv` and `analysis_frag_discrete.csv` from
// hkust-adsl/kubernetes-scheduler-simulator experiments/analysis/expected_results (copied to
// data/fgd-artifact-results/, whose README describes the layout). Each row is one run:
// `workload,sc_policy,tune,seed,[total_gpus,]0,1,...,130`, the cells being the value at that
// integer arrived load (% of cluster GPU capacity); a cell may be empty.
//
// Derivations, as the paper's plots make them:
// - unallocated GPU % = 100 − allocation %, per seed and arrived level;
// - a curve point is the mean over the seeds that have a value there, plus the median and the
//   25th/75th percentiles of unallocated (Fig. 9(a)'s line and band);
// - "at 100%" is column `100`: each seed's unallocated GPU % there, summarised as mean,
//   population sd and median (Fig. 11–14's bars). default/FGD gives 4.77 ± 0.10.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GpuplaneError } from '../common/errors.ts'
import { quantile, summarize, type Summary } from './report-stats.ts'

/** The artifact's policy directories and our names for the same policies. */
export const PAPER_POLICIES = {
  '01-Random': 'random',
  '02-DotProd': 'dotprod',
  '03-GpuClustering': 'clustering',
  '04-GpuPacking': 'packing',
  '05-BestFit': 'bestfit',
  '06-FGD': 'fgd',
} as const

/** Our name of a policy the paper evaluated. */
export type PaperPolicy = (typeof PAPER_POLICIES)[keyof typeof PAPER_POLICIES]

/** The highest arrived load the artifact records: pods are sampled up to 130% of capacity. */
export const MAX_ARRIVED_PCT = 130

/** One point of a paper curve: means over seeds, plus unallocated's median and quartiles. */
export interface PaperPoint {
  arrivedPct: number
  allocatedPct: number
  unallocatedPct: number
  fragPct: number
  unallocatedMedian: number
  unallocatedP25: number
  unallocatedP75: number
}

/** The paper's result for one trace and policy, shaped like one of our simulation results. */
export interface PaperCurve {
  /** Trace variant: `default`, `cpu050`, ... (the workload name without `openb_pod_list_`). */
  trace: string
  policy: PaperPolicy
  /** Seeds of the runs, ascending (42..51 in the artifact). */
  seeds: number[]
  /** One point per arrived level where at least one seed has a value, ascending. */
  points: PaperPoint[]
  /** Unallocated GPU % at arrived load 100% over the seeds. */
  unallocatedAt100: Summary
}

/** Everything parsed from the artifact files. */
export interface PaperResults {
  /** Trace variants present, in first-seen order. */
  traces: string[]
  curves: PaperCurve[]
}

/** One row of an artifact CSV: one run's values by arrived level (index = arrived %). */
interface ArtifactRun {
  trace: string
  policy: PaperPolicy
  seed: number
  values: (number | null)[]
}

/**
 * The trace variant a pod list names: `openb_pod_list_cpu050` and `data/x/openb_pod_list_cpu050.csv`
 * are `cpu050`; a name without that prefix is returned without folder and `.csv`.
 */
export function traceVariant(nameOrPath: string): string {
  const base = nameOrPath.split(/[\\/]/).pop() ?? nameOrPath
  return base.replace(/\.csv$/i, '').replace(/^openb_pod_list_/, '')
}

/** Parses the artifact's allocation and fragmentation CSVs; file names are used in errors. */
export function parsePaperResults(input: { allocationCsv: string; fragmentationCsv: string; allocationFile?: string; fragmentationFile?: string }): PaperResults {
  const allocation = parseArtifactCsv(input.allocationCsv, input.allocationFile ?? 'allocation CSV')
  const fragmentation = new Map(parseArtifactCsv(input.fragmentationCsv, input.fragmentationFile ?? 'fragmentation CSV').map((r) => [runKey(r), r]))
  const groups = new Map<string, ArtifactRun[]>()
  for (const run of allocation) {
    const key = `${run.trace}/${run.policy}`
    const group = groups.get(key) ?? []
    group.push(run)
    groups.set(key, group)
  }
  const curves = [...groups.values()].map((runs) => paperCurve(runs, runs.map((r) => fragmentation.get(runKey(r)))))
  return { traces: [...new Set(curves.map((c) => c.trace))], curves }
}

/** The paper's curve for `trace` (a variant name or pod-list path) and `policy`, if the artifact ran it. */
export function findPaperCurve(results: PaperResults, trace: string, policy: string): PaperCurve | undefined {
  const variant = traceVariant(trace)
  return results.curves.find((c) => c.trace === variant && c.policy === policy)
}

function runKey(r: ArtifactRun): string {
  return `${r.trace}/${r.policy}/${r.seed}`
}

function paperCurve(allocation: ArtifactRun[], fragmentation: (ArtifactRun | undefined)[]): PaperCurve {
  const { trace, policy } = allocation[0]
  const points: PaperPoint[] = []
  for (let x = 0; x <= MAX_ARRIVED_PCT; x++) {
    const allocated = present(allocation.map((r) => r.values[x]))
    if (allocated.length === 0) continue
    const unallocated = allocated.map((a) => 100 - a)
    const frag = present(fragmentation.map((r) => r?.values[x]))
    points.push({
      arrivedPct: x,
      allocatedPct: summarize(allocated).mean,
      unallocatedPct: summarize(unallocated).mean,
      fragPct: summarize(frag).mean,
      unallocatedMedian: quantile(unallocated, 0.5),
      unallocatedP25: quantile(unallocated, 0.25),
      unallocatedP75: quantile(unallocated, 0.75),
    })
  }
  const at100 = present(allocation.map((r) => r.values[100])).map((a) => 100 - a)
  return { trace, policy, seeds: allocation.map((r) => r.seed).sort((a, b) => a - b), points, unallocatedAt100: summarize(at100) }
}

function present(values: (number | null | undefined)[]): number[] {
  return values.filter((v): v is number => typeof v === 'number')
}

function parseArtifactCsv(text: string, file: string): ArtifactRun[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '')
  if (lines.length === 0) throw invalid(file, 1, 'the file is empty; expected the header workload,sc_policy,tune,seed,...,0,1,...,130')
  const header = lines[0].split(',')
  const column = (name: string): number => {
    const i = header.indexOf(name)
    if (i < 0) throw invalid(file, 1, `the header has no column "${name}"; is this an analysis_*_discrete.csv of the FGD artifact?`)
    return i
  }
  const workloadCol = column('workload')
  const policyCol = column('sc_policy')
  const seedCol = column('seed')
  const levelCols = Array.from({ length: MAX_ARRIVED_PCT + 1 }, (_, x) => column(String(x)))
  return lines.slice(1).map((line, i) => {
    const lineNo = i + 2
    const cells = line.split(',')
    if (cells.length !== header.length) throw invalid(file, lineNo, `${cells.length} cells, the header has ${header.length}`)
    const policy = PAPER_POLICIES[cells[policyCol] as keyof typeof PAPER_POLICIES]
    if (policy === undefined) throw invalid(file, lineNo, `unknown sc_policy "${cells[policyCol]}"; expected one of ${Object.keys(PAPER_POLICIES).join(', ')}`)
    const seed = Number(cells[seedCol])
    if (!Number.isInteger(seed)) throw invalid(file, lineNo, `seed "${cells[seedCol]}" is not an integer`)
    const values = levelCols.map((c, x) => {
      const cell = cells[c]
      if (cell === '') return null
      const v = Number(cell)
      if (!Number.isFinite(v)) throw invalid(file, lineNo, `column ${x}: "${cell}" is not a number`)
      return v
    })
    return { trace: traceVariant(cells[workloadCol]), policy, seed, values }
  })
}

function invalid(file: string, line: number, message: string): GpuplaneError {
  return new GpuplaneError('INVALID_INPUT', message, { file, path: `line ${line}` })
}

/** The paper's artifact results shipped with gpuplane (see its README). */
export const PAPER_DATA_DIR = fileURLToPath(new URL('../../data/fgd-artifact-results/', import.meta.url))

/**
 * Reads the shipped artifact results (or those in `dir`) with `readText` (the caller's file
 * reader: this layer does no I/O of its own).
 */
export async function readPaperResults(readText: (file: string) => Promise<string>, dir = PAPER_DATA_DIR): Promise<PaperResults> {
  const read = async (name: string) => {
    const file = join(dir, name)
    try {
      return { file, text: await readText(file) }
    } catch (e) {
      throw new GpuplaneError('INVALID_INPUT', `cannot read the paper's artifact results: ${(e as Error).message}; they ship in data/fgd-artifact-results/`, { file }, { cause: e })
    }
  }
  const allocation = await read('analysis_allo_discrete.csv')
  const fragmentation = await read('analysis_frag_discrete.csv')
  return parsePaperResults({ allocationCsv: allocation.text, allocationFile: allocation.file, fragmentationCsv: fragmentation.text, fragmentationFile: fragmentation.file })
}
