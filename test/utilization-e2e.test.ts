// Utilization end to end: a real server (controller, interval tracker, idle controller), `gpuplane agent` against a fake nvidia-smi printing the recorded H200 series, a workload scheduled on it; then `gpuplane get idle` and `gpuplane report usage` are checked.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { NodeAgent } from '../src/cli/agent.ts'
import { deviceClasses } from '../src/inventory/publish.ts'
import type { ChargebackReport } from '../src/telemetry/chargeback.ts'
import { fakeNvidiaSmi, until } from './fake-nvidia-smi.ts'
import { utilizationServer, type UtilizationServer } from './utilization-server.ts'

const H = 3_600_000
/** The series from the matmul program's start (row 16 of the fixture: 657 MiB in use) to its end. */
const FIRST_ROW = 15

const OBJECTS = [
  ...deviceClasses(),
  // A 1.5 s window suits samples every 100 ms (the 30 min default is tested on a generated series in src/telemetry/idle.test.ts).
  { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name: 'research' }, spec: { idle: { smUtilBelow: 5, for: '1500ms' } } },
  { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name: 'train', namespace: 'research' }, spec: { priority: 0, resourceClaims: [{ name: 'gpus', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com' } }] } } }] } },
]

describe('utilization end to end', () => {
  let s: UtilizationServer
  before(async () => {
    s = await utilizationServer('gp-util-', { idleIntervalMs: 200 })
  })
  after(() => s.close())

  it('joins the agent\'s samples to the workload, flags it idle after the burst, and reports its GPU-hours', async () => {
    const { dir, store, app, url, token, cli } = s
    const started = Date.now()
    writeFileSync(join(dir, 'objects.yaml'), OBJECTS.map((o) => stringify(o)).join('---\n'))
    await cli('apply', '-f', join(dir, 'objects.yaml'))
    const { script } = fakeNvidiaSmi(dir, { gate: FIRST_ROW })
    const logs: string[] = []
    const agent = new NodeAgent({ server: url, token, node: 'h200', intervalMs: 100, nvidiaSmi: script, inventoryIntervalMs: 3_600_000, batchSize: 5, bufferSize: 10_000, flushTimeoutMs: 5_000, log: (l) => logs.push(l) })
    agent.start()
    try {
      // The agent publishes the H200; the controller places the workload on it; the tracker opens its interval.
      await until('the workload holds the H200', async () => (await app.telemetry.intervals({ from: Date.now(), to: Date.now() + 1, workload: 'train' })).length === 1)
      writeFileSync(join(dir, 'go'), '') // the program starts
      const mine = () => app.telemetry.samples({ from: started, to: Date.now() + 1000, namespace: 'research', workload: 'train' })
      await until('a busy sample', async () => (await mine()).some((s) => s.smUtil === 100))
      const during = JSON.parse(await cli('get', 'idle', '-o', 'json')) as { items: Array<{ workload: string; state: string }> }
      assert.deepEqual(during.items.map((e) => [e.workload, e.state]), [['train', 'busy']], 'busy during the burst')

      const condition = async () => ((await store.get({ kind: 'Workload', namespace: 'research', name: 'train' }))?.status as { conditions?: Array<{ type: string; lastTransitionTime: string }> } | undefined)?.conditions?.find((c) => c.type === 'Idle')
      await until('the Idle condition', async () => (await condition()) !== undefined)
      const samples = await mine()
      const lastBusy = Math.max(...samples.filter((s) => s.smUtil === 100).map((s) => s.time))
      const since = Date.parse((await condition())!.lastTransitionTime)
      assert.ok(since > lastBusy, `idle since ${new Date(since).toISOString()}, after the last busy sample ${new Date(lastBusy).toISOString()}`)
      const idle = JSON.parse(await cli('get', 'idle', '-o', 'json')) as { items: Array<{ workload: string; state: string; since: string; gpuModels: string[] }> }
      assert.deepEqual(idle.items.map((e) => [e.workload, e.state, e.gpuModels]), [['train', 'idle', ['H200-141GB']]], 'idle after the burst')
      const table = await cli('get', 'idle')
      assert.match(table, /research\s+train\s+H200-141GB\s+1\s+Idle since/, table)
      const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
      assert.match(metrics, /gpuplane_idle_allocations\{namespace="research",model="H200-141GB"\} 1/, 'the metric')
      const flags = (await store.queryAudit({ actor: 'system:idle-controller' })).map((a) => a.action)
      assert.deepEqual(flags, ['idle.flag'], 'flagged once: busy, then idle')
    } finally {
      await agent.stop()
    }

    const report = JSON.parse(await cli('report', 'usage', '--from', new Date(started).toISOString(), '-o', 'json')) as ChargebackReport
    const [iv] = await app.telemetry.intervals({ from: started, to: report.to, workload: 'train' })
    const train = report.workloads.find((w) => w.workload === 'train')!
    assert.ok(Math.abs(train.allocatedGpuHours - (report.to - iv!.from) / H) < 1e-9, `allocated: the time held × 1 GPU (${train.allocatedGpuHours * H} ms)`)
    const held = (await app.telemetry.samples({ from: started, to: report.to, namespace: 'research', workload: 'train' }))
    const meanUse = held.reduce((a, s) => a + s.usedPercent, 0) / held.length / 100
    assert.ok(train.efficiency !== null && Math.abs(train.efficiency - meanUse) < 0.1, `efficiency ${train.efficiency} ≈ the mean use of its samples ${meanUse}`)
    assert.ok(train.usedGpuHours > 0 && train.usedGpuHours < train.allocatedGpuHours, 'used some, less than held')
    assert.deepEqual(report.namespaces.map((n) => [n.namespace, n.allocatedGpuHours === train.allocatedGpuHours]), [['research', true]], 'the namespace line adds its one workload')
    assert.equal(report.cluster.models[0]?.gpuModel, 'H200-141GB', 'cluster view per model')
    assert.equal(report.cluster.models[0]?.gpus, 1, 'one H200 published')
    const table = await cli('report', 'usage', '--from', new Date(started).toISOString())
    assert.match(table, /research\s+-\s+H200-141GB/, table)
    assert.match(table, /No price for H200-141GB/, 'says what is unpriced')
    const csv = await cli('report', 'usage', '--from', new Date(started).toISOString(), '-o', 'csv')
    assert.match(csv, /^namespace,workload,gpu_models,allocated_gpu_hours,used_gpu_hours,efficiency,reclaimed_gpu_hours,tokens,cost\nresearch,-,H200-141GB,/, csv)
  })

  it('shows a namespace token its own namespace only', async () => {
    const { store, url, token, cli } = s
    const created = await fetch(`${url}/apis/gpuplane.io/v1alpha1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ namespace: 'other' }) })
    const other = ((await created.json()) as { token: string }).token
    const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${other}` } })
    const own = (await (await get(`/apis/gpuplane.io/v1alpha1/reports/usage?from=${Date.now() - H}`)).json()) as ChargebackReport
    assert.deepEqual([own.namespaces, own.workloads], [[], []], 'nothing of research')
    const res = await get('/apis/gpuplane.io/v1alpha1/reports/usage?namespace=research')
    assert.equal(res.status, 403, 'another namespace is forbidden')
    assert.match(((await res.json()) as { message: string }).message, /can read the reports of namespace "other" only/, 'says why')
    assert.equal((await get('/apis/gpuplane.io/v1alpha1/idle?namespace=research')).status, 403, 'idle list too')
    assert.deepEqual(((await (await get('/apis/gpuplane.io/v1alpha1/idle')).json()) as { items: unknown[] }).items, [], 'its own idle list is empty')
    const bad = await fetch(`${url}/apis/gpuplane.io/v1alpha1/reports/usage?from=yesterday`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(bad.status, 400, 'a bad time is invalid input')
  })
})
