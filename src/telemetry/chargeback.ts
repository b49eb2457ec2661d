// Chargeback and efficiency: GPU-hours allocated and used per namespace and workload, idle GPU-hours reclaimed, gateway tokens and cost, and the cluster's allocated and utilized percent over time per GPU model.
//
// Definitions (all over the report's range [from, to), everything clipped to it):
//   allocated GPU-hours  Σ over allocation intervals of duration × share (a 3/7 MIG device held
//                        an hour: 3/7); an interval still open ends at `to`;
//   used GPU-hours       Σ over usage rows of duration × usedPercent / 100 (utilization-weighted:
//                        a whole GPU at 50% for an hour is 0.5);
//   efficiency           used / allocated (null when nothing was allocated); above 1 where a holder
//                        used more than its share of a time-sliced GPU;
//   reclaimed GPU-hours  for each idle reclaim, the share the workload held times the time from
//                        the reclaim until the workload held a device again (or `to`): the
//                        capacity given back to others;
//   GPU cost             allocated GPU-hours × the model's price per GPU-hour (what was held is
//                        what is paid for, used or not);
//   tokens, token cost   the gateway ledger's entries of the namespace (promptTokens,
//                        completionTokens, costMicro) — per namespace only: the ledger names agents,
//                        not workloads.
// The cluster view buckets the same intervals and usage rows by `stepMs` per GPU model: allocated %
// = held GPU-time / capacity GPU-time, utilized % = used GPU-time / capacity GPU-time, where the
// capacity is the number of GPUs of the model (given, else the distinct devices seen).
//
// Usage comes either as detailed rows (reduced here by usageTotalsOf, src/telemetry/usage-totals.ts)
// or already summed by the store (TelemetryStore.usageTotals: per holder, per model and row span):
// the report is computed from those totals either way, so both inputs give the same report. From
// the store's totals a month for 1,000 GPUs costs the SQL and a few thousand entries here, where the
// 720,000 hourly rows took ~17 s to read and charge (bench/telemetry.ts measures both).
import { parse } from 'yaml'
import { GpuplaneError } from '../common/errors.ts'
import type { AllocationInterval, UsageRow, UsageTotals } from './types.ts'
import { usageTotalsOf } from './usage-totals.ts'

const HOUR_MS = 3_600_000

/** Prices of GPU-hours per model (examples/gpu-prices.yaml). */
export interface GpuPrices {
  currency: string
  /** Price of one whole-GPU hour by catalog model key. */
  perGpuHour: Record<string, number>
  /** Price of a model not listed (absent: 0, and the model is reported unpriced). */
  default?: number
}

/** A gateway ledger entry as chargeback reads it (the store's LedgerEntry has these fields). */
export interface TokenUsage {
  time: number
  namespace: string
  promptTokens: number
  completionTokens: number
  costMicro: number
  requests?: number
}

/** An idle workload reclaimed (preempted) by the idle controller. */
export interface ReclaimRecord {
  time: number
  namespace: string
  workload: string
  /** Σ share of the GPUs it held when reclaimed. */
  gpus: number
  gpuModel?: string
}

export interface ChargebackInput {
  from: number
  to: number
  /** Detailed usage rows (e.g. TelemetryStore.usage), or: */
  usage?: readonly UsageRow[]
  /** the same rows summed (TelemetryStore.usageTotals over the same from and to). */
  usageTotals?: UsageTotals
  intervals: readonly AllocationInterval[]
  tokens?: readonly TokenUsage[]
  reclaims?: readonly ReclaimRecord[]
  prices?: GpuPrices
  /** Only this namespace's rows (the cluster view still covers what the inputs hold). */
  namespace?: string
  /** Bucket of the cluster view (default one hour; at most MAX_BUCKETS buckets). */
  stepMs?: number
  /** GPUs per model, for the cluster view's capacity (default: distinct devices seen per model). */
  capacity?: Record<string, number>
}

/** One namespace (workload absent) or workload line of the report. */
export interface ChargebackRow {
  namespace: string
  workload?: string
  /** The GPU models held, sorted. */
  gpuModels: string[]
  allocatedGpuHours: number
  usedGpuHours: number
  efficiency: number | null
  reclaimedGpuHours: number
  reclaims: number
  promptTokens: number
  completionTokens: number
  requests: number
  tokenCost: number
  gpuCost: number
  totalCost: number
}

export interface ClusterPoint {
  time: number
  allocatedPercent: number
  utilizedPercent: number
}

export interface ChargebackReport {
  from: number
  to: number
  currency: string
  namespaces: ChargebackRow[]
  workloads: ChargebackRow[]
  totals: Omit<ChargebackRow, 'namespace' | 'workload'>
  cluster: { stepMs: number; models: Array<{ gpuModel: string; gpus: number; points: ClusterPoint[] }> }
  /** Models held without a price (charged 0). */
  unpricedModels: string[]
}

/** Most buckets of the cluster view: the step grows to stay under it. */
export const MAX_BUCKETS = 2000

function emptyRow(namespace: string, workload?: string): ChargebackRow {
  return { namespace, ...(workload !== undefined ? { workload } : {}), gpuModels: [], allocatedGpuHours: 0, usedGpuHours: 0, efficiency: null, reclaimedGpuHours: 0, reclaims: 0, promptTokens: 0, completionTokens: 0, requests: 0, tokenCost: 0, gpuCost: 0, totalCost: 0 }
}

/** Milliseconds of [a, b) within [from, to). */
function overlap(a: number, b: number, from: number, to: number): number {
  return Math.max(0, Math.min(b, to) - Math.max(a, from))
}

/** Adds `amount` spread over [a, b) to the buckets it overlaps. */
function spread(buckets: Float64Array, from: number, step: number, a: number, b: number, amount: number): void {
  if (b <= a) return
  const first = Math.max(0, Math.floor((a - from) / step))
  const last = Math.min(buckets.length - 1, Math.floor((b - 1 - from) / step))
  const rate = amount / (b - a)
  for (let i = first; i <= last; i++) buckets[i] += rate * overlap(a, b, from + i * step, from + (i + 1) * step)
}

interface Acc {
  row: ChargebackRow
  models: Set<string>
  /** Allocated GPU-hours per model, for the GPU cost. */
  byModel: Map<string, number>
}

/**
 * The chargeback report (see the header). Rows are sorted by namespace, then workload; numbers
 * are not rounded (the CLI rounds for display).
 */
export function chargeback(input: ChargebackInput): ChargebackReport {
  const { from, to } = input
  if (!(to > from)) throw new GpuplaneError('INVALID_INPUT', `the report's range is empty: from ${new Date(from).toISOString()} is not before to ${new Date(to).toISOString()}`)
  const wanted = (ns: string | undefined) => ns !== undefined && (input.namespace === undefined || ns === input.namespace)
  // Nested maps, not joined string keys: a month of rows makes no garbage per row.
  const namespaces = new Map<string, Acc>()
  const workloads = new Map<string, Map<string, Acc>>()
  const acc = (ns: string, wl?: string): Acc => {
    const map = wl === undefined ? namespaces : inner(workloads, ns)
    const key = wl ?? ns
    let a = map.get(key)
    if (!a) map.set(key, (a = { row: emptyRow(ns, wl), models: new Set(), byModel: new Map() }))
    return a
  }
  let step = Math.max(60_000, input.stepMs ?? HOUR_MS)
  while ((to - from) / step > MAX_BUCKETS) step *= 2
  const nBuckets = Math.ceil((to - from) / step)
  const allocatedByModel = new Map<string, Float64Array>()
  const usedByModel = new Map<string, Float64Array>()
  // GPUs per model seen: the devices agents sample (physical GPUs: totals.devices), else the GPUs intervals name.
  const heldDevices = new Map<string, Map<string, Set<string>>>()
  const bucketsOf = (map: Map<string, Float64Array>, model: string) => {
    let b = map.get(model)
    if (!b) map.set(model, (b = new Float64Array(nBuckets)))
    return b
  }
  const seeDevice = (map: Map<string, Map<string, Set<string>>>, model: string, node: string, device: string) => {
    const byNode = inner(map, model)
    let s = byNode.get(node)
    if (!s) byNode.set(node, (s = new Set()))
    s.add(device)
  }
  const deviceCount = (map: Map<string, Map<string, Set<string>>>, model: string) => {
    const byNode = map.get(model)
    if (!byNode) return undefined
    let n = 0
    for (const s of byNode.values()) n += s.size
    return n
  }

  // Allocation intervals: allocated GPU-hours, and the held intervals per workload (for reclaims).
  const heldFrom = new Map<string, number[]>()
  for (const iv of input.intervals) {
    const end = iv.to ?? to
    const ms = overlap(iv.from, end, from, to)
    const key = `${iv.namespace}\u0000${iv.workload}`
    let starts = heldFrom.get(key)
    if (!starts) heldFrom.set(key, (starts = []))
    starts.push(iv.from)
    if (ms <= 0) continue
    const gpuHours = (ms / HOUR_MS) * iv.share
    spread(bucketsOf(allocatedByModel, iv.gpuModel), from, step, Math.max(iv.from, from), Math.min(end, to), gpuHours)
    seeDevice(heldDevices, iv.gpuModel, iv.node, iv.gpuUuid ?? iv.device)
    if (!wanted(iv.namespace)) continue
    for (const a of [acc(iv.namespace), acc(iv.namespace, iv.workload)]) {
      a.row.allocatedGpuHours += gpuHours
      a.models.add(iv.gpuModel)
      a.byModel.set(iv.gpuModel, (a.byModel.get(iv.gpuModel) ?? 0) + gpuHours)
    }
  }

  // Usage: used GPU-hours (held use to its holder; all use to the cluster view). A holder's row
  // counts only the time the holder held the device within it (a minute row of a holding that
  // began at its 40th second counts 20 s at the row's average): usageTotalsOf and the stores'
  // usageTotals both do that clipping.
  const totals = usageTotalsOfInput(input)
  for (const s of totals.spans) spread(bucketsOf(usedByModel, s.gpuModel), from, step, s.start, s.end, s.usedGpuMs / HOUR_MS)
  for (const h of totals.holders) {
    if (!wanted(h.namespace) || h.workload === undefined) continue
    const used = h.usedGpuMs / HOUR_MS
    acc(h.namespace!).row.usedGpuHours += used
    acc(h.namespace!, h.workload).row.usedGpuHours += used
  }

  // Reclaims: capacity given back until the workload held a device again.
  for (const rc of input.reclaims ?? []) {
    if (!wanted(rc.namespace) || rc.time >= to) continue
    const again = (heldFrom.get(`${rc.namespace}\u0000${rc.workload}`) ?? []).filter((t) => t > rc.time)
    const until = again.length > 0 ? Math.min(...again) : to
    const gpuHours = (overlap(rc.time, until, from, to) / HOUR_MS) * rc.gpus
    for (const a of [acc(rc.namespace), acc(rc.namespace, rc.workload)]) {
      a.row.reclaimedGpuHours += gpuHours
      if (rc.time >= from) a.row.reclaims++
    }
  }

  // Gateway tokens, per namespace.
  for (const t of input.tokens ?? []) {
    if (!wanted(t.namespace) || t.time < from || t.time >= to) continue
    const row = acc(t.namespace).row
    row.promptTokens += t.promptTokens
    row.completionTokens += t.completionTokens
    row.requests += t.requests ?? 1
    row.tokenCost += t.costMicro / 1e6
  }

  const unpriced = new Set<string>()
  const finish = (a: Acc): ChargebackRow => {
    const row = a.row
    row.gpuModels = [...a.models].sort()
    for (const [model, hours] of a.byModel) {
      const price = input.prices?.perGpuHour[model] ?? input.prices?.default
      if (price === undefined) unpriced.add(model)
      row.gpuCost += hours * (price ?? 0)
    }
    row.efficiency = row.allocatedGpuHours > 0 ? row.usedGpuHours / row.allocatedGpuHours : null
    row.totalCost = row.gpuCost + row.tokenCost
    return row
  }
  const byName = (a: ChargebackRow, b: ChargebackRow) => cmp(a.namespace, b.namespace) || cmp(a.workload ?? '', b.workload ?? '')
  const nsRows = [...namespaces.values()].map(finish).sort(byName)
  const wlRows = [...workloads.values()].flatMap((m) => [...m.values()]).map(finish).sort(byName)
  return {
    from,
    to,
    currency: input.prices?.currency ?? 'USD',
    namespaces: nsRows,
    workloads: wlRows,
    totals: totalsOf(nsRows),
    cluster: clusterView(from, to, step, nBuckets, allocatedByModel, usedByModel, (model) => input.capacity?.[model] ?? totals.devices[model] ?? deviceCount(heldDevices, model) ?? 0, input.capacity),
    unpricedModels: [...unpriced].sort(),
  }
}

/** The usage totals of the input: given, or summed from its rows. */
function usageTotalsOfInput(input: ChargebackInput): UsageTotals {
  const given = input.usageTotals
  if (given === undefined) return usageTotalsOf(input.usage ?? [], input.intervals, input.from, input.to)
  if (input.usage !== undefined) throw new GpuplaneError('INVALID_INPUT', 'give chargeback() usage rows or usage totals, not both')
  if (given.from !== input.from || given.to !== input.to) {
    throw new GpuplaneError('INVALID_INPUT', `the usage totals cover ${new Date(given.from).toISOString()}..${new Date(given.to).toISOString()}, not the report's range: sum them over the report's from and to`)
  }
  return given
}

/** The map under `key` in `outer`, made when missing. */
function inner<K, K2, V>(outer: Map<K, Map<K2, V>>, key: K): Map<K2, V> {
  let m = outer.get(key)
  if (!m) outer.set(key, (m = new Map()))
  return m
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function totalsOf(rows: readonly ChargebackRow[]): ChargebackReport['totals'] {
  const t = emptyRow('')
  const models = new Set<string>()
  for (const r of rows) {
    r.gpuModels.forEach((m) => models.add(m))
    for (const k of ['allocatedGpuHours', 'usedGpuHours', 'reclaimedGpuHours', 'reclaims', 'promptTokens', 'completionTokens', 'requests', 'tokenCost', 'gpuCost', 'totalCost'] as const) t[k] += r[k]
  }
  t.efficiency = t.allocatedGpuHours > 0 ? t.usedGpuHours / t.allocatedGpuHours : null
  const { namespace: _, workload: __, ...rest } = t
  return { ...rest, gpuModels: [...models].sort() }
}

function clusterView(from: number, to: number, step: number, n: number, allocated: Map<string, Float64Array>, used: Map<string, Float64Array>, gpusOf: (model: string) => number, capacity?: Record<string, number>): ChargebackReport['cluster'] {
  const models = [...new Set([...allocated.keys(), ...used.keys(), ...Object.keys(capacity ?? {})])].sort()
  return {
    stepMs: step,
    models: models.map((gpuModel) => {
      const gpus = gpusOf(gpuModel)
      const a = allocated.get(gpuModel)
      const u = used.get(gpuModel)
      const points: ClusterPoint[] = []
      for (let i = 0; i < n; i++) {
        const start = from + i * step
        const capacityHours = (gpus * (Math.min(to, start + step) - start)) / HOUR_MS
        const pct = (x: number | undefined) => (capacityHours > 0 ? (100 * (x ?? 0)) / capacityHours : 0)
        points.push({ time: start, allocatedPercent: pct(a?.[i]), utilizedPercent: pct(u?.[i]) })
      }
      return { gpuModel, gpus, points }
    }),
  }
}

/** Reads a prices file (examples/gpu-prices.yaml): `currency`, `prices: {MODEL: {perGpuHour, source?}}`, optional `default`. */
export function parseGpuPrices(text: string, file?: string): GpuPrices {
  let doc: unknown
  try {
    doc = parse(text)
  } catch (e) {
    throw new GpuplaneError('INVALID_INPUT', `not YAML: ${(e as Error).message}`, { file })
  }
  const fail = (path: string, message: string): never => {
    throw new GpuplaneError('INVALID_INPUT', message, { file, path })
  }
  if (typeof doc !== 'object' || doc === null) return fail('', 'expected a mapping with currency and prices (see examples/gpu-prices.yaml)')
  const d = doc as { currency?: unknown; prices?: unknown; default?: unknown }
  const currency = d.currency ?? 'USD'
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) fail('currency', 'expected a currency code such as USD')
  if (typeof d.prices !== 'object' || d.prices === null) return fail('prices', 'expected a mapping of GPU model to {perGpuHour: NUMBER}')
  const perGpuHour: Record<string, number> = {}
  for (const [model, entry] of Object.entries(d.prices as Record<string, unknown>)) {
    const value = typeof entry === 'number' ? entry : (entry as { perGpuHour?: unknown } | null)?.perGpuHour
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`prices.${model}.perGpuHour`, 'expected a price of 0 or more per GPU-hour, e.g. 3.78')
    perGpuHour[model] = value as number
  }
  const out: GpuPrices = { currency: currency as string, perGpuHour }
  if (d.default !== undefined) {
    if (typeof d.default !== 'number' || !(d.default >= 0)) fail('default', 'expected a price of 0 or more per GPU-hour')
    out.default = d.default as number
  }
  return out
}
