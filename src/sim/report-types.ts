// What a simulation report is made from: one result per trace × policy, in the shape of `gpuplane sim --json`.
import type { Summary } from './report-stats.ts'

/** One point of a result's curves, at one integer arrived load. */
export interface ReportPoint {
  /** Arrived workload: cumulative GPU request of all pods submitted so far, % of cluster GPU capacity. */
  arrivedPct: number
  /** Allocated GPU (milli-GPU) in % of capacity, mean over seeds. */
  allocatedPct: number
  /** 100 − allocatedPct. */
  unallocatedPct: number
  /** FGD's fragmentation amount in % of all GPUs, mean over seeds. */
  fragPct: number
  /** Unallocated GPU % over seeds, when the result keeps them: Fig. 9(a)'s line and band. */
  unallocatedMedian?: number
  unallocatedP25?: number
  unallocatedP75?: number
}

/**
 * One policy run on one trace over some seeds, as `gpuplane sim --json` writes it:
 * `{"policy","trace","seeds","points":[...],"unallocatedAt100":{"mean","sd","median"}}`.
 */
export interface ReportResult {
  policy: string
  /** Trace variant (`default`, `cpu050`) or the pod list's file name. */
  trace: string
  /** How many seeds, or which. */
  seeds: number | readonly number[]
  points: readonly ReportPoint[]
  /** Unallocated GPU % at arrived load 100% over the seeds (population sd, as the paper). */
  unallocatedAt100: Summary
  /** Wall-clock time of all seeds together, when measured. */
  elapsedMs?: number
}
