// `runSim`: a trace replayed with one policy over several seeds, aggregated into the result `gpuplane sim` prints, writes as JSON and reports.
//
// Pure: the caller parses the files (`parseSimInput` takes their text) and measures time; progress
// is reported through a callback. With slicing, the same seeds also run with ideal sharing so the
// result carries what partitioning costs.
import { GpuplaneError } from '../common/errors.ts'
import { parseTraceNodes } from '../inventory/trace.ts'
import type { SimNode } from './cluster.ts'
import { prepareTrace, type PreparedTrace, replaySeed, type SeedRun } from './engine.ts'
import { aggregateCurves, type SeedCurves, seriesAt, type SimPoint } from './metrics.ts'
import { POLICY_NAMES, type PolicyName } from './policies.ts'
import { summarize, type Summary } from './report-stats.ts'
import { createSlicer, type SlicingMode, type SlicingModel } from './slicing.ts'
import { parsePodList, POD_KINDS, type PodKind, type TracePod } from './trace.ts'

/** The arrived load (% of capacity) the paper's bar charts and our headline use. */
export const HEADLINE_ARRIVED_PCT = 100

/** The FGD artifact's defaults: seeds 42..51, pods inflated to 130% of GPU capacity. */
export const DEFAULT_SEED_BASE = 42
export const DEFAULT_SEEDS = 10
export const DEFAULT_INFLATE = 1.3

/** What to replay and how. */
export interface SimOptions {
  nodes: SimNode[]
  pods: TracePod[]
  /** Name of the trace in the result (`default`, `cpu050`, or a file's base name). */
  trace: string
  policy: PolicyName
  /** Number of seeds (default 10) starting at `seedBase` (default 42). */
  seeds?: number
  seedBase?: number
  /** Target total GPU request as a share of capacity (default 1.3); 0 replays the trace as it is. */
  inflate?: number
  slicing?: SlicingMode
  /** Trace GPU codes mapped to catalog models for slicing (`G2` → `A100-80GB`). */
  gpuModels?: Record<string, string>
  onProgress?: (p: SimProgress) => void
}

/** Where a run is, for a progress bar. */
export interface SimProgress {
  trace: string
  policy: PolicyName
  seed: number
  /** 0-based index of the seed, and how many there are. */
  seedIndex: number
  seeds: number
  /** `ideal` for the ideal-sharing replays that a slicing run adds. */
  phase: 'run' | 'ideal'
  podsDone: number
  podsTotal: number
  placed: number
}

/** The GPU utilization a fleet would have at 100% arrival (means over seeds; see metrics.ts SERIES). */
export interface UtilizationView {
  /** Requested milli-GPU of placed pods / all GPUs: the fleet's utilization if pods use what they request. */
  fleetPct: number
  /** GPUs holding at least one pod, % of all GPUs. */
  busyGpuPct: number
  /** Requested milli-GPU / busy GPUs: how full the GPUs in use are. */
  busyGpuUtilizationPct: number
  /** GPUs the same placed pods would take without sharing (each pod on whole GPUs), % of all GPUs. */
  dedicatedGpuPct: number
  /** Requested milli-GPU / those GPUs: the utilization of a fleet that does not share GPUs. */
  dedicatedUtilizationPct: number
}

/** One seed's figures. */
export interface SeedSummary {
  seed: number
  /** Pods submitted after inflation (or trimming), and how many were clones or removed. */
  submitted: number
  cloned: number
  removed: number
  placed: number
  failed: Record<PodKind, number>
  unallocatedAt100: number | null
}

/** The result of `runSim`: the JSON schema (policy, trace, seeds, points, unallocatedAt100) plus detail. */
export interface SimResult {
  policy: PolicyName
  trace: string
  seeds: number[]
  points: SimPoint[]
  /** Unallocated GPU % at 100% arrived load over the seeds (population sd, as the paper). */
  unallocatedAt100: Summary
  fragAt100: Summary
  /** Pods failed by 100% arrival, by kind, over the seeds. */
  failedAt100: Record<PodKind, Summary>
  utilizationAt100: UtilizationView
  inflate: number
  slicing: SlicingMode
  cluster: { nodes: number; gpus: number; gpusByModel: Record<string, number> }
  /** Trace pods, and FGD's typical pod shapes (the target workload) derived from them. */
  tracePods: number
  typicalPods: number
  runs: SeedSummary[]
  /** With slicing: what each model partitions into, and the ideal-sharing baseline of the same seeds. */
  slicingModels?: SlicingModel[]
  slicingCost?: {
    idealUnallocatedAt100: Summary
    /** Per seed: sliced minus ideal unallocated GPU % at 100%. */
    extraUnallocatedAt100: Summary
    /** Milli-GPU held beyond what pods requested (profile rounding), % of capacity at 100%. */
    roundingPct: Summary
  }
}

/**
 * Parses the node list and pod list texts (file names for errors). `gpuModels` codes are accepted
 * as node models beside the trace's own.
 */
export function parseSimInput(input: { nodesCsv: string; podsCsv: string; nodesFile?: string; podsFile?: string; gpuModels?: Record<string, string> }): { nodes: SimNode[]; pods: TracePod[] } {
  const nodes = parseTraceNodes(input.nodesCsv, input.nodesFile, Object.keys(input.gpuModels ?? {})).map((n) => ({ name: n.name, cpuMilli: n.cpuMilli, memoryMiB: n.memoryMiB, gpuCount: n.gpuCount, model: n.model }))
  if (nodes.length === 0) throw new GpuplaneError('INVALID_INPUT', 'the node list has no nodes', { file: input.nodesFile, path: 'line 2' })
  if (!nodes.some((n) => n.gpuCount > 0)) throw new GpuplaneError('INVALID_INPUT', 'the node list has no GPU; the replay measures GPU allocation: give nodes with GPUs', { file: input.nodesFile })
  return { nodes, pods: parsePodList(input.podsCsv, input.podsFile) }
}

function check(options: SimOptions): { seeds: number[]; inflate: number; slicing: SlicingMode } {
  const count = options.seeds ?? DEFAULT_SEEDS
  const base = options.seedBase ?? DEFAULT_SEED_BASE
  const inflate = options.inflate ?? DEFAULT_INFLATE
  if (!Number.isSafeInteger(count) || count < 1) throw new GpuplaneError('INVALID_INPUT', `must be a positive integer, got ${count}`, { path: 'seeds' })
  if (!Number.isSafeInteger(base)) throw new GpuplaneError('INVALID_INPUT', `must be an integer, got ${base}`, { path: 'seedBase' })
  if (!(inflate >= 0 && inflate <= 10)) throw new GpuplaneError('INVALID_INPUT', `must be a share of GPU capacity from 0 to 10 (1.3 = 130%), got ${inflate}`, { path: 'inflate' })
  if (!POLICY_NAMES.includes(options.policy)) throw new GpuplaneError('INVALID_INPUT', `unknown policy "${options.policy}"; one of ${POLICY_NAMES.join(', ')}`, { path: 'policy' })
  return { seeds: Array.from({ length: count }, (_, i) => base + i), inflate, slicing: options.slicing ?? 'none' }
}

/** Replays the trace with the policy for every seed and aggregates. Deterministic. */
export function runSim(options: SimOptions): SimResult {
  const { seeds, inflate, slicing } = check(options)
  const trace = prepareTrace(options.nodes, options.pods)
  let described: SlicingModel[] | undefined
  const slicer =
    slicing === 'none'
      ? undefined
      : (models: string[], gpus: number) => {
          const made = createSlicer(slicing, models, gpus, options.gpuModels)
          described = made.described
          return made.slicer
        }
  const replay = (phase: SimProgress['phase'], withSlicer: typeof slicer) =>
    seeds.map((seed, seedIndex) =>
      replaySeed(trace, options.policy, seed, {
        inflate,
        ...(withSlicer ? { slicer: withSlicer } : {}),
        ...(options.onProgress ? { onProgress: (p) => options.onProgress!({ trace: options.trace, policy: options.policy, seed, seedIndex, seeds: seeds.length, phase, ...p }) } : {}),
      }),
    )
  const runs = replay('run', slicer)
  const result = summarizeRuns(options, trace, runs, { seeds, inflate, slicing })
  if (slicing === 'none') return result
  const ideal = replay('ideal', undefined).map((r) => r.curves)
  const at100 = (c: SeedCurves) => c.values.allocatedPct[HEADLINE_ARRIVED_PCT]
  const extra = runs.flatMap((r, i) => {
    const a = at100(r.curves)
    const b = at100(ideal[i])
    return a === null || b === null ? [] : [b - a]
  })
  return {
    ...result,
    ...(described ? { slicingModels: described } : {}),
    slicingCost: {
      idealUnallocatedAt100: summarize(ideal.map(at100).filter((v): v is number => v !== null).map((a) => 100 - a)),
      extraUnallocatedAt100: summarize(extra),
      roundingPct: summarize(
        runs.flatMap((r) => {
          const held = r.curves.values.heldPct[HEADLINE_ARRIVED_PCT]
          const allocated = r.curves.values.allocatedPct[HEADLINE_ARRIVED_PCT]
          return held === null || allocated === null ? [] : [held - allocated]
        }),
      ),
    },
  }
}

function summarizeRuns(options: SimOptions, trace: PreparedTrace, runs: SeedRun[], settings: { seeds: number[]; inflate: number; slicing: SlicingMode }): SimResult {
  const curves = runs.map((r) => r.curves)
  const at = HEADLINE_ARRIVED_PCT
  const mean = (s: Parameters<typeof seriesAt>[1]) => seriesAt(curves, s, at).mean
  const gpusByModel: Record<string, number> = {}
  for (const n of options.nodes) if (n.gpuCount > 0) gpusByModel[n.model] = (gpusByModel[n.model] ?? 0) + n.gpuCount
  const unallocated = curves.map((c) => c.values.allocatedPct[at]).filter((v): v is number => v !== null && v !== undefined).map((a) => 100 - a)
  return {
    policy: options.policy,
    trace: options.trace,
    seeds: settings.seeds,
    points: aggregateCurves(curves),
    unallocatedAt100: summarize(unallocated),
    fragAt100: seriesAt(curves, 'fragPct', at),
    failedAt100: Object.fromEntries(POD_KINDS.map((k) => [k, summarize(curves.filter((c) => c.values.allocatedPct[at] !== null).map((c) => c.failed[k][at]))])) as Record<PodKind, Summary>,
    utilizationAt100: {
      fleetPct: mean('allocatedPct'),
      busyGpuPct: mean('busyGpuPct'),
      busyGpuUtilizationPct: mean('busyGpuUtilizationPct'),
      dedicatedGpuPct: mean('dedicatedGpuPct'),
      dedicatedUtilizationPct: mean('dedicatedUtilizationPct'),
    },
    inflate: settings.inflate,
    slicing: settings.slicing,
    cluster: { nodes: options.nodes.length, gpus: Object.values(gpusByModel).reduce((a, b) => a + b, 0), gpusByModel },
    tracePods: options.pods.length,
    typicalPods: trace.mix.tasks.length,
    runs: runs.map((r) => {
      const a = r.curves.values.allocatedPct[at]
      return { seed: r.seed, submitted: r.pods.submitted, cloned: r.pods.cloned, removed: r.pods.removed, placed: r.pods.placed, failed: r.pods.failed, unallocatedAt100: a === null || a === undefined ? null : 100 - a }
    }),
  }
}
