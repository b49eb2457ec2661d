// The replay of one seed: pods submitted one by one to a policy, no departures, failures dropped, metrics after every event.
//
// Speed: a policy's score of a node depends only on the node's state and the pod's shape (all but
// Random's pick, and Random's feasibility is cached the same way), and a pod event changes one
// node. So scores are cached per (node, shape) with the node's stamp and recomputed only for nodes
// that changed since the shape was last scored; the default trace has 91 shapes and the cluster
// 1,213 nodes, so most of the ~13 M node visits of a run are a typed-array read. Memory is checked
// before the cache (it is a filter no policy scores, and not part of the shape).
import { type TaskShape, typicalWorkloadMix, type TypicalMix } from '../scheduler/fragmentation.ts'
import { clusterModels, type PodShape, SimCluster, type SimNode, type Slicer } from './cluster.ts'
import { MetricsRecorder, type SeedCurves } from './metrics.ts'
import { createPolicy, type PolicyName } from './policies.ts'
import { Random } from './random.ts'
import { podKind, type PodKind, type TracePod } from './trace.ts'
import { buildWorkload, type Workload } from './workload.ts'

/** A trace ready to replay: its pods with their shapes and FGD's typical workload. */
export interface PreparedTrace {
  nodes: SimNode[]
  pods: TracePod[]
  /** Distinct scoring shapes (pods that differ only in memory share one). */
  shapes: PodShape[]
  /** Shape id of each pod. */
  podShape: Int32Array
  /** Trace pods per shape. */
  shapeCounts: { shape: PodShape; count: number }[]
  /** FGD's target workload: the trace's typical pods (artifact settings: 95% cut, CPU-only included). */
  mix: TypicalMix
}

/** Groups the trace's pods into shapes and derives FGD's typical workload from the trace as given (before inflation). */
export function prepareTrace(nodes: SimNode[], pods: TracePod[]): PreparedTrace {
  const models = clusterModels(nodes)
  const byKey = new Map<string, PodShape>()
  const counts: number[] = []
  const memory: number[] = []
  const podShape = new Int32Array(pods.length)
  const tasks: TaskShape[] = []
  pods.forEach((p, i) => {
    const task: TaskShape = { cpuMilli: p.cpuMilli, gpuCount: p.gpuCount, gpuMilliPerGpu: p.gpuMilli, ...(p.gpuSpec.length > 0 ? { gpuModels: p.gpuSpec } : {}) }
    tasks.push(task)
    const key = `${p.cpuMilli}/${p.gpuCount}/${p.gpuMilli}/${p.gpuSpec.join('|')}`
    let shape = byKey.get(key)
    if (!shape) {
      let modelMask = 0
      for (const m of p.gpuSpec) if (models.includes(m)) modelMask |= 1 << models.indexOf(m)
      shape = { id: byKey.size, cpuMilli: p.cpuMilli, gpuCount: p.gpuCount, gpuMilli: p.gpuMilli, memoryMiB: 0, kind: podKind(p), restricted: p.gpuSpec.length > 0, modelMask, task }
      byKey.set(key, shape)
      counts.push(0)
      memory.push(0)
    }
    counts[shape.id]++
    memory[shape.id] += p.memoryMiB
    podShape[i] = shape.id
  })
  const shapes = [...byKey.values()]
  for (const shape of shapes) shape.memoryMiB = memory[shape.id] / counts[shape.id]
  return { nodes, pods, shapes, podShape, shapeCounts: shapes.map((shape) => ({ shape, count: counts[shape.id] })), mix: typicalWorkloadMix(tasks) }
}

/** Options of one replay. */
export interface ReplayOptions {
  /** Target total GPU request as a share of capacity (the artifact's 1.3). */
  inflate: number
  /** Builds the GPU partitioning rules (slicing.ts) for the cluster's models and GPU count; absent for ideal sharing. */
  slicer?: (models: string[], totalGpus: number) => Slicer
  /** Called before the first pod, every `progressEvery` pods and after the last. */
  onProgress?: (p: { podsDone: number; podsTotal: number; placed: number }) => void
  progressEvery?: number
  /** Called after every pod event with the chosen node's name (undefined: the pod failed). */
  onDecision?: (event: number, node: string | undefined) => void
}

/** What one seed's replay produced. */
export interface SeedRun {
  seed: number
  curves: SeedCurves
  pods: {
    /** Trace pods. */
    trace: number
    /** Pods submitted after inflation (or trimming). */
    submitted: number
    cloned: number
    removed: number
    placed: number
    failed: Record<PodKind, number>
  }
}

/** Replays one seed of the trace with the policy. Deterministic for a given seed. */
export function replaySeed(trace: PreparedTrace, policyName: PolicyName, seed: number, options: ReplayOptions): SeedRun {
  const rng = new Random(seed)
  const capacity = trace.nodes.reduce((s, n) => s + n.gpuCount, 0) * 1000
  const workload = buildWorkload(trace.pods, trace.nodes.map((n) => n.name), capacity, options.inflate, rng)
  return replayWorkload(trace, policyName, workload, rng, seed, options)
}

/**
 * Replays a given workload (pod order and node ranks, e.g. another simulator's run rebuilt from
 * its log) with the policy; `rng` is what the policy draws from (Random-fit). `replaySeed` is this
 * with the seed's own workload.
 */
export function replayWorkload(trace: PreparedTrace, policyName: PolicyName, workload: Workload, rng: Random, seed: number, options: Omit<ReplayOptions, 'inflate'>): SeedRun {
  const { nodes, pods, shapes, podShape, mix } = trace
  const capacity = nodes.reduce((s, n) => s + n.gpuCount, 0) * 1000
  const ordered = nodes.map((node, i) => ({ node, rank: workload.nodeRank[i] })).sort((a, b) => a.rank - b.rank).map((x) => x.node)
  const cluster = new SimCluster(ordered, mix, options.slicer?.(clusterModels(ordered), capacity / 1000))
  const policy = createPolicy(policyName, { cluster, rng, mix, shapes: trace.shapeCounts })

  const N = cluster.size
  const S = shapes.length
  const cacheScore = new Float64Array(N * S)
  const cacheStamp = new Int32Array(N * S)
  const feasible = new Int32Array(N)
  // Bins up to the arrived load reached, and at least up to 101 so that the headline bin (100) exists.
  const recorder = new MetricsRecorder(Math.max(102, Math.ceil((workload.totalGpuMilli / capacity) * 100) + 2))
  const every = options.progressEvery ?? 512
  const { memFree, stamp } = cluster
  let arrived = 0
  let placed = 0
  options.onProgress?.({ podsDone: 0, podsTotal: workload.order.length, placed: 0 })
  for (let i = 0; i < workload.order.length; i++) {
    const pod = pods[workload.order[i]]
    const shape = shapes[podShape[workload.order[i]]]
    const mem = pod.memoryMiB
    let best = -Infinity
    let bestNode = -1
    let count = 0
    for (let n = 0; n < N; n++) {
      if (memFree[n] < mem) continue
      const at = n * S + shape.id
      let v: number
      if (cacheStamp[at] === stamp[n]) v = cacheScore[at]
      else {
        v = cluster.fits(n, shape, 0) ? policy.score(n, shape) : -Infinity
        cacheScore[at] = v
        cacheStamp[at] = stamp[n]
      }
      if (v === -Infinity) continue
      feasible[count++] = n
      if (v > best) {
        best = v
        bestNode = n
      }
    }
    if (policy.pick && count > 0) bestNode = feasible[policy.pick(feasible, count)]
    arrived += pod.gpuCount * pod.gpuMilli
    if (bestNode >= 0) {
      cluster.place(bestNode, shape, mem, shape.kind === 'share' ? policy.gpu(bestNode, shape) : -1)
      placed++
      options.onDecision?.(i, cluster.names[bestNode])
      recorder.record(cluster, arrived, undefined)
    } else {
      recorder.record(cluster, arrived, shape.kind)
      options.onDecision?.(i, undefined)
    }
    if (options.onProgress && ((i + 1) % every === 0 || i + 1 === workload.order.length)) options.onProgress({ podsDone: i + 1, podsTotal: workload.order.length, placed })
  }
  return {
    seed,
    curves: recorder.curves(),
    pods: { trace: pods.length, submitted: workload.order.length, cloned: workload.cloned, removed: workload.removed, placed, failed: { ...recorder.failed } },
  }
}
