import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { ResourceClaimSpec } from '../api/resource-v1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import { deviceClasses, publishHost } from '../inventory/publish.ts'
import type { HostInfo } from '../inventory/types.ts'
import { defaultProfile, Scheduler } from './scheduler.ts'
import type { SchedNode } from './types.ts'
import { clusterView } from './view.ts'

/** A host of `n` H100s; `domains` NVLink domains of equal size (0: none). */
function host(name: string, n = 8, domains = 1): HostInfo {
  return {
    node: name,
    mode: 'whole',
    gpus: Array.from({ length: n }, (_, i) => ({
      index: i,
      uuid: `GPU-${name}-${i}`,
      productName: 'NVIDIA H100 80GB HBM3',
      model: 'H100-80GB',
      ...(domains > 0 ? { nvlinkDomain: `${name}-nvl${Math.floor(i / (n / domains))}` } : {}),
    })),
  }
}

function view(hosts: HostInfo[], nodes?: SchedNode[]) {
  return clusterView({ nodes: nodes ?? hosts.map((h) => ({ name: h.node, labels: {}, taints: [], cpuMilli: 64000, memoryBytes: 512 * 2 ** 30 })), slices: hosts.flatMap((h) => publishHost(h)), classes: deviceClasses() })
}

function gpus(count: number, sameDomain = false): ResourceClaimSpec {
  return { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count } }], ...(sameDomain ? { constraints: [{ matchAttribute: 'gpuplane.io/nvlinkDomain' }] } : {}) } }
}

function workload(name: string, claim?: ResourceClaimSpec, extra: Partial<Workload['spec']> = {}, namespace = 'team'): Workload {
  return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name, namespace }, spec: { resources: { cpu: '4', memory: '16Gi' }, ...(claim ? { resourceClaims: [{ name: 'gpus', spec: claim }] } : {}), ...extra } }
}

test('places a workload and reports the devices; explains why not per node class', () => {
  const s = new Scheduler(view([host('a'), host('b')]))
  const d = s.scheduleOne(workload('w1', gpus(2, true)))
  assert.ok(d.ok)
  assert.equal(d.node, 'a')
  assert.deepEqual(d.allocations[0].devices!.results!.map((r) => r.device), ['gpu-0', 'gpu-1'])
  const big = s.scheduleOne(workload('w2', gpus(9)))
  assert.equal(big.ok, false)
  assert.match(!big.ok ? big.reason : '', /^2 nodes: insufficient NVIDIA H100 80GB HBM3 \(need 9, best has 8 free\)$/)
})

test('binpack fills a node first; spread goes to the emptier node', () => {
  const packed = new Scheduler(view([host('a'), host('b')]), defaultProfile({ binpack: 1 }))
  const spreadOut = new Scheduler(view([host('a'), host('b')]), defaultProfile({ spread: 1 }))
  const nodesOf = (s: Scheduler) => [1, 2, 3].map((i) => s.scheduleOne(workload(`w${i}`, gpus(1)))).map((d) => (d.ok ? d.node : '-'))
  assert.deepEqual(nodesOf(packed), ['a', 'a', 'a'])
  assert.deepEqual(nodesOf(spreadOut), ['a', 'b', 'a'])
})

test('topology keeps a 2-GPU claim inside one NVLink domain and leaves whole domains free', () => {
  // Node a: GPUs in pairs (4 domains). A first 1-GPU workload takes domain 0; a 2-GPU workload
  // without a constraint then still lands on a fresh pair, not across domains.
  const s = new Scheduler(view([host('a', 8, 4)]), defaultProfile({ topology: 1, binpack: 1 }))
  const one = s.scheduleOne(workload('one', gpus(1)))
  const two = s.scheduleOne(workload('two', gpus(2)))
  assert.ok(one.ok && two.ok)
  const devs = two.allocations[0].devices!.results!.map((r) => r.device)
  assert.deepEqual(devs, ['gpu-2', 'gpu-3'])
})

test('topology: a single GPU completes a domain in use rather than breaking a free one', () => {
  const s = new Scheduler(view([host('a', 8, 4)]), defaultProfile({ topology: 1 }))
  const first = (d: ReturnType<Scheduler['scheduleOne']>) => (d.ok ? d.allocations[0].devices!.results!.map((r) => r.device) : [])
  assert.deepEqual(first(s.scheduleOne(workload('pair', gpus(2)))), ['gpu-0', 'gpu-1'])
  assert.deepEqual(first(s.scheduleOne(workload('single', gpus(1)))), ['gpu-2'])
  assert.ok(s.unschedule('team/pair'))
  // Domain 0 is whole again and domain 1 is half used: first fit would take gpu-0.
  assert.deepEqual(first(s.scheduleOne(workload('next', gpus(1)))), ['gpu-3'])
})

test('filters: node selector, taints, CPU and memory', () => {
  const nodes: SchedNode[] = [
    { name: 'a', labels: { zone: 'x' }, taints: [{ key: 'dedicated', value: 'ml', effect: 'NoSchedule' }], cpuMilli: 64000, memoryBytes: 2 ** 40 },
    { name: 'b', labels: { zone: 'y' }, taints: [], cpuMilli: 2000, memoryBytes: 2 ** 40 },
  ]
  const s = new Scheduler(view([host('a'), host('b')], nodes))
  const d = s.scheduleOne(workload('w', gpus(1), { nodeSelector: { zone: 'x' } }))
  assert.equal(d.ok, false)
  assert.match(!d.ok ? d.reason : '', /1 node: node label zone=x missing; 1 node: untolerated taint dedicated=ml:NoSchedule|1 node: untolerated taint dedicated=ml:NoSchedule; 1 node: node label zone=x missing/)
  const ok = s.scheduleOne(workload('w2', gpus(1), { nodeSelector: { zone: 'x' }, tolerations: [{ key: 'dedicated', operator: 'Exists' }] }))
  assert.ok(ok.ok && ok.node === 'a')
  const cpu = s.scheduleOne(workload('w3', gpus(1), { nodeSelector: { zone: 'y' } }))
  assert.match(!cpu.ok ? cpu.reason : '', /insufficient cpu \(need 4000m, 2000m free\)/)
})

test('a gang is placed all together or not at all, holding nothing when it fails', () => {
  const s = new Scheduler(view([host('a', 8), host('b', 8)]))
  const member = (i: number) => workload(`m${i}`, gpus(8), { gang: { group: 'job', minMember: 3 } })
  const decisions = s.scheduleAll([member(0), member(1), member(2)])
  assert.ok(decisions.every((d) => !d.ok))
  assert.match(!decisions[0].ok ? decisions[0].reason : '', /gang job: only 2 of 3 members fit together, none placed/)
  // Everything was released: an 8-GPU workload fits on each node again.
  assert.ok(s.scheduleOne(workload('after-a', gpus(8))).ok)
  assert.ok(s.scheduleOne(workload('after-b', gpus(8))).ok)
  const small = new Scheduler(view([host('a', 8), host('b', 8)]))
  const twoOfTwo = small.scheduleAll([0, 1].map((i) => workload(`g${i}`, gpus(8), { gang: { group: 'pair', minMember: 2 } })))
  assert.deepEqual(twoOfTwo.map((d) => (d.ok ? d.node : '-')), ['a', 'b'])
})

test('stopWhen ends a batch early, after a prefix of the queue order, a gang whole and never before the first decision', () => {
  const s = new Scheduler(view([host('a', 8), host('b', 8)]))
  const batch = [workload('first', gpus(1)), workload('urgent', gpus(1), { priority: 100 }), ...[0, 1].map((i) => workload(`g${i}`, gpus(2), { gang: { group: 'pair', minMember: 2 } })), workload('last', gpus(1))]
  let asked = 0
  // Asked only once something is decided: 'urgent' (priority first), 'first', then asked again and the gang is not started.
  const some = s.scheduleAll(batch, { stopWhen: () => ++asked >= 2 })
  assert.deepEqual(some.map((d) => [d.workload, d.ok]), [['team/first', true], ['team/urgent', true]], 'decisions in input order, for the queue prefix only')
  assert.equal(s.placementOf('team/g0'), undefined, 'nothing was decided past the stop')
  // A gang is one unit: a stop after it leaves both members decided.
  const rest = s.scheduleAll(batch.slice(2), { stopWhen: () => true })
  assert.deepEqual(rest.map((d) => d.workload), ['team/g0', 'team/g1'], 'a batch always decides its first unit, a gang whole')
  // Without stopWhen every workload gets a decision, as before.
  assert.equal(new Scheduler(view([host('a', 8)])).scheduleAll(batch).length, batch.length)
})

test('higher priority goes first; the same input gives the same decisions', () => {
  const batch = [workload('low', gpus(8)), workload('high', gpus(8), { priority: 100 })]
  const run = () => new Scheduler(view([host('a', 8)])).scheduleAll(batch).map((d) => [d.workload, d.ok])
  assert.deepEqual(run(), [['team/low', false], ['team/high', true]])
  assert.deepEqual(run(), run())
})

test('property: under random placements and removals no device is held twice and no node is overcommitted', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.record({ op: fc.constant('add' as const), gpus: fc.integer({ min: 0, max: 5 }), cpu: fc.integer({ min: 1, max: 20 }) }), fc.record({ op: fc.constant('remove' as const), which: fc.nat() })), { maxLength: 40 }),
      (events) => {
        const nodes: SchedNode[] = ['a', 'b'].map((name) => ({ name, labels: {}, taints: [], cpuMilli: 32000, memoryBytes: 2 ** 40 }))
        const s = new Scheduler(view([host('a', 4, 2), host('b', 4, 0)], nodes))
        const live: Array<{ key: string; node: string; devices: string[]; cpu: number }> = []
        events.forEach((e, i) => {
          if (e.op === 'add') {
            const w = workload(`w${i}`, e.gpus > 0 ? gpus(e.gpus) : undefined, { resources: { cpu: String(e.cpu), memory: '1Gi' } })
            const d = s.scheduleOne(w)
            if (d.ok) live.push({ key: d.workload, node: d.node, devices: d.allocations.flatMap((a) => a.devices!.results!.map((r) => `${r.pool}/${r.device}`)), cpu: e.cpu })
          } else if (live.length > 0) {
            const [gone] = live.splice(e.which % live.length, 1)
            assert.ok(s.unschedule(gone.key))
          }
          const held = live.flatMap((l) => l.devices)
          assert.equal(new Set(held).size, held.length, 'a device is held twice')
          for (const n of ['a', 'b']) assert.ok(live.filter((l) => l.node === n).reduce((c, l) => c + l.cpu, 0) <= 32, `node ${n} overcommitted`)
          for (const l of live) for (const dev of l.devices) assert.ok(dev.startsWith(`${l.node}/`), 'devices on the workload\'s node')
        })
      },
    ),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 100) },
  )
})

test('preemption frees DRA devices: the lowest-priority victims, just enough of them', () => {
  const s = new Scheduler(view([host('a', 8, 0)]))
  for (let i = 0; i < 8; i++) assert.ok(s.scheduleOne(workload(`low${i}`, gpus(1), { priority: 10 - i })).ok)
  const d = s.scheduleOne(workload('urgent', gpus(2), { priority: 100 }))
  assert.ok(d.ok, !d.ok ? d.reason : '')
  // low7 (priority 3) and low6 (priority 4) are the two lowest; their GPUs are the ones handed over.
  assert.deepEqual(d.preempted?.sort(), ['team/low6', 'team/low7'])
  assert.deepEqual(d.allocations[0].devices!.results!.map((r) => r.device), ['gpu-6', 'gpu-7'])
  assert.equal(s.placementOf('team/low5'), 'a')
  assert.equal(s.placementOf('team/low7'), undefined)
})

test('preemption honours disruption budgets, never takes gang members, never equal priority', () => {
  const budget = new Scheduler(view([host('a', 2, 0)]), defaultProfile(), { preemptionsLeft: { team: 1 } })
  budget.scheduleOne(workload('x', gpus(1), { priority: 1 }))
  budget.scheduleOne(workload('y', gpus(1), { priority: 1 }))
  const blocked = budget.scheduleOne(workload('big', gpus(2), { priority: 50 }))
  assert.equal(blocked.ok, false)
  assert.ok(budget.scheduleOne(workload('one', gpus(1), { priority: 50 })).ok, 'one victim is within the budget')
  assert.equal(budget.scheduleOne(workload('two', gpus(1), { priority: 50 })).ok, false, 'the budget is spent')

  const gang = new Scheduler(view([host('a', 2, 0)]))
  gang.scheduleAll([0, 1].map((i) => workload(`g${i}`, gpus(1), { gang: { group: 'g', minMember: 2 } })))
  assert.equal(gang.scheduleOne(workload('high', gpus(1), { priority: 99 })).ok, false)
  const equal = new Scheduler(view([host('a', 1, 0)]))
  equal.scheduleOne(workload('first', gpus(1), { priority: 5 }))
  assert.equal(equal.scheduleOne(workload('second', gpus(1), { priority: 5 })).ok, false)
})

test('property: with priorities and preemption, devices stay exclusive and victims are always lower priority', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ gpus: fc.integer({ min: 1, max: 4 }), priority: fc.integer({ min: 0, max: 3 }), remove: fc.option(fc.nat(), { nil: undefined }) }), { maxLength: 30 }), (events) => {
      const s = new Scheduler(view([host('a', 4, 2), host('b', 4, 0)]))
      const live = new Map<string, { priority: number; devices: string[] }>()
      events.forEach((e, i) => {
        if (e.remove !== undefined && live.size > 0) {
          const key = [...live.keys()][e.remove % live.size]
          assert.ok(s.unschedule(key))
          live.delete(key)
        }
        const d = s.scheduleOne(workload(`w${i}`, gpus(e.gpus), { priority: e.priority }))
        if (!d.ok) return
        for (const v of d.preempted ?? []) {
          assert.ok(live.get(v)!.priority < e.priority, 'a victim of lower priority')
          live.delete(v)
        }
        live.set(d.workload, { priority: e.priority, devices: d.allocations.flatMap((a) => a.devices!.results!.map((r) => `${r.pool}/${r.device}`)) })
        const held = [...live.values()].flatMap((l) => l.devices)
        assert.equal(new Set(held).size, held.length, 'a device is held twice')
        for (const key of live.keys()) assert.ok(s.placementOf(key), `${key} is placed`)
      })
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 100) },
  )
})

test('topology scores int attributes (numaNode) and keeps a 2-GPU claim on one NUMA node', () => {
  // numaNode is published as an int (a bigint once decoded); GPUs 0-3 on node 0, 4-7 on node 1.
  const h = host('a', 8, 0)
  h.gpus.forEach((g, i) => Object.assign(g, { numaNode: i < 4 ? 0 : 1 }))
  const s = new Scheduler(view([h]))
  assert.ok(s.scheduleOne(workload('w1', gpus(3))).ok)
  const d = s.scheduleOne(workload('w2', gpus(2)))
  assert.ok(d.ok, !d.ok ? d.reason : '')
  assert.deepEqual(d.allocations[0].devices!.results!.map((r) => r.device), ['gpu-4', 'gpu-5'], 'not gpu-3 with gpu-4 across NUMA nodes')
})

test('explanations name the model, what one NVLink domain lacks, and merge nodes that differ only in how much they have', () => {
  const s = new Scheduler(view([host('a', 8, 2), host('b', 8, 2), host('c', 4, 0)]))
  assert.ok(s.scheduleOne(workload('one', gpus(1))).ok)
  const d = s.scheduleOne(workload('six', gpus(6, true)))
  assert.equal(d.ok, false)
  // a and b have two domains of 4 (a has 3 free in one now); c's GPUs are in no NVLink domain.
  assert.equal(!d.ok ? d.reason : '', '3 nodes: insufficient NVIDIA H100 80GB HBM3 (need 6 in one NVLink domain, best has 4 free)')
  const nine = s.scheduleOne(workload('nine', gpus(9)))
  assert.equal(!nine.ok ? nine.reason : '', '3 nodes: insufficient NVIDIA H100 80GB HBM3 (need 9, best has 8 free)')
})

test('gang permit: members hold reservations waiting for their gang, go together, and a gang that never completes is released after its wait', () => {
  const member = (name: string, group: string, min: number) => workload(name, gpus(2), { gang: { group, minMember: min } })
  const s = new Scheduler(view([host('a', 16, 0)]), defaultProfile(), { gangWaitCycles: 3 })
  const first = s.scheduleOne(member('m1', 'g', 2))
  assert.ok(first.ok)
  assert.match(first.waiting ?? '', /^gang-permit: gang g: 1 of 2 members reserved$/)
  const second = s.scheduleOne(member('m2', 'g', 2))
  assert.ok(second.ok && second.waiting === undefined, 'the second member completes the gang')
  // A gang of 3 that only ever gets one member: after 3 more cycles its member is released.
  assert.ok(s.scheduleOne(member('lonely', 'h', 3)).ok)
  for (let i = 0; i < 3; i++) assert.equal(s.scheduleOne(workload(`solo${i}`, gpus(1))).ok, true)
  assert.deepEqual(s.takeExpired(), [])
  assert.equal(s.scheduleOne(workload('solo3', gpus(1))).ok, true)
  const expired = s.takeExpired()
  assert.deepEqual(expired.map((d) => [d.workload, d.ok]), [['team/lonely', false]])
  assert.match(!expired[0].ok ? expired[0].reason : '', /gang team\/h: incomplete after 3 scheduling cycles \(gang-permit: gang h: 1 of 3 members reserved\); every member released/)
  assert.equal(s.placementOf('team/lonely'), undefined)
  assert.equal(s.placementOf('team/m1'), 'a', 'a complete gang is never expired')
  // scheduleGang reports a complete gang with nothing left waiting.
  const g = s.scheduleGang([member('x1', 'x', 2), member('x2', 'x', 2)], 2)
  assert.deepEqual([...g.values()].map((d) => d.ok && d.waiting === undefined), [true, true])
})

test('preemption is undone when what it made room for is not placed after all (a gang that falls through)', () => {
  const s = new Scheduler(view([host('a', 8, 0)]))
  for (let i = 0; i < 4; i++) assert.equal(s.scheduleOne(workload(`low${i}`, gpus(2), { priority: 1 })).ok, true)
  // The first member preempts all four; the second finds no room anywhere, so the gang fails.
  const members = [0, 1].map((i) => workload(`m${i}`, gpus(8), { priority: 50, gang: { group: 'big', minMember: 2 } }))
  const decisions = s.scheduleGang(members, 2)
  assert.deepEqual([...decisions.values()].map((d) => d.ok), [false, false])
  for (let i = 0; i < 4; i++) assert.equal(s.placementOf(`team/low${i}`), 'a', `low${i} is back`)
  // Its devices are held again: a 1-GPU workload of the same priority finds no room.
  assert.equal(s.scheduleOne(workload('probe', gpus(1), { priority: 1 })).ok, false)
})
