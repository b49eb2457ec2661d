// Telemetry joined to allocations: each utilization sample charged to whoever held its device at the sample's time.
//
// A sample joins the allocation intervals that cover its time on its node, in one of two ways:
//   exact  the interval names the sample's device (a whole GPU, a memory share of it, or a MIG
//          device the agent samples on its own);
//   GPU    otherwise, the sample is of a physical GPU (its `uuid`) and the interval holds a part of
//          that GPU (`gpuUuid`): a MIG device, a vGPU, a share.
// Exact matches win: a sample never mixes the two, so a holder is charged once per sample.
//
// How the sample's use (smUtil, percent of what the sample measures) is split between holders:
//   - a part of a GPU (MIG device, vGPU) sampled on its own (exact match, `partition`): it measured
//     the part, so its holder used smUtil × share of the whole GPU;
//   - processes that carry namespace/workload: by their GPU memory, holder by holder (memory of
//     processes nobody holds is nobody's: that part of smUtil is charged to no holder);
//   - else proportionally to the share each holder holds (a lone holder of a whole GPU: smUtil).
// So the holders' usedPercent never add up to more than smUtil (the property tests check it).
// An unallocated device gives one sample with share 0, no holder and usedPercent = smUtil (its
// use is nobody's, but it is kept: the cluster view counts it as used, not allocated).
import type { AllocationInterval, AttributedSample, UtilizationSample } from './types.ts'

/** Whether the interval covers time `t` ([from, to)). */
function covers(iv: AllocationInterval, t: number): boolean {
  return iv.from <= t && (iv.to === undefined || t < iv.to)
}

/** Intervals indexed by node + device and by node + physical GPU uuid. */
class IntervalIndex {
  private readonly byDevice = new Map<string, AllocationInterval[]>()
  private readonly byGpu = new Map<string, AllocationInterval[]>()

  constructor(intervals: readonly AllocationInterval[]) {
    for (const iv of intervals) {
      push(this.byDevice, `${iv.node}\u0000${iv.device}`, iv)
      if (iv.gpuUuid !== undefined) push(this.byGpu, `${iv.node}\u0000${iv.gpuUuid}`, iv)
    }
  }

  /** The holders of the sample's device at its time, and whether they matched the device exactly. */
  holders(s: UtilizationSample): { exact: boolean; holders: AllocationInterval[] } {
    const exact = (this.byDevice.get(`${s.node}\u0000${s.device}`) ?? []).filter((iv) => covers(iv, s.time))
    if (exact.length > 0 || s.uuid === undefined) return { exact: true, holders: dedupe(exact) }
    const parts = (this.byGpu.get(`${s.node}\u0000${s.uuid}`) ?? []).filter((iv) => iv.device !== s.device && covers(iv, s.time))
    return { exact: false, holders: dedupe(parts) }
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

/** One interval per holder and device: overlapping records of one holding (a reopened interval) count once. */
function dedupe(list: AllocationInterval[]): AllocationInterval[] {
  if (list.length < 2) return list
  const seen = new Set<string>()
  return list.filter((iv) => {
    const k = `${iv.device}\u0000${iv.namespace}\u0000${iv.workload}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

const holderKey = (namespace: string, workload: string) => `${namespace}\u0000${workload}`

/** Fractions of smUtil per holder (in holder order); their sum is at most 1. */
function weights(s: UtilizationSample, exact: boolean, holders: readonly AllocationInterval[]): number[] {
  if (exact && holders.some((h) => h.partition)) {
    // The partition measured itself: each holder of it used its share of the GPU (split if several).
    return holders.map((h) => Math.min(1, h.share) / holders.length)
  }
  const processes = s.processes ?? []
  if (processes.some((p) => p.namespace !== undefined && p.workload !== undefined)) {
    const total = processes.reduce((sum, p) => sum + Math.max(0, p.usedBytes), 0)
    const byHolder = new Map<string, number>()
    for (const p of processes) {
      if (p.namespace === undefined || p.workload === undefined) continue
      const k = holderKey(p.namespace, p.workload)
      byHolder.set(k, (byHolder.get(k) ?? 0) + Math.max(0, p.usedBytes))
    }
    // A holder of several devices of the GPU gets its processes' part once.
    const given = new Set<string>()
    return holders.map((h) => {
      const k = holderKey(h.namespace, h.workload)
      if (total <= 0 || given.has(k)) return 0
      given.add(k)
      return (byHolder.get(k) ?? 0) / total
    })
  }
  const shares = holders.map((h) => Math.max(0, h.share))
  const sum = shares.reduce((a, b) => a + b, 0)
  if (sum <= 0) return holders.map(() => 1 / holders.length)
  return shares.map((x) => x / sum)
}

/**
 * Charges each sample to the holders of its device at its time (see the header). Returns the
 * samples in input order; a sample with n holders becomes n attributed samples, one without
 * holders becomes one with share 0. Pure; O(samples × holders per device).
 */
export function attribute(samples: readonly UtilizationSample[], intervals: readonly AllocationInterval[]): AttributedSample[] {
  const index = new IntervalIndex(intervals)
  const out: AttributedSample[] = []
  for (const s of samples) {
    const smUtil = clampPercent(s.smUtil)
    const { exact, holders } = index.holders(s)
    if (holders.length === 0) {
      out.push({ ...s, share: 0, usedPercent: smUtil })
      continue
    }
    const w = weights(s, exact, holders)
    // One attributed sample per holder: a holder of several parts of the GPU gets their sum (the
    // store keys samples by node, device, time and holder).
    const merged = new Map<string, AttributedSample>()
    holders.forEach((h, i) => {
      const k = holderKey(h.namespace, h.workload)
      const prev = merged.get(k)
      if (prev) {
        prev.share = Math.min(1, prev.share + h.share)
        prev.usedPercent += smUtil * w[i]!
      } else merged.set(k, { ...s, gpuModel: h.gpuModel, namespace: h.namespace, workload: h.workload, share: h.share, usedPercent: smUtil * w[i]! })
    })
    out.push(...merged.values())
  }
  return out
}

/** smUtil as a percentage within [0, 100] (a NaN reading counts as 0). */
function clampPercent(x: number): number {
  return Number.isFinite(x) ? Math.min(100, Math.max(0, x)) : 0
}
