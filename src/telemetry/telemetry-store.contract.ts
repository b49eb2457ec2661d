// The TelemetryStore contract: one suite every implementation runs (SQLite and PostgreSQL test files call runTelemetryStoreContract).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Random } from '../sim/random.ts'
import { attribute } from './attribution.ts'
import { chargeback } from './chargeback.ts'
import type { AllocationInterval, AttributedSample, TelemetryQuery, TelemetryStore, UsageRow, UsageTotals, UtilizationSample } from './types.ts'
import { usageTotalsOf } from './usage-totals.ts'

export interface TelemetryFixture {
  telemetry: TelemetryStore
  dispose: () => Promise<void>
}

export type MakeTelemetryStore = () => Promise<TelemetryFixture>

const T0 = Date.UTC(2026, 10, 26, 10, 0, 0)
const MIN = 60_000
const HOUR = 3_600_000
const GIB = 1024 ** 3

/** A sample of `device` at T0 + `at` ms held by `holder` (undefined: unallocated). */
export function sample(at: number, device: string, smUtil: number, holder?: { namespace: string; workload: string; share?: number }, node = 'node-a'): AttributedSample {
  const share = holder ? (holder.share ?? 1) : 0
  return {
    time: T0 + at,
    node,
    device,
    smUtil,
    memUsedBytes: 10 * GIB,
    memTotalBytes: 80 * GIB,
    share,
    usedPercent: holder ? smUtil * share : 0,
    ...(holder ? { namespace: holder.namespace, workload: holder.workload, gpuModel: 'H100-80GB' } : {}),
  }
}

const TEAM = { namespace: 'research', workload: 'train' }

/** Sum over rows of usedPercent x samples: what rollups must conserve. */
function weightedUse(rows: readonly UsageRow[]): number {
  return rows.reduce((a, r) => a + r.usedPercent * r.samples, 0)
}

async function withStore(make: MakeTelemetryStore, fn: (t: TelemetryStore) => Promise<void>): Promise<void> {
  const f = await make()
  try {
    await fn(f.telemetry)
  } finally {
    await f.dispose()
  }
}

/**
 * Three hours of telemetry of 2 nodes × 3 GPUs (gpu-2 of each node split into two MIG devices,
 * sampled as the physical GPU only), holdings that start and end at odd seconds, a holder held
 * twice on one device, an interval reopened while open, samples attributed to a holder outside
 * its intervals, a holder with no interval at all, and unallocated GPUs.
 */
function generated(seed: number): { samples: AttributedSample[]; intervals: AllocationInterval[] } {
  const seeded = new Random(seed)
  const rnd = () => seeded.float()
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const at = () => T0 + Math.floor(rnd() * 3 * HOUR)
  const intervals: AllocationInterval[] = []
  const holders = [
    { namespace: 'research', workload: 'train' },
    { namespace: 'research', workload: 'eval' },
    { namespace: 'infer', workload: 'chat' },
  ]
  for (const node of ['node-a', 'node-b']) {
    for (const device of ['gpu-0', 'gpu-1']) {
      for (let k = 0; k < 2; k++) {
        const from = at()
        const to = rnd() < 0.2 ? undefined : from + Math.floor(rnd() * 2 * HOUR)
        intervals.push({ node, device, gpuModel: device === 'gpu-0' ? 'H100-80GB' : 'A100-80GB', ...pick(holders), share: 1, gpuUuid: `${node}-${device}`, from, ...(to !== undefined ? { to } : {}) })
      }
    }
    for (const part of ['gpu-2-mig-0', 'gpu-2-mig-1']) {
      const from = at()
      intervals.push({ node, device: part, gpuModel: 'H100-80GB', ...pick(holders), share: 3 / 7, gpuUuid: `${node}-gpu-2`, partition: true, from, to: from + Math.floor(rnd() * HOUR) + 1 })
    }
  }
  // A reopened record of a holding: the same holder and device, overlapping in time.
  const first = intervals[0]!
  intervals.push({ ...first, from: first.from + 17_000, to: first.from + 40 * MIN })
  const raw: UtilizationSample[] = []
  for (let t = T0; t < T0 + 3 * HOUR; t += 30_000 + Math.floor(rnd() * 5_000)) {
    for (const node of ['node-a', 'node-b', 'node-c']) {
      for (const device of ['gpu-0', 'gpu-1', 'gpu-2']) raw.push({ time: t, node, device, uuid: `${node}-${device}`, smUtil: Math.floor(rnd() * 101), memUsedBytes: GIB, memTotalBytes: 80 * GIB })
    }
  }
  const samples = attribute(raw, intervals)
  // Held outside its intervals (a late close) and by a holder with no interval at all.
  for (let i = 0; i < 20; i++) samples.push({ ...sample(Math.floor(rnd() * 3 * HOUR), pick(['gpu-0', 'gpu-1']), Math.floor(rnd() * 101), pick(holders), pick(['node-a', 'node-b'])), time: at() + i })
  samples.push(sample(HOUR + 7_000, 'gpu-1', 55, { namespace: 'ghost', workload: 'none' }, 'node-c'))
  // attribute() gives one sample per holder; drop duplicates of the store's key the extra ones may make.
  const seen = new Set<string>()
  return { samples: samples.filter((s) => !seen.has(`${s.time} ${s.node} ${s.device} ${s.namespace} ${s.workload}`) && !!seen.add(`${s.time} ${s.node} ${s.device} ${s.namespace} ${s.workload}`)), intervals }
}

/** Totals equal up to rounding: the same holders, spans and devices, sums within 1e-9 relative. */
function assertSameTotals(actual: UsageTotals, expected: UsageTotals, what: string): void {
  const near = (x: number, y: number) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y))
  assert.deepEqual(actual.devices, expected.devices, `${what}: devices per model`)
  assert.deepEqual(actual.holders.map((h) => [h.namespace, h.workload, h.samples]), expected.holders.map((h) => [h.namespace, h.workload, h.samples]), `${what}: holders and samples`)
  actual.holders.forEach((h, i) => assert.ok(near(h.usedGpuMs, expected.holders[i]!.usedGpuMs), `${what}: used GPU-ms of ${h.namespace}/${h.workload}: ${h.usedGpuMs} ≠ ${expected.holders[i]!.usedGpuMs}`))
  assert.deepEqual(actual.spans.map((s) => [s.gpuModel, s.start, s.end]), expected.spans.map((s) => [s.gpuModel, s.start, s.end]), `${what}: spans`)
  actual.spans.forEach((s, i) => assert.ok(near(s.usedGpuMs, expected.spans[i]!.usedGpuMs), `${what}: span ${s.gpuModel} ${s.start}: ${s.usedGpuMs} ≠ ${expected.spans[i]!.usedGpuMs}`))
}

export function runTelemetryStoreContract(make: MakeTelemetryStore): void {
  describe('TelemetryStore contract', () => {
    it('appends samples once: a repeat of the same (node, device, time, holder) adds nothing, another holder at that time does', () =>
      withStore(make, async (t) => {
        const batch = [sample(0, 'gpu-0', 50, TEAM), sample(10_000, 'gpu-0', 70, TEAM), sample(0, 'gpu-1', 0)]
        assert.equal(await t.appendSamples(batch), 3, 'three new samples')
        assert.equal(await t.appendSamples(batch), 0, 'a retry adds nothing')
        assert.equal(await t.appendSamples([sample(0, 'gpu-0', 50, { namespace: 'infer', workload: 'chat', share: 0.5 })]), 1, 'a second holder of the same device at the same time is its own sample')
        assert.equal((await t.samples({ from: T0, to: T0 + MIN })).length, 4, 'four kept')
      }))

    it('reads samples back exactly, oldest first, filtered by range, node, namespace and workload', () =>
      withStore(make, async (t) => {
        const full: AttributedSample = { ...sample(5_000, 'gpu-0', 42.5, TEAM), uuid: 'GPU-1', powerWatts: 312.25, processes: [{ pid: 77, usedBytes: 5 * GIB }] }
        await t.appendSamples([sample(20_000, 'gpu-1', 0), full, sample(1_000, 'gpu-0', 1, TEAM, 'node-b')])
        const all = await t.samples({ from: T0, to: T0 + MIN })
        assert.deepEqual(
          all.map((s) => [s.time - T0, s.node, s.device]),
          [[1_000, 'node-b', 'gpu-0'], [5_000, 'node-a', 'gpu-0'], [20_000, 'node-a', 'gpu-1']],
          'oldest first',
        )
        assert.deepEqual(all[1], full, 'every field round-trips')
        assert.deepEqual(all[2], sample(20_000, 'gpu-1', 0), 'an unallocated sample has no namespace, workload or model')
        assert.equal((await t.samples({ from: T0 + 5_000, to: T0 + 20_000 })).length, 1, '[from, to) is half-open')
        assert.equal((await t.samples({ from: T0, to: T0 + MIN, node: 'node-b' })).length, 1, 'node filter')
        assert.equal((await t.samples({ from: T0, to: T0 + MIN, namespace: 'research', workload: 'train' })).length, 2, 'holder filter')
      }))

    it('takes an agent batch exactly once: a seq not above the last recorded is a duplicate and writes nothing', () =>
      withStore(make, async (t) => {
        assert.deepEqual(await t.appendBatch({ agentId: 'a1', seq: 1 }, [sample(0, 'gpu-0', 10)]), { added: 1, duplicate: false }, 'first batch')
        assert.deepEqual(await t.appendBatch({ agentId: 'a1', seq: 1 }, [sample(0, 'gpu-0', 10), sample(1_000, 'gpu-0', 10)]), { added: 0, duplicate: true }, 'retry')
        assert.deepEqual(await t.appendBatch({ agentId: 'a1', seq: 2 }, [sample(2_000, 'gpu-0', 10)]), { added: 1, duplicate: false }, 'next batch')
        assert.deepEqual(await t.appendBatch({ agentId: 'a1', seq: 1 }, [sample(3_000, 'gpu-0', 10)]), { added: 0, duplicate: true }, 'an older seq')
        assert.deepEqual(await t.appendBatch({ agentId: 'a2', seq: 1 }, [sample(0, 'gpu-1', 10)]), { added: 1, duplicate: false }, 'agents are independent')
        assert.equal((await t.samples({ from: T0, to: T0 + MIN })).length, 3, 'three stored')
      }))

    it('reports usage per minute from raw samples, clipped to the range', () =>
      withStore(make, async (t) => {
        await t.appendSamples([sample(0, 'gpu-0', 20, TEAM), sample(30_000, 'gpu-0', 60, TEAM), sample(MIN + 5_000, 'gpu-0', 100, TEAM), sample(0, 'gpu-1', 0)])
        const rows = await t.usage({ from: T0, to: T0 + 2 * MIN, namespace: 'research' })
        assert.equal(rows.length, 2, 'two minutes')
        assert.deepEqual(
          rows.map((r) => ({ start: r.start - T0, end: r.end - T0, used: r.usedPercent, sm: r.smUtil, n: r.samples, ns: r.namespace, wl: r.workload, share: r.share, model: r.gpuModel })),
          [
            { start: 0, end: MIN, used: 40, sm: 40, n: 2, ns: 'research', wl: 'train', share: 1, model: 'H100-80GB' },
            { start: MIN, end: 2 * MIN, used: 100, sm: 100, n: 1, ns: 'research', wl: 'train', share: 1, model: 'H100-80GB' },
          ],
          'averages per minute',
        )
        const clipped = await t.usage({ from: T0 + 15_000, to: T0 + 90_000 })
        assert.ok(clipped.every((r) => r.start >= T0 + 15_000 && r.end <= T0 + 90_000), 'rows are clipped to [from, to)')
        const idle = (await t.usage({ from: T0, to: T0 + MIN })).find((r) => r.device === 'gpu-1')
        assert.equal(idle?.namespace, undefined, 'unallocated use belongs to nobody')
      }))

    it('rolls raw samples into minutes and minutes into hours, deleting what it rolled and conserving use', () =>
      withStore(make, async (t) => {
        const batch: AttributedSample[] = []
        for (let s = 0; s < 3 * HOUR; s += 20_000) batch.push(sample(s, 'gpu-0', (s / 20_000) % 101, TEAM))
        await t.appendSamples(batch)
        const range = { from: T0, to: T0 + 3 * HOUR }
        const before = await t.usage(range)
        await t.rollUp(T0 + 2 * HOUR + 30_000, T0 + HOUR + 59 * MIN)
        const raw = await t.samples(range)
        assert.equal(raw[0].time, T0 + 2 * HOUR, 'raw kept from the cut aligned down to its minute')
        const after = await t.usage(range)
        assert.equal(after.reduce((a, r) => a + r.samples, 0), batch.length, 'every sample counted once')
        assert.ok(Math.abs(weightedUse(after) - weightedUse(before)) < 1e-6 * weightedUse(before), 'use conserved')
        const hourRow = after.find((r) => r.end - r.start === HOUR)
        assert.equal(hourRow?.start, T0, 'the first hour is one row (the minute cut aligns down to T0 + 1 h)')
        assert.equal(after.filter((r) => r.start >= T0 + HOUR && r.start < T0 + 2 * HOUR).length, 60, 'the second hour stays in minutes')
        await t.rollUp(T0 + 2 * HOUR + 30_000, T0 + HOUR + 59 * MIN)
        assert.deepEqual(await t.usage(range), after, 'a second rollUp with the same cuts changes nothing')
      }))

    it('merges samples that arrive after their minute was rolled up into the same minute row', () =>
      withStore(make, async (t) => {
        await t.appendSamples([sample(0, 'gpu-0', 10, TEAM), sample(10_000, 'gpu-0', 30, TEAM)])
        await t.rollUp(T0 + MIN, T0)
        await t.appendSamples([sample(20_000, 'gpu-0', 80, TEAM)])
        await t.rollUp(T0 + MIN, T0)
        const rows = await t.usage({ from: T0, to: T0 + MIN })
        assert.equal(rows.length, 1, 'one minute row')
        assert.equal(rows[0].samples, 3, 'three samples')
        assert.ok(Math.abs(rows[0].usedPercent - 40) < 1e-9, `sample-weighted average 40, got ${rows[0].usedPercent}`)
      }))

    it('keeps allocation intervals: open is idempotent, close ends the open one, queries return overlaps', () =>
      withStore(make, async (t) => {
        const held = { node: 'node-a', device: 'gpu-0-mig-3g40gb-9-4', gpuModel: 'H100-80GB', namespace: 'research', workload: 'train', share: 3 / 7, gpuUuid: 'GPU-1', partition: true, from: T0 }
        await t.openInterval(held)
        await t.openInterval({ ...held, from: T0 + MIN })
        assert.deepEqual(await t.intervals({ from: T0, to: T0 + HOUR }), [held], 'the open interval is kept, the second open ignored')
        await t.closeInterval(held, T0 + 10 * MIN)
        await t.closeInterval(held, T0 + 20 * MIN)
        assert.deepEqual(await t.intervals({ from: T0, to: T0 + HOUR }), [{ ...held, to: T0 + 10 * MIN }], 'closed once')
        await t.openInterval({ ...held, from: T0 + 30 * MIN, partition: false })
        assert.equal((await t.intervals({ from: T0 + 10 * MIN, to: T0 + 30 * MIN })).length, 0, 'no overlap with [10, 30) min')
        assert.equal((await t.intervals({ from: T0 + 5 * MIN, to: T0 + 31 * MIN, workload: 'train' })).length, 2, 'both overlap [5, 31) min')
        assert.equal((await t.intervals({ from: T0, to: T0 + HOUR, namespace: 'other' })).length, 0, 'namespace filter')
      }))

    it('applies a pass of interval changes at once: closes before opens, open idempotent, an unknown close a no-op', () =>
      withStore(make, async (t) => {
        const a = { node: 'node-a', device: 'gpu-0', gpuModel: 'H100-80GB', namespace: 'team', workload: 'a', share: 1, gpuUuid: 'GPU-0', from: T0 }
        const b = { node: 'node-a', device: 'gpu-1-mig-1g10gb-0', gpuModel: 'H100-80GB', namespace: 'team', workload: 'b', share: 1 / 7, partition: true, from: T0 }
        assert.equal(t.applyIntervals !== undefined, true, 'the store implements applyIntervals')
        await t.applyIntervals!({ open: [a, b], close: [] })
        await t.applyIntervals!({ open: [a, { ...b, from: T0 + MIN }], close: [] })
        assert.deepEqual(await t.intervals({ from: T0, to: T0 + HOUR }), [a, b], 'both opened once (a second open of an open key is ignored)')
        // `a` re-placed (closed and opened again in one pass), `b` ended, an interval never opened closed.
        await t.applyIntervals!({ open: [{ ...a, from: T0 + 10 * MIN, share: 0.5 }], close: [{ key: a, to: T0 + 10 * MIN }, { key: b, to: T0 + 10 * MIN }, { key: { ...b, workload: 'nobody' }, to: T0 + 10 * MIN }] })
        const all = await t.intervals({ from: T0, to: T0 + HOUR })
        assert.deepEqual(
          all.map((iv) => [iv.workload, iv.from - T0, iv.to === undefined ? undefined : iv.to - T0, iv.share]).sort((x, y) => String(x).localeCompare(String(y))),
          [
            ['a', 0, 10 * MIN, 1],
            ['a', 10 * MIN, undefined, 0.5],
            ['b', 0, 10 * MIN, 1 / 7],
          ],
          'a closed and opened anew, b closed, nothing else',
        )
        await t.applyIntervals!({ open: [], close: [] })
        assert.equal((await t.intervals({ from: T0, to: T0 + HOUR })).length, 3, 'an empty pass writes nothing')
      }))

    it('conserves every sample and its use across any rollup cuts (property)', () =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ at: fc.integer({ min: 0, max: 3 * HOUR - 1 }), device: fc.constantFrom('gpu-0', 'gpu-1'), util: fc.integer({ min: 0, max: 100 }), held: fc.boolean() }), { minLength: 1, maxLength: 60 }),
          fc.integer({ min: 0, max: 3 * HOUR }),
          fc.integer({ min: 0, max: 3 * HOUR }),
          async (items, rawCut, minuteCut) => {
            await withStore(make, async (t) => {
              const batch = items.map((i) => sample(i.at, i.device, i.util, i.held ? TEAM : undefined))
              const added = await t.appendSamples(batch)
              const range = { from: T0, to: T0 + 3 * HOUR }
              const before = weightedUse(await t.usage(range))
              await t.rollUp(T0 + rawCut, T0 + minuteCut)
              const after = await t.usage(range)
              assert.equal(after.reduce((a, r) => a + r.samples, 0), added, 'samples conserved')
              assert.ok(Math.abs(weightedUse(after) - before) <= 1e-6 * Math.max(1, before), `use conserved: ${before} -> ${weightedUse(after)}`)
            })
          },
        ),
        { numRuns: Number(process.env.PROPERTY_RUNS ?? 15) },
      ))

    for (const probes of [undefined, '0']) {
      it(`sums usage in the store as usageTotalsOf sums the rows, and chargeback gives the same report from either (property; rows to clip read ${probes === undefined ? 'by key' : 'by a scan'})`, async () => {
        const saved = process.env.GPUPLANE_USAGE_MAX_PROBES
        if (probes !== undefined) process.env.GPUPLANE_USAGE_MAX_PROBES = probes
        try {
          await usageTotalsProperty(make)
        } finally {
          if (saved === undefined) delete process.env.GPUPLANE_USAGE_MAX_PROBES
          else process.env.GPUPLANE_USAGE_MAX_PROBES = saved
        }
      })
    }

    it('clips a holder\'s minute and hour rows to its holding in the totals as in the rows', () =>
      withStore(make, async (t) => {
        // Held from 40 s into the first minute to 20 min into the second hour; samples all along.
        const held = { node: 'node-a', device: 'gpu-0', gpuModel: 'H100-80GB', ...TEAM, share: 1, from: T0 + 40_000, to: T0 + HOUR + 20 * MIN }
        await t.openInterval(held)
        await t.closeInterval(held, held.to)
        const batch: AttributedSample[] = []
        for (let s = 0; s < 2 * HOUR; s += 10_000) batch.push(sample(s, 'gpu-0', 60, TEAM))
        await t.appendSamples(batch)
        await t.rollUp(T0 + HOUR + 30 * MIN, T0 + HOUR)
        const query = { from: T0, to: T0 + 2 * HOUR }
        const totals = await t.usageTotals!(query)
        const used = totals.holders.find((h) => h.workload === 'train')!.usedGpuMs
        // The first hour is one hour row: 60% for the 59 min 20 s held; then 20 min held of the second hour.
        assert.ok(Math.abs(used - 0.6 * (HOUR - 40_000 + 20 * MIN)) < 1e-6, `used ${used} GPU-ms: the held time only`)
        assertSameTotals(totals, usageTotalsOf(await t.usage(query), await t.intervals(query), query.from, query.to), 'clipped')
      }))
  })
}

/** usageTotals equals usageTotalsOf over usage() on generated telemetry, whatever the rollup cuts and the range; so do the reports. */
function usageTotalsProperty(make: MakeTelemetryStore): Promise<void> {
  return fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.integer({ min: 0, max: 3 * HOUR }),
      fc.integer({ min: 0, max: 3 * HOUR }),
      fc.integer({ min: -HOUR, max: 2 * HOUR }),
      fc.integer({ min: 1, max: 3 * HOUR }),
      async (seed, rawCut, minuteCut, fromAt, length) => {
        await withStore(make, async (t) => {
          const data = generated(seed)
          await t.appendSamples(data.samples)
          for (const iv of data.intervals) await t.openInterval(iv)
          for (const iv of data.intervals) if (iv.to !== undefined) await t.closeInterval(iv, iv.to)
          await t.rollUp(T0 + rawCut, T0 + minuteCut)
          for (const query of [{ from: T0 + fromAt, to: T0 + fromAt + length }, { from: T0 - HOUR, to: T0 + 4 * HOUR, namespace: 'research' }] as TelemetryQuery[]) {
            const [rows, intervals, totals] = await Promise.all([t.usage(query), t.intervals(query), t.usageTotals!(query)])
            const expected = usageTotalsOf(rows, intervals, query.from, query.to)
            assertSameTotals(totals, expected, `seed ${seed}, ${JSON.stringify(query)}`)
            const fromRows = chargeback({ from: query.from, to: query.to, usage: rows, intervals })
            const fromTotals = chargeback({ from: query.from, to: query.to, usageTotals: totals, intervals })
            assertNear(fromTotals, fromRows, 'report')
          }
        })
      },
    ),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 15) },
  )
}

/** Deep equality where numbers may differ in the last bits (sums in another order): within 1e-9 relative. */
function assertNear(actual: unknown, expected: unknown, path: string): void {
  if (typeof actual === 'number' && typeof expected === 'number') {
    assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(actual), Math.abs(expected)), `${path}: ${actual} ≠ ${expected}`)
    return
  }
  if (typeof actual !== 'object' || actual === null || typeof expected !== 'object' || expected === null) {
    assert.deepEqual(actual, expected, path)
    return
  }
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${path}: the same fields`)
  for (const [k, v] of Object.entries(actual)) assertNear(v, (expected as Record<string, unknown>)[k], `${path}.${k}`)
}
