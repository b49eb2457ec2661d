// Tests of chargeback(): hand-computed GPU-hours, efficiency, reclaims, tokens and costs; the cluster view; the prices file.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { chargeback, parseGpuPrices } from './chargeback.ts'
import type { AllocationInterval, UsageRow } from './types.ts'
import { dirtyWindows, usageTotalsOf } from './usage-totals.ts'

const H = 3_600_000
const T0 = Date.UTC(2026, 10, 1)
const RUNS = Number(process.env.PROPERTY_RUNS ?? 100)
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} ≠ ${b}`)

function iv(workload: string, device: string, share: number, from: number, to?: number, namespace = 'research'): AllocationInterval {
  return { node: 'n1', device, gpuModel: 'H100-80GB', namespace, workload, share, gpuUuid: `GPU-${device}`, from: T0 + from * H, ...(to !== undefined ? { to: T0 + to * H } : {}) }
}

function row(workload: string | undefined, device: string, share: number, hour: number, usedPercent: number, namespace = 'research'): UsageRow {
  return { start: T0 + hour * H, end: T0 + (hour + 1) * H, node: 'n1', device, gpuModel: 'H100-80GB', ...(workload ? { namespace, workload } : {}), share, usedPercent, smUtil: usedPercent, memUsedBytes: 0, samples: 360 }
}

describe('chargeback', () => {
  const prices = parseGpuPrices(readFileSync(new URL('../../examples/gpu-prices.yaml', import.meta.url), 'utf8'))
  // train: a whole GPU for 4 h at 50%; notebook: 3/7 of gpu-1 for 2 h at 30% of the GPU (70% of its share), reclaimed at hour 2.
  const intervals = [iv('train', 'gpu-0', 1, 0, 4), iv('notebook', 'gpu-1', 3 / 7, 0, 2, 'inference')]
  const usage = [0, 1, 2, 3].map((h) => row('train', 'gpu-0', 1, h, 50)).concat([0, 1].map((h) => row('notebook', 'gpu-1', 3 / 7, h, 30, 'inference')), [row(undefined, 'gpu-1', 0, 3, 10)])
  const tokens = [{ time: T0 + H, namespace: 'inference', promptTokens: 1000, completionTokens: 500, costMicro: 2_500_000 }, { time: T0 - H, namespace: 'inference', promptTokens: 9, completionTokens: 9, costMicro: 9 }]
  const reclaims = [{ time: T0 + 2 * H, namespace: 'inference', workload: 'notebook', gpus: 3 / 7, gpuModel: 'H100-80GB' }]
  const report = chargeback({ from: T0, to: T0 + 4 * H, usage, intervals, tokens, reclaims, prices, capacity: { 'H100-80GB': 2 } })

  it('adds GPU-hours allocated (× share) and used (utilization-weighted), and their ratio', () => {
    const train = report.workloads.find((w) => w.workload === 'train')!
    close(train.allocatedGpuHours, 4, 'train allocated')
    close(train.usedGpuHours, 2, 'train used')
    close(train.efficiency!, 0.5, 'train efficiency')
    const nb = report.workloads.find((w) => w.workload === 'notebook')!
    close(nb.allocatedGpuHours, 6 / 7, 'notebook allocated: 2 h × 3/7')
    close(nb.usedGpuHours, 0.6, 'notebook used: 2 h × 30%')
    close(nb.efficiency!, 0.7, 'notebook efficiency')
  })

  it('counts reclaimed GPU-hours until the end of the range, tokens of the range, and costs at the listed prices', () => {
    const inf = report.namespaces.find((n) => n.namespace === 'inference')!
    close(inf.reclaimedGpuHours, (2 * 3) / 7, 'reclaimed: 3/7 from hour 2 to 4')
    assert.equal(inf.reclaims, 1, 'one reclaim')
    assert.deepEqual([inf.promptTokens, inf.completionTokens, inf.requests], [1000, 500, 1], 'tokens within the range only')
    close(inf.tokenCost, 2.5, 'token cost in dollars')
    close(inf.gpuCost, (6 / 7) * 3.78, 'GPU cost at the H100 price of the prices file')
    close(report.totals.gpuCost, (4 + 6 / 7) * 3.78, 'total GPU cost')
    assert.deepEqual(report.unpricedModels, [], 'H100 is priced')
  })

  it('filters by namespace and gives the cluster view per model', () => {
    const only = chargeback({ from: T0, to: T0 + 4 * H, usage, intervals, namespace: 'research' })
    assert.deepEqual(only.namespaces.map((n) => n.namespace), ['research'], 'one namespace')
    assert.deepEqual(only.unpricedModels, ['H100-80GB'], 'no prices: unpriced')
    const [h100] = report.cluster.models
    assert.equal(h100!.gpus, 2, 'capacity given')
    assert.deepEqual(h100!.points.map((p) => Math.round(p.allocatedPercent * 1000) / 1000), [71.429, 71.429, 50, 50], 'allocated %: (1 + 3/7) / 2, then 1 / 2')
    assert.deepEqual(h100!.points.map((p) => Math.round(p.utilizedPercent * 1000) / 1000), [40, 40, 25, 30], 'utilized %: (50 + 30) / 2, then 50 / 2, then (50 + 10) / 2 (unallocated use counts)')
  })

  it('counts a holder\'s row only for the time it held the device', () => {
    // A minute row at 60% for a holding that began 40 s into the minute: 20 s of use.
    const r = chargeback({ from: T0, to: T0 + H, usage: [{ ...row('late', 'gpu-0', 1, 0, 60), end: T0 + 60_000 }], intervals: [{ ...iv('late', 'gpu-0', 1, 0), from: T0 + 40_000 }] })
    close(r.workloads[0]!.usedGpuHours, (20_000 / H) * 0.6, 'used: 20 s × 60%')
  })

  it('refuses an empty range and a bad prices file', () => {
    assert.match(expectGpuplaneError(() => chargeback({ from: T0, to: T0, usage: [], intervals: [] })).message, /range is empty/, 'empty range')
    const e = expectGpuplaneError(() => parseGpuPrices('prices: {H100-80GB: {perGpuHour: -1}}', 'p.yaml'))
    assert.equal(e.location.path, 'prices.H100-80GB.perGpuHour', 'path of the bad price')
  })

  it('gives the same report from usage totals as from the rows they sum, and refuses totals of another range', () => {
    const totals = usageTotalsOf(usage, intervals, T0, T0 + 4 * H)
    assert.deepEqual(totals.holders.map((h) => [h.namespace, h.workload, h.samples]), [[undefined, undefined, 360], ['inference', 'notebook', 720], ['research', 'train', 1440]], 'one entry per holder, unallocated first')
    assert.deepEqual(totals.devices, { 'H100-80GB': 2 }, 'devices seen per model')
    const fromTotals = chargeback({ from: T0, to: T0 + 4 * H, usageTotals: totals, intervals, tokens, reclaims, prices, capacity: { 'H100-80GB': 2 } })
    assert.deepEqual(fromTotals, report, 'the same report')
    assert.match(expectGpuplaneError(() => chargeback({ from: T0, to: T0 + 3 * H, usageTotals: totals, intervals })).message, /not the report's range/, 'range mismatch')
    assert.match(expectGpuplaneError(() => chargeback({ from: T0, to: T0 + 4 * H, usage, usageTotals: totals, intervals })).message, /not both/, 'both inputs')
  })

  it('names the rows that may need clipping: those around the start and end of a holding, none for rows inside one', () => {
    const held = { ...iv('late', 'gpu-0', 1, 0), from: T0 + 40_000, to: T0 + 2 * H + 20 * 60_000 }
    const extent = { node: 'n1', device: 'gpu-0', namespace: 'research', workload: 'late', minStart: T0, maxEnd: T0 + 3 * H }
    // Hour rows: the first starts before the holding, the third ends after it.
    assert.deepEqual(dirtyWindows([{ ...extent, rowMs: H }], [held], T0, T0 + 3 * H).map((w) => [w.lo - T0, w.hi - T0]), [[0, 40_000], [H + 20 * 60_000 + 1, 3 * H]], 'hour rows')
    // Minute rows: the first minute, and the minutes after the end.
    assert.deepEqual(dirtyWindows([{ ...extent, rowMs: 60_000 }], [held], T0, T0 + 3 * H).map((w) => [w.lo - T0, w.hi - T0]), [[0, 40_000], [2 * H + 19 * 60_000 + 1, 3 * H]], 'minute rows')
    assert.deepEqual(dirtyWindows([{ ...extent, minStart: T0 + H, maxEnd: T0 + 2 * H, rowMs: H }], [held], T0, T0 + 3 * H), [], 'an hour inside the holding')
    assert.deepEqual(dirtyWindows([{ ...extent, workload: 'unknown', rowMs: H }], [held], T0, T0 + 3 * H), [], 'a holder without intervals is charged whole rows')
    assert.deepEqual(dirtyWindows([{ ...extent, namespace: '', workload: '', rowMs: H }], [held], T0, T0 + 3 * H), [], 'unallocated rows are nobody\'s')
  })

  it('conserves GPU-hours: namespace rows add up to the workload rows and the cluster view (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ w: fc.constantFrom('a', 'b', 'c'), d: fc.constantFrom('gpu-0', 'gpu-1'), share: fc.double({ min: 0.1, max: 1, noNaN: true }), from: fc.integer({ min: -5, max: 20 }), len: fc.integer({ min: 1, max: 10 }) }), { maxLength: 10 }), (specs) => {
        const ivs = specs.map((s) => iv(s.w, s.d, s.share, s.from, s.from + s.len))
        const r = chargeback({ from: T0, to: T0 + 10 * H, usage: [], intervals: ivs, stepMs: H })
        const byWorkload = r.workloads.reduce((a, w) => a + w.allocatedGpuHours, 0)
        close(r.totals.allocatedGpuHours, byWorkload, 'totals = Σ workloads')
        const gpus = r.cluster.models[0]?.gpus ?? 0
        const cluster = r.cluster.models.reduce((a, m) => a + m.points.reduce((b, p) => b + (p.allocatedPercent / 100) * gpus, 0), 0)
        close(Math.round(cluster * 1e6) / 1e6, Math.round(byWorkload * 1e6) / 1e6, 'cluster view = Σ allocated')
      }),
      { numRuns: RUNS },
    )
  })
})
