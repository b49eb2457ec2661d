// The dashboard's allocated-vs-used series: GPUs held (from allocation intervals) and GPUs used (from usage rows) per time bucket, per GPU model or namespace. Pure.
//
// allocated(bucket) = sum over intervals of share x (time held within the bucket / step): the
//   average number of GPUs held in the bucket, whether or not an agent reported on them.
// used(bucket) = sum over usage rows of usedPercent/100 x (row time within the bucket / step):
//   the average number of GPUs' worth of SM time used; unallocated use counts under its model and
//   under "(unallocated)" by namespace.
import type { AllocationInterval, UsageRow } from '../telemetry/types.ts'

export type UtilizationBy = 'model' | 'namespace'

export const UNALLOCATED = '(unallocated)'
export const UNKNOWN_MODEL = '(unknown model)'

export interface UtilizationPoint {
  time: number
  allocated: number
  used: number
}

export interface UtilizationSeries {
  key: string
  points: UtilizationPoint[]
}

/** Adds `amount` x (the part of [start, end) in each bucket / step) to the buckets it overlaps. */
function spread(points: UtilizationPoint[], field: 'allocated' | 'used', start: number, end: number, amount: number, from: number, step: number): void {
  if (!(end > start) || amount === 0) return
  const first = Math.max(0, Math.floor((start - from) / step))
  const last = Math.min(points.length - 1, Math.floor((end - 1 - from) / step))
  for (let b = first; b <= last; b++) {
    const lo = Math.max(start, from + b * step)
    const hi = Math.min(end, from + (b + 1) * step)
    if (hi > lo) points[b][field] += (amount * (hi - lo)) / step
  }
}

export function utilizationSeries(rows: readonly UsageRow[], intervals: readonly AllocationInterval[], q: { from: number; to: number; step: number; by: UtilizationBy }): UtilizationSeries[] {
  const buckets = Math.ceil((q.to - q.from) / q.step)
  const series = new Map<string, UtilizationPoint[]>()
  const pointsOf = (key: string) => {
    let p = series.get(key)
    if (!p) {
      p = Array.from({ length: buckets }, (_, b) => ({ time: q.from + b * q.step, allocated: 0, used: 0 }))
      series.set(key, p)
    }
    return p
  }
  // The model of a device, for use nobody held (attribution names a model only with a holder).
  const modelOf = new Map<string, string>()
  for (const i of intervals) modelOf.set(`${i.node}/${i.device}`, i.gpuModel)
  for (const i of intervals) {
    const key = q.by === 'model' ? i.gpuModel : i.namespace
    spread(pointsOf(key), 'allocated', Math.max(i.from, q.from), Math.min(i.to ?? q.to, q.to), i.share, q.from, q.step)
  }
  for (const r of rows) {
    const key = q.by === 'model' ? (r.gpuModel ?? modelOf.get(`${r.node}/${r.device}`) ?? UNKNOWN_MODEL) : (r.namespace ?? UNALLOCATED)
    spread(pointsOf(key), 'used', r.start, r.end, r.usedPercent / 100, q.from, q.step)
  }
  const round = (x: number) => Math.round(x * 1e4) / 1e4
  return [...series.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, points]) => ({ key, points: points.map((p) => ({ time: p.time, allocated: round(p.allocated), used: round(p.used) })) }))
}
