// The demo's simulated agent: samples for the allocated devices only, a fixed idle/busy split per device, stored under the demo agent id and attributed to the holders.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildServer } from './app.ts'
import { demoSample, DEMO_AGENT_ID, startDemoTelemetry } from './demo-telemetry.ts'
import { openStore } from '../store/index.ts'

describe('demo telemetry', () => {
  it('samples each allocated device, idle ones below 2% with memory held, and attributes them', async () => {
    const store = await openStore({ sqlite: ':memory:' })
    const app = buildServer({ store, telemetryRetention: { rawMs: 0, minutesMs: 0, everyMs: 0 } })
    try {
      const results = Array.from({ length: 12 }, (_, i) => ({ driver: 'gpu.nvidia.com', pool: `node-${i % 3}`, device: `gpu-${i}`, request: 'gpu' }))
      await store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'c', namespace: 'research' }, spec: { devices: { requests: [] } }, status: { allocation: { devices: { results } } } })
      await app.telemetry.openInterval({ node: 'node-0', device: 'gpu-0', gpuModel: 'H100-80GB', namespace: 'research', workload: 'w', share: 1, from: 0 })
      // A quarter memory share: the simulated work stays within it (a busy device: demoSample says which).
      const shared = results.find((r) => r.device !== 'gpu-0' && demoSample(r.pool, r.device, 0, () => 0.5).smUtil > 30)!
      await app.telemetry.openInterval({ node: shared.pool, device: shared.device, gpuModel: 'A10', namespace: 'research', workload: 'nb', share: 0.25, from: 0 })
      let t = Date.UTC(2026, 10, 26, 12)
      startDemoTelemetry(app, { intervalMs: 10, now: () => (t += 10_000) })
      const deadline = Date.now() + 10_000
      let samples = await app.telemetry.samples({ from: 0, to: Number.MAX_SAFE_INTEGER })
      while (samples.length < 24 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20))
        samples = await app.telemetry.samples({ from: 0, to: Number.MAX_SAFE_INTEGER })
      }
      assert.ok(samples.length >= 24, `two ticks of 12 devices stored, got ${samples.length}`)
      assert.deepEqual(new Set(samples.map((s) => s.device)), new Set(results.map((r) => r.device)), 'exactly the allocated devices')
      assert.ok(samples.filter((s) => s.device === 'gpu-0').every((s) => s.namespace === 'research' && s.workload === 'w'), 'attributed to the holder')
      const ofShare = samples.filter((s) => s.device === shared.device && s.node === shared.pool)
      assert.ok(ofShare.length >= 2 && ofShare.every((s) => s.usedPercent <= 25 && s.usedPercent > 0), `the share's holder uses at most its quarter: ${ofShare.map((s) => s.usedPercent)}`)
    } finally {
      await app.close()
      await store.close()
    }
  })

  it('keeps an idle/busy split fixed per device', () => {
    const devices = Array.from({ length: 200 }, (_, i) => `gpu-${i}`)
    const idle = devices.filter((d) => demoSample('n', d, 0, () => 0.5).smUtil <= 2)
    assert.ok(idle.length > 40 && idle.length < 100, `about a third idle, got ${idle.length}`)
    for (const d of idle.slice(0, 10)) assert.ok(demoSample('n', d, 3_600_000, () => 0.99).smUtil <= 2, `${d} stays idle`)
    assert.ok(idle.every((d) => demoSample('n', d, 0, () => 0.5).memUsedBytes > 10 * 1024 ** 3), 'idle devices hold memory')
    assert.equal(DEMO_AGENT_ID, 'demo-simulated-agent', 'the id the data is stored under')
  })
})
