// The telemetry routes of the server: who may push samples, batch validation, exactly-once ingest on retries, attribution to allocation intervals, the allocated-vs-used series.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { testServer, type TestServer } from './server-helpers.ts'
import { TELEMETRY_SAMPLES_PATH, TELEMETRY_UTILIZATION_PATH } from '../src/server/telemetry-routes.ts'
import type { UtilizationSample } from '../src/telemetry/types.ts'

const T0 = Date.UTC(2026, 10, 26, 10, 0, 0)
const MIN = 60_000
const GIB = 1024 ** 3

function sample(at: number, device: string, smUtil: number, node = 'node-a'): UtilizationSample {
  return { time: T0 + at, node, device, uuid: `GPU-${device}`, smUtil, memUsedBytes: 20 * GIB, memTotalBytes: 80 * GIB }
}

describe('telemetry routes', () => {
  let s: TestServer
  before(async () => {
    s = await testServer({ telemetryRetention: { rawMs: 0, minutesMs: 0, everyMs: 0 } })
  })
  after(() => s.close())

  it('takes samples from the admin token only', async () => {
    const body = { node: 'node-a', agentId: 'a0', seq: 1, samples: [sample(0, 'gpu-0', 50)] }
    assert.equal((await s.call('POST', TELEMETRY_SAMPLES_PATH, { body, token: null })).status, 401, 'no token')
    const ns = await s.namespaceToken('team-a')
    const res = await s.call('POST', TELEMETRY_SAMPLES_PATH, { body, token: ns })
    assert.equal(res.status, 403, 'a namespace token cannot push samples')
    assert.match(res.body.message, /admin token/, 'says which token can')
  })

  it('rejects a malformed batch with the field path', async () => {
    const bad = await s.call('POST', TELEMETRY_SAMPLES_PATH, { body: { node: 'node-a', agentId: 'a0', seq: 1, samples: [{ ...sample(0, 'gpu-0', 50), smUtil: 140 }] } })
    assert.equal(bad.status, 400, 'out of range')
    assert.match(JSON.stringify(bad.body), /samples\[0\]\.smUtil/, 'names the field')
    const foreign = await s.call('POST', TELEMETRY_SAMPLES_PATH, { body: { node: 'node-a', agentId: 'a0', seq: 1, samples: [sample(0, 'gpu-0', 5, 'node-b')] } })
    assert.equal(foreign.status, 400, 'a sample of another node')
    const noSeq = await s.call('POST', TELEMETRY_SAMPLES_PATH, { body: { node: 'node-a', agentId: 'a0', samples: [] } })
    assert.equal(noSeq.status, 400, 'seq is required')
  })

  it('stores a batch once: a retry with the same (agentId, seq) is a duplicate, even after the allocations changed', async () => {
    const batch = { node: 'node-a', agentId: 'agent-1', seq: 1, samples: [sample(0, 'gpu-0', 50), sample(10_000, 'gpu-0', 70)] }
    const first = await s.call('POST', TELEMETRY_SAMPLES_PATH, { body: batch })
    assert.deepEqual(first.body, { accepted: 2, attributed: 2, duplicate: false }, 'stored')
    // Between the push and its retry the device got a holder: the retry must still add nothing.
    await s.app.telemetry.openInterval({ node: 'node-a', device: 'gpu-0', gpuModel: 'H100-80GB', namespace: 'team-a', workload: 'w', share: 1, from: T0 - MIN })
    const retry = await s.call('POST', TELEMETRY_SAMPLES_PATH, { body: batch })
    assert.deepEqual(retry.body, { accepted: 0, attributed: 0, duplicate: true }, 'duplicate')
    assert.equal((await s.app.telemetry.samples({ from: T0, to: T0 + MIN, node: 'node-a' })).filter((x) => x.device === 'gpu-0').length, 2, 'two samples stored, not four')
    const metrics = await s.call('GET', '/metrics')
    assert.match(metrics.body, /gpuplane_telemetry_samples_ingested_total\{result="duplicate"\} 2/, 'duplicates counted')
    assert.match(metrics.body, /gpuplane_telemetry_batches_total\{result="stored"\} 1/, 'batches counted')
  })

  it('attributes samples to the holder of the device at their time', async () => {
    await s.app.telemetry.openInterval({ node: 'node-a', device: 'gpu-1', gpuModel: 'H100-80GB', namespace: 'team-b', workload: 'train', share: 1, from: T0 + 5 * MIN })
    const res = await s.call('POST', TELEMETRY_SAMPLES_PATH, { body: { node: 'node-a', agentId: 'agent-1', seq: 2, samples: [sample(4 * MIN, 'gpu-1', 30), sample(6 * MIN, 'gpu-1', 90)] } })
    assert.equal(res.body.attributed, 2, 'stored')
    const stored = await s.app.telemetry.samples({ from: T0 + 4 * MIN, to: T0 + 7 * MIN, node: 'node-a' })
    const gpu1 = stored.filter((x) => x.device === 'gpu-1')
    assert.deepEqual(gpu1.map((x) => [x.time - T0, x.namespace, x.workload, x.usedPercent]), [[4 * MIN, undefined, undefined, 30], [6 * MIN, 'team-b', 'train', 90]], 'before the interval: nobody; after: team-b/train')
  })

  it('serves allocated-vs-used series by namespace and by model; a namespace token sees its own', async () => {
    const q = `?from=${T0}&to=${T0 + 10 * MIN}&step=5m`
    const byNs = await s.call('GET', `${TELEMETRY_UTILIZATION_PATH}${q}&by=namespace`)
    assert.equal(byNs.status, 200, JSON.stringify(byNs.body))
    const teamB = byNs.body.series.find((x: { key: string }) => x.key === 'team-b')
    assert.deepEqual(teamB.points, [{ time: T0, allocated: 0, used: 0 }, { time: T0 + 5 * MIN, allocated: 1, used: 0.18 }], 'held from 5 min; one minute at 90% over a 5-minute bucket = 0.18 GPUs')
    const byModel = await s.call('GET', `${TELEMETRY_UTILIZATION_PATH}${q}&by=model`)
    assert.deepEqual(byModel.body.series.map((x: { key: string }) => x.key), ['H100-80GB'], 'one model (unallocated use named through the intervals)')
    const ns = await s.namespaceToken('team-b')
    const own = await s.call('GET', `${TELEMETRY_UTILIZATION_PATH}${q}&by=namespace`, { token: ns })
    assert.deepEqual(own.body.series.map((x: { key: string }) => x.key), ['team-b'], 'only its namespace')
    const bad = await s.call('GET', `${TELEMETRY_UTILIZATION_PATH}?from=${T0}&to=${T0 + 100 * 24 * 3600_000}&step=1m`)
    assert.equal(bad.status, 400, 'too many points')
    const fine = await s.call('GET', `${TELEMETRY_UTILIZATION_PATH}${q.replace('5m', '30s')}`)
    assert.equal(fine.status, 400, 'use is kept per minute: no finer step')
    const aligned = await s.call('GET', `${TELEMETRY_UTILIZATION_PATH}?from=${T0 + 7_000}&to=${T0 + 9 * MIN}&step=5m`)
    assert.deepEqual([aligned.body.from, aligned.body.to], [T0, T0 + 10 * MIN], 'buckets on multiples of the step')
  })
})

describe('telemetry retention (gpuplane server --raw-retention, --minute-retention)', () => {
  let s: TestServer
  before(async () => {
    // Raw samples kept 2 minutes, minute rows 1 hour, rolled up every 25 ms.
    s = await testServer({ telemetryRetention: { rawMs: 2 * MIN, minutesMs: 60 * MIN, everyMs: 25 } })
  })
  after(() => s.close())

  it('rolls samples past the raw window into minute rows, and minute rows past theirs into hour rows', async () => {
    const now = Date.now()
    const at = (ago: number, util: number) => ({ ...sample(0, 'gpu-0', util), time: now - ago })
    const samples = [at(3 * 60 * MIN, 10), at(30 * MIN, 20), at(10_000, 30)]
    const res = await s.call('POST', TELEMETRY_SAMPLES_PATH, { body: { node: 'node-a', agentId: 'retention', seq: 1, samples } })
    assert.equal(res.body.accepted, 3)
    const deadline = Date.now() + 10_000
    let kept = await s.app.telemetry.samples({ from: 0, to: now + MIN, node: 'node-a' })
    while (kept.length > 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25))
      kept = await s.app.telemetry.samples({ from: 0, to: now + MIN, node: 'node-a' })
    }
    assert.deepEqual(kept.map((x) => x.smUtil), [30], 'only the sample inside the raw window is kept at full resolution')
    const rows = await s.app.telemetry.usage({ from: now - 4 * 60 * MIN, to: now + MIN, node: 'node-a' })
    const span = (ago: number) => rows.find((r) => r.start <= now - ago && now - ago < r.end)
    assert.equal(span(3 * 60 * MIN)!.end - span(3 * 60 * MIN)!.start, 60 * MIN, 'three hours old: an hour row')
    assert.equal(span(30 * MIN)!.end - span(30 * MIN)!.start, MIN, 'half an hour old: a minute row')
  })
})
