// Quota ledger: unit cases for each rule, and property tests over random admit/release/reclaim streams.
// PROPERTY_RUNS=N raises the number of property cases (default: a modest number so that npm test stays fast).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { GpuplaneError } from '../common/errors.ts'
import { Namespace, type NamespaceResources } from '../api/namespace-v1alpha1.ts'
import { formatResources, QuotaLedger, toResourceVector as v, type ResourceName, type ResourceVector } from './quota.ts'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 200)

type SpecInput = Record<string, unknown>
function ns(name: string, spec: SpecInput): Namespace {
  return Namespace.parse({ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name }, spec })
}
const gpus = (n: number): ResourceVector => ({ gpus: BigInt(n) })

function expectError(f: () => unknown, code: GpuplaneError['code'], message: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof GpuplaneError && e.code === code && message.test(e.message))
}

test('a request within the free quota borrows nothing; usage and available follow', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 8, gpuMemory: '640Gi', cpu: '32' } })])
  const r = l.admit('a', 'w1', v({ gpus: 2, gpuMemory: '160Gi', cpu: '500m', memory: '1Ti' }))
  assert.deepEqual(r, { ok: true, borrowed: {}, borrowedFrom: {} })
  assert.deepEqual(l.usage('a'), { gpus: 2n, gpuMemory: 160n << 30n, cpu: 500n, memory: 1n << 40n })
  // memory has no quota: unlimited, so available leaves it out.
  assert.deepEqual(l.available('a'), { gpus: 6n, gpuMemory: 480n << 30n, cpu: 31_500n })
  assert.deepEqual(l.borrowedBy('a'), {})
  assert.equal(formatResources(l.available('a')), '6 gpus, 480Gi gpuMemory, 31500m cpu')
})

test('without a cohort a namespace cannot go past its quota; the reason says what is short', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 4 } }), ns('b', { quota: { gpus: 4 } })])
  l.admit('a', 'w1', gpus(3))
  const r = l.check('a', gpus(2))
  assert.deepEqual(r, { ok: false, resource: 'gpus', reason: 'namespace "a" needs 2 gpus and has 1 gpus of its quota of 4 free; it is in no cohort, so it cannot borrow' })
  assert.equal(l.admit('a', 'w2', gpus(2)).ok, false)
  assert.equal(l.workload('w2'), undefined, 'a workload that does not fit is not recorded')
  assert.equal(l.check('a', gpus(1)).ok, true)
})

test('borrowing takes own quota first, the rest from cohort members, and records from whom', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 4 }, cohort: 'c' }), ns('b', { quota: { gpus: 4 }, cohort: 'c' })])
  l.admit('a', 'w1', gpus(3))
  const r = l.admit('a', 'w2', gpus(3))
  assert.deepEqual(r, { ok: true, borrowed: { gpus: 2n }, borrowedFrom: { b: { gpus: 2n } } })
  assert.deepEqual(l.usage('a'), { gpus: 6n })
  assert.deepEqual(l.borrowedBy('a'), { gpus: 2n })
  assert.deepEqual(l.lentBy('b'), { gpus: 2n })
  assert.deepEqual(l.workload('w2')?.borrowedFrom, { b: { gpus: 2n } })
  // b's lent quota is not free for b: it can use 2 more without reclaiming.
  assert.deepEqual(l.available('b'), { gpus: 2n })
  assert.equal(l.check('b', gpus(3)).ok, false)
})

test('borrowingLimit caps what a namespace borrows in total', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 2 }, cohort: 'c', borrowingLimit: { gpus: 3 } }), ns('b', { quota: { gpus: 8 }, cohort: 'c' })])
  assert.equal(l.admit('a', 'w1', gpus(4)).ok, true)
  assert.deepEqual(l.available('a'), { gpus: 1n })
  const r = l.check('a', gpus(2))
  assert.equal(r.ok, false)
  assert.match(r.ok ? '' : r.reason, /borrowing 2 gpus more would pass its borrowingLimit of 3 gpus \(2 gpus borrowed now\)/)
  assert.equal(l.admit('a', 'w2', gpus(1)).ok, true)
  assert.deepEqual(l.borrowedBy('a'), { gpus: 3n })
})

test('lendingLimit caps what a lender lends, and only unused quota is lent', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 0 }, cohort: 'c' }), ns('b', { quota: { gpus: 8 }, cohort: 'c', lendingLimit: { gpus: 3 } })])
  assert.deepEqual(l.available('a'), { gpus: 3n })
  const r = l.check('a', gpus(4))
  assert.equal(r.ok, false)
  assert.match(r.ok ? '' : r.reason, /cohort "c" can lend it only 3 gpus now/)
  assert.equal(l.admit('a', 'w1', gpus(3)).ok, true)
  assert.deepEqual(l.lentBy('b'), { gpus: 3n })
  // b keeps 5 of its 8 GPUs for itself; once it uses 6, only its 2 free ones can be lent.
  l.release('w1')
  assert.equal(l.admit('b', 'w2', gpus(6)).ok, true)
  assert.deepEqual(l.available('a'), { gpus: 2n }, 'free quota (2) binds before the lending limit (3)')
})

test('one lender is used where one suffices; otherwise the lenders with most to lend go first', () => {
  const l = new QuotaLedger([
    ns('a', { quota: { gpus: 0 }, cohort: 'c' }),
    ns('b', { quota: { gpus: 2 }, cohort: 'c' }),
    ns('c', { quota: { gpus: 3 }, cohort: 'c' }),
    ns('d', { quota: { gpus: 3 }, cohort: 'c' }),
  ])
  assert.deepEqual(l.check('a', gpus(2)), { ok: true, borrowed: { gpus: 2n }, borrowedFrom: { c: { gpus: 2n } } })
  assert.deepEqual(l.check('a', gpus(7)), { ok: true, borrowed: { gpus: 7n }, borrowedFrom: { b: { gpus: 1n }, c: { gpus: 3n }, d: { gpus: 3n } } })
  assert.equal(l.check('a', gpus(9)).ok, false)
})

test('resources are independent: unlimited ones are never borrowed, model quotas are borrowed as such', () => {
  const l = new QuotaLedger([
    ns('a', { quota: { gpus: 8, models: [{ model: 'H100-80GB', gpus: 1 }] }, cohort: 'c' }),
    ns('b', { quota: { gpus: 8, models: [{ model: 'H100-80GB', gpus: 4 }], cpu: '16' }, cohort: 'c' }),
  ])
  const h100 = (n: number) => v({ gpus: n, models: [{ model: 'H100-80GB', gpus: n }], cpu: '64' })
  const r = l.admit('a', 'w1', h100(3))
  assert.deepEqual(r, { ok: true, borrowed: { 'model:H100-80GB': 2n }, borrowedFrom: { b: { 'model:H100-80GB': 2n } } })
  assert.deepEqual(l.usage('a'), { gpus: 3n, 'model:H100-80GB': 3n, cpu: 64_000n })
  assert.deepEqual(l.lentBy('b'), { 'model:H100-80GB': 2n }, 'a has no cpu quota, so its cpu is not borrowed from b')
  assert.equal(l.check('b', h100(3)).ok, false, 'b lent 2 of its 4 H100s and needs 64 cpus of its 16')
})

test('gpuMemory and memory are exact bytes; reasons print them as quantities', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpuMemory: '80Gi' } })])
  assert.equal(l.admit('a', 'w1', v({ gpuMemory: '40Gi' })).ok, true)
  assert.equal(l.check('a', v({ gpuMemory: '40Gi' })).ok, true)
  const r = l.check('a', { gpuMemory: (40n << 30n) + 1n })
  assert.equal(r.ok, false)
  assert.match(r.ok ? '' : r.reason, /needs 42949672961 gpuMemory and has 40Gi gpuMemory of its quota of 80Gi free/)
})

test('release returns borrowed capacity to the lender', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 2 }, cohort: 'c' }), ns('b', { quota: { gpus: 4 }, cohort: 'c' })])
  l.admit('a', 'w1', gpus(5))
  assert.deepEqual(l.lentBy('b'), { gpus: 3n })
  const released = l.release('w1')
  assert.deepEqual(released?.borrowedFrom, { b: { gpus: 3n } })
  assert.deepEqual(l.lentBy('b'), {})
  assert.deepEqual(l.usage('a'), {})
  assert.deepEqual(l.available('b'), { gpus: 6n })
  assert.equal(l.release('w1'), undefined, 'releasing twice is harmless')
})

test('when its own quota frees, a namespace moves borrowed parts onto it (highest priority first), freeing the lender', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 4 }, cohort: 'c' }), ns('b', { quota: { gpus: 4 }, cohort: 'c' })])
  l.admit('a', 'o1', gpus(2))
  l.admit('a', 'o2', gpus(2))
  l.admit('a', 'low', gpus(2), 0)
  l.admit('a', 'high', gpus(2), 9)
  assert.deepEqual(l.lentBy('b'), { gpus: 4n })
  l.release('o1')
  assert.deepEqual(l.workload('high')?.borrowed, {}, 'the high-priority workload moves onto own quota')
  assert.deepEqual(l.workload('low')?.borrowed, { gpus: 2n }, 'the low-priority one still borrows: it is the one a reclaim preempts')
  assert.deepEqual(l.lentBy('b'), { gpus: 2n })
  l.release('o2')
  assert.deepEqual(l.borrowedBy('a'), {})
  assert.deepEqual(l.lentBy('b'), {})
})

test('a lender that borrows elsewhere repays with the quota its borrowers give back', () => {
  const l = new QuotaLedger([
    ns('a', { quota: { gpus: 2 }, cohort: 'c' }),
    ns('b', { quota: { gpus: 2 }, cohort: 'c' }),
    ns('c', { quota: { gpus: 4 }, cohort: 'c' }),
  ])
  l.admit('a', 'a1', gpus(3)) // borrows 1 (from c, which has most to lend)
  l.admit('b', 'b1', gpus(2))
  l.admit('c', 'c1', gpus(2))
  l.admit('b', 'b2', gpus(1)) // borrows c's last free GPU
  assert.deepEqual(l.lentBy('c'), { gpus: 2n })
  l.release('b1') // b's quota frees: b2 moves onto it, c gets its GPU back
  assert.deepEqual(l.borrowedBy('b'), {})
  assert.deepEqual(l.lentBy('c'), { gpus: 1n })
})

test('reclaim preempts the borrowers of the lender: lowest highest priority first, then fewest', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 4 }, cohort: 'c' }), ns('b', { quota: { gpus: 0 }, cohort: 'c' })])
  l.admit('b', 'big', gpus(2), 5)
  l.admit('b', 'small1', gpus(1), 0)
  l.admit('b', 'small2', gpus(1), 0)
  assert.equal(l.check('a', gpus(2)).ok, false)
  const r = l.reclaimCandidates('a', gpus(2))
  assert.ok(r.ok)
  assert.deepEqual(r.victims.map((w) => w.id), ['small2', 'small1'], 'two priority-0 victims beat one priority-5 victim; newest first')
  const one = l.reclaimCandidates('a', gpus(1))
  assert.deepEqual(one.ok && one.victims.map((w) => w.id), ['small2'])

  const m = new QuotaLedger([ns('a', { quota: { gpus: 4 }, cohort: 'c' }), ns('b', { quota: { gpus: 0 }, cohort: 'c' })])
  m.admit('b', 'two', gpus(2), 1)
  m.admit('b', 'one1', gpus(1), 1)
  m.admit('b', 'one2', gpus(1), 1)
  const f = m.reclaimCandidates('a', gpus(2))
  assert.deepEqual(f.ok && f.victims.map((w) => w.id), ['two'], 'at equal priority, the fewest victims')
})

test('reclaim: victims released, the lender admits; no victims when it fits; no help past own quota', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 4 }, cohort: 'c' }), ns('b', { quota: { gpus: 2 }, cohort: 'c' })])
  l.admit('b', 'b1', gpus(2))
  l.admit('b', 'b2', gpus(3))
  assert.deepEqual(l.reclaimCandidates('a', gpus(1)), { ok: true, victims: [] })
  const r = l.reclaimCandidates('a', gpus(4))
  assert.ok(r.ok)
  assert.deepEqual(r.victims.map((w) => [w.id, w.namespace, w.borrowedFrom]), [['b2', 'b', { a: { gpus: 3n } }]])
  for (const w of r.victims) l.release(w.id)
  assert.equal(l.admit('a', 'a1', gpus(4)).ok, true)

  const none = l.reclaimCandidates('a', gpus(1))
  assert.equal(none.ok, false)
  assert.match(none.ok ? '' : none.reason, /no other namespace borrows that from "a", so preempting cannot help/)
  const m = new QuotaLedger([ns('a', { quota: { gpus: 2 }, cohort: 'c' }), ns('b', { quota: { gpus: 0 }, cohort: 'c' })])
  m.admit('b', 'b1', gpus(2))
  const past = m.reclaimCandidates('a', gpus(3))
  assert.equal(past.ok, false)
  assert.match(past.ok ? '' : past.reason, /^even preempting all 1 workloads that borrow from "a": namespace "a" needs 3 gpus and has 2 gpus/)
})

test('reclaim never preempts more of a namespace than its disruption budget allows now', () => {
  const l = new QuotaLedger([
    ns('a', { quota: { gpus: 4 }, cohort: 'c' }),
    ns('b', { quota: { gpus: 0 }, cohort: 'c' }),
    ns('d', { quota: { gpus: 0 }, cohort: 'c' }),
  ])
  l.admit('b', 'b1', gpus(1), 0)
  l.admit('b', 'b2', gpus(1), 0)
  l.admit('d', 'd1', gpus(2), 3)
  const free = l.reclaimCandidates('a', gpus(2))
  assert.deepEqual(free.ok && free.victims.map((w) => w.id), ['b2', 'b1'])
  const limited = l.reclaimCandidates('a', gpus(2), { preemptionsLeft: { b: 1 } })
  assert.deepEqual(limited.ok && limited.victims.map((w) => w.id), ['d1'])
  const blocked = l.reclaimCandidates('a', gpus(2), { preemptionsLeft: { b: 1, d: 0 } })
  assert.equal(blocked.ok, false)
  assert.match(blocked.ok ? '' : blocked.reason, /disruption budgets allow too few preemptions now/)
})

test('reclaim with many candidates (greedy, then minimised) still takes the lowest priorities and no spare victim', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 30 }, cohort: 'c' }), ns('b', { quota: { gpus: 0 }, cohort: 'c' })])
  for (let i = 0; i < 16; i++) l.admit('b', `w${i}`, gpus(1), 0)
  l.admit('b', 'pair', gpus(2), 0)
  for (let i = 0; i < 4; i++) l.admit('b', `high${i}`, gpus(2), 5)
  assert.deepEqual(l.available('a'), { gpus: 4n })
  const r = l.reclaimCandidates('a', gpus(7))
  assert.ok(r.ok)
  // Greedy over 17 priority-0 candidates, newest first: pair (2), w15 (1); neither can be dropped.
  assert.deepEqual(r.victims.map((w) => [w.id, w.priority]), [['pair', 0], ['w15', 0]])
})

test('errors: unknown namespace, workload admitted twice, malformed request, duplicate namespaces', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 1 } })])
  expectError(() => l.check('zz', gpus(1)), 'NOT_FOUND', /namespace "zz" is not known/)
  l.admit('a', 'w', gpus(1))
  expectError(() => l.admit('a', 'w', gpus(0)), 'ALLOCATION_CONFLICT', /already admitted/)
  assert.equal(l.check('a', { gpus: undefined, cpu: 0n }).ok, true, 'undefined and zero amounts ask for nothing')
  expectError(() => l.check('a', { gpus: -1n }), 'INVALID_INPUT', /gpus must be a bigint of 0 or more/)
  expectError(() => l.check('a', { gpu: 1n } as unknown as ResourceVector), 'INVALID_INPUT', /unknown resource "gpu"/)
  expectError(() => l.admit('a', 'x', gpus(0), Number.NaN), 'INVALID_INPUT', /priority/)
  expectError(() => new QuotaLedger([ns('a', {}), ns('a', {})]), 'INVALID_INPUT', /given twice/)
  expectError(() => v({ gpus: -1 } as NamespaceResources), 'INVALID_INPUT', /must not be negative/)
})

test('clone is independent of the original', () => {
  const l = new QuotaLedger([ns('a', { quota: { gpus: 2 }, cohort: 'c' }), ns('b', { quota: { gpus: 2 }, cohort: 'c' })])
  l.admit('a', 'w', gpus(3))
  const c = l.clone()
  c.release('w')
  assert.deepEqual(l.lentBy('b'), { gpus: 1n })
  assert.deepEqual(c.lentBy('b'), {})
})

// ---- properties over random event streams ----

const DIMS: ResourceName[] = ['gpus', 'gpuMemory', 'model:H100', 'cpu']
const COHORT = ['a', 'b', 'c']
const NAMES = [...COHORT, 'solo']
const get = (x: ResourceVector, r: ResourceName): bigint => x[r] ?? 0n

/** A quota (each resource limited or not), and limits at most the quota. */
const genNamespace = fc
  .record({
    gpus: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
    memGi: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
    h100: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
    cpu: fc.option(fc.integer({ min: 0, max: 16 }), { nil: undefined }),
    borrow: fc.array(fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined, freq: 2 }), { minLength: 4, maxLength: 4 }),
    lend: fc.array(fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined, freq: 2 }), { minLength: 4, maxLength: 4 }),
    weight: fc.constantFrom(0.5, 1, 2),
  })
  .map((g) => {
    const quota: Record<string, unknown> = {}
    const borrowingLimit: Record<string, unknown> = {}
    const lendingLimit: Record<string, unknown> = {}
    const put = (i: number, key: string, amount: number | undefined, fmt: (n: number) => unknown) => {
      if (amount === undefined) return
      const b = g.borrow[i]
      const f = g.lend[i]
      if (key === 'model') {
        quota.models = [{ model: 'H100', gpus: amount }]
        if (b !== undefined) borrowingLimit.models = [{ model: 'H100', gpus: b }]
        if (f !== undefined) lendingLimit.models = [{ model: 'H100', gpus: Math.floor(amount * f) }]
        return
      }
      quota[key] = fmt(amount)
      if (b !== undefined) borrowingLimit[key] = fmt(b)
      if (f !== undefined) lendingLimit[key] = fmt(Math.floor(amount * f))
    }
    put(0, 'gpus', g.gpus, (n) => n)
    put(1, 'gpuMemory', g.memGi, (n) => `${n * 40}Gi`)
    // A model's quota may not exceed the GPU quota (a validation rule of the Namespace kind).
    put(2, 'model', g.gpus !== undefined && g.h100 !== undefined ? Math.min(g.h100, g.gpus) : g.h100, (n) => n)
    put(3, 'cpu', g.cpu, (n) => `${n * 500}m`)
    return { quota, borrowingLimit, lendingLimit, fairShareWeight: g.weight }
  })

/** Each resource asked for about half the time, so that requests often fit on some resource and borrow on another. */
const some = (max: number) => fc.option(fc.integer({ min: 1, max }), { nil: undefined, freq: 2 }).map((x) => x ?? 0)
const genRequest = fc.record({ gpus: some(4), memGi: some(4), h100: some(2), cpu: some(6) }).map(
  (r): ResourceVector => ({ gpus: BigInt(Math.max(r.gpus, r.h100)), gpuMemory: BigInt(r.memGi * 40) << 30n, 'model:H100': BigInt(r.h100), cpu: BigInt(r.cpu * 500) }),
)

type Event =
  | { kind: 'admit'; ns: number; request: ResourceVector; priority: number }
  | { kind: 'release'; pick: number }
  | { kind: 'reclaim'; ns: number; request: ResourceVector; priority: number; budget?: number; back: number }

const genEvent: fc.Arbitrary<Event> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('admit' as const), ns: fc.nat(NAMES.length - 1), request: genRequest, priority: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        kind: fc.constant('reclaim' as const),
        ns: fc.nat(NAMES.length - 1),
        request: genRequest,
        priority: fc.integer({ min: 0, max: 3 }),
        budget: fc.integer({ min: 0, max: 2 }),
        back: fc.integer({ min: 1, max: 4 }),
      },
      { requiredKeys: ['kind', 'ns', 'request', 'priority', 'back'] },
    ),
  },
)

function buildLedger(specs: SpecInput[]): QuotaLedger {
  return new QuotaLedger(
    NAMES.map((name, i) => {
      const s = specs[i]
      const solo = name === 'solo'
      return ns(name, solo ? { quota: s.quota } : { ...s, cohort: 'c' })
    }),
  )
}

/** Every invariant of the ledger, recomputed from its workloads and configuration. */
function checkInvariants(l: QuotaLedger): void {
  const all = l.workloads()
  const cohortUse = new Map<ResourceName, bigint>()
  const cohortQuota = new Map<ResourceName, bigint>()
  for (const n of NAMES) {
    const cfg = l.namespace(n)
    const mine = all.filter((w) => w.namespace === n)
    const usage = l.usage(n)
    const borrowed = l.borrowedBy(n)
    const lent = l.lentBy(n)
    for (const r of DIMS) {
      assert.equal(get(usage, r), mine.reduce((s, w) => s + get(w.request, r), 0n), `usage of ${n} ${r}`)
      assert.equal(get(borrowed, r), mine.reduce((s, w) => s + get(w.borrowed, r), 0n), `borrowed of ${n} ${r}`)
      assert.equal(get(lent, r), all.reduce((s, w) => s + get(w.borrowedFrom[n] ?? {}, r), 0n), `lent of ${n} ${r}`)
      const q = cfg.quota[r]
      if (q === undefined) {
        assert.equal(get(borrowed, r) + get(lent, r), 0n, `${n} neither borrows nor lends unlimited ${r}`)
        continue
      }
      const own = get(usage, r) - get(borrowed, r)
      assert.ok(own + get(lent, r) <= q, `${n} ${r}: own ${own} + lent ${get(lent, r)} within quota ${q}`)
      assert.ok(get(usage, r) <= q + get(borrowed, r), `${n} ${r}: usage within quota plus borrowed`)
      const lendLimit = cfg.lendingLimit[r]
      if (lendLimit !== undefined) assert.ok(get(lent, r) <= lendLimit, `${n} ${r}: lent ${get(lent, r)} within lendingLimit ${lendLimit}`)
      const borrowLimit = cfg.borrowingLimit[r]
      if (borrowLimit !== undefined) assert.ok(get(borrowed, r) <= borrowLimit, `${n} ${r}: borrowed within borrowingLimit`)
      if (get(borrowed, r) > 0n) assert.equal(own + get(lent, r), q, `${n} ${r}: borrows only with its own quota used up`)
      if (cfg.cohort !== undefined) {
        cohortUse.set(r, (cohortUse.get(r) ?? 0n) + get(usage, r))
        cohortQuota.set(r, (cohortQuota.get(r) ?? 0n) + q)
      }
    }
    for (const w of mine) {
      for (const lender of Object.keys(w.borrowedFrom)) {
        assert.notEqual(lender, n, 'no namespace borrows from itself')
        assert.ok(cfg.cohort !== undefined && l.namespace(lender).cohort === cfg.cohort, 'borrowing stays within the cohort')
      }
    }
  }
  for (const [r, used] of cohortUse) assert.ok(used <= (cohortQuota.get(r) ?? 0n), `cohort usage of ${r} within the sum of quotas`)
}

/** Unused own quota of a limited resource, from the public view only. */
function freeOf(l: QuotaLedger, n: string, r: ResourceName): bigint {
  const q = l.namespace(n).quota[r] as bigint
  return q - (get(l.usage(n), r) - get(l.borrowedBy(n), r)) - get(l.lentBy(n), r)
}

/** What the namespace can lend now, from the public view only. */
function lendableOf(l: QuotaLedger, lender: string, r: ResourceName): bigint {
  const cfg = l.namespace(lender)
  const q = cfg.quota[r]
  if (q === undefined) return 0n
  let x = freeOf(l, lender, r)
  const limit = cfg.lendingLimit[r]
  if (limit !== undefined && limit - get(l.lentBy(lender), r) < x) x = limit - get(l.lentBy(lender), r)
  return x > 0n ? x : 0n
}

/** check's verdict and borrowed amounts, from the rules alone. */
function oracle(l: QuotaLedger, n: string, request: ResourceVector): { ok: boolean; borrowed: ResourceVector } {
  const cfg = l.namespace(n)
  const borrowed: Partial<Record<ResourceName, bigint>> = {}
  for (const r of DIMS) {
    const q = cfg.quota[r]
    if (q === undefined || get(request, r) === 0n) continue
    const need = get(request, r) - freeOf(l, n, r)
    if (need <= 0n) continue
    if (cfg.cohort === undefined) return { ok: false, borrowed: {} }
    const limit = cfg.borrowingLimit[r]
    if (limit !== undefined && get(l.borrowedBy(n), r) + need > limit) return { ok: false, borrowed: {} }
    const lendable = l.members(cfg.cohort).filter((m) => m !== n).reduce((s, m) => s + lendableOf(l, m, r), 0n)
    if (lendable < need) return { ok: false, borrowed: {} }
    borrowed[r] = need
  }
  return { ok: true, borrowed }
}

/**
 * A lender's request that needs some of its lent quota back: for each resource it lent, its free
 * quota plus back/4 of what it lent (at least 1); other resources as generated, cut to its quota.
 */
function wantBack(l: QuotaLedger, n: string, request: ResourceVector, back: number): ResourceVector {
  const out: Partial<Record<ResourceName, bigint>> = { ...request }
  for (const r of DIMS) {
    const q = l.namespace(n).quota[r]
    if (q === undefined) continue
    const lent = get(l.lentBy(n), r)
    const share = (lent * BigInt(back)) / 4n
    if (lent > 0n) out[r] = freeOf(l, n, r) + (share > 0n ? share : 1n)
    else if (get(request, r) > freeOf(l, n, r)) out[r] = freeOf(l, n, r)
  }
  return out
}

function fitsAfter(l: QuotaLedger, n: string, request: ResourceVector, victims: readonly string[]): boolean {
  const trial = l.clone()
  for (const id of victims) trial.release(id)
  return trial.check(n, request).ok
}

function* subsets<T>(items: readonly T[], k: number, start = 0): Generator<T[]> {
  if (k === 0) {
    yield []
    return
  }
  for (let i = start; i <= items.length - k; i++) for (const rest of subsets(items, k - 1, i + 1)) yield [items[i], ...rest]
}

/** reclaimCandidates' promises: victims borrow from n, suffice, are each needed, and no lower priority or fewer victims would do. */
function checkReclaim(l: QuotaLedger, n: string, request: ResourceVector, budget: Record<string, number>): void {
  const r = l.reclaimCandidates(n, request, { preemptionsLeft: budget })
  if (l.check(n, request).ok) {
    assert.deepEqual(r, { ok: true, victims: [] })
    return
  }
  const cfg = l.namespace(n)
  const short = DIMS.filter((d) => cfg.quota[d] !== undefined && get(request, d) > freeOf(l, n, d))
  const candidates = l.workloads().filter((w) => w.namespace !== n && short.some((d) => get(w.borrowedFrom[n] ?? {}, d) > 0n))
  const allowed = (set: readonly { namespace: string }[]) => NAMES.every((m) => budget[m] === undefined || set.filter((w) => w.namespace === m).length <= budget[m])
  if (!r.ok) {
    if (candidates.length <= 10) {
      for (let k = 1; k <= candidates.length; k++) for (const s of subsets(candidates, k)) assert.ok(!(allowed(s) && fitsAfter(l, n, request, s.map((w) => w.id))), 'reclaim said no, but a set of victims works')
    }
    return
  }
  const ids = r.victims.map((w) => w.id)
  assert.ok(r.victims.length > 0)
  assert.ok(allowed(r.victims), 'within the disruption budgets')
  for (const w of r.victims) assert.ok(candidates.some((c) => c.id === w.id), `victim ${w.id} borrows from ${n}`)
  assert.ok(fitsAfter(l, n, request, ids), 'the request fits once the victims are released')
  for (const id of ids) assert.ok(!fitsAfter(l, n, request, ids.filter((x) => x !== id)), `victim ${id} is needed`)
  const top = Math.max(...r.victims.map((w) => w.priority))
  const lower = candidates.filter((c) => c.priority < top)
  assert.ok(!fitsAfter(l, n, request, lower.map((c) => c.id)) || !allowed(lower) || lower.length > 10, 'no lower-priority set of victims would do')
  if (candidates.length <= 10) {
    const pool = candidates.filter((c) => c.priority <= top)
    for (let k = 1; k < ids.length; k++) {
      for (const s of subsets(pool, k)) assert.ok(!(allowed(s) && fitsAfter(l, n, request, s.map((w) => w.id))), `a set of ${k} victims would do, reclaim chose ${ids.length}`)
    }
  }
}

test('property: every event stream keeps the invariants; check agrees with the rules; admit agrees with check', () => {
  fc.assert(
    fc.property(fc.array(genNamespace, { minLength: NAMES.length, maxLength: NAMES.length }), fc.array(genEvent, { minLength: 1, maxLength: 60, size: 'max' }), (specs, events) => {
      const l = buildLedger(specs)
      let next = 0
      for (const e of events) {
        if (e.kind === 'release') {
          const all = l.workloads()
          if (all.length > 0) l.release(all[e.pick % all.length].id)
        } else {
          // A reclaim is asked by a namespace that lent something, for at most what it could get back.
          const lenders = NAMES.filter((m) => Object.keys(l.lentBy(m)).length > 0)
          const n = e.kind === 'reclaim' && lenders.length > 0 ? lenders[e.ns % lenders.length] : NAMES[e.ns]
          if (e.kind === 'reclaim') e.request = wantBack(l, n, e.request, e.back)
          const expected = oracle(l, n, e.request)
          const checked = l.check(n, e.request)
          assert.equal(checked.ok, expected.ok, `check of ${n} ${formatResources(e.request)}: ${checked.ok ? 'fits' : checked.reason}`)
          if (checked.ok) assert.deepEqual(checked.borrowed, Object.fromEntries(Object.entries(expected.borrowed).filter(([, x]) => x !== 0n)))
          if (e.kind === 'reclaim') {
            const budget = e.budget === undefined ? {} : Object.fromEntries(NAMES.map((m) => [m, e.budget as number]))
            checkReclaim(l, n, e.request, budget)
            const r = l.reclaimCandidates(n, e.request, { preemptionsLeft: budget })
            if (r.ok) for (const w of r.victims) l.release(w.id)
          }
          const admitted = l.admit(n, `w${next++}`, e.request, e.priority)
          if (e.kind === 'admit') assert.deepEqual(admitted, checked)
          else assert.equal(admitted.ok, l.workload(`w${next - 1}`) !== undefined)
        }
        checkInvariants(l)
      }
      for (const w of l.workloads()) l.release(w.id)
      for (const n of NAMES) assert.deepEqual([l.usage(n), l.borrowedBy(n), l.lentBy(n)], [{}, {}, {}])
    }),
    { numRuns: RUNS },
  )
})

test('property: available is the largest amount of each resource that check accepts', () => {
  fc.assert(
    fc.property(fc.array(genNamespace, { minLength: NAMES.length, maxLength: NAMES.length }), fc.array(fc.tuple(fc.nat(NAMES.length - 1), genRequest), { maxLength: 12, size: 'max' }), (specs, admits) => {
      const l = buildLedger(specs)
      admits.forEach(([i, req], k) => l.admit(NAMES[i], `w${k}`, req))
      for (const n of NAMES) {
        const avail = l.available(n)
        for (const r of Object.keys(avail) as ResourceName[]) {
          assert.equal(l.check(n, { [r]: avail[r] }).ok, true, `${n} can take its available ${r}`)
          assert.equal(l.check(n, { [r]: (avail[r] as bigint) + 1n }).ok, false, `${n} cannot take more than its available ${r}`)
        }
      }
    }),
    { numRuns: RUNS },
  )
})
