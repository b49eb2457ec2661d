// Two server replicas on one PostgreSQL database, each with its controller, under concurrent submissions: no device, shared counter or quota is ever oversubscribed, conflicts happen and are retried, and whatever fits is placed exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { openStore } from '../src/store/index.ts'
import { ObjectCache } from '../src/server/controller-cache.ts'
import { ParsedObjects, viewInput } from '../src/server/controller-view.ts'
import { restoreEach } from '../src/scheduler/restore.ts'
import type { Store } from '../src/store/types.ts'
import { api, checkStore, metricSum, startServer, stopServer, waitSettled, type ServerProcess } from './server-invariants.ts'

const TOKEN = 'replica-test-admin-token'
const ADMIN_URL = process.env.GPUPLANE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const SUBMISSIONS = 160
const CONCURRENCY = 8

/** MIG hosts (partitions share the GPU's counters) and a vGPU host (profiles share its counters). */
const CLUSTER = {
  apiVersion: 'gpuplane.io/v1alpha1',
  kind: 'Cluster',
  metadata: { name: 'replicas' },
  spec: {
    hosts: [
      { name: 'mig', replicas: 4, gpus: { model: 'H100-80GB', count: 4 }, mode: 'mig-dynamic' },
      { name: 'vgpu', replicas: 2, gpus: { model: 'L40S-48GB', count: 2 }, mode: 'vgpu', vgpu: { mixedSize: true } },
    ],
  },
}

const NAMESPACES = [
  { name: 'team-a', quota: { gpus: 40 } },
  { name: 'team-b', quota: { gpus: 24 } },
]

function request(deviceClassName: string, cel?: string) {
  return { name: 'dev', exactly: { deviceClassName, ...(cel ? { selectors: [{ cel: { expression: cel } }] } : {}) } }
}

/** A mix of MIG partitions, whole MIG-capable GPUs and vGPUs: together far more than the cluster has. */
function workload(i: number): Record<string, unknown> {
  const shapes = [
    request('mig.nvidia.com', "device.attributes['gpu.nvidia.com'].profile == '1g.10gb'"),
    request('mig.nvidia.com', "device.attributes['gpu.nvidia.com'].profile == '3g.40gb'"),
    request('gpu.nvidia.com', "device.attributes['gpu.nvidia.com'].productName.startsWith('NVIDIA H100')"),
    request('vgpu.gpuplane.io', "device.attributes['gpu.nvidia.com'].profile == 'L40S-12C'"),
    request('vgpu.gpuplane.io', "device.attributes['gpu.nvidia.com'].profile == 'L40S-24C'"),
  ]
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name: `w-${i}`, namespace: NAMESPACES[i % 2]!.name },
    spec: { resourceClaims: [{ name: 'dev', spec: { devices: { requests: [shapes[i % shapes.length]] } } }] },
  }
}

/** Nothing pending would fit now: a scheduler restored from the final store places none of them. */
async function checkNothingFits(store: Store): Promise<void> {
  const cache = new ObjectCache(store)
  await cache.load()
  const parsed = new ParsedObjects()
  const { input } = viewInput(cache, parsed, () => undefined)
  const { scheduler } = restoreEach(input, { preemption: false })
  const pending = [...cache.all('Workload').values()].filter((w) => (w.status as any)?.phase !== 'Scheduled').map((w) => parsed.workload(w))
  for (const d of scheduler.scheduleAll(pending)) assert.equal(d.ok, false, `pending ${d.workload} fits${d.ok ? ` on ${d.node}` : ''}`)
}

test('two replicas on one PostgreSQL never oversubscribe a device, counter or quota', { timeout: 120_000 }, async () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  const database = `gpuplane_replicas_${process.pid}_${Date.now()}`
  await admin.query(`CREATE DATABASE ${database}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${database}`
  const servers: ServerProcess[] = []
  try {
    const env = { GPUPLANE_ADMIN_TOKEN: TOKEN }
    servers.push(await startServer(['--postgres', url.toString()], env))
    servers.push(await startServer(['--postgres', url.toString()], env))
    const [one, two] = servers as [ServerProcess, ServerProcess]
    assert.equal((await api(one.url, TOKEN, 'POST', '/apis/gpuplane.io/v1alpha1/clusters', CLUSTER)).status, 201)
    for (const ns of NAMESPACES) {
      const res = await api(two.url, TOKEN, 'POST', '/apis/gpuplane.io/v1alpha1/namespaces', { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name: ns.name }, spec: { quota: ns.quota } })
      assert.equal(res.status, 201)
    }

    // Alternate between the replicas, CONCURRENCY requests in flight.
    let next = 0
    const worker = async () => {
      while (next < SUBMISSIONS) {
        const i = next++
        const w = workload(i)
        const res = await api(servers[i % 2]!.url, TOKEN, 'POST', `/apis/gpuplane.io/v1alpha1/namespaces/${(w.metadata as any).namespace}/workloads`, w)
        assert.equal(res.status, 201, JSON.stringify(res.body))
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    await waitSettled(one.url, TOKEN, 60_000)

    const metrics = await Promise.all(servers.map(async (s) => (await api(s.url, TOKEN, 'GET', '/metrics')).body as string))
    const conflicts = metrics.map((m) => metricSum(m, 'gpuplane_scheduling_conflicts_total'))
    const placedBy = metrics.map((m) => metricSum(m, 'gpuplane_allocations_total'))
    for (const s of servers) await stopServer(s)

    const store = await openStore({ postgres: url.toString() })
    try {
      const state = await checkStore(store)
      assert.ok(state.scheduled.length > 0 && state.pending.length > 0, `the cluster fits some, not all: ${state.scheduled.length} scheduled, ${state.pending.length} pending`)
      // Exactly once: each placement was committed by one replica, once.
      assert.equal(placedBy[0]! + placedBy[1]!, state.scheduled.length, `allocations by the replicas (${placedBy.join(' + ')}) = workloads scheduled`)
      assert.ok(conflicts[0]! + conflicts[1]! > 0, 'the replicas conflicted (and retried)')
      await checkNothingFits(store)
      console.log(`# replicas: ${state.scheduled.length} scheduled (${placedBy.join(' + ')} by each replica), ${state.pending.length} pending, conflicts retried ${conflicts.join(' + ')}`)
    } finally {
      await store.close()
    }
  } finally {
    for (const s of servers) await stopServer(s, 'SIGKILL')
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await admin.end()
  }
})
