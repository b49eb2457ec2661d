// Idle reclaim end to end: a real server (controller, and the utilization loops of startUtilization: interval tracker and idle controller), `gpuplane agent` against a fake nvidia-smi printing an idle H200 (20 GB held at 0% SM), a workload of a namespace whose idle policy says reclaim; the idle controller flags it, gives notice (checked through `gpuplane get idle`), preempts it after the grace period, and `gpuplane report usage` counts the GPU-hours reclaimed.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { NodeAgent } from '../src/cli/agent.ts'
import { deviceClasses } from '../src/inventory/publish.ts'
import { IDLE_ACTOR } from '../src/server/idle-controller.ts'
import type { ChargebackReport } from '../src/telemetry/chargeback.ts'
import { fakeNvidiaSmi, until } from './fake-nvidia-smi.ts'
import { utilizationServer, type UtilizationServer } from './utilization-server.ts'

const H = 3_600_000
const MIB = 1024 * 1024
/** The recorded series' last row: the program done, 20085 MiB still held, 0% SM (an idle allocation). */
const LAST_ROW = readFileSync(join(import.meta.dirname, 'fixtures', 'nvidia-smi', 'h200-passthrough', 'util-under-load.csv'), 'utf8').trim().split('\n').length - 2
/** The grace period between the notice and the reclaim: long enough to read the notice back through the CLI. */
const GRACE_MS = 2000

const OBJECTS = [
  ...deviceClasses(),
  // Windows of seconds suit samples every 100 ms (the 30 min default is tested on a generated series in src/telemetry/idle.test.ts).
  { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name: 'batch' }, spec: { idle: { smUtilBelow: 5, for: '1s', action: 'reclaim', gracePeriod: `${GRACE_MS}ms`, reclaim: 'preempt' } } },
  { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name: 'sweep', namespace: 'batch' }, spec: { priority: 0, resourceClaims: [{ name: 'gpus', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com' } }] } } }] } },
]

interface Condition {
  type: string
  status: string
  reason: string
  message: string
  lastTransitionTime: string
}

describe('idle reclaim end to end', () => {
  let s: UtilizationServer
  before(async () => {
    s = await utilizationServer('gp-reclaim-', { idleIntervalMs: 100 })
  })
  after(() => s.close())

  it('flags and notices an idle workload, preempts it after the grace period, and reports the GPU-hours reclaimed', async () => {
    const { dir, store, app, url, token, cli } = s
    const started = Date.now()
    const revision = await store.revision()
    writeFileSync(join(dir, 'objects.yaml'), OBJECTS.map((o) => stringify(o)).join('---\n'))
    await cli('apply', '-f', join(dir, 'objects.yaml'))
    const { script, rows } = fakeNvidiaSmi(dir, { gate: LAST_ROW })
    assert.equal(LAST_ROW, rows - 1, 'the gate is the last recorded row')
    writeFileSync(join(dir, 'go'), '') // from the first query on: the last row, for ever
    const logs: string[] = []
    const agent = new NodeAgent({ server: url, token, node: 'h200', intervalMs: 100, nvidiaSmi: script, inventoryIntervalMs: 3_600_000, batchSize: 5, bufferSize: 10_000, flushTimeoutMs: 5_000, log: (l) => logs.push(l) })
    agent.start()
    const workload = async () => (await store.get({ kind: 'Workload', namespace: 'batch', name: 'sweep' }))!
    const conditions = async () => ((await workload()).status as { conditions?: Condition[] } | undefined)?.conditions ?? []
    const audit = async () => (await store.queryAudit({ actor: IDLE_ACTOR, namespace: 'batch' })).filter((a) => a.name === 'sweep')
    try {
      // The agent publishes the H200; the controller places the workload on it; the tracker opens its interval.
      await until('the workload holds the H200', async () => (await app.telemetry.intervals({ from: Date.now(), to: Date.now() + 1, workload: 'sweep' })).length === 1)
      const [first] = await app.telemetry.intervals({ from: Date.now(), to: Date.now() + 1, workload: 'sweep' })
      assert.equal(first!.gpuModel, 'H200-141GB', 'on the H200')

      // Idle for the window (1 s): flagged and noticed in one pass.
      // (The audit entry follows the condition's write.)
      await until('the reclaim notice, audited', async () => (await audit()).some((a) => a.action === 'idle.notice'))
      const [idleCond, notice] = await conditions()
      assert.deepEqual([idleCond?.type, idleCond?.status, idleCond?.reason, notice?.type, notice?.status, notice?.reason], ['Idle', 'True', 'LowUtilization', 'IdleReclaim', 'True', 'ReclaimScheduled'], 'Idle and IdleReclaim')
      const since = Date.parse(idleCond!.lastTransitionTime)
      const noticeAt = Date.parse(notice!.lastTransitionTime)
      const reclaimAt = new Date(noticeAt + GRACE_MS).toISOString()
      const held = await app.telemetry.samples({ from: first!.from, to: noticeAt + 1, namespace: 'batch', workload: 'sweep' })
      assert.ok(held.length > 0 && held.every((s) => s.smUtil === 0 && s.memUsedBytes === 20085 * MIB), `its samples: 20085 MiB held at 0% SM (${held.length})`)
      assert.equal(since, Math.min(...held.map((s) => s.time)), 'idle since its first sample')
      assert.ok(noticeAt - since >= 1000, `noticed once idle for the window (${noticeAt - since} ms)`)
      assert.ok(notice!.message.includes(`idle since ${idleCond!.lastTransitionTime}`) && notice!.message.includes(`reclaimed (preempt) at ${reclaimAt}`), `the notice says since when, how and when: ${notice!.message}`)
      assert.deepEqual((await audit()).map((a) => [a.action, a.time, JSON.parse(a.detail!)]), [['idle.notice', notice!.lastTransitionTime, { since: idleCond!.lastTransitionTime, reclaimAt }]], 'the notice audited')

      // During the grace period: `gpuplane get idle` says when, the metric counts it, it still holds the H200.
      const table = await cli('get', 'idle')
      assert.match(table, new RegExp(`^batch\\s+sweep\\s+H200-141GB\\s+1\\s+Idle since ${idleCond!.lastTransitionTime}\\s+<5% for 1s, reclaim\\s+${reclaimAt}$`, 'm'), table)
      const json = JSON.parse(await cli('get', 'idle', '-n', 'batch', '-o', 'json')) as { items: Array<{ workload: string; state: string; reclaimAt?: string }> }
      assert.deepEqual(json.items.map((e) => [e.workload, e.state, e.reclaimAt]), [['sweep', 'idle', reclaimAt]], 'the list says when')
      const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
      assert.match(metrics, /gpuplane_idle_allocations\{namespace="batch",model="H200-141GB"\} 1/, 'the metric')
      assert.ok(Date.now() < noticeAt + GRACE_MS, 'checked within the grace period (if this fails, the machine was too slow for GRACE_MS)')

      // After the grace period: preempted.
      await until('the reclaim', async () => (await audit()).some((a) => a.action === 'idle.reclaim'))
      const reclaim = (await audit()).find((a) => a.action === 'idle.reclaim')!
      const reclaimedAt = Date.parse(reclaim.time)
      assert.ok(reclaimedAt >= noticeAt + GRACE_MS, `reclaimed at ${reclaim.time}, not before ${reclaimAt}`)
      assert.deepEqual(JSON.parse(reclaim.detail!), { since: idleCond!.lastTransitionTime, gpus: 1, gpuModel: 'H200-141GB', gpuModels: ['H200-141GB'] }, 'the GPU given back')
      // The preemption as the store recorded it (the controller may have placed it again since): Pending with the reason, its claim deleted.
      const changes = await store.changesSince(revision, { namespace: 'batch' })
      const pending = changes.filter((c) => c.object.kind === 'Workload' && (c.object.status as { phase?: string } | undefined)?.phase === 'Pending' && (c.object.status as { reclaimedAt?: string }).reclaimedAt !== undefined)
      assert.equal(pending.length, 1, 'set back to Pending once, by the reclaim')
      const status = pending[0]!.object.status as { reason: string; reclaimedAt: string; conditions?: unknown }
      assert.deepEqual([status.reason, status.reclaimedAt, status.conditions], [`reclaimed: idle since ${idleCond!.lastTransitionTime} under the namespace idle policy; waits to be placed again`, reclaim.time, undefined], 'Pending with the reason, the notice gone')
      assert.ok(changes.some((c) => c.type === 'DELETED' && c.object.kind === 'ResourceClaim' && Number(c.object.metadata.resourceVersion) <= Number(pending[0]!.object.metadata.resourceVersion)), 'its claim released with it')
      await until('the first holding closed', async () => (await app.telemetry.intervals({ from: first!.from, to: Date.now() + 1, workload: 'sweep' })).some((iv) => iv.from === first!.from && iv.to !== undefined))
      // The scheduler places it again (the H200 is free): a new holding, after the reclaim.
      await until('placed again', async () => (await app.telemetry.intervals({ from: reclaimedAt, to: Date.now() + 1, workload: 'sweep' })).some((iv) => iv.from > reclaimedAt))
    } finally {
      await agent.stop()
    }

    // The report up to the new holding: the GPU was given back from the reclaim until then.
    const ivs = await app.telemetry.intervals({ from: started, to: Date.now() + 1, workload: 'sweep' })
    const reclaimedAt = Date.parse((await audit()).find((a) => a.action === 'idle.reclaim')!.time)
    const again = Math.min(...ivs.filter((iv) => iv.from > reclaimedAt).map((iv) => iv.from))
    const closed = ivs.find((iv) => iv.from < reclaimedAt)!
    const report = JSON.parse(await cli('report', 'usage', '--from', new Date(started).toISOString(), '--to', new Date(again).toISOString(), '-o', 'json')) as ChargebackReport
    assert.equal(report.to, again, 'the report ends where it was placed again')
    const sweep = report.workloads.find((w) => w.namespace === 'batch' && w.workload === 'sweep')
    assert.ok(sweep, `a row for batch/sweep: ${JSON.stringify(report.workloads)}`)
    assert.equal(sweep.reclaims, 1, 'one reclaim')
    assert.ok(sweep.reclaimedGpuHours > 0, 'idle GPU-hours reclaimed')
    assert.ok(Math.abs(sweep.reclaimedGpuHours - (again - reclaimedAt) / H) < 1e-12, `reclaimed: 1 GPU from the reclaim until placed again (${sweep.reclaimedGpuHours * H} ms, expected ${again - reclaimedAt})`)
    assert.ok(Math.abs(sweep.allocatedGpuHours - (closed.to! - closed.from) / H) < 1e-12, 'allocated: the first holding')
    const batch = report.namespaces.find((n) => n.namespace === 'batch')!
    assert.deepEqual([batch.reclaims, batch.reclaimedGpuHours], [sweep.reclaims, sweep.reclaimedGpuHours], 'the namespace line adds its one workload')
    assert.equal(report.totals.reclaimedGpuHours, sweep.reclaimedGpuHours, 'and the total')
  })
})
