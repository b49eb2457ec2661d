// Tests of the allocation-interval tracker against the real scheduling controller: whole GPUs, MIG devices and memory shares, opened when placed and closed when deleted; and that following changes gives what a full relist gives.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { openStore, openTelemetryStore } from '../store/index.ts'
import type { NewObject, Store } from '../store/types.ts'
import { HoldingsIndex, type ObjectChange } from '../telemetry/holdings-index.ts'
import { currentHoldings, type Holding, type PlainObject } from '../telemetry/intervals.ts'
import type { AllocationInterval, TelemetryStore } from '../telemetry/types.ts'
import { Controller } from './controller.ts'
import { IntervalTracker } from './telemetry-intervals.ts'
import { relistPass } from '../../test/relist-tracker.ts'

const CLUSTER: NewObject = {
  apiVersion: 'gpuplane.io/v1alpha1',
  kind: 'Cluster',
  metadata: { name: 'lab' },
  spec: {
    hosts: [
      { name: 'whole', gpus: { model: 'H100-80GB', count: 2 } },
      { name: 'mig', gpus: { model: 'H100-80GB', count: 1 }, mode: 'mig-static', gpuOverrides: [{ indexes: [0], mode: 'mig-static', migDevices: ['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb'] }] },
      { name: 'shared', gpus: { model: 'A10-24GB', count: 1 }, mode: 'shared', shared: { memoryStep: '2Gi' } },
      { name: 'vgpu', gpus: { model: 'L40S-48GB', count: 1 }, mode: 'vgpu' },
    ],
  },
}

function workload(name: string, request: Record<string, unknown>): NewObject {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace: 'team' },
    spec: { priority: 0, resourceClaims: [{ name: 'gpus', spec: { devices: { requests: [{ name: 'r', exactly: request }] } } }] },
  }
}

describe('IntervalTracker', () => {
  let store: Store
  let telemetry: TelemetryStore
  let controller: Controller
  let now = Date.UTC(2026, 10, 26, 12)
  let tracker: IntervalTracker

  before(async () => {
    store = await openStore({ sqlite: ':memory:' })
    telemetry = openTelemetryStore(store)
    await store.create(CLUSTER)
    controller = new Controller(store)
    tracker = new IntervalTracker(store, telemetry, { now: () => now })
  })
  after(async () => {
    await tracker.stop()
    await store.close()
  })

  it('opens one interval per held device with model, share and GPU uuid', async () => {
    await store.create(workload('train', { deviceClassName: 'gpu.nvidia.com', count: 2, selectors: [{ cel: { expression: "device.attributes['gpu.nvidia.com'].type == 'gpu'" } }] }))
    await store.create(workload('mig3', { deviceClassName: 'mig.nvidia.com', selectors: [{ cel: { expression: "device.attributes['gpu.nvidia.com'].profile == '3g.40gb'" } }] }))
    await store.create(workload('notebook', { deviceClassName: 'shared.gpuplane.io', capacity: { requests: { memory: '6Gi' } } }))
    await store.create(workload('render', { deviceClassName: 'vgpu.gpuplane.io', selectors: [{ cel: { expression: "device.attributes['gpu.nvidia.com'].profile == 'L40S-12C'" } }] }))
    const r = await controller.reconcileOnce()
    assert.equal(r.pending, 0, `every workload placed: ${JSON.stringify(r)}`)
    await tracker.start()
    const open = await telemetry.intervals({ from: now, to: now + 1 })
    const got = open.map((iv) => [iv.workload, iv.gpuModel, Math.round(iv.share * 1000) / 1000, iv.partition ?? false, iv.from === now, iv.to]).sort()
    assert.deepEqual(
      got,
      [
        ['mig3', 'H100-80GB', 0.5, true, true, undefined],
        ['notebook', 'A10-24GB', 0.25, false, true, undefined],
        ['render', 'L40S-48GB', 0.25, true, true, undefined],
        ['train', 'H100-80GB', 1, false, true, undefined],
        ['train', 'H100-80GB', 1, false, true, undefined],
      ],
      'whole GPUs 1; 3g.40gb 1/2 (4 of 8 memory slices bind, not 3 of 7 compute); 6 GiB of a 24 GiB A10 1/4; a 12 GB vGPU of a 48 GB L40S 1/4',
    )
    assert.ok(open.every((iv) => typeof iv.gpuUuid === 'string' && iv.gpuUuid.startsWith('GPU-')), 'each names its physical GPU')
    assert.deepEqual(await tracker.syncOnce(), { opened: 0, closed: 0 }, 'nothing changed: nothing written')
  })

  it('closes the intervals of a deleted workload once its claims are released', async () => {
    now += 60_000
    await store.delete({ kind: 'Workload', namespace: 'team', name: 'train' })
    await controller.reconcileOnce()
    assert.deepEqual(await tracker.syncOnce(), { opened: 0, closed: 2 }, 'two GPUs released')
    const all = await telemetry.intervals({ from: now - 120_000, to: now + 1, workload: 'train' })
    assert.deepEqual(all.map((iv) => iv.to), [now, now], 'closed at the pass time')
  })

  it('a new tracker (a restart) closes what ended while it was away and keeps what is still held', async () => {
    await tracker.stop()
    now += 60_000
    await store.delete({ kind: 'Workload', namespace: 'team', name: 'notebook' })
    await controller.reconcileOnce()
    tracker = new IntervalTracker(store, telemetry, { now: () => now })
    await tracker.start()
    const open = (await telemetry.intervals({ from: now, to: now + 1 })).filter((iv) => iv.to === undefined)
    assert.deepEqual(open.map((iv) => iv.workload).sort(), ['mig3', 'render'], 'only the MIG and vGPU holders are still open')
  })
})

/** Property runs: modest by default, PROPERTY_RUNS for more. */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 0)
const NAMESPACES = ['team', 'lab']

type Op =
  | { op: 'place'; ns: number; w: number; scheduled: boolean }
  | { op: 'replace'; ns: number; w: number; scheduled: boolean }
  | { op: 'deleteWorkload'; ns: number; w: number }
  | { op: 'claim'; ns: number; c: number; holders: Array<{ w: number; uid: 'current' | 'stale' | 'none' }>; devices: number[]; admin: boolean; memory?: string }
  | { op: 'deleteClaim'; ns: number; c: number }
  | { op: 'slice'; s: number; present: boolean }
  | { op: 'flush' }

const ns = fc.integer({ min: 0, max: 1 })
const w = fc.integer({ min: 0, max: 3 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('place' as const), ns, w, scheduled: fc.boolean() }),
  fc.record({ op: fc.constant('replace' as const), ns, w, scheduled: fc.boolean() }),
  fc.record({ op: fc.constant('deleteWorkload' as const), ns, w }),
  fc.record(
    {
      op: fc.constant('claim' as const),
      ns,
      c: fc.integer({ min: 0, max: 5 }),
      holders: fc.array(fc.record({ w, uid: fc.constantFrom('current' as const, 'stale' as const, 'none' as const) }), { maxLength: 2 }),
      devices: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
      admin: fc.boolean(),
      memory: fc.constantFrom('2Gi', '6Gi', '30Gi'),
    },
    { requiredKeys: ['op', 'ns', 'c', 'holders', 'devices', 'admin'] },
  ),
  fc.record({ op: fc.constant('deleteClaim' as const), ns, c: fc.integer({ min: 0, max: 5 }) }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant('slice' as const), s: fc.nat(), present: fc.boolean() }) },
  { weight: 3, arbitrary: fc.constant({ op: 'flush' as const }) },
)

/** Objects kept by name, as a store would, with the change events their writes make. */
class World {
  readonly workloads = new Map<string, PlainObject>()
  readonly claims = new Map<string, PlainObject>()
  readonly slices: Map<string, PlainObject>
  private uids = 0
  constructor(
    private readonly allSlices: PlainObject[],
    private readonly devices: Array<{ driver: string; pool: string; device: string }>,
  ) {
    this.slices = new Map(allSlices.map((s) => [s.metadata.name, s]))
  }

  objects() {
    return { claims: [...this.claims.values()], workloads: [...this.workloads.values()], slices: [...this.slices.values()] }
  }

  /** Applies one operation; returns the changes it made. */
  apply(op: Op): ObjectChange[] {
    switch (op.op) {
      case 'place':
      case 'replace': {
        const key = `${NAMESPACES[op.ns]}/w${op.w}`
        const out: ObjectChange[] = []
        const before = this.workloads.get(key)
        if (before && op.op === 'replace') out.push(this.del(this.workloads, key))
        const uid = before && op.op === 'place' ? before.metadata.uid : `w-${++this.uids}`
        const status = op.scheduled ? { phase: 'Scheduled', nodeName: 'n' } : { phase: 'Pending' }
        return [...out, this.put(this.workloads, key, { kind: 'Workload', metadata: { name: `w${op.w}`, namespace: NAMESPACES[op.ns], uid }, status })]
      }
      case 'deleteWorkload':
        return this.workloads.has(`${NAMESPACES[op.ns]}/w${op.w}`) ? [this.del(this.workloads, `${NAMESPACES[op.ns]}/w${op.w}`)] : []
      case 'claim': {
        const namespace = NAMESPACES[op.ns]!
        const reservedFor = op.holders.map((h) => {
          const current = this.workloads.get(`${namespace}/w${h.w}`)?.metadata.uid
          return { resource: 'workloads', name: `w${h.w}`, ...(h.uid === 'current' && current ? { uid: current } : h.uid === 'stale' ? { uid: 'gone' } : {}) }
        })
        const results = op.devices.map((d, i) => {
          const dev = this.devices[d % this.devices.length]!
          return { ...dev, request: 'r', ...(op.admin && i === 0 ? { adminAccess: true } : {}), ...(op.memory !== undefined ? { consumedCapacity: { memory: op.memory } } : {}) }
        })
        const key = `${namespace}/c${op.c}`
        return [this.put(this.claims, key, { kind: 'ResourceClaim', metadata: { name: `c${op.c}`, namespace, uid: `c-${++this.uids}` }, status: { allocation: { devices: { results } }, reservedFor } })]
      }
      case 'deleteClaim':
        return this.claims.has(`${NAMESPACES[op.ns]}/c${op.c}`) ? [this.del(this.claims, `${NAMESPACES[op.ns]}/c${op.c}`)] : []
      case 'slice': {
        const slice = this.allSlices[op.s % this.allSlices.length]!
        const present = this.slices.has(slice.metadata.name)
        if (op.present === present) return []
        return [op.present ? this.put(this.slices, slice.metadata.name, slice) : this.del(this.slices, slice.metadata.name)]
      }
      case 'flush':
        return []
    }
  }

  private put(map: Map<string, PlainObject>, key: string, object: PlainObject): ObjectChange {
    const type = map.has(key) ? 'MODIFIED' : 'ADDED'
    map.set(key, object)
    return { type, object }
  }

  private del(map: Map<string, PlainObject>, key: string): ObjectChange {
    const object = map.get(key)!
    map.delete(key)
    return { type: 'DELETED', object }
  }
}

describe('HoldingsIndex (incremental) against currentHoldings (full relist)', () => {
  let store: Store
  let slices: PlainObject[]
  let devices: Array<{ driver: string; pool: string; device: string }>

  before(async () => {
    store = await openStore({ sqlite: ':memory:' })
    await store.create(CLUSTER)
    await new Controller(store).reconcileOnce()
    slices = (await store.list('ResourceSlice')).items as PlainObject[]
    devices = slices.flatMap((s) => {
      const spec = s.spec as { driver: string; pool: { name: string }; devices?: Array<{ name: string }> }
      return (spec.devices ?? []).map((d) => ({ driver: spec.driver, pool: spec.pool.name, device: d.name }))
    })
    devices.push({ driver: 'gpu.nvidia.com', pool: 'nowhere', device: 'gpu-9' })
  })
  after(() => store.close())

  it('gives the holdings a full relist gives after any sequence of creates, deletes, re-placements and slice changes (property)', () => {
    assert.equal(slices.length >= 4, true, `the cluster publishes slices: ${slices.length}`)
    let held = 0
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const world = new World(slices, devices)
        const index = new HoldingsIndex()
        index.reset(world.objects())
        index.flush()
        for (const op of [...ops, { op: 'flush' as const }]) {
          for (const change of world.apply(op)) index.apply(change)
          if (op.op !== 'flush') continue
          index.flush()
          const expected = currentHoldings(world.objects())
          held += expected.length
          assert.deepEqual(index.holdings(), expected, 'incremental holdings equal the full relist')
        }
      }),
      {
        numRuns: RUNS || 300,
        // A claim read while its device's slice was gone holds once the slice is back.
        examples: [[[{ op: 'slice', s: 0, present: false }, { op: 'place', ns: 0, w: 0, scheduled: true }, { op: 'claim', ns: 0, c: 0, holders: [{ w: 0, uid: 'current' }], devices: [0], admin: false }, { op: 'flush' }, { op: 'slice', s: 0, present: true }]]],
      },
    )
    assert.equal(held > 0, true, 'the sequences made some holdings')
  })
})

describe('IntervalTracker (incremental) against a full relist each pass, on the real controller', () => {
  const start = Date.UTC(2026, 10, 26, 12)

  const stepArb = fc.oneof(
    fc.record({ op: fc.constant('create' as const), w: fc.integer({ min: 0, max: 5 }), kind: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ op: fc.constant('delete' as const), w: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ op: fc.constant('replace' as const), w: fc.integer({ min: 0, max: 5 }), kind: fc.integer({ min: 0, max: 3 }) }),
    fc.constant({ op: 'pass' as const }),
  )
  const REQUESTS: Array<Record<string, unknown>> = [
    { deviceClassName: 'gpu.nvidia.com', selectors: [{ cel: { expression: "device.attributes['gpu.nvidia.com'].type == 'gpu'" } }] },
    { deviceClassName: 'mig.nvidia.com', selectors: [{ cel: { expression: "device.attributes['gpu.nvidia.com'].profile == '1g.10gb'" } }] },
    { deviceClassName: 'shared.gpuplane.io', capacity: { requests: { memory: '6Gi' } } },
    { deviceClassName: 'vgpu.gpuplane.io', selectors: [{ cel: { expression: "device.attributes['gpu.nvidia.com'].profile == 'L40S-12C'" } }] },
  ]

  it('records the same intervals, also when it must list again (property)', async () => {
    let intervals = 0
    let relists = 0
    await fc.assert(
      // A short history makes the tracker's revision fall out of it (GONE): it lists again.
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 16 }), fc.boolean(), async (steps, shortHistory) => {
        const store = await openStore({ sqlite: ':memory:', ...(shortHistory ? { historyRevisions: 3 } : {}) })
        const reference = await openStore({ sqlite: ':memory:' })
        try {
          await store.create(CLUSTER)
          const controller = new Controller(store)
          await controller.reconcileOnce()
          let now = start
          const telemetry = openTelemetryStore(store)
          const refTelemetry = openTelemetryStore(reference)
          const logger = { warn: () => {}, debug: (_: object, msg?: string) => void (msg?.includes('listing again') && relists++) }
          const tracker = new IntervalTracker(store, telemetry, { now: () => now, intervalMs: 1e9, logger }) // passes run here, not on a timer
          await tracker.start()
          const refHeld = new Map<string, Holding>()
          await relistPass(store, refTelemetry, refHeld, now)
          const names = new Set<string>()
          for (const step of [...steps, { op: 'pass' as const }]) {
            const name = step.op === 'pass' ? '' : `w${step.w}`
            if ((step.op === 'delete' || step.op === 'replace') && names.has(name)) {
              await store.delete({ kind: 'Workload', namespace: 'team', name })
              names.delete(name)
              if (step.op === 'replace') await controller.reconcileOnce() // released, then placed anew (often on the same device)
            }
            if ((step.op === 'create' || step.op === 'replace') && !names.has(name)) {
              await store.create(workload(name, REQUESTS[step.kind]!))
              names.add(name)
            }
            if (step.op !== 'pass') continue
            await controller.reconcileOnce()
            now += 1000
            await tracker.syncOnce()
            await relistPass(store, refTelemetry, refHeld, now)
          }
          const range = { from: start - 1, to: now + 1 }
          const key = (iv: AllocationInterval) => JSON.stringify([iv.node, iv.device, iv.namespace, iv.workload, iv.from])
          const sort = (ivs: AllocationInterval[]) => ivs.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
          const got = sort(await telemetry.intervals(range))
          intervals += got.length
          assert.deepEqual(got, sort(await refTelemetry.intervals(range)), 'the incremental tracker wrote what a full relist each pass writes')
          await tracker.stop()
        } finally {
          await store.close()
          await reference.close()
        }
      }),
      { numRuns: RUNS || 8 },
    )
    assert.equal(intervals > 0, true, 'the runs recorded intervals')
    assert.equal(relists > 0, true, 'some runs lost their place in the history (GONE) and listed again')
  })
})
