import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ResourceClaim, ResourceSlice } from '../api/resource-v1.ts'
import { claim, device, deviceClass, request, slice } from '../../test/builders.ts'
import { allocate, allocateEach, AllocationState, Snapshot } from './index.ts'

const DRIVER = 'gpu.example.com'
const node1 = { name: 'node-1' }
const gpuClass = deviceClass('gpu', `device.driver == '${DRIVER}'`)

function run(slices: ResourceSlice[], claims: ResourceClaim[], opts: Parameters<typeof allocate>[3] = { node: node1 }, allocated: ResourceClaim[] = []) {
  const snapshot = new Snapshot({ slices, classes: [gpuClass], claims: allocated })
  return allocate(snapshot, new AllocationState(snapshot), claims, opts)
}

function devicesOf(outcome: ReturnType<typeof run>): string[][] {
  assert.ok(outcome.ok, outcome.ok ? '' : `${outcome.code}: ${outcome.reason}`)
  return outcome.allocations.map((a) => (a.devices?.results ?? []).map((r) => `${r.request}:${r.device}`))
}

const eightGpus = (pool = 'node-1', values: (i: number) => Record<string, string | number> = (i) => ({ index: i })) =>
  slice(`${pool}-slice`, DRIVER, pool, Array.from({ length: 8 }, (_, i) => device(`gpu-${i}`, values(i))))

test('first fit in upstream order, pinned to the node', () => {
  const outcome = run([eightGpus()], [claim('c', [request('gpu', 'gpu', { count: 2 })])])
  assert.deepEqual(devicesOf(outcome), [['gpu:gpu-0', 'gpu:gpu-1']])
  assert.ok(outcome.ok)
  assert.deepEqual(outcome.allocations[0].nodeSelector, { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] }] })
})

test('devices held by allocated claims are skipped; commit and release update the state', () => {
  const slices = [eightGpus()]
  const snapshot = new Snapshot({ slices, classes: [gpuClass] })
  const state = new AllocationState(snapshot)
  const outcomes = allocateEach(snapshot, [claim('a', [request('gpu', 'gpu', { count: 7 })]), claim('b', [request('gpu', 'gpu', { count: 2 })]), claim('c', [request('gpu', 'gpu')])], { node: node1 }, state)
  assert.equal(outcomes[0].ok, true)
  assert.equal(outcomes[1].ok, false)
  assert.equal(!outcomes[1].ok && outcomes[1].code, 'CLAIM_UNSATISFIABLE')
  assert.deepEqual(devicesOf(outcomes[2]), [['gpu:gpu-7']])
  state.release(outcomes[0].ok ? outcomes[0].allocations[0] : assert.fail())
  assert.deepEqual(devicesOf(allocate(snapshot, state, [claim('d', [request('gpu', 'gpu', { count: 2 })])], { node: node1 })), [['gpu:gpu-0', 'gpu:gpu-1']])
})

test('matchAttribute across requests; the lookahead rejects a root without a NIC at once', () => {
  // GPUs 0-3 on root a, 4-7 on root b; the only NIC is on root b.
  const gpus = eightGpus('node-1', (i) => ({ 'resource.kubernetes.io/pcieRoot': i < 4 ? 'pci0000:a' : 'pci0000:b' }))
  const nic = slice('node-1-nic', 'nic.example.com', 'node-1-nic', [device('nic-0', { 'resource.kubernetes.io/pcieRoot': 'pci0000:b' })], { nodeName: 'node-1' })
  const snapshot = new Snapshot({ slices: [gpus, nic], classes: [gpuClass, deviceClass('nic', `device.driver == 'nic.example.com'`)] })
  const c = claim('c', [request('gpu', 'gpu', { count: 2 }), request('nic', 'nic')], { constraints: [{ matchAttribute: 'resource.kubernetes.io/pcieRoot' }] })
  const outcome = allocate(snapshot, new AllocationState(snapshot), [c], { node: node1 })
  assert.deepEqual(devicesOf(outcome), [['gpu:gpu-4', 'gpu:gpu-5', 'nic:nic-0']])
  assert.ok(outcome.ok && outcome.steps < 20, `search took ${outcome.ok && outcome.steps} steps`)
})

test('adversarial matchAttribute (kubernetes/kubernetes#131730) stays polynomial', () => {
  // 128 devices, 43 groups of 3: a claim for 4 devices in one group cannot be satisfied.
  const devices = Array.from({ length: 128 }, (_, i) => device(`d-${String(i).padStart(3, '0')}`, { group: Math.floor(i / 3) }))
  const s = slice('s', DRIVER, 'node-1', devices)
  const c = claim('c', [request('gpu', 'gpu', { count: 4 })], { constraints: [{ matchAttribute: `${DRIVER}/group` }] })
  const outcome = run([s], [c], { node: node1, searchLimit: 1000 })
  assert.equal(!outcome.ok && outcome.code, 'CLAIM_UNSATISFIABLE')
})

test('a search that needs more steps than the limit ends with SEARCH_LIMIT', () => {
  // Placing 4 devices takes at least 6 steps (claim, 4 devices, end of claim).
  const c = claim('c', [request('gpu', 'gpu', { count: 4 })])
  const limited = run([eightGpus()], [c], { node: node1, searchLimit: 3 })
  assert.equal(!limited.ok && limited.code, 'SEARCH_LIMIT')
  assert.match(!limited.ok ? limited.reason : '', /gave up after 3 steps/)
  assert.equal(run([eightGpus()], [c], { node: node1, searchLimit: 50 }).ok, true)
})

test('partitionable devices: overlapping placements never share a counter, pool-wide', () => {
  const counters = slice('counters', DRIVER, 'node-1', [], {
    sharedCounters: [{ name: 'gpu-0', counters: { 'memory-slice-0': { value: '1' }, 'memory-slice-1': { value: '1' } } }],
  })
  const consumes = (...s: number[]) => [{ counterSet: 'gpu-0', counters: Object.fromEntries(s.map((i) => [`memory-slice-${i}`, { value: '1' }])) }]
  const parts = slice('parts', DRIVER, 'node-1', [device('mig-1g-0', {}, { consumesCounters: consumes(0) }), device('mig-1g-1', {}, { consumesCounters: consumes(1) }), device('whole', {}, { consumesCounters: consumes(0, 1) })])
  const pool = (n: ResourceSlice) => ({ ...n, spec: { ...n.spec, pool: { name: 'node-1', generation: 0, resourceSliceCount: 2 } } })
  const slices = [pool(counters), pool(parts)]
  assert.deepEqual(devicesOf(run(slices, [claim('c', [request('gpu', 'gpu', { count: 2 })])])), [['gpu:mig-1g-0', 'gpu:mig-1g-1']])
  const three = run(slices, [claim('c', [request('gpu', 'gpu', { count: 3 })])])
  assert.equal(!three.ok && three.code, 'CLAIM_UNSATISFIABLE')
  const whole = claim('w', [request('gpu', 'gpu', { selector: `device.attributes['${DRIVER}'].?x.orValue('') == '' && device.driver == '${DRIVER}'` })])
  const allocatedMig = { ...claim('held', [request('gpu', 'gpu')]), status: { allocation: { devices: { results: [{ request: 'gpu', driver: DRIVER, pool: 'node-1', device: 'mig-1g-1' }] } } } }
  // With mig-1g-1 held, the whole GPU cannot be had: it needs memory slice 1 too.
  assert.deepEqual(devicesOf(run(slices, [whole], { node: node1 }, [allocatedMig])), [['gpu:mig-1g-0']])
})

test('a 1.34-layout slice (counters and devices together) is read too', () => {
  const s = slice('both', DRIVER, 'node-1', [device('p0', {}, { consumesCounters: [{ counterSet: 'set', counters: { mem: { value: '40Gi' } } }] }), device('p1', {}, { consumesCounters: [{ counterSet: 'set', counters: { mem: { value: '40Gi' } } }] })], {
    sharedCounters: [{ name: 'set', counters: { mem: { value: '40Gi' } } }],
  })
  assert.deepEqual(devicesOf(run([s], [claim('c', [request('gpu', 'gpu')])])), [['gpu:p0']])
  const two = run([s], [claim('c', [request('gpu', 'gpu', { count: 2 })])])
  assert.equal(!two.ok && two.code, 'CLAIM_UNSATISFIABLE')
})

test('consumable capacity: shares are rounded by the policy and never exceed the value', () => {
  const shared = slice('s', DRIVER, 'node-1', [
    device('gpu-0', {}, { allowMultipleAllocations: true, capacity: { memory: { value: '80Gi', requestPolicy: { default: '1Gi', validRange: { min: '1Gi', step: '1Gi' } } } } }),
  ])
  const snapshot = new Snapshot({ slices: [shared], classes: [gpuClass] })
  const claims = Array.from({ length: 5 }, (_, i) => claim(`c${i}`, [request('gpu', 'gpu', { capacity: { memory: '19.5Gi' } })]))
  const outcomes = allocateEach(snapshot, claims, { node: node1 })
  assert.deepEqual(outcomes.map((o) => o.ok), [true, true, true, true, false])
  const r = outcomes[0].ok ? outcomes[0].allocations[0].devices!.results![0] : assert.fail()
  assert.deepEqual(r.consumedCapacity, { memory: '20Gi' })
  assert.match(r.shareID ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  // The same input gives the same share IDs.
  const again = allocateEach(new Snapshot({ slices: [shared], classes: [gpuClass] }), claims, { node: node1 })
  assert.deepEqual(again, outcomes)
})

test('firstAvailable falls back to the next subrequest and names it req/sub; configs follow upstream order', () => {
  const cls = deviceClass('gpu-cfg', `device.driver == '${DRIVER}'`, { config: [{ opaque: { driver: DRIVER, parameters: { from: 'class' } } }] })
  const snapshot = new Snapshot({ slices: [eightGpus('node-1', (i) => ({ model: i < 2 ? 'A100' : 'H100' }))], classes: [cls] })
  const c = claim('c', [{ name: 'gpu', firstAvailable: [{ name: 'big', deviceClassName: 'gpu-cfg', count: 9 }, { name: 'a100', deviceClassName: 'gpu-cfg', count: 2, selectors: [{ cel: { expression: `device.attributes['${DRIVER}'].model == 'A100'` } }] }] }], {
    config: [{ requests: ['gpu/a100'], opaque: { driver: DRIVER, parameters: { from: 'claim' } } }],
  })
  const outcome = allocate(snapshot, new AllocationState(snapshot), [c], { node: node1 })
  assert.deepEqual(devicesOf(outcome), [['gpu/a100:gpu-0', 'gpu/a100:gpu-1']])
  assert.ok(outcome.ok)
  assert.deepEqual(outcome.allocations[0].devices!.config, [
    { source: 'FromClass', requests: ['gpu/a100'], opaque: { driver: DRIVER, parameters: { from: 'class' } } },
    { source: 'FromClaim', requests: ['gpu/a100'], opaque: { driver: DRIVER, parameters: { from: 'claim' } } },
  ])
})

test('taints block unless tolerated; All mode takes every matching device', () => {
  const tainted = slice('s', DRIVER, 'node-1', [device('gpu-0'), device('gpu-1', {}, { taints: [{ key: 'broken', effect: 'NoSchedule' }] }), device('gpu-2', {}, { taints: [{ key: 'info', effect: 'None' }] })])
  assert.deepEqual(devicesOf(run([tainted], [claim('c', [request('gpu', 'gpu', { count: 2 })])])), [['gpu:gpu-0', 'gpu:gpu-2']])
  const all = run([tainted], [claim('c', [request('gpu', 'gpu', { mode: 'All' })])])
  assert.equal(!all.ok && all.code, 'CLAIM_UNSATISFIABLE')
  const tolerating = claim('c', [{ name: 'gpu', exactly: { deviceClassName: 'gpu', allocationMode: 'All', tolerations: [{ key: 'broken', operator: 'Exists' }] } }])
  const ok = run([tainted], [tolerating])
  assert.deepEqual(devicesOf(ok), [['gpu:gpu-0', 'gpu:gpu-1', 'gpu:gpu-2']])
  assert.ok(ok.ok)
  assert.deepEqual(ok.allocations[0].devices!.results![0].tolerations, [{ key: 'broken', operator: 'Exists' }])
})

test('All mode refuses an incomplete pool', () => {
  const s = eightGpus()
  s.spec.pool.resourceSliceCount = 2
  const outcome = run([s], [claim('c', [request('gpu', 'gpu', { mode: 'All' })])])
  assert.equal(!outcome.ok && outcome.code, 'POOL_INCOMPLETE')
  // ExactCount simply skips the incomplete pool.
  assert.equal(!run([s], [claim('c', [request('gpu', 'gpu')])]).ok, true)
})

test('a score reorders candidates; ties keep upstream order', () => {
  const outcome = run([eightGpus()], [claim('c', [request('gpu', 'gpu', { count: 2 })])], { node: node1, score: (d) => (d.device === 'gpu-5' ? 2 : d.device === 'gpu-3' ? 1 : 0) })
  assert.deepEqual(devicesOf(outcome), [['gpu:gpu-5', 'gpu:gpu-3']])
})

test('a missing class and too many results are reported with their codes', () => {
  const missing = run([eightGpus()], [claim('c', [request('gpu', 'nope')])])
  assert.equal(!missing.ok && missing.code, 'CLASS_NOT_FOUND')
  const many = run([eightGpus()], [claim('c', [request('a', 'gpu', { count: 20 }), request('b', 'gpu', { count: 13 })])])
  assert.equal(!many.ok && many.code, 'TOO_MANY_RESULTS')
})

test('a CEL runtime error fails the claim and names the device and expression', () => {
  const outcome = run([eightGpus()], [claim('c', [request('gpu', 'gpu', { selector: `device.attributes['${DRIVER}'].missing == 1` })])])
  assert.equal(!outcome.ok && outcome.code, 'SELECTOR_RUNTIME_ERROR')
  assert.match(!outcome.ok ? outcome.reason : '', /gpu\.example\.com\/node-1\/gpu-0/)
})

test('a device refused for its taint leaves no counters charged (upstream charges them before the taint check)', () => {
  const consumes = [{ counterSet: 'set', counters: { mem: { value: '1' } } }]
  const counters = slice('counters', DRIVER, 'node-1', [], { sharedCounters: [{ name: 'set', counters: { mem: { value: '1' } } }] })
  const devices = slice('devices', DRIVER, 'node-1', [device('d0', {}, { consumesCounters: consumes, taints: [{ key: 'broken', effect: 'NoSchedule' }] }), device('d1', {}, { consumesCounters: consumes })])
  for (const s of [counters, devices]) s.spec.pool.resourceSliceCount = 2
  for (const pruning of [true, false]) {
    assert.deepEqual(devicesOf(run([counters, devices], [claim('c', [request('gpu', 'gpu')])], { node: node1, pruning })), [['gpu:d1']])
  }
})
