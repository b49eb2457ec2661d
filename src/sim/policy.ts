// The interface every simulator placement policy implements, and the GPU choices policies share.
import { fgdScore, type WorkloadMix } from '../scheduler/fragmentation.ts'
import type { PodShape, SimCluster } from './cluster.ts'
import type { Random } from './random.ts'

/**
 * A placement policy over a SimCluster. The engine calls `score` on every node that passes the
 * hard filter (SimCluster.fits) and takes the highest score, ties to the lowest node index; then
 * `gpu` on the chosen node for a GPU-sharing pod. Whole-GPU pods always take the first fully free
 * GPUs by index (fully free GPUs are interchangeable in the trace: no topology).
 */
export interface Policy {
  readonly name: string
  /**
   * The node's score for the shape. It must depend only on the node's state and the shape: the
   * engine caches it per node and shape until the node changes.
   */
  score(n: number, shape: PodShape): number
  /** The GPU (global index into SimCluster.gpuFree) a share takes on node n. */
  gpu(n: number, shape: PodShape): number
  /** When present, the policy picks among the feasible nodes itself (instead of scores). */
  pick?(feasible: Int32Array, count: number): number
}

/** What a policy is built from: the cluster it places on, the run's random stream, FGD's target workload. */
export interface PolicyContext {
  cluster: SimCluster
  rng: Random
  /** FGD's typical workload of the trace (the artifact's 95% cut, CPU-only pods included). */
  mix: WorkloadMix
  /** The trace's pod shapes with their counts (gpuplane derives its CPU, memory and model-pressure figures from them). */
  shapes: readonly { shape: PodShape; count: number }[]
}

/** Normalisation of the artifact's vector scores (`MaxSpecCpu`, `MaxSpecGpu`). */
export const MAX_SPEC_CPU = 128000
export const MAX_SPEC_GPU = 8000

/**
 * The artifact's "best" GPU selection (`allocateGpuIdBasedOnBestFit`): the fitting GPU with the
 * least free milli, the lowest index among equals. -1 if none fits.
 */
export function tightestGpu(c: SimCluster, n: number, shape: PodShape): number {
  let best = -1
  for (let g = c.gpuStart[n]; g < c.gpuStart[n + 1]; g++) {
    if (c.gpuFits(g, n, shape) && (best < 0 || c.gpuFree[g] < c.gpuFree[best])) best = g
  }
  return best
}

/**
 * FGD's evaluation of a node: the best `fgdScore` over the placements FGD tries (each fitting GPU
 * for a share, by index, first of equals kept; the first fully free GPUs for whole-GPU pods; CPU
 * only for CPU-only pods), and the GPU of that placement. Gradients are exact
 * (F·scale integers of `nodeFragmentationScaled`); GPUs with equal free milli give equal
 * placements, so each free value is evaluated once (without slicing, where that holds).
 * `before` is the node's F_n(M)·scale now; a policy may shift it to add a cost in milli-GPU·scale
 * that does not depend on the GPU.
 */
export function fgdChoice(c: SimCluster, n: number, shape: PodShape, mix: WorkloadMix, before: number): { score: number; gpu: number } {
  if (shape.kind !== 'share') return { score: fgdScore((c.fragAfter(n, shape, -1, mix) - before) / mix.scale), gpu: -1 }
  let best = -1
  let bestGpu = -1
  for (let g = c.gpuStart[n]; g < c.gpuStart[n + 1]; g++) {
    if (!c.gpuFits(g, n, shape)) continue
    const free = c.gpuFree[g]
    if (!c.slicer && seenFree(c, n, g, free, shape)) continue
    const score = fgdScore((c.fragAfter(n, shape, g, mix) - before) / mix.scale)
    if (score > best) {
      best = score
      bestGpu = g
    }
  }
  return { score: best, gpu: bestGpu }
}

/** Whether a fitting GPU before g on node n has the same free milli (then g scores the same). */
function seenFree(c: SimCluster, n: number, g: number, free: number, shape: PodShape): boolean {
  for (let h = c.gpuStart[n]; h < g; h++) if (c.gpuFree[h] === free && c.gpuFits(h, n, shape)) return true
  return false
}

