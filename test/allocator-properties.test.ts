// Property tests of the allocator over random clusters and claims (fast-check).
// PROPERTY_RUNS=N raises the number of cases (default: a modest number so that npm test stays fast).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { AllocationResult, Device, ResourceClaim, ResourceSlice } from '../src/api/resource-v1.ts'
import { Quantity } from '../src/api/quantity.ts'
import { allocate, allocateEach, AllocationState, Snapshot } from '../src/allocator/index.ts'
import { claim, device, deviceClass, slice } from './builders.ts'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150)
const D = 'gpu.example.com'
const MODELS = ['A', 'B', 'C']
const gpuClass = deviceClass('gpu', `device.driver == '${D}'`)

interface GenDevice {
  model: string
  numa: number
  /** Memory slices of the node's shared counter set this device consumes (empty: none). */
  slices: number[]
  multi: boolean
  memGi: number
}
interface GenRequest {
  count: number
  model?: string
  memGi?: number
}
interface GenClaim {
  requests: GenRequest[]
  constraint?: 'match-numa' | 'distinct-model'
}

const genDevice = fc.record({
  model: fc.constantFrom(...MODELS),
  numa: fc.integer({ min: 0, max: 1 }),
  slices: fc.oneof(fc.constant([] as number[]), fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 2 })),
  multi: fc.boolean(),
  memGi: fc.integer({ min: 1, max: 8 }),
})
const genRequest = fc.record({ count: fc.integer({ min: 1, max: 3 }), model: fc.option(fc.constantFrom(...MODELS), { nil: undefined }), memGi: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }) })
const genClaim = fc.record({ requests: fc.array(genRequest, { minLength: 1, maxLength: 2 }), constraint: fc.option(fc.constantFrom('match-numa' as const, 'distinct-model' as const), { nil: undefined }) })
const genCase = fc.record({
  nodes: fc.array(fc.array(genDevice, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 2 }),
  claims: fc.array(genClaim, { minLength: 1, maxLength: 4 }),
  withCapacity: fc.boolean(),
})

function buildSlices(nodes: GenDevice[][], withCapacity: boolean): ResourceSlice[] {
  return nodes.flatMap((devs, n) => {
    const pool = `node-${n}`
    const devices: Device[] = devs.map((g, i) =>
      device(`dev-${i}`, { model: g.model, numa: g.numa }, {
        ...(g.slices.length ? { consumesCounters: [{ counterSet: 'mem', counters: Object.fromEntries(g.slices.map((s) => [`slice-${s}`, { value: '1' }])) }] } : {}),
        ...(withCapacity ? { capacity: { memory: { value: `${g.memGi}Gi` } } } : {}),
        ...(withCapacity && g.multi ? { allowMultipleAllocations: true } : {}),
      }),
    )
    const counters = slice(`${pool}-counters`, D, pool, [], { nodeName: pool, sharedCounters: [{ name: 'mem', counters: Object.fromEntries([0, 1, 2, 3].map((s) => [`slice-${s}`, { value: '1' }])) }] })
    const devSlice = slice(`${pool}-devices`, D, pool, devices, { nodeName: pool })
    for (const s of [counters, devSlice]) s.spec.pool.resourceSliceCount = 2
    return [counters, devSlice]
  })
}

function buildClaims(claims: GenClaim[], withCapacity: boolean): ResourceClaim[] {
  return claims.map((g, i) =>
    claim(
      `c${i}`,
      g.requests.map((r, j) => ({
        name: `r${j}`,
        exactly: {
          deviceClassName: 'gpu',
          count: r.count,
          ...(r.model ? { selectors: [{ cel: { expression: `device.attributes['${D}'].model == '${r.model}'` } }] } : {}),
          ...(withCapacity && r.memGi ? { capacity: { requests: { memory: `${r.memGi}Gi` } } } : {}),
        },
      })),
      g.constraint ? { constraints: [g.constraint === 'match-numa' ? { matchAttribute: `${D}/numa` } : { distinctAttribute: `${D}/model` }] } : {},
    ),
  )
}

/** Checks one claim's allocation against the claim and the devices, independently of the allocator. */
function checkClaim(c: ResourceClaim, a: AllocationResult, devices: Map<string, Device>): void {
  const results = a.devices?.results ?? []
  const requests = c.spec.devices!.requests!
  for (const r of requests) {
    const mine = results.filter((x) => x.request === r.name)
    assert.equal(mine.length, r.exactly!.count, `request ${r.name} got ${mine.length} devices`)
    const model = r.exactly!.selectors?.[0]?.cel?.expression.match(/== '(\w)'/)?.[1]
    for (const x of mine) {
      const d = devices.get(`${x.pool}/${x.device}`)!
      assert.ok(d, `unknown device ${x.pool}/${x.device}`)
      if (model) assert.equal(d.attributes!.model.string, model)
    }
  }
  const pools = new Set(results.map((r) => r.pool))
  assert.ok(pools.size <= 1, 'one claim, one node')
  const constraint = c.spec.devices!.constraints?.[0]
  const attr = (x: { pool: string; device: string }, k: string) => JSON.stringify(devices.get(`${x.pool}/${x.device}`)!.attributes![k], (_k, v) => (typeof v === 'bigint' ? String(v) : v))
  if (constraint?.matchAttribute) assert.ok(new Set(results.map((x) => attr(x, 'numa'))).size <= 1, 'matchAttribute violated')
  if (constraint?.distinctAttribute) assert.equal(new Set(results.map((x) => attr(x, 'model'))).size, results.length, 'distinctAttribute violated')
}

/** Across all allocations: no exclusive device twice, no capacity or counter exceeded. */
function checkCluster(allocations: AllocationResult[], devices: Map<string, Device>): void {
  const exclusive = new Set<string>()
  const capacityUsed = new Map<string, Quantity>()
  const deviceInUse = new Set<string>()
  for (const a of allocations) {
    for (const r of a.devices?.results ?? []) {
      const id = `${r.pool}/${r.device}`
      const d = devices.get(id)!
      deviceInUse.add(id)
      if (d.allowMultipleAllocations) {
        assert.ok(r.shareID, 'a share of a multi-allocatable device has a share ID')
        const used = (capacityUsed.get(id) ?? Quantity.parse('0')).add(Quantity.parse(r.consumedCapacity!.memory))
        assert.ok(used.cmp(Quantity.parse(d.capacity!.memory.value)) <= 0, `capacity of ${id} exceeded`)
        capacityUsed.set(id, used)
      } else {
        assert.ok(!exclusive.has(id), `device ${id} allocated twice`)
        exclusive.add(id)
      }
    }
  }
  const counterUse = new Map<string, number>()
  for (const id of deviceInUse) {
    const pool = id.split('/')[0]
    for (const c of devices.get(id)!.consumesCounters ?? []) for (const k of Object.keys(c.counters)) counterUse.set(`${pool}/${k}`, (counterUse.get(`${pool}/${k}`) ?? 0) + 1)
  }
  for (const [k, n] of counterUse) assert.ok(n <= 1, `counter ${k} consumed ${n} times`)
}

function deviceMap(slices: ResourceSlice[]): Map<string, Device> {
  return new Map(slices.flatMap((s) => (s.spec.devices ?? []).map((d) => [`${s.spec.pool.name}/${d.name}`, d] as [string, Device])))
}

function runCase(g: { nodes: GenDevice[][]; claims: GenClaim[]; withCapacity: boolean }) {
  const slices = buildSlices(g.nodes, g.withCapacity)
  const claims = buildClaims(g.claims, g.withCapacity)
  const snapshot = new Snapshot({ slices, classes: [gpuClass] })
  const state = new AllocationState(snapshot)
  const outcomes = claims.map((c) => {
    for (let n = 0; n < g.nodes.length; n++) {
      const o = allocate(snapshot, state, [c], { node: { name: `node-${n}` } })
      if (o.ok) {
        state.commit(o.allocations[0])
        return o
      }
    }
    return undefined
  })
  return { slices, claims, outcomes }
}

test('every allocation satisfies its claim; nothing is oversubscribed', () => {
  fc.assert(
    fc.property(genCase, (g) => {
      const { slices, claims, outcomes } = runCase(g)
      const devices = deviceMap(slices)
      const allocations: AllocationResult[] = []
      outcomes.forEach((o, i) => {
        if (!o) return
        checkClaim(claims[i], o.allocations[0], devices)
        allocations.push(o.allocations[0])
      })
      checkCluster(allocations, devices)
    }),
    { numRuns: RUNS },
  )
})

test('the same input gives the same output', () => {
  fc.assert(
    fc.property(genCase, (g) => {
      assert.deepEqual(runCase(g).outcomes, runCase(g).outcomes)
    }),
    { numRuns: Math.max(20, Math.ceil(RUNS / 3)) },
  )
})

/** Exhaustive search over device subsets: whether one claim fits on an empty node at all. */
function bruteForceFits(devs: GenDevice[], c: GenClaim): boolean {
  const used = new Set<number>()
  const counters = new Set<number>()
  const chosen: GenDevice[] = []
  const ok = (d: GenDevice) => d.slices.every((s) => !counters.has(s))
  const constraintOk = () => {
    if (c.constraint === 'match-numa') return new Set(chosen.map((d) => d.numa)).size <= 1
    if (c.constraint === 'distinct-model') return new Set(chosen.map((d) => d.model)).size === chosen.length
    return true
  }
  const rec = (req: number, left: number, from: number): boolean => {
    if (req === c.requests.length) return true
    if (left === 0) return rec(req + 1, c.requests[req + 1]?.count ?? 0, 0)
    const r = c.requests[req]
    for (let i = from; i < devs.length; i++) {
      const d = devs[i]
      if (used.has(i) || (r.model && d.model !== r.model) || !ok(d)) continue
      used.add(i)
      d.slices.forEach((s) => counters.add(s))
      chosen.push(d)
      if (constraintOk() && rec(req, left - 1, i + 1)) return true
      chosen.pop()
      d.slices.forEach((s) => counters.delete(s))
      used.delete(i)
    }
    return false
  }
  return rec(0, c.requests[0].count, 0)
}

test('pruning is sound: the allocator finds a solution whenever exhaustive search does', () => {
  fc.assert(
    fc.property(fc.array(genDevice, { minLength: 1, maxLength: 7 }), genClaim, (devs, c) => {
      const slices = buildSlices([devs], false)
      const [cl] = buildClaims([c], false)
      const snapshot = new Snapshot({ slices, classes: [gpuClass] })
      const outcome = allocate(snapshot, new AllocationState(snapshot), [cl], { node: { name: 'node-0' } })
      assert.equal(outcome.ok, bruteForceFits(devs, c), outcome.ok ? 'allocated what cannot fit' : outcome.reason)
    }),
    { numRuns: RUNS * 2 },
  )
})

test('allocating claims one by one never exceeds what exhaustive search says fits each', () => {
  fc.assert(
    fc.property(genCase, (g) => {
      const slices = buildSlices(g.nodes, false)
      const snapshot = new Snapshot({ slices, classes: [gpuClass] })
      const outcomes = allocateEach(snapshot, buildClaims(g.claims, false), { node: { name: 'node-0' } })
      outcomes.forEach((o, i) => {
        if (o.ok) assert.ok(bruteForceFits(g.nodes[0], g.claims[i]), 'allocated a claim that cannot fit even on an empty node')
      })
    }),
    { numRuns: RUNS },
  )
})

test('pruning changes how much is searched, never what is found', () => {
  fc.assert(
    fc.property(genCase, (g) => {
      const slices = buildSlices(g.nodes, g.withCapacity)
      const claims = buildClaims(g.claims, g.withCapacity)
      const run = (pruning: boolean) => {
        const snapshot = new Snapshot({ slices, classes: [gpuClass] })
        const state = new AllocationState(snapshot)
        return claims.map((c) => {
          const o = allocate(snapshot, state, [c], { node: { name: 'node-0' }, pruning })
          if (o.ok) state.commit(o.allocations[0])
          return o.ok ? o.allocations : o.code
        })
      }
      assert.deepEqual(run(true), run(false))
    }),
    { numRuns: RUNS },
  )
})
