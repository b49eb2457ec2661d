// Usage rows summed into what chargeback needs (per holder, per GPU model and row span, devices per model), and the pieces a store needs to sum them in SQL with the same result.
//
// The one subtle part is the holder's time in a row (holderTime): a minute or hour row of a holder
// counts only the time the holder held the row's device within it — a holding that began 40 s into
// a minute gets 20 s at the row's average. A store adds up rows in SQL without that clipping
// (Σ usedPercent × (end − start), cheap: no join per row) and corrects only the rows where the
// clipping can change anything: dirtyWindows() names them from the per-device extent of the rows
// and the intervals (a row wholly inside one holding of its holder needs no clipping), and
// addCorrection() adds the difference for each. So the totals are those of usageTotalsOf() over
// every row, up to floating-point rounding, while SQL returns ~1,000 groups instead of 720,000 rows.
import type { AllocationInterval, HolderUsage, UsageRow, UsageSpan, UsageTotals } from './types.ts'

type Holder = Pick<UsageRow, 'node' | 'device' | 'namespace' | 'workload'>

/** The map under `key` in `outer`, made when missing. */
function inner<K, K2, V>(outer: Map<K, Map<K2, V>>, key: K): Map<K2, V> {
  let m = outer.get(key)
  if (!m) outer.set(key, (m = new Map()))
  return m
}

function overlap(a: number, b: number, from: number, to: number): number {
  return Math.max(0, Math.min(b, to) - Math.max(a, from))
}

/** A holder's intervals on a node, by node, namespace, workload. */
function intervalsByHolder(intervals: readonly AllocationInterval[]): Map<string, Map<string, Map<string, AllocationInterval[]>>> {
  const byHolder = new Map<string, Map<string, Map<string, AllocationInterval[]>>>()
  for (const iv of intervals) {
    const byWorkload = inner(inner(byHolder, iv.node), iv.namespace)
    const list = byWorkload.get(iv.workload)
    if (list) list.push(iv)
    else byWorkload.set(iv.workload, [iv])
  }
  return byHolder
}

/**
 * Milliseconds of [a, b) the row's holder held the row's device: the overlap with its intervals on
 * that device; for a sample of a physical GPU whose holder holds parts of it (MIG, vGPU), the
 * longest overlap with its intervals on the node; the whole span where no interval is known.
 */
export function holderTime(intervals: readonly AllocationInterval[]): (r: Holder, a: number, b: number) => number {
  const byHolder = intervalsByHolder(intervals)
  return (r, a, b) => {
    const mine = byHolder.get(r.node)?.get(r.namespace!)?.get(r.workload!)
    if (!mine) return b - a
    let onDevice = 0
    let matched = false
    let longest = 0
    for (const iv of mine) {
      const o = overlap(iv.from, iv.to ?? Infinity, a, b)
      if (iv.device === r.device) {
        matched = true
        onDevice += o
      } else longest = Math.max(longest, o)
    }
    return Math.min(b - a, matched ? onDevice : longest)
  }
}

/** Adds up holders, spans and devices (nested maps: no string per row, so a month of rows makes no garbage per row). */
export class UsageTotalsBuilder {
  private readonly holders = new Map<string, Map<string, HolderUsage>>()
  private readonly spans = new Map<string, Map<number, Map<number, UsageSpan>>>()
  private readonly devices = new Map<string, Map<string, Set<string>>>()

  constructor(
    readonly from: number,
    readonly to: number,
  ) {}

  /** `namespace`/`workload` '' or absent: unallocated. */
  addHolder(namespace: string | undefined, workload: string | undefined, usedGpuMs: number, samples: number): void {
    const byWorkload = inner(this.holders, namespace ?? '')
    const h = byWorkload.get(workload ?? '')
    if (h) {
      h.usedGpuMs += usedGpuMs
      h.samples += samples
      return
    }
    byWorkload.set(workload ?? '', { ...(namespace ? { namespace } : {}), ...(workload ? { workload } : {}), usedGpuMs, samples })
  }

  addSpan(gpuModel: string, start: number, end: number, usedGpuMs: number): void {
    const byEnd = inner(inner(this.spans, gpuModel), start)
    const s = byEnd.get(end)
    if (s) s.usedGpuMs += usedGpuMs
    else byEnd.set(end, { gpuModel, start, end, usedGpuMs })
  }

  addDevice(gpuModel: string, node: string, device: string): void {
    const byNode = inner(this.devices, gpuModel)
    const set = byNode.get(node)
    if (set) set.add(device)
    else byNode.set(node, new Set([device]))
  }

  /**
   * Corrects a row summed unclipped (usedPercent × (b − a)) to the holder's time in it: adds
   * usedPercent × (holderTime − (b − a)) to its holder and span. `a`, `b`: the row clipped to the range.
   */
  addCorrection(r: Holder & { gpuModel?: string; usedPercent: number }, a: number, b: number, held: ReturnType<typeof holderTime>): void {
    const delta = ((held(r, a, b) - (b - a)) * r.usedPercent) / 100
    if (delta === 0) return
    this.addHolder(r.namespace, r.workload, delta, 0)
    if (r.gpuModel !== undefined) this.addSpan(r.gpuModel, a, b, delta)
  }

  build(): UsageTotals {
    const holders: HolderUsage[] = []
    for (const ns of [...this.holders.keys()].sort(cmp)) for (const [, h] of [...this.holders.get(ns)!].sort((x, y) => cmp(x[0], y[0]))) holders.push(h)
    const spans: UsageSpan[] = []
    for (const model of [...this.spans.keys()].sort(cmp))
      for (const [, byEnd] of [...this.spans.get(model)!].sort((x, y) => x[0] - y[0])) for (const end of [...byEnd.keys()].sort((x, y) => x - y)) spans.push(byEnd.get(end)!)
    const devices: Record<string, number> = {}
    for (const model of [...this.devices.keys()].sort(cmp)) {
      let n = 0
      for (const set of this.devices.get(model)!.values()) n += set.size
      devices[model] = n
    }
    return { from: this.from, to: this.to, holders, spans, devices }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The totals of detailed usage rows over [from, to) (rows clipped to it; each holder row counted for the time its holder held the device). The reference a store's SQL must match. */
export function usageTotalsOf(rows: readonly UsageRow[], intervals: readonly AllocationInterval[], from: number, to: number): UsageTotals {
  const held = holderTime(intervals)
  const t = new UsageTotalsBuilder(from, to)
  for (const r of rows) {
    const a = Math.max(r.start, from)
    const b = Math.min(r.end, to)
    if (b <= a) continue
    const ms = r.namespace !== undefined && r.workload !== undefined ? held(r, a, b) : b - a
    const used = (ms * r.usedPercent) / 100
    if (r.gpuModel !== undefined) {
      t.addSpan(r.gpuModel, a, b, used)
      t.addDevice(r.gpuModel, r.node, r.device)
    }
    t.addHolder(r.namespace, r.workload, used, r.samples)
  }
  return t.build()
}

/** The rows of one device and holder as SQL grouped them: the extent of their starts and ends. */
export interface DeviceHolderExtent {
  node: string
  device: string
  /** '' when unallocated. */
  namespace: string
  workload: string
  minStart: number
  maxEnd: number
  /** Length of these rows (a minute or an hour): a row starting at s ends by s + rowMs. */
  rowMs: number
}

/** Row starts [lo, hi) of one device and holder whose rows may need clipping. */
export interface DirtyWindow {
  node: string
  device: string
  namespace: string
  workload: string
  lo: number
  hi: number
  /** The extent's rowMs. */
  rowMs: number
}

/**
 * Where holderTime can differ from the row's whole span, as windows of row starts per device and
 * holder. A row is clean when one interval that holderTime weighs for it (the holder's intervals on
 * the row's device if it has any, else all its intervals on the node) covers the row: then the
 * holder held the device all of [a, b) and holderTime = b − a. So a device-holder whose whole
 * extent one such interval covers has no window; otherwise its windows are the starts outside
 * every [iv.from, iv.to − rowMs] (a row starting there ends inside the interval). A window
 * may hold clean rows too (their correction is 0); it never misses a dirty one.
 */
export function dirtyWindows(extents: readonly DeviceHolderExtent[], intervals: readonly AllocationInterval[], from: number, to: number): DirtyWindow[] {
  const byHolder = intervalsByHolder(intervals)
  const out: DirtyWindow[] = []
  for (const e of extents) {
    if (e.namespace === '' || e.workload === '') continue
    const mine = byHolder.get(e.node)?.get(e.namespace)?.get(e.workload)
    if (!mine) continue
    const onDevice = mine.filter((iv) => iv.device === e.device)
    const relevant = onDevice.length > 0 ? onDevice : mine
    const a = Math.max(e.minStart, from)
    const b = Math.min(e.maxEnd, to)
    if (relevant.some((iv) => iv.from <= a && (iv.to ?? Infinity) >= b)) continue
    // Clean starts per interval, as half-open [f, t − rowMs + 1), merged; the windows are the gaps within the extent.
    const clean = relevant
      .map((iv) => [iv.from, (iv.to ?? Infinity) - e.rowMs + 1] as const)
      .filter(([f, t]) => t > f)
      .sort((x, y) => x[0] - y[0])
    let at = e.minStart
    const end = e.maxEnd
    for (const [f, t] of clean) {
      if (at >= end) break
      if (f > at) out.push({ node: e.node, device: e.device, namespace: e.namespace, workload: e.workload, lo: at, hi: Math.min(f, end), rowMs: e.rowMs })
      at = Math.max(at, t)
    }
    if (at < end) out.push({ node: e.node, device: e.device, namespace: e.namespace, workload: e.workload, lo: at, hi: end, rowMs: e.rowMs })
  }
  return out
}
