// Weighted DRF: dominant shares, and the order of pending workloads (unit cases and properties).
// PROPERTY_RUNS=N raises the number of property cases.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { GpuplaneError } from '../common/errors.ts'
import { Namespace } from '../api/namespace-v1alpha1.ts'
import { cohortFairShareState, compareShares, comparePending, dominantShare, orderPending, type FairShareState, type PendingWorkload } from './fair-share.ts'
import { QuotaLedger, toResourceVector as v, type ResourceVector } from './quota.ts'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 200)

const CAP: ResourceVector = { gpus: 8n, cpu: 16_000n }
function pending(namespace: string, name: string, gpus: number, extra: Partial<PendingWorkload> = {}): PendingWorkload {
  return { namespace, name, priority: 0, creationOrder: 0, request: { gpus: BigInt(gpus) }, ...extra }
}
const ids = (ws: PendingWorkload[]) => ws.map((w) => `${w.namespace}/${w.name}`)

test('dominantShare: the largest share over resources with capacity, divided by the weight', () => {
  const s = dominantShare({ gpus: 2n, cpu: 8000n, memory: 1n << 40n }, CAP)
  assert.equal(s.resource, 'cpu')
  assert.equal(s.value, 0.5)
  const w = dominantShare({ gpus: 2n, cpu: 8000n }, CAP, 2)
  assert.equal(w.value, 0.25)
  assert.equal(w.resource, 'cpu')
  const g = dominantShare({ gpus: 6n, cpu: 8000n }, CAP, 0.5)
  assert.equal(g.resource, 'gpus')
  assert.equal(g.value, 1.5)
  assert.deepEqual(dominantShare({}, CAP), { num: 0n, den: 1n, value: 0 })
  assert.deepEqual(dominantShare({ memory: 5n }, CAP), { num: 0n, den: 1n, value: 0 }, 'resources without capacity do not count')
  assert.deepEqual(dominantShare({ gpus: 1n }, { gpus: 0n }), { num: 0n, den: 1n, value: 0 })
})

test('dominantShare rejects weights below 0.001 and non-finite ones', () => {
  for (const bad of [0, 0.0004, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => dominantShare({ gpus: 1n }, CAP, bad), (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT')
  }
})

test('compareShares is exact where floats are not', () => {
  const third = dominantShare({ gpus: 1n }, { gpus: 3n })
  const almost = dominantShare({ gpus: 333_333_333_333_333_333n }, { gpus: 1_000_000_000_000_000_000n })
  assert.equal(compareShares(almost, third), -1)
  assert.equal(compareShares(third, almost), 1)
  assert.equal(compareShares(third, dominantShare({ gpus: 2n }, { gpus: 6n })), 0)
})

test('two equal namespaces take turns instead of one draining its queue first', () => {
  const order = orderPending([pending('a', 'a1', 1), pending('a', 'a2', 1), pending('a', 'a3', 1), pending('b', 'b1', 1), pending('b', 'b2', 1)], { capacity: CAP, usage: {} })
  assert.deepEqual(ids(order), ['a/a1', 'b/b1', 'a/a2', 'b/b2', 'a/a3'])
})

test('the namespace with the lower weighted dominant share goes first; weight 2 gets twice the share', () => {
  const state: FairShareState = { capacity: CAP, usage: { a: { gpus: 4n } }, weights: {} }
  assert.deepEqual(ids(orderPending([pending('a', 'a1', 1), pending('b', 'b1', 1)], state)), ['b/b1', 'a/a1'])
  const weighted = orderPending(
    Array.from({ length: 6 }, (_, i) => [pending('a', `a${i}`, 1, { creationOrder: i }), pending('b', `b${i}`, 1, { creationOrder: i })]).flat(),
    { capacity: CAP, usage: {}, weights: { a: 2 } },
  )
  // a (weight 2) is ordered twice for every one of b; at equal shares the earlier-created head goes first.
  assert.deepEqual(ids(weighted).slice(0, 9), ['a/a0', 'b/b0', 'a/a1', 'b/b1', 'a/a2', 'a/a3', 'b/b2', 'a/a4', 'a/a5'])
})

test('ties in share are broken by priority, then creation order, then name', () => {
  const order = orderPending(
    [
      pending('a', 'zed', 1, { priority: 1, creationOrder: 5 }),
      pending('b', 'old', 1, { priority: 1, creationOrder: 1 }),
      pending('c', 'top', 1, { priority: 7, creationOrder: 9 }),
      pending('d', 'alpha', 1, { priority: 1, creationOrder: 1 }),
    ],
    { capacity: CAP, usage: {} },
  )
  assert.deepEqual(ids(order), ['c/top', 'd/alpha', 'b/old', 'a/zed'])
})

test('within a namespace, higher priority first, even when it is larger', () => {
  const order = orderPending([pending('a', 'small', 1, { priority: 0 }), pending('a', 'big', 4, { priority: 5 }), pending('b', 'b1', 1)], { capacity: CAP, usage: {} })
  assert.deepEqual(ids(order), ['a/big', 'b/b1', 'a/small'])
})

test('cohortFairShareState sums the members quotas and reads their usage and weights', () => {
  const mk = (name: string, spec: Record<string, unknown>) => Namespace.parse({ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name }, spec })
  const l = new QuotaLedger([
    mk('a', { cohort: 'c', quota: { gpus: 4, cpu: '8' }, fairShareWeight: 2 }),
    mk('b', { cohort: 'c', quota: { gpus: 4 } }),
    mk('x', { quota: { gpus: 100 } }),
  ])
  l.admit('b', 'w', v({ gpus: 6, cpu: '1' }))
  const state = cohortFairShareState(l, 'c')
  assert.deepEqual(state, { capacity: { gpus: 8n, cpu: 8000n }, usage: { a: {}, b: { gpus: 6n, cpu: 1000n } }, weights: { a: 2, b: 1 } })
  assert.deepEqual(ids(orderPending([pending('b', 'b1', 1), pending('a', 'a1', 1)], state)), ['a/a1', 'b/b1'])
})

// ---- properties ----

const NS = ['a', 'b', 'c', 'd']
const genPending = fc.uniqueArray(
  fc.record({
    namespace: fc.constantFrom(...NS),
    name: fc.constantFrom('w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'),
    priority: fc.integer({ min: 0, max: 3 }),
    creationOrder: fc.integer({ min: 0, max: 5 }),
    request: fc.record({ gpus: fc.bigInt({ min: 0n, max: 4n }), cpu: fc.bigInt({ min: 0n, max: 8000n }) }),
  }),
  { selector: (w) => `${w.namespace}/${w.name}`, maxLength: 24, size: 'max' },
)
const genState = fc.record({
  capacity: fc.record({ gpus: fc.bigInt({ min: 0n, max: 16n }), cpu: fc.bigInt({ min: 0n, max: 32_000n }) }),
  usage: fc.dictionary(fc.constantFrom(...NS), fc.record({ gpus: fc.bigInt({ min: 0n, max: 8n }), cpu: fc.bigInt({ min: 0n, max: 16_000n }) })),
  weights: fc.dictionary(fc.constantFrom(...NS), fc.constantFrom(0.5, 1, 1.5, 2, 3)),
})

test('property: the order is a permutation, keeps each namespace in comparePending order, and ignores input order', () => {
  fc.assert(
    fc.property(genPending, genState, fc.infiniteStream(fc.nat()), (ws, state: FairShareState, rand) => {
      const order = orderPending(ws, state)
      assert.deepEqual([...ids(order)].sort(), [...ids(ws)].sort())
      for (const n of NS) {
        const mine = order.filter((w) => w.namespace === n)
        assert.deepEqual(mine, [...mine].sort(comparePending))
      }
      const shuffled = [...ws]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = rand.next().value % (i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]]
      }
      assert.deepEqual(ids(orderPending(shuffled, state)), ids(order))
    }),
    { numRuns: RUNS },
  )
})

test('property: each workload comes from a namespace of lowest weighted dominant share at that point', () => {
  fc.assert(
    fc.property(genPending, genState, (ws, state: FairShareState) => {
      const order = orderPending(ws, state)
      const usage = new Map(NS.map((n) => [n, { gpus: state.usage[n]?.gpus ?? 0n, cpu: state.usage[n]?.cpu ?? 0n }]))
      const share = (n: string) => dominantShare(usage.get(n) as ResourceVector, state.capacity, state.weights?.[n] ?? 1)
      order.forEach((w, i) => {
        const waiting = new Set(order.slice(i).map((x) => x.namespace))
        for (const other of waiting) assert.ok(compareShares(share(w.namespace), share(other)) <= 0, `step ${i}: ${w.namespace} before ${other} with a higher share`)
        const u = usage.get(w.namespace) as { gpus: bigint; cpu: bigint }
        u.gpus += w.request.gpus ?? 0n
        u.cpu += w.request.cpu ?? 0n
      })
    }),
    { numRuns: RUNS },
  )
})
