import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { openStore } from '../store/index.ts'
import type { NewObject, Store, StoredObject } from '../store/types.ts'
import { Controller } from './controller.ts'
import { LABEL_CLUSTER } from './controller-view.ts'

/** Two hosts of two whole H100s each, and a third host given as `extra` hosts. */
function cluster(hosts: Array<{ name: string; count: number; mode?: string }> = [{ name: 'gpu', count: 2 }]): NewObject {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'lab' },
    spec: { hosts: hosts.map((h) => ({ name: h.name, ...(h.name === 'gpu' ? { replicas: 2 } : {}), gpus: { model: 'H100-80GB', count: h.count }, ...(h.mode ? { mode: h.mode } : {}) })) },
  }
}

function workload(name: string, gpus: number, extra: { priority?: number; namespace?: string; claimName?: string; gang?: string } = {}): NewObject {
  const claim = extra.claimName
    ? { name: 'gpus', resourceClaimName: extra.claimName }
    : { name: 'gpus', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: gpus } }] } } }
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace: extra.namespace ?? 'team' },
    spec: { priority: extra.priority ?? 0, resourceClaims: [claim], ...(extra.gang ? { gang: { group: extra.gang, minMember: 2 } } : {}) },
    status: { phase: 'Pending' },
  }
}

async function setup(hosts?: Parameters<typeof cluster>[0]): Promise<{ store: Store; controller: Controller }> {
  const store = await openStore({ sqlite: ':memory:' })
  await store.create(cluster(hosts))
  return { store, controller: new Controller(store) }
}

async function get(store: Store, name: string, namespace = 'team'): Promise<StoredObject> {
  const o = await store.get({ kind: 'Workload', namespace, name })
  assert.ok(o, `workload ${name} exists`)
  return o
}

const phase = (o: StoredObject) => (o.status as { phase?: string; nodeName?: string; reason?: string }) ?? {}

/** Every allocated device with the claim holding it; fails if one is held twice. */
async function allocatedDevices(store: Store): Promise<Map<string, string>> {
  const held = new Map<string, string>()
  for (const c of (await store.list('ResourceClaim')).items) {
    const results = ((c.status as any)?.allocation?.devices?.results ?? []) as Array<{ driver: string; pool: string; device: string }>
    for (const r of results) {
      const id = `${r.driver}/${r.pool}/${r.device}`
      assert.ok(!held.has(id), `device ${id} is allocated to ${held.get(id)} and ${c.metadata.name}`)
      held.set(id, c.metadata.name)
    }
  }
  return held
}

test('publishes the Cluster and schedules pending workloads, committing claims and status together', async () => {
  const { store, controller } = await setup()
  await store.create(workload('a', 2))
  await store.create(workload('b', 1))
  const r = await controller.reconcileOnce()
  assert.deepEqual(r, { scheduled: 2, pending: 0, conflicts: 0 })
  const nodes = (await store.list('Node')).items
  assert.deepEqual(nodes.map((n) => [n.metadata.name, n.metadata.labels?.[LABEL_CLUSTER]]), [['gpu-0', 'lab'], ['gpu-1', 'lab']])
  assert.ok((await store.list('DeviceClass')).items.some((c) => c.metadata.name === 'gpu.nvidia.com'))
  const a = await get(store, 'a')
  assert.equal(phase(a).phase, 'Scheduled')
  const claim = await store.get({ kind: 'ResourceClaim', namespace: 'team', name: 'a-gpus' })
  assert.ok(claim)
  assert.deepEqual(claim.metadata.ownerReferences, [{ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', name: 'a', uid: a.metadata.uid, controller: true }])
  assert.equal((claim.status as any).allocation.devices.results.length, 2)
  assert.equal((await allocatedDevices(store)).size, 3)
  const text = await controller.metrics.allocations.get()
  assert.equal(text.values.reduce((s, v) => s + v.value, 0), 2)
  await store.close()
})

test('a restarted controller keeps placements and schedules around them', async () => {
  const { store, controller } = await setup()
  await store.create(workload('a', 2))
  await controller.reconcileOnce()
  const before = phase(await get(store, 'a')).nodeName
  await store.create(workload('b', 2))
  const again = new Controller(store)
  assert.equal((await again.reconcileOnce()).scheduled, 1)
  assert.equal(phase(await get(store, 'a')).nodeName, before)
  assert.notEqual(phase(await get(store, 'b')).nodeName, before)
  assert.equal((await allocatedDevices(store)).size, 4)
  await store.close()
})

test('a higher priority preempts: the victim goes back to Pending with its claims released, in the same commit', async () => {
  const { store, controller } = await setup([{ name: 'gpu', count: 2 }])
  await store.create(workload('low-0', 2, { priority: 1 }))
  await store.create(workload('low-1', 2, { priority: 1 }))
  await controller.reconcileOnce()
  await store.create(workload('high', 2, { priority: 10 }))
  const r = await controller.reconcileOnce()
  assert.equal(r.scheduled, 1)
  assert.equal(phase(await get(store, 'high')).phase, 'Scheduled')
  const lows = [await get(store, 'low-0'), await get(store, 'low-1')]
  const victim = lows.find((w) => phase(w).phase === 'Pending')!
  assert.equal(phase(victim).reason, 'preempted by team/high')
  assert.equal(typeof (victim.status as any).preemptedAt, 'string')
  assert.equal(await store.get({ kind: 'ResourceClaim', namespace: 'team', name: `${victim.metadata.name}-gpus` }), undefined)
  assert.equal((await allocatedDevices(store)).size, 4)
  await store.close()
})

test('deleting a workload frees its devices for a pending one', async () => {
  const { store, controller } = await setup()
  await store.create(workload('a', 2))
  await store.create(workload('b', 2))
  await store.create(workload('c', 2))
  await controller.reconcileOnce()
  assert.match(phase(await get(store, 'c')).reason!, /insufficient|no .* device/)
  const rebuilds = controller.rebuilds
  await store.delete({ kind: 'Workload', namespace: 'team', name: 'a' })
  const r = await controller.reconcileOnce()
  assert.equal(r.scheduled, 1)
  assert.equal(await store.get({ kind: 'ResourceClaim', namespace: 'team', name: 'a-gpus' }), undefined)
  assert.equal(phase(await get(store, 'c')).phase, 'Scheduled')
  assert.equal(controller.rebuilds, rebuilds, 'a deletion is followed without rebuilding the view')
  await allocatedDevices(store)
  await store.close()
})

test('a claim named by the workload gets the allocation and loses it when the workload is deleted', async () => {
  const { store, controller } = await setup()
  await store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'shared', namespace: 'team' }, spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com' } }] } } })
  await store.create(workload('first', 0, { claimName: 'shared' }))
  await store.create(workload('later', 0, { claimName: 'shared' }))
  await controller.reconcileOnce()
  const claim = (await store.get({ kind: 'ResourceClaim', namespace: 'team', name: 'shared' }))!
  const first = await get(store, 'first')
  assert.equal((claim.status as any).allocation.devices.results.length, 1)
  assert.deepEqual((claim.status as any).reservedFor, [{ apiGroup: 'gpuplane.io', resource: 'workloads', name: 'first', uid: first.metadata.uid }])
  assert.match(phase(await get(store, 'later')).reason!, /ResourceClaim team\/shared is in use by workload team\/first/)
  await store.delete({ kind: 'Workload', namespace: 'team', name: 'first' })
  await controller.reconcileOnce()
  const after = (await store.get({ kind: 'ResourceClaim', namespace: 'team', name: 'shared' }))!
  assert.ok(after, 'a claim the user made is kept')
  // The later workload took it over once it was released.
  assert.equal((after.status as any).reservedFor[0].name, 'later')
  assert.equal(phase(await get(store, 'later')).phase, 'Scheduled')
  await store.close()
})

test('a gang is placed all together or not at all', async () => {
  const { store, controller } = await setup()
  await store.create(workload('g-0', 2, { gang: 'g' }))
  await store.create(workload('g-1', 2, { gang: 'g' }))
  await store.create(workload('h-0', 2, { gang: 'h' }))
  await store.create(workload('h-1', 2, { gang: 'h' }))
  await controller.reconcileOnce()
  const phases = await Promise.all(['g-0', 'g-1', 'h-0', 'h-1'].map(async (n) => phase(await get(store, n)).phase))
  assert.deepEqual(phases, ['Scheduled', 'Scheduled', 'Pending', 'Pending'])
  assert.match(phase(await get(store, 'h-0')).reason!, /gang h: only 0 of 2 members fit together/)
  await store.close()
})

test('re-applying a Cluster replaces what it published; workloads on removed nodes are released', async () => {
  const { store, controller } = await setup([{ name: 'gpu', count: 2 }, { name: 'solo', count: 1 }])
  await store.create(workload('on-solo', 1))
  await store.create(workload('big', 2))
  await store.create(workload('big2', 2))
  await controller.reconcileOnce()
  const onSolo = phase(await get(store, 'on-solo'))
  assert.equal(onSolo.nodeName, 'solo')
  const old = (await store.list('ResourceSlice')).items.filter((s) => (s.spec as any).nodeName === 'solo')
  assert.equal(old.length, 1)
  const c = (await store.get({ kind: 'Cluster', name: 'lab' }))!
  assert.deepEqual(c.status, { phase: 'Published', nodes: 3, resourceSlices: 3 })
  await store.update({ ...cluster([{ name: 'gpu', count: 2 }, { name: 'duo', count: 2 }]) }, c.metadata.resourceVersion)
  await controller.reconcileOnce()
  const nodes = (await store.list('Node')).items.map((n) => n.metadata.name)
  assert.deepEqual(nodes.sort(), ['duo', 'gpu-0', 'gpu-1'])
  const slices = (await store.list('ResourceSlice', { labelSelector: [{ key: LABEL_CLUSTER, op: '=', value: 'lab' }] })).items
  assert.deepEqual(slices.map((s) => (s.spec as any).nodeName).sort(), ['duo', 'gpu-0', 'gpu-1'])
  // Released from the node that went, then placed again on the new one.
  const moved = phase(await get(store, 'on-solo'))
  assert.equal(moved.nodeName, 'duo')
  await allocatedDevices(store)
  await store.delete({ kind: 'Cluster', name: 'lab' })
  await controller.reconcileOnce()
  assert.equal((await store.list('ResourceSlice')).items.length, 0)
  assert.equal((await store.list('Node')).items.length, 0)
  await store.close()
})

test('an invalid Cluster keeps what it published and says why in status', async () => {
  const { store, controller } = await setup()
  await controller.reconcileOnce()
  const c = (await store.get({ kind: 'Cluster', name: 'lab' }))!
  await store.update({ ...cluster(), spec: { hosts: [{ name: 'x', gpus: { model: 'NoSuchGPU', count: 1 } }] } }, c.metadata.resourceVersion)
  await controller.reconcileOnce()
  const after = (await store.get({ kind: 'Cluster', name: 'lab' }))!
  assert.equal((after.status as any).phase, 'Invalid')
  assert.match((after.status as any).reason, /spec\.hosts\[0\]\.gpus\.model: unknown GPU model "NoSuchGPU"/)
  assert.equal((await store.list('Node')).items.length, 2)
  await store.close()
})

test('a pending reason is written only when it changes', async () => {
  const { store, controller } = await setup()
  await store.create(workload('huge', 5))
  await controller.reconcileOnce()
  const first = await get(store, 'huge')
  assert.match(phase(first).reason!, /insufficient/)
  // Something else changes, the reason does not: the workload is not written again.
  await store.create(workload('tiny', 1, { namespace: 'other' }))
  await controller.reconcileOnce()
  await controller.reconcileOnce()
  assert.equal((await get(store, 'huge')).metadata.resourceVersion, first.metadata.resourceVersion)
  await store.close()
})

test('sliced background passes reach the whole queue: what does not fit is skipped until the sweep ends, what fits behind it is placed', async () => {
  const store = await openStore({ sqlite: ':memory:' })
  await store.create(cluster())
  // One workload or gang per pass: without the sweep's memory, every pass would decide the head again.
  const controller = new Controller(store, { sliceMs: 0, intervalMs: 5 })
  await controller.start()
  try {
    for (let i = 0; i < 6; i++) await store.create(workload(`huge-${i}`, 5))
    for (let i = 0; i < 3; i++) await store.create(workload(`one-${i}`, 1))
    const deadline = Date.now() + 20_000
    for (;;) {
      const items = (await store.list('Workload')).items
      const done = items.every((w) => (w.metadata.name.startsWith('one-') ? phase(w).phase === 'Scheduled' : /insufficient/.test(phase(w).reason ?? '')))
      if (done) break
      assert.ok(Date.now() < deadline, `not every workload was decided: ${JSON.stringify(items.map((w) => [w.metadata.name, phase(w)]))}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.equal((await allocatedDevices(store)).size, 3)
  } finally {
    await controller.stop()
    await store.close()
  }
})

test('a commit that loses to another writer (epoch moved) is re-read and retried', async () => {
  const inner = await openStore({ sqlite: ':memory:' })
  await inner.create(cluster())
  await inner.create(workload('a', 1))
  let interfere = 2
  // A second writer allocates between the controller's read and its commit, twice.
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'commit') return Reflect.get(target, prop, receiver)
      return async (writes: Parameters<Store['commit']>[0], options?: Parameters<Store['commit']>[1]) => {
        if (options?.allocationEpoch !== undefined && writes.some((w) => w.op === 'updateStatus' && w.key.kind === 'Workload') && interfere-- > 0) {
          await target.commit([], { allocationEpoch: await target.allocationEpoch() })
        }
        return target.commit(writes, options)
      }
    },
  })
  const controller = new Controller(store)
  const r = await controller.reconcileOnce()
  assert.equal(r.scheduled, 1)
  assert.equal(r.conflicts, 2)
  assert.equal((await controller.metrics.conflicts.get()).values[0]!.value, 2)
  assert.equal(phase(await get(inner, 'a')).phase, 'Scheduled')
  await inner.close()
})

test('two controllers on one store never allocate a device twice', async () => {
  const store = await openStore({ sqlite: ':memory:' })
  await store.create(cluster([{ name: 'gpu', count: 4 }]))
  const one = new Controller(store)
  const two = new Controller(store)
  await one.reconcileOnce()
  for (let i = 0; i < 12; i++) await store.create(workload(`w-${i}`, 1))
  const results = await Promise.all([one.reconcileOnce(), two.reconcileOnce(), one.reconcileOnce(), two.reconcileOnce()])
  await one.reconcileOnce()
  await two.reconcileOnce()
  const scheduled = (await store.list('Workload')).items.filter((w) => phase(w).phase === 'Scheduled')
  assert.equal(scheduled.length, 8)
  assert.equal((await allocatedDevices(store)).size, 8)
  assert.ok(results.some((r) => r.conflicts > 0) || results.filter((r) => r.scheduled > 0).length === 1)
  await store.close()
})

test('the same store content gives the same placements', async () => {
  const place = async () => {
    const { store, controller } = await setup([{ name: 'gpu', count: 4 }, { name: 'mig', count: 2, mode: 'mig-dynamic' }])
    for (let i = 0; i < 6; i++) await store.create(workload(`w-${i}`, 1 + (i % 3), { priority: i % 2 }))
    await controller.reconcileOnce()
    const out: string[] = []
    for (const c of (await store.list('ResourceClaim')).items) out.push(`${c.metadata.name}:${JSON.stringify((c.status as any).allocation.devices.results)}`)
    await store.close()
    return out.sort()
  }
  assert.deepEqual(await place(), await place())
})

test('a gang that preempts and then does not fit preempts nobody, pass after pass', async () => {
  const { store, controller } = await setup()
  await store.create(workload('low-0', 2, { priority: 1 }))
  await store.create(workload('low-1', 2, { priority: 1 }))
  await controller.reconcileOnce()
  const before = await Promise.all(['low-0', 'low-1'].map((n) => get(store, n)))
  // Three members of 2 GPUs each on 4 GPUs: never all together.
  for (let i = 0; i < 3; i++) await store.create({ ...workload(`g-${i}`, 2, { priority: 10 }), spec: { priority: 10, gang: { group: 'g', minMember: 3 }, resourceClaims: [{ name: 'gpus', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: 2 } }] } } }] } })
  await controller.reconcileOnce()
  await controller.reconcileOnce()
  const after = await Promise.all(['low-0', 'low-1'].map((n) => get(store, n)))
  assert.deepEqual(after.map((w) => w.metadata.resourceVersion), before.map((w) => w.metadata.resourceVersion))
  assert.match(phase(await get(store, 'g-0')).reason!, /gang g: only 2 of 3 members fit together/)
  await allocatedDevices(store)
  await store.close()
})

test('GPU gauges are computed when /metrics is scraped: published GPUs by model, allocated by model and namespace', async () => {
  const store = await openStore({ sqlite: ':memory:' })
  await store.create(cluster())
  const registry = new Registry()
  const controller = new Controller(store, { metrics: registry })
  await store.create(workload('a', 2))
  await store.create(workload('b', 1, { namespace: 'other' }))
  await controller.reconcileOnce()
  const text = await registry.metrics()
  assert.match(text, /^gpuplane_gpus_total\{model="H100-80GB"\} 4$/m)
  assert.match(text, /^gpuplane_gpus_allocated\{model="H100-80GB",namespace="team"\} 2$/m)
  assert.match(text, /^gpuplane_gpus_allocated\{model="H100-80GB",namespace="other"\} 1$/m)
  await store.close()
})
