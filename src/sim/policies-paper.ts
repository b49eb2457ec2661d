// The FGD paper's six placement policies on the simulator's cluster state, as its artifact implements them.
import { MILLI_PER_GPU } from '../scheduler/fragmentation.ts'
import type { PodShape, SimCluster } from './cluster.ts'
import { fgdChoice, MAX_SPEC_CPU, MAX_SPEC_GPU, type Policy, type PolicyContext, tightestGpu } from './policy.ts'

/** A policy from a score, with the artifact's tightest-GPU choice for shares. */
export function scorePolicy(name: string, c: SimCluster, score: (n: number, shape: PodShape) => number): Policy {
  return { name, score, gpu: (n, shape) => tightestGpu(c, n, shape) }
}

/**
 * 01-Random: PreScore draws one feasible node uniformly (`rand.Intn`), which scores 100 and every
 * other node 0; a share goes to a uniformly random fitting GPU (reservoir sampling in index order,
 * `allocateGpuIdBasedOnRandomFit`).
 */
export function randomPolicy(ctx: PolicyContext): Policy {
  const { cluster: c, rng } = ctx
  return {
    name: 'random',
    score: () => 0,
    pick: (_feasible, count) => rng.int(count),
    gpu(n, shape) {
      let chosen = -1
      let seen = 0
      for (let g = c.gpuStart[n]; g < c.gpuStart[n + 1]; g++) if (c.gpuFits(g, n, shape) && rng.int(++seen) === 0) chosen = g
      return chosen
    },
  }
}

/**
 * 02-DotProd (Tetris), dimension `merge`, norm `max`: node vector (free CPU, total free GPU milli)
 * and pod vector (CPU, count × milli), each divided by (128000, 8000); score
 * trunc(100·(1 − dot/2)): the smaller the dot product with what is free, the higher.
 */
export function dotProductScore(c: SimCluster, n: number, shape: PodShape): number {
  const dot = (c.cpuFree[n] / MAX_SPEC_CPU) * (shape.cpuMilli / MAX_SPEC_CPU) + (c.freeGpuMilli(n) / MAX_SPEC_GPU) * ((shape.gpuCount * c.held(n, shape)) / MAX_SPEC_GPU)
  return Math.trunc(100 * (1 - dot / 2))
}

/**
 * 03-GpuClustering: a GPU pod's tag is "share" or "k whole GPUs". A node scores
 * 25·(8000 − its free GPU milli)/8000 (integer division) plus 75 if it hosts only pods of the
 * pod's tag, 50 if that tag among others, 25 if no GPU pod, 0 if only other tags. CPU-only pods
 * score 0 everywhere (so they go to the first feasible node in tie-break order).
 */
export function clusteringScore(c: SimCluster, n: number, shape: PodShape): number {
  if (shape.gpuCount === 0) return 0
  const base = Math.trunc((25 * (MAX_SPEC_GPU - c.freeGpuMilli(n))) / MAX_SPEC_GPU)
  const tag = shape.kind === 'share' ? 0 : Math.min(shape.gpuCount, 8)
  const kinds = c.tagKinds[n]
  if (c.tags[n * 9 + tag] > 0) return base + (kinds === 1 ? 75 : 50)
  return base + (kinds === 0 ? 25 : 0)
}

/**
 * 04-GpuPacking, three tiers for a GPU pod: (1) it fits on partly used GPUs (tightest first):
 * max(100 − Σ⌊free·100/1000⌋/10, 50); (2) it needs fully free GPUs on a node already in use:
 * max(50 − GPUs of those used, 33); (3) every GPU of the node is free: max(33 − GPUs, GPUs).
 * CPU-only pods score 0 everywhere.
 */
export function packingScore(c: SimCluster, n: number, shape: PodShape): number {
  if (shape.gpuCount === 0) return 0
  const count = c.gpuCount[n]
  const fullyFree = c.fullFree[n]
  if (fullyFree === count) return Math.max(33 - fullyFree, fullyFree)
  if (shape.kind !== 'share') return Math.max(50 - shape.gpuCount, 33)
  // A share takes the tightest fitting GPU (ascending free, stable): partly used unless none fits.
  const g = tightestGpu(c, n, shape)
  const free = c.gpuFree[g]
  if (free === MILLI_PER_GPU) return Math.max(50 - 1, 33)
  return Math.max(100 - Math.trunc(Math.trunc((free * 100) / MILLI_PER_GPU) / 10), 50)
}

/**
 * 05-BestFit: trunc(100·(1 − Σ_i w_i·(free_i − req_i)/max_i)) over CPU (max 128000) and GPU milli
 * (max 8000), w = 0.5 each. The artifact then min-max normalises scores across nodes, which keeps
 * the highest the highest, so the normalisation is left out.
 */
export function bestFitScore(c: SimCluster, n: number, shape: PodShape): number {
  const cpu = ((c.cpuFree[n] - shape.cpuMilli) / MAX_SPEC_CPU) * 0.5
  const gpu = ((c.freeGpuMilli(n) - shape.gpuCount * c.held(n, shape)) / MAX_SPEC_GPU) * 0.5
  return Math.trunc((1 - (cpu + gpu)) * 100)
}

/**
 * 06-FGD: the node and GPU where the target workload's fragmentation grows least
 * (reference/fgd-trace.md §3), against the cluster's mix (SimCluster.frag holds F_n(M) for it).
 */
export function fgdPolicy(ctx: PolicyContext): Policy {
  const { cluster: c, mix } = ctx
  return {
    name: 'fgd',
    score: (n, shape) => fgdChoice(c, n, shape, mix, c.frag[n]).score,
    gpu: (n, shape) => fgdChoice(c, n, shape, mix, c.frag[n]).gpu,
  }
}
