import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Namespace } from '../api/namespace-v1alpha1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import { deviceClasses, publishHost } from '../inventory/publish.ts'
import { Scheduler } from './scheduler.ts'
import { clusterView } from './view.ts'

const hostA = publishHost({ node: 'a', mode: 'whole', gpus: Array.from({ length: 8 }, (_, i) => ({ index: i, uuid: `GPU-a-${i}`, productName: 'NVIDIA H100 80GB HBM3', model: 'H100-80GB' })) })

function ns(name: string, gpus: number, extra: Partial<Namespace['spec']> = {}): Namespace {
  return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name }, spec: { quota: { gpus }, ...extra } } as Namespace
}

function workload(name: string, namespace: string, count: number, priority = 0): Workload {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace },
    spec: { priority, resourceClaims: [{ name: 'gpus', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count } }] } } }] },
  }
}

function scheduler(namespaces: Namespace[]) {
  return new Scheduler(clusterView({ nodes: [{ name: 'a', labels: {}, taints: [] }], slices: hostA, classes: deviceClasses(), namespaces }))
}

test('a namespace gets its quota, borrows what its cohort lends, and no more', () => {
  const s = scheduler([ns('team-a', 4, { cohort: 'ml' }), ns('team-b', 4, { cohort: 'ml', lendingLimit: { gpus: 2 } })])
  const first = s.scheduleOne(workload('big', 'team-a', 6))
  assert.ok(first.ok, !first.ok ? first.reason : '')
  assert.deepEqual(s.view.quota!.borrowedBy('team-a'), { gpus: 2n })
  const more = s.scheduleOne(workload('more', 'team-a', 1))
  assert.equal(more.ok, false)
  assert.match(!more.ok ? more.reason : '', /quota of namespace team-a/)
  // team-b still has its own 2 GPUs (4 minus the 2 it lent).
  assert.ok(s.scheduleOne(workload('b1', 'team-b', 2)).ok)
  // Releasing the borrower gives the lender its quota back.
  assert.ok(s.unschedule('team-a/big'))
  assert.deepEqual(s.view.quota!.borrowedBy('team-a'), {})
  assert.ok(s.scheduleOne(workload('b2', 'team-b', 2)).ok)
})

test('a failed quota reservation releases the devices the DRA plugin reserved', () => {
  // Two GPUs pass the pre-filter's count, but two H100s' memory exceeds the 100Gi quota: only the
  // reservation, which sees the devices, can tell.
  const s = scheduler([{ ...ns('small', 2), spec: { quota: { gpus: 2, gpuMemory: '100Gi' } } } as Namespace])
  const d = s.scheduleOne(workload('two', 'small', 2))
  assert.equal(d.ok, false)
  assert.match(!d.ok ? d.reason : '', /^reservation refused on 1 node: namespace-quota: quota of namespace small: .*gpuMemory/)
  assert.deepEqual(s.view.quota!.usage('small'), {})
  // Nothing is held: another namespace without quota limits takes all 8 GPUs.
  assert.ok(s.scheduleOne(workload('all', 'other', 8)).ok)
})

test('within one priority, namespaces take turns by weighted dominant share', () => {
  const s = scheduler([ns('team-a', 8), ns('team-b', 8)])
  assert.ok(s.scheduleOne(workload('a0', 'team-a', 2)).ok)
  // 6 GPUs left. In submission order a1 (3) would fit and b1 (4) would not; team-b's share is lower
  // (0 against 2 of 16 quota GPUs), so b1 goes first and it is a1 that no longer fits.
  const decisions = s.scheduleAll([workload('a1', 'team-a', 3), workload('b1', 'team-b', 4)])
  assert.deepEqual(decisions.map((d) => [d.workload, d.ok]), [['team-a/a1', false], ['team-b/b1', true]])
  // Without quotas there are no shares: submission order.
  const plain = new Scheduler(clusterView({ nodes: [{ name: 'a', labels: {}, taints: [] }], slices: hostA, classes: deviceClasses() }))
  assert.ok(plain.scheduleOne(workload('a0', 'team-a', 2)).ok)
  assert.deepEqual(plain.scheduleAll([workload('a1', 'team-a', 3), workload('b1', 'team-b', 4)]).map((d) => d.ok), [true, false])
  // Priority still comes first.
  const p = scheduler([ns('team-a', 8), ns('team-b', 8)])
  assert.ok(p.scheduleOne(workload('a0', 'team-a', 4)).ok)
  const urgent = p.scheduleAll([workload('b1', 'team-b', 4), workload('a1', 'team-a', 4, 10)])
  assert.deepEqual(urgent.map((d) => [d.workload, d.ok]), [['team-b/b1', false], ['team-a/a1', true]])
})

test('a lender takes its quota back: the lowest-priority borrower is preempted, devices and quota freed', () => {
  const cohort = () => [ns('lender', 4, { cohort: 'ml' }), ns('borrower', 0, { cohort: 'ml' })]
  const s = scheduler(cohort())
  assert.ok(s.scheduleOne(workload('b-high', 'borrower', 2, 100)).ok)
  assert.ok(s.scheduleOne(workload('b-low', 'borrower', 2, 0)).ok)
  assert.deepEqual(s.view.quota!.borrowedBy('borrower'), { gpus: 4n })
  // Borrowed capacity is preemptible whatever its priority; the ledger picks the lowest first.
  const d = s.scheduleOne(workload('mine', 'lender', 2, 0))
  assert.ok(d.ok, !d.ok ? d.reason : '')
  assert.deepEqual(d.preempted, ['borrower/b-low'])
  assert.equal(s.placementOf('borrower/b-low'), undefined)
  assert.equal(s.placementOf('borrower/b-high'), 'a')
  assert.equal(s.view.quota!.usage('lender').gpus, 2n)
  assert.deepEqual(s.view.quota!.borrowedBy('borrower'), { gpus: 2n })
  // Only the 4 GPUs still held are allocated: b-low's devices went back.
  assert.ok(s.scheduleOne(workload('rest', 'other', 4)).ok)

  // A disruption budget of 0 for the borrower's namespace forbids the reclaim, and says so.
  const budget = new Scheduler(clusterView({ nodes: [{ name: 'a', labels: {}, taints: [] }], slices: hostA, classes: deviceClasses(), namespaces: cohort() }), undefined, { preemptionsLeft: { borrower: 0 } })
  assert.ok(budget.scheduleOne(workload('b1', 'borrower', 4)).ok)
  const refused = budget.scheduleOne(workload('mine', 'lender', 1))
  assert.equal(refused.ok, false)
  assert.match(!refused.ok ? refused.reason : '', /namespace-quota: quota of namespace lender: .*disruption budgets allow too few preemptions/)
  assert.equal(budget.placementOf('borrower/b1'), 'a')
})

test('a reclaim is undone when the cycle fails afterwards; a gang member takes its gang with it', () => {
  const s = scheduler([ns('lender', 4, { cohort: 'ml' }), ns('borrower', 0, { cohort: 'ml' })])
  const member = (name: string): Workload => ({ ...workload(name, 'borrower', 2), spec: { ...workload(name, 'borrower', 2).spec, gang: { group: 'g', minMember: 2 } } })
  const gang = s.scheduleGang([member('m1'), member('m2')], 2)
  assert.ok([...gang.values()].every((d) => d.ok))
  // The reclaim succeeds at pre-filter, but no node carries the label: nothing may stay preempted.
  const nowhere = { ...workload('mine', 'lender', 1), spec: { ...workload('mine', 'lender', 1).spec, nodeSelector: { zone: 'mars' } } }
  const failed = s.scheduleOne(nowhere)
  assert.equal(failed.ok, false)
  assert.equal(s.placementOf('borrower/m1'), 'a')
  assert.equal(s.placementOf('borrower/m2'), 'a')
  assert.deepEqual(s.view.quota!.borrowedBy('borrower'), { gpus: 4n })
  // One GPU needs one victim, but its gang goes with it.
  const d = s.scheduleOne(workload('mine', 'lender', 1))
  assert.ok(d.ok, !d.ok ? d.reason : '')
  assert.deepEqual([...(d.preempted ?? [])].sort(), ['borrower/m1', 'borrower/m2'])
  assert.deepEqual(s.view.quota!.borrowedBy('borrower'), {})
})

test('property: under random streams with cohorts, reclaim and preemption, quota and devices are never oversubscribed and every refusal is real', () => {
  const hostB = publishHost({ node: 'b', mode: 'whole', gpus: Array.from({ length: 4 }, (_, i) => ({ index: i, uuid: `GPU-b-${i}`, productName: 'NVIDIA H100 80GB HBM3', model: 'H100-80GB' })) })
  const NS = ['red', 'green', 'blue']
  fc.assert(
    fc.property(
      fc.array(fc.record({ gpus: fc.integer({ min: 0, max: 4 }), lend: fc.integer({ min: 0, max: 4 }) }), { minLength: 3, maxLength: 3 }),
      fc.array(fc.record({ ns: fc.nat(2), gpus: fc.integer({ min: 1, max: 3 }), priority: fc.integer({ min: 0, max: 2 }), remove: fc.option(fc.nat(), { nil: undefined }) }), { maxLength: 30 }),
      (quotas, events) => {
        const namespaces = NS.map((n, i) => ns(n, quotas[i].gpus, { cohort: 'all', lendingLimit: { gpus: quotas[i].lend } }))
        const s = new Scheduler(clusterView({ nodes: ['a', 'b'].map((name) => ({ name, labels: {}, taints: [] })), slices: [...hostA, ...hostB], classes: deviceClasses(), namespaces }))
        const live = new Map<string, { ns: string; gpus: number; devices: string[] }>()
        events.forEach((e, i) => {
          if (e.remove !== undefined && live.size > 0) {
            const key = [...live.keys()][e.remove % live.size]
            assert.ok(s.unschedule(key))
            live.delete(key)
          }
          const w = workload(`w${i}`, NS[e.ns], e.gpus, e.priority)
          const d = s.scheduleOne(w)
          if (d.ok) {
            for (const v of d.preempted ?? []) assert.ok(live.delete(v), `victim ${v} was placed`)
            live.set(d.workload, { ns: NS[e.ns], gpus: e.gpus, devices: d.allocations.flatMap((a) => a.devices!.results!.map((r) => `${r.pool}/${r.device}`)) })
          } else if (!/quota/.test(d.reason)) {
            // Refused for devices: then no node has that many free GPUs (no stale cache said no).
            const held = new Set([...live.values()].flatMap((l) => l.devices))
            for (const [node, total] of [['a', 8], ['b', 4]] as const) assert.ok(total - [...held].filter((x) => x.startsWith(`${node}/`)).length < e.gpus, `${d.workload} refused (${d.reason}) though node ${node} has room`)
          }
          const held = [...live.values()].flatMap((l) => l.devices)
          assert.equal(new Set(held).size, held.length, 'a device is held twice')
          const ledger = s.view.quota!
          for (const [i2, n] of NS.entries()) {
            const used = [...live.values()].filter((l) => l.ns === n).reduce((c, l) => c + l.gpus, 0)
            assert.equal(ledger.usage(n).gpus ?? 0n, BigInt(used), `ledger usage of ${n}`)
            assert.ok(used <= quotas[i2].gpus + Number(ledger.borrowedBy(n).gpus ?? 0n), `${n} within quota plus borrowed`)
            assert.ok(Number(ledger.lentBy(n).gpus ?? 0n) <= quotas[i2].lend, `${n} lends within its lendingLimit`)
          }
          const capacity = quotas.reduce((c, q) => c + q.gpus, 0)
          assert.ok(held.length <= capacity, 'the cohort never uses more than its quotas together')
        })
      },
    ),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 60) },
  )
})
