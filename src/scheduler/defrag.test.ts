import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Workload } from '../api/workload-v1alpha1.ts'
import { deviceClasses, publishHost } from '../inventory/publish.ts'
import type { HostInfo } from '../inventory/types.ts'
import { planDefrag, type DefragOptions, type PlacedWorkload } from './defrag.ts'
import { Scheduler } from './scheduler.ts'
import { clusterView } from './view.ts'

/** A host of 8 H100s in `domains` NVLink domains of equal size. */
function host(name: string, domains = 1): HostInfo {
  return {
    node: name,
    mode: 'whole',
    gpus: Array.from({ length: 8 }, (_, i) => ({ index: i, uuid: `GPU-${name}-${i}`, productName: 'NVIDIA H100 80GB HBM3', model: 'H100-80GB', nvlinkDomain: `${name}-nvl${Math.floor((i * domains) / 8)}` })),
  }
}

function workload(name: string, gpus: number, extra: Partial<Workload['spec']> = {}, namespace = 'team', oneDomain = false): Workload {
  const constraints = oneDomain ? { constraints: [{ matchAttribute: 'gpuplane.io/nvlinkDomain' }] } : {}
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace },
    spec: { resourceClaims: [{ name: 'gpus', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: gpus } }], ...constraints } } }], ...extra },
  }
}

/** A cluster of 8-GPU hosts with `running` placed as given (node by node, in order), and a planner-ready scheduler. */
function cluster(nodes: string[], running: Array<[Workload, string]>, domains = 1): { scheduler: Scheduler; placed: PlacedWorkload[] } {
  const hosts = nodes.map((n) => host(n, domains))
  const view = clusterView({ nodes: nodes.map((name) => ({ name, labels: {}, taints: [] })), slices: hosts.flatMap((h) => publishHost(h)), classes: deviceClasses() })
  const scheduler = new Scheduler(view, undefined, { preemption: false })
  const placed = running.map(([w, node]) => {
    const d = scheduler.placeOn(w, node)
    assert.ok(d.ok, `setup: ${d.workload} on ${node}: ${d.ok ? '' : d.reason}`)
    return { workload: w, node: d.node, claims: d.claims, allocations: d.allocations }
  })
  return { scheduler, placed }
}

function plan(nodes: string[], running: Array<[Workload, string]>, pending: Workload[], options?: DefragOptions, domains = 1) {
  const { scheduler, placed } = cluster(nodes, running, domains)
  return planDefrag(scheduler, placed, pending, options)
}

test('one move frees a whole 8-GPU node for an 8-GPU workload, and says what it gains', () => {
  const p = plan(['a', 'b'], [[workload('x', 1), 'a'], [workload('y1', 4), 'b'], [workload('y2', 3), 'b']], [workload('big', 8)])
  assert.deepEqual(p.moves, [{ workload: 'team/x', priority: 0, from: 'a', to: 'b', for: 'team/big', gpusFreed: 1, nvlinkDomainsFreed: ['a-nvl0'] }])
  assert.deepEqual(p.placed, [{ workload: 'team/big', node: 'a', moves: 1 }])
  assert.deepEqual(p.unhelpable, [])
  assert.equal(p.placements.get('team/x')?.node, 'b')
  assert.equal(p.placements.get('team/big')?.allocations[0]?.devices?.results?.length, 8)
})

test('two low-priority moves rather than one move of a workload of higher priority than the pending one', () => {
  const running: Array<[Workload, string]> = [
    [workload('high', 2, { priority: 100 }), 'a'],
    [workload('low1', 1), 'b'],
    [workload('low2', 1), 'b'],
    [workload('pinned', 4, { priority: 100 }), 'c'],
  ]
  const p = plan(['a', 'b', 'c'], running, [workload('big', 8, { priority: 10 })])
  assert.deepEqual(
    p.moves.map((m) => [m.workload, m.from, m.to]),
    [
      ['team/low1', 'b', 'c'],
      ['team/low2', 'b', 'c'],
    ],
  )
  assert.deepEqual(p.placed, [{ workload: 'team/big', node: 'b', moves: 2 }])
  assert.equal(p.placements.get('team/high')?.node, 'a')
})

test('a namespace whose disruption budget is spent is not moved; the plan goes around it', () => {
  const running: Array<[Workload, string]> = [
    [workload('x', 1, {}, 'tight'), 'a'],
    [workload('y1', 4), 'b'],
    [workload('y2', 3), 'b'],
  ]
  const p = plan(['a', 'b'], running, [workload('big', 8)], { movesLeft: { tight: 0 } })
  assert.deepEqual(p.moves.map((m) => m.workload), ['team/y1', 'team/y2'])
  assert.ok(p.moves.every((m) => m.from === 'b' && m.to === 'a'))
  assert.deepEqual(p.placed, [{ workload: 'team/big', node: 'b', moves: 2 }])
  // With one move allowed to team as well, the budget still caps the plan: one move is not enough.
  const capped = plan(['a', 'b'], running, [workload('big', 8)], { movesLeft: { tight: 0, team: 1 } })
  assert.deepEqual(capped.moves, [])
  assert.match(capped.unhelpable[0]?.reason ?? '', /defrag: 1 node: no set of at most 2 of its 2 movable workloads makes room within the disruption budgets; 1 node: no workload there may move/)
})

test('gang members are never moved', () => {
  const gang = { group: 'train', minMember: 1 }
  const p = plan(['a', 'b'], [[workload('member', 1, { gang }), 'a'], [workload('y', 7, { priority: 100 }), 'b']], [workload('big', 8)])
  assert.deepEqual(p.moves, [])
  assert.equal(p.unhelpable[0]?.workload, 'team/big')
  assert.match(p.unhelpable[0]!.reason, /no workload there may move/)
})

test('moves that empty one NVLink domain for a claim that must stay inside one; the report names the domain', () => {
  // Two NVLink domains of 4 GPUs per node. Node a: one single GPU in each half of each domain.
  // Node b: priority-100 workloads on GPUs 0-2 and 4, so neither of its domains is whole either.
  const { scheduler } = cluster(['a', 'b'], [], 2)
  const on = (w: Workload, node: string, gpus: number[]): PlacedWorkload => {
    const d = scheduler.placeOn(w, node, [{ devices: { results: gpus.map((g) => ({ request: 'gpu', driver: 'gpu.nvidia.com', pool: node, device: `gpu-${g}` })) } }])
    assert.ok(d.ok, d.ok ? '' : d.reason)
    return { workload: w, node, claims: d.claims, allocations: d.allocations }
  }
  const running = [on(workload('d0-a', 1), 'a', [0]), on(workload('d0-b', 1), 'a', [2]), on(workload('d1-a', 1), 'a', [4]), on(workload('d1-b', 1), 'a', [6])]
  running.push(on(workload('vip', 3, { priority: 100 }), 'b', [0, 1, 2]), on(workload('vip2', 1, { priority: 100 }), 'b', [4]))
  const p = planDefrag(scheduler, running, [workload('quad', 4, {}, 'team', true)])
  assert.deepEqual(
    p.moves.map((m) => [m.workload, m.from, m.to, m.gpusFreed, m.nvlinkDomainsFreed]),
    [
      ['team/d0-a', 'a', 'b', 1, []],
      ['team/d0-b', 'a', 'b', 1, ['a-nvl0']],
    ],
  )
  assert.deepEqual(p.placed, [{ workload: 'team/quad', node: 'a', moves: 2 }])
  assert.deepEqual(p.placements.get('team/quad')?.allocations[0]?.devices?.results?.map((r) => r.device), ['gpu-0', 'gpu-1', 'gpu-2', 'gpu-3'])
})

test('the search stops at its fit-check limit and says so', () => {
  const running: Array<[Workload, string]> = [
    [workload('x', 1), 'a'],
    [workload('y', 1), 'b'],
  ]
  const p = plan(['a', 'b', 'c'], running.concat([[workload('z', 8, { priority: 100 }), 'c']]), [workload('big', 8)], { limits: { fitChecks: 0 } })
  assert.deepEqual(p.moves, [])
  assert.match(p.unhelpable[0]?.reason ?? '', /; search stopped at its limit of 0 fit checks$/)
})

test('nothing to do when the pending workload fits as it is', () => {
  const p = plan(['a', 'b'], [[workload('x', 4), 'a']], [workload('small', 4)])
  assert.deepEqual(p.moves, [])
  assert.deepEqual(p.placed, [{ workload: 'team/small', node: 'a', moves: 0 }])
  assert.deepEqual(p.unhelpable, [])
})

test('a pending workload no move can help is explained: the scheduler per node class, then the planner per node', () => {
  const p = plan(['a', 'b'], [[workload('x', 1), 'a'], [workload('y', 1), 'b']], [workload('huge', 9), workload('lower', 8, { priority: -1 })])
  assert.deepEqual(p.moves, [])
  assert.deepEqual(p.placed, [])
  const reasons = new Map(p.unhelpable.map((u) => [u.workload, u.reason]))
  assert.equal(reasons.get('team/huge'), '2 nodes: insufficient NVIDIA H100 80GB HBM3 (need 9, best has 7 free); defrag: 2 nodes: too few devices even after moving 1 workload')
  // `lower` may not move x or y, which have a higher priority.
  assert.equal(reasons.get('team/lower'), '2 nodes: insufficient NVIDIA H100 80GB HBM3 (need 8, best has 7 free); defrag: 2 nodes: no workload there may move (higher priority, gang members, or disruption budget spent)')
})

test('a pending gang is placed all together or not at all: moves made for one member are undone', () => {
  const gang = { group: 'pair', minMember: 2 }
  const p = plan(['a', 'b', 'c'], [[workload('x', 1), 'a'], [workload('vip', 1, { priority: 100 }), 'b'], [workload('filler', 4), 'c']], [workload('m0', 8, { gang }), workload('m1', 8, { gang })])
  assert.deepEqual(p.moves, [])
  assert.deepEqual(p.placed, [])
  assert.equal(p.unhelpable.length, 2)
  assert.match(p.unhelpable[0]!.reason, /^gang pair: only 1 of 2 members can be placed, even with moves; none placed/)
  assert.equal(p.placements.get('team/x')?.node, 'a')
  assert.equal(p.placements.has('team/m0'), false)
})

test('the same input gives the same plan', () => {
  const running: Array<[Workload, string]> = [
    [workload('x', 1), 'a'],
    [workload('y', 2), 'b'],
    [workload('z', 3), 'c'],
    [workload('w', 1), 'd'],
  ]
  const pending = [workload('big', 8), workload('big2', 8), workload('mid', 6)]
  const run = () => {
    const p = plan(['a', 'b', 'c', 'd'], running, pending)
    return { moves: p.moves, placed: p.placed, unhelpable: p.unhelpable, placements: [...p.placements].map(([k, v]) => [k, v.node, v.allocations]) }
  }
  const first = run()
  assert.ok(first.moves.length > 0)
  assert.deepEqual(run(), first)
})
