// The contract suite of Counters, run against every implementation (counters-memory.test.ts, src/store/redis/counters.test.ts): semantics, atomicity under 1,000 concurrent reservations, and a model-based property test.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { isGpuplaneError } from '../common/errors.ts'
import { Random } from '../sim/random.ts'
import type { AdjustItem, Counters, ReserveItem, ReserveOptions, ReserveResult } from './counters.ts'

/** How the suite gets counters of one implementation. */
export interface CountersHarness {
  /** A Counters over a fresh, empty key space. */
  make(): Promise<Counters>
  /** `n` Counters over one fresh key space, as `n` replicas would hold them (separate connections where the implementation has any). */
  replicas(n: number): Promise<Counters[]>
}

export interface ContractOptions {
  /** Runs of the model-based property test (each one a fresh key space). */
  propertyRuns: number
}

const TTL = 600
const item = (key: string, amount: number, limit?: number, extra: Partial<ReserveItem> = {}): ReserveItem => ({ key, amount, ttlSeconds: TTL, ...(limit === undefined ? {} : { limit }), ...extra })

/** Runs the suite under `describe(name)`; the caller closes what the harness made (a top-level `after`). */
export function countersContract(name: string, harness: CountersHarness, options: ContractOptions): void {
  describe(`Counters contract: ${name}`, () => {
    test('a reservation that fits increments every item and reports amounts and values', async () => {
      const c = await harness.make()
      const r = await c.reserve([item('a', 5, 10), item('b', 3), item('c', 0, 0)])
      assert.deepEqual(r, { ok: true, units: 0, amounts: [5, 3, 0], values: [5, 3, 0] })
      const r2 = await c.reserve([item('a', 5, 10), item('b', 3, 100)])
      assert.deepEqual(r2, { ok: true, units: 0, amounts: [5, 3], values: [10, 6] })
      assert.deepEqual(await c.get(['a', 'b', 'c', 'absent']), [10, 6, 0, 0])
    })

    test('all or nothing: one item over its limit changes no counter, and the answer names it', async () => {
      const c = await harness.make()
      await c.reserve([item('a', 8), item('b', 2)])
      const r = await c.reserve([item('a', 1, 100), item('b', 9, 10), item('c', 1, 5)])
      assert.deepEqual(r, { ok: false, index: 1, needed: 9, current: 2, values: [8, 2, 0] })
      assert.deepEqual(await c.get(['a', 'b', 'c']), [8, 2, 0])
    })

    test('items without a limit are counted and never refuse', async () => {
      const c = await harness.make()
      for (let i = 0; i < 3; i++) assert.equal((await c.reserve([item('soft', 1_000_000)])).ok, true)
      assert.deepEqual(await c.get(['soft']), [3_000_000])
    })

    test('clamp: the largest units in range that fit every clamping item; others must fit at those units', async () => {
      const c = await harness.make()
      await c.reserve([item('tok', 900), item('cost', 10)])
      const clamped: ReserveItem[] = [
        item('tok', 20, 1000, { perUnit: { num: 2, den: 1 }, clamps: true }), // 900 + 20 + 2u <= 1000: u <= 40
        item('cost', 1, 1000, { perUnit: { num: 1, den: 5 } }), // not clamping: must fit at u
        item('req', 1, 10),
      ]
      const r = await c.reserve(clamped, { clamp: { min: 1, max: 4096 } })
      assert.deepEqual(r, { ok: true, units: 40, amounts: [100, 9, 1], values: [1000, 19, 1] })
      // Nothing left: refused at the minimum, on the clamping item.
      const r2 = await c.reserve(clamped, { clamp: { min: 1, max: 4096 } })
      assert.deepEqual(r2, { ok: false, index: 0, needed: 22, current: 1000, values: [1000, 19, 1] })
      // No clamping item limits the units: all of max.
      const r3 = await c.reserve([item('free', 0, 1_000_000, { perUnit: { num: 3, den: 1 } })], { clamp: { min: 1, max: 50 } })
      assert.deepEqual(r3, { ok: true, units: 50, amounts: [150], values: [150] })
    })

    test('clamp: a non-clamping item that does not fit at the chosen units refuses the whole reservation', async () => {
      const c = await harness.make()
      await c.reserve([item('day', 95)])
      const r = await c.reserve([item('minute', 0, 1000, { perUnit: { num: 1, den: 1 }, clamps: true }), item('day', 0, 100, { perUnit: { num: 1, den: 1 } })], { clamp: { min: 1, max: 50 } })
      assert.deepEqual(r, { ok: false, index: 1, needed: 50, current: 95, values: [0, 95] })
      assert.deepEqual(await c.get(['minute', 'day']), [0, 95])
    })

    test('clamp: rational rates round up exactly (cost in micro-dollars at fractional prices)', async () => {
      const c = await harness.make()
      // 0.2 µ$ per token: 1 token costs 1 µ$ (rounded up), 5 cost 1, 6 cost 2.
      const rate = { num: 1, den: 5 }
      const at = async (units: number) => (await c.reserve([item(`k${units}`, 7, undefined, { perUnit: rate })], { clamp: { min: units, max: units } })) as Extract<ReserveResult, { ok: true }>
      assert.deepEqual([(await at(1)).amounts[0], (await at(5)).amounts[0], (await at(6)).amounts[0], (await at(0)).amounts[0]], [8, 8, 9, 7])
      // A large rate: 128 completions at $10,000 per million tokens, 10 million units.
      const big = await c.reserve([item('big', 3, undefined, { perUnit: { num: 128 * 10_000_000_000, den: 1_000_000 } })], { clamp: { min: 10_000_000, max: 10_000_000 } })
      assert.deepEqual(big.ok && big.amounts, [3 + 128 * 10_000 * 10_000_000])
    })

    test('adjust releases (never below 0), adds, creates only on a positive delta', async () => {
      const c = await harness.make()
      await c.reserve([item('a', 10), item('b', 4)])
      const adj: AdjustItem[] = [
        { key: 'a', delta: -3, ttlSeconds: TTL },
        { key: 'b', delta: -100, ttlSeconds: TTL },
        { key: 'new', delta: 6, ttlSeconds: TTL },
        { key: 'none', delta: -6, ttlSeconds: TTL },
      ]
      assert.deepEqual(await c.adjust(adj), [7, 0, 6, 0])
      assert.deepEqual(await c.get(['a', 'b', 'new', 'none']), [7, 0, 6, 0])
      assert.deepEqual(await c.adjust([]), [])
    })

    test('rebuild raises counters to at least the given values and never lowers one', async () => {
      const c = await harness.make()
      await c.reserve([item('high', 50), item('low', 5)])
      await c.rebuild([
        { key: 'high', value: 20, ttlSeconds: TTL },
        { key: 'low', value: 30, ttlSeconds: TTL },
        { key: 'fresh', value: 12, ttlSeconds: TTL },
        { key: 'zero', value: 0, ttlSeconds: TTL },
      ])
      assert.deepEqual(await c.get(['high', 'low', 'fresh', 'zero']), [50, 30, 12, 0])
    })

    test('malformed reservations are refused as INTERNAL errors, before touching any counter', async () => {
      const c = await harness.make()
      const bad: Array<[ReserveItem[], ReserveOptions?]> = [
        [[item('a', 1), item('a', 2)]],
        [[item('a', -1)]],
        [[item('a', 1.5)]],
        [[item('a', 1, undefined, { ttlSeconds: 0 })]],
        [[item('a', 1, undefined, { clamps: true })], { clamp: { min: 1, max: 2 } }],
        [[item('a', 1, 5, { perUnit: { num: 1, den: 0 } })], { clamp: { min: 1, max: 2 } }],
        [[item('a', 1, 5)], { clamp: { min: 3, max: 2 } }],
      ]
      for (const [items, opts] of bad) {
        await assert.rejects(c.reserve(items, opts), (e) => isGpuplaneError(e) && e.code === 'INTERNAL')
      }
      await assert.rejects(c.adjust([{ key: 'a', delta: 1, ttlSeconds: TTL }, { key: 'a', delta: 1, ttlSeconds: TTL }]), (e) => isGpuplaneError(e) && e.code === 'INTERNAL')
      assert.deepEqual(await c.get(['a']), [0])
    })

    test('1,000 concurrent reservations of random sizes never overshoot the cap', async (t) => {
      const c = await harness.make()
      const outcome = await concurrentReservations([c], 20_000, 1)
      t.diagnostic(assertNoOvershoot(outcome, 20_000))
    })

    test('1,000 concurrent clamped reservations never overshoot the cap', async (t) => {
      const c = await harness.make()
      const outcome = await concurrentReservations([c], 20_000, 2, true)
      t.diagnostic(assertNoOvershoot(outcome, 20_000))
    })

    test('4 replicas (separate connections) with 1,000 concurrent reservations never overshoot the cap', async (t) => {
      const replicas = await harness.replicas(4)
      const outcome = await concurrentReservations(replicas, 20_000, 3)
      t.diagnostic(`4 replicas: ${assertNoOvershoot(outcome, 20_000)}`)
      const clamped = await concurrentReservations(replicas, 20_000, 4, true, 'clamped')
      t.diagnostic(`4 replicas, clamped: ${assertNoOvershoot(clamped, 20_000)}`)
    })

    test('sequences of operations behave as the sequential model', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (ops) => {
          const c = await harness.make()
          const model = new SequentialModel()
          for (const op of ops) {
            const got = op.kind === 'reserve' ? await c.reserve(op.items, op.options) : op.kind === 'adjust' ? await c.adjust(op.items) : await c.get(KEYS)
            const want = op.kind === 'reserve' ? model.reserve(op.items, op.options) : op.kind === 'adjust' ? model.adjust(op.items) : model.get(KEYS)
            assert.deepEqual(got, want, JSON.stringify(op))
          }
        }),
        { numRuns: options.propertyRuns },
      )
    })

    test('operations issued together (one event-loop turn, not awaited in between) behave as the same operations one after the other', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { minLength: 2, maxLength: 16 }), async (ops) => {
          const c = await harness.make()
          const model = new SequentialModel()
          const got = await Promise.all(ops.map((op) => (op.kind === 'reserve' ? c.reserve(op.items, op.options) : op.kind === 'adjust' ? c.adjust(op.items) : c.get(KEYS))))
          const want = ops.map((op) => (op.kind === 'reserve' ? model.reserve(op.items, op.options) : op.kind === 'adjust' ? model.adjust(op.items) : model.get(KEYS)))
          assert.deepEqual(got, want)
          assert.deepEqual(await c.get(KEYS), model.get(KEYS), 'the counters end as the model')
        }),
        { numRuns: options.propertyRuns },
      )
    })
  })
}

/** What a batch of concurrent reservations did. */
export interface ConcurrentOutcome {
  admitted: number[]
  /** What each refused reservation needed. */
  refusedNeeds: number[]
  final: number
  /** Largest amount any one reservation could have needed. */
  largest: number
}

/**
 * 1,000 reservations of random sizes (seeded) against one capped key, all started at once and
 * spread over the given counters; clamped ones ask for 1 to 200 units at 1 token each on top of
 * a fixed part. A second item (a request counter) checks that all-or-nothing holds under load.
 */
export async function concurrentReservations(counters: Counters[], cap: number, seed: number, clamped = false, key = 'cap'): Promise<ConcurrentOutcome> {
  // Seeded, so that a failing run can be replayed.
  const seeded = new Random(seed)
  const random = () => seeded.float()
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => {
      const fixed = 1 + Math.floor(random() * 100)
      const counter = counters[i % counters.length]
      const requests = item(`${key}-requests`, 1, 1_000_000)
      if (!clamped) return counter.reserve([item(key, fixed, cap), requests])
      const max = 1 + Math.floor(random() * 200)
      return counter.reserve([item(key, fixed, cap, { perUnit: { num: 1, den: 1 }, clamps: true }), requests], { clamp: { min: 1, max } })
    }),
  )
  const [final, requests] = await counters[0].get([key, `${key}-requests`])
  const admitted = results.flatMap((r) => (r.ok ? [r.amounts[0]] : []))
  assert.equal(requests, admitted.length, 'the request counter moved with exactly the admitted reservations')
  return { admitted, refusedNeeds: results.flatMap((r) => (r.ok ? [] : [r.needed])), final, largest: clamped ? 300 : 100 }
}

/** The admitted total never exceeds the cap, equals the counter, and every refusal was necessary; returns a summary line. */
export function assertNoOvershoot(outcome: ConcurrentOutcome, cap: number): string {
  const total = outcome.admitted.reduce((a, b) => a + b, 0)
  assert.ok(total <= cap, `admitted ${total} > cap ${cap}`)
  assert.equal(outcome.final, total, 'the counter holds exactly what was admitted')
  assert.ok(outcome.refusedNeeds.length > 0, 'the cap was reached (the test exercises refusals)')
  // A refusal is necessary when what it needed did not fit even at the end: no spurious refusals.
  for (const needed of outcome.refusedNeeds) assert.ok(needed > cap - total, `refused ${needed} although ${cap - total} was left at the end`)
  assert.ok(total > cap - outcome.largest, `admitted ${total}: the cap of ${cap} was not filled`)
  return `${outcome.admitted.length} admitted, ${outcome.refusedNeeds.length} refused; ${total} of cap ${cap} reserved (overshoot 0), counter ${outcome.final}`
}

const KEYS = ['a', 'b', 'c', 'd']

type Operation =
  | { kind: 'reserve'; items: ReserveItem[]; options: ReserveOptions }
  | { kind: 'adjust'; items: AdjustItem[] }
  | { kind: 'get' }

const keySubset = fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: KEYS.length })
const reserveOp: fc.Arbitrary<Operation> = fc
  .record({
    keys: keySubset,
    clamp: fc.option(fc.tuple(fc.nat(30), fc.nat(60)).map(([min, span]) => ({ min, max: min + span })), { nil: undefined }),
    specs: fc.array(
      fc.record({
        amount: fc.nat(40),
        limit: fc.option(fc.nat(120), { nil: undefined }),
        num: fc.nat(7),
        den: fc.integer({ min: 1, max: 6 }),
        clamps: fc.boolean(),
      }),
      { minLength: KEYS.length, maxLength: KEYS.length },
    ),
  })
  .map(({ keys, clamp, specs }) => ({
    kind: 'reserve' as const,
    options: clamp ? { clamp } : {},
    items: keys.map((key, i) => {
      const s = specs[i]
      return item(key, s.amount, s.limit, {
        ...(clamp && s.num > 0 ? { perUnit: { num: s.num, den: s.den } } : {}),
        ...(clamp && s.clamps && s.limit !== undefined ? { clamps: true } : {}),
      })
    }),
  }))
const adjustOp: fc.Arbitrary<Operation> = fc
  .tuple(keySubset, fc.array(fc.integer({ min: -60, max: 40 }), { minLength: KEYS.length, maxLength: KEYS.length }))
  .map(([keys, deltas]) => ({ kind: 'adjust' as const, items: keys.map((key, i) => ({ key, delta: deltas[i], ttlSeconds: TTL })) }))
const operation: fc.Arbitrary<Operation> = fc.oneof(reserveOp, reserveOp, adjustOp, fc.constant({ kind: 'get' as const }))

/** The specification of Counters, written as plainly as possible: exact BigInt rates, linear search for the units. */
class SequentialModel {
  private readonly values = new Map<string, number>()

  get(keys: readonly string[]): number[] {
    return keys.map((k) => this.values.get(k) ?? 0)
  }

  reserve(items: readonly ReserveItem[], options: ReserveOptions): ReserveResult {
    const values = this.get(items.map((i) => i.key))
    const amount = (it: ReserveItem, u: number) => it.amount + (it.perUnit ? Number((BigInt(u) * BigInt(it.perUnit.num) + BigInt(it.perUnit.den) - 1n) / BigInt(it.perUnit.den)) : 0)
    const fits = (i: number, u: number) => items[i].limit === undefined || values[i] + amount(items[i], u) <= (items[i].limit as number)
    const refuse = (i: number, u: number): ReserveResult => ({ ok: false, index: i, needed: amount(items[i], u), current: values[i], values })
    let units = 0
    if (options.clamp) {
      const clamping = items.map((_, i) => i).filter((i) => items[i].clamps)
      for (const i of clamping) if (!fits(i, options.clamp.min)) return refuse(i, options.clamp.min)
      units = options.clamp.max
      while (!clamping.every((i) => fits(i, units))) units--
    }
    for (let i = 0; i < items.length; i++) if (!fits(i, units)) return refuse(i, units)
    const amounts = items.map((it) => amount(it, units))
    items.forEach((it, i) => {
      if (amounts[i] > 0) this.values.set(it.key, values[i] + amounts[i])
    })
    return { ok: true, units, amounts, values: values.map((v, i) => v + amounts[i]) }
  }

  adjust(items: readonly AdjustItem[]): number[] {
    return items.map(({ key, delta }) => {
      const current = this.values.get(key)
      if (current === undefined && delta <= 0) return 0
      const next = Math.max(0, (current ?? 0) + delta)
      this.values.set(key, next)
      return next
    })
  }
}
