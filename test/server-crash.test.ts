// Crash safety: SIGKILL the server in the middle of 1,000 workload submissions, restart it on the same SQLite file, and check nothing acknowledged was lost and nothing was half-written.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../src/store/index.ts'
import { api, checkStore, startServer, stopServer, waitSettled, type ServerProcess, type StoreState } from './server-invariants.ts'

const TOKEN = 'crash-test-admin-token'
const SUBMISSIONS = 1000
const CONCURRENCY = 8
const HOSTS = 100
const GPUS_PER_HOST = 8
const NS = 'crash'
const WORKLOADS = `/apis/gpuplane.io/v1alpha1/namespaces/${NS}/workloads`

/** Workload i asks for 1 GPU, every third one for 2: 1,333 GPUs in all, more than the 800 there are; the cluster fills about when the kill comes. */
function workload(i: number): Record<string, unknown> {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name: `job-${i}` },
    spec: { resourceClaims: [{ name: 'gpus', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: i % 3 === 0 ? 2 : 1 } }] } } }] },
  }
}

/** Submits workloads `indexes` with CONCURRENCY requests in flight; stops issuing new ones once `stop()` says so. */
async function submit(url: string, indexes: number[], onAck: (i: number) => void, stop: () => boolean): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < indexes.length && !stop()) {
      const i = indexes[next++]!
      try {
        const res = await fetch(`${url}${WORKLOADS}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(workload(i)) })
        await res.text()
        if (res.status === 201 || res.status === 409) onAck(i)
        else if (res.status !== 503) throw new Error(`POST job-${i}: HTTP ${res.status}`)
      } catch (e) {
        // The server was killed under the request: not acknowledged.
        if (!stop()) throw e
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

/** Every pending workload is pending because it does not fit: 1-GPU ones only when no GPU is free, 2-GPU ones only when no host has 2. */
function checkAllFitScheduled(state: StoreState): void {
  const free = new Map<string, number>()
  for (let h = 0; h < HOSTS; h++) free.set(`host-${h}`, GPUS_PER_HOST)
  for (const id of state.devices.keys()) {
    const pool = id.split('/')[1]!
    free.set(pool, free.get(pool)! - 1)
  }
  const mostFree = Math.max(...free.values())
  for (const w of state.pending) {
    const need = (w.spec as any).resourceClaims[0].spec.devices.requests[0].exactly.count as number
    assert.ok(need > mostFree, `workload ${w.metadata.name} (needs ${need}) is pending though a host has ${mostFree} free GPUs: ${(w.status as any)?.reason}`)
  }
}

test('SIGKILL mid-stream: acknowledged submissions survive, nothing is allocated twice or half-written, and the rest gets scheduled', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuplane-crash-'))
  const db = join(dir, 'gpuplane.db')
  const env = { GPUPLANE_ADMIN_TOKEN: TOKEN }
  let server: ServerProcess | undefined
  try {
    const started = Date.now()
    server = await startServer(['--db', db], env)
    const cluster = { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Cluster', metadata: { name: 'crash' }, spec: { hosts: [{ name: 'host', replicas: HOSTS, gpus: { model: 'H100-80GB', count: GPUS_PER_HOST } }] } }
    assert.equal((await api(server.url, TOKEN, 'POST', '/apis/gpuplane.io/v1alpha1/clusters', cluster)).status, 201)
    assert.equal((await api(server.url, TOKEN, 'POST', '/apis/gpuplane.io/v1alpha1/namespaces', { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name: NS }, spec: {} })).status, 201)

    // Kill after 300-700 acknowledgements, with requests in flight.
    const killAt = 300 + Math.floor(Math.random() * 400)
    const acked = new Set<number>()
    let killed = false
    const victim = server
    await submit(
      server.url,
      Array.from({ length: SUBMISSIONS }, (_, i) => i),
      (i) => {
        acked.add(i)
        if (acked.size >= killAt && !killed) {
          killed = true
          victim.child.kill('SIGKILL')
        }
      },
      () => killed,
    )
    await stopServer(server, 'SIGKILL')
    assert.ok(killed && acked.size >= killAt)

    // What the crash left: every acknowledged workload, nothing half-written.
    const store = await openStore({ sqlite: db })
    const left = await checkStore(store)
    await store.close()
    const names = new Set(left.workloads.map((w) => w.metadata.name))
    for (const i of acked) assert.ok(names.has(`job-${i}`), `acknowledged job-${i} survived the crash`)
    const scheduledAtCrash = left.scheduled.length

    // Restart on the same file, submit what was never acknowledged (201, or 409 if it was stored unacknowledged), let it settle.
    server = await startServer(['--db', db], env)
    const rest = Array.from({ length: SUBMISSIONS }, (_, i) => i).filter((i) => !acked.has(i))
    await submit(server.url, rest, (i) => acked.add(i), () => false)
    assert.equal(acked.size, SUBMISSIONS)
    await waitSettled(server.url, TOKEN, 60_000)
    await stopServer(server)
    const done = await openStore({ sqlite: db })
    const end = await checkStore(done)
    await done.close()
    assert.equal(end.workloads.length, SUBMISSIONS)
    assert.ok(end.scheduled.length >= scheduledAtCrash, 'placements made before the crash are kept')
    checkAllFitScheduled(end)
    console.log(`# crash test: killed after ${killAt} acknowledged (${left.workloads.length} stored, ${scheduledAtCrash} scheduled at the crash); after restart ${end.scheduled.length} scheduled, ${end.pending.length} pending; ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } finally {
    if (server) await stopServer(server, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})
