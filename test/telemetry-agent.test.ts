// The node agent end to end: a fake nvidia-smi (a shell script printing the recorded H200 outputs) and a real server that goes away and comes back; no sample is lost or stored twice.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { getEventListeners } from 'node:events'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildServer } from '../src/server/app.ts'
import { ensureAdminToken } from '../src/server/auth.ts'
import { openStore, openTelemetryStore } from '../src/store/index.ts'
import type { Store } from '../src/store/types.ts'
import { NodeAgent, sleep } from '../src/cli/agent.ts'
import { parseDuration } from '../src/cli/duration.ts'
import { main } from '../src/cli/main.ts'
import { fakeNvidiaSmi, H200_UUID as UUID, until } from './fake-nvidia-smi.ts'
import { freePort } from './free-port.ts'

const FIXTURES = join(import.meta.dirname, 'fixtures', 'nvidia-smi', 'h200-passthrough')


describe('gpuplane agent', () => {
  let dir: string
  let store: Store
  let token: string
  let port: number
  let app: FastifyInstance | undefined
  const start = async () => {
    app = buildServer({ store, telemetryRetention: { rawMs: 0, minutesMs: 0, everyMs: 0 } })
    await app.listen({ port, host: '127.0.0.1' })
  }
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gp-agent-'))
    store = await openStore({ sqlite: ':memory:' })
    token = (await ensureAdminToken(store)).generated!
    port = await freePort()
    await start()
  })
  after(async () => {
    await app?.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('publishes the node, pushes samples, and loses or repeats none while the server goes away and comes back', async () => {
    const logs: string[] = []
    const agent = new NodeAgent({
      server: `http://127.0.0.1:${port}`,
      token,
      node: 'h200',
      intervalMs: 30,
      nvidiaSmi: fakeNvidiaSmi(dir).script,
      inventoryIntervalMs: 60_000,
      batchSize: 4,
      bufferSize: 10_000,
      flushTimeoutMs: 5_000,
      log: (l) => logs.push(l),
    })
    const telemetry = openTelemetryStore(store)
    const stored = async () => (await telemetry.samples({ from: 0, to: Date.now() + 60_000 })).length
    agent.start()
    try {
      await until('the ResourceSlice', async () => (await store.list('ResourceSlice')).items.length > 0)
      const slice = (await store.list('ResourceSlice')).items[0] as unknown as { spec: { nodeName: string; devices: Array<{ name: string }> } }
      assert.equal(slice.spec.nodeName, 'h200', 'published for the node')
      assert.deepEqual(slice.spec.devices.map((d) => d.name), ['gpu-0'], 'the H200 as gpu-0')
      await until('samples stored', async () => (await stored()) >= 8)

      await app!.close()
      const sampledWhileDown = agent.counters.sampled
      await until('samples taken while the server is away', () => agent.counters.sampled >= sampledWhileDown + 10 && agent.counters.sendFailures > 0)
      await start()
      await until('the queue sent after the server came back', () => agent.counters.sent >= agent.counters.sampled - 4)
    } finally {
      await agent.stop()
    }
    const samples = await telemetry.samples({ from: 0, to: Date.now() + 60_000 })
    assert.equal(agent.counters.dropped, 0, 'nothing dropped (the buffer is large)')
    assert.equal(samples.length, agent.counters.sampled, `every sample stored once (${logs.join(' | ')})`)
    assert.equal(new Set(samples.map((s) => `${s.device}@${s.time}`)).size, samples.length, 'no sample twice')
    assert.ok(samples.every((s) => s.device === 'gpu-0' && s.uuid === UUID && s.node === 'h200'), 'named as the inventory publishes it')
    const recorded = readFileSync(join(FIXTURES, 'util-under-load.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(', ')[2].replace(' %', '')))
    assert.deepEqual(samples.map((s) => s.smUtil), samples.map((_, k) => recorded[k % recorded.length]), 'the recorded series, in order')
    assert.ok(logs.some((l) => /cannot push samples/.test(l)), 'the outage is logged')
  })

  it('runs as `gpuplane agent` and on SIGTERM sends what it queued before exiting', async () => {
    const bin = join(import.meta.dirname, '..', 'bin', 'gpuplane.js')
    const child = spawn(process.execPath, [bin, 'agent', '--server', `http://127.0.0.1:${port}`, '--token', token, '--node', 'cli-node', '--interval', '50ms', '--nvidia-smi', fakeNvidiaSmi(mkdtempSync(join(dir, 'cli-'))).script], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    try {
      const telemetry = openTelemetryStore(store)
      await until('the CLI agent\'s samples', async () => (await telemetry.samples({ from: 0, to: Date.now() + 60_000, node: 'cli-node' })).length >= 3, 20_000)
      child.kill('SIGTERM')
      assert.equal(await exited, 0, `exits 0 (${stderr})`)
      const counters = JSON.parse(/stopped \((\{.*\})\)/.exec(stderr)?.[1] ?? '{}') as { sampled?: number; sent?: number }
      const stored = (await telemetry.samples({ from: 0, to: Date.now() + 60_000, node: 'cli-node' })).length
      assert.equal(stored, counters.sampled, `every sample taken was sent before exit (${stderr})`)
      assert.match(stderr, /published 1 ResourceSlice\(s\) for node cli-node/, 'published its slice')
    } finally {
      clearTimeout(killer)
      child.kill('SIGKILL')
    }
  })

  it('has --help with an example, and checks its options', async () => {
    let out = ''
    assert.equal(await main(['node', 'gpuplane', 'agent', '--help'], (s) => void (out += s), (s) => void (out += s)), 0, 'help exits 0')
    assert.match(out, /Example:\n\s+gpuplane agent --server/, 'an example')
    assert.match(out, /--dcgm <URL>/, 'documents --dcgm')
    assert.equal(parseDuration('10s', '--interval'), 10_000, '10s')
    assert.equal(parseDuration('250ms', '--interval'), 250, '250ms')
    assert.throws(() => parseDuration('soon', '--interval'), /not a duration/, 'rejects words')
  })
})

describe('agent pauses', () => {
  it('leave no listener on the agent\'s long-lived stop signal, and end at once when it aborts', async () => {
    const stop = new AbortController()
    for (let i = 0; i < 20; i++) await sleep(1, stop.signal)
    assert.equal(getEventListeners(stop.signal, 'abort').length, 0, 'each pause removed its listener')
    const started = Date.now()
    const pause = sleep(60_000, stop.signal)
    stop.abort()
    await pause
    assert.ok(Date.now() - started < 1000, 'an abort ends a pause at once')
  })
})

/** Synthetic `nvidia-smi -q -x` of a host with `n` H200s: the recorded one, copied under new UUIDs, minor numbers and PCI addresses. */
function h200HostXml(n: number): string {
  const real = readFileSync(join(FIXTURES, 'nvidia-smi-q.xml'), 'utf8')
  const start = real.indexOf('<gpu id=')
  const end = real.indexOf('</gpu>') + '</gpu>'.length
  const gpu = real.slice(start, end)
  const copies = Array.from({ length: n }, (_, i) =>
    i === 0 ? gpu : gpu.replaceAll('00000000:00:06.0', `00000000:00:0${6 + i}.0`).replace(UUID, `GPU-00000000-0000-0000-0000-00000000000${i}`).replace('<minor_number>0</minor_number>', `<minor_number>${i}</minor_number>`),
  )
  return real.slice(0, start) + copies.join('\n\t') + real.slice(end).replace('<attached_gpus>1</attached_gpus>', `<attached_gpus>${n}</attached_gpus>`)
}

describe('agent inventory at start and on change', () => {
  it('re-reads nvidia-smi every --inventory-interval, re-publishes the node\'s slice when its GPUs change or the server lost it, and writes nothing when neither happened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-agent-inv-'))
    const store = await openStore({ sqlite: ':memory:' })
    const token = (await ensureAdminToken(store)).generated!
    const app = buildServer({ store, telemetryRetention: { rawMs: 0, minutesMs: 0, everyMs: 0 } })
    // Every write the agent makes to ResourceSlices (create, replace); reads are not counted.
    const sliceRequests: string[] = []
    app.addHook('onRequest', async (req) => {
      if (req.url.includes('/resourceslices') && req.method !== 'GET') sliceRequests.push(`${req.method} ${req.url}`)
    })
    const port = await freePort()
    await app.listen({ port, host: '127.0.0.1' })
    // `-q -x` prints one H200, or two while the file `two` exists; each read is logged.
    writeFileSync(join(dir, 'one.xml'), h200HostXml(1))
    writeFileSync(join(dir, 'two.xml'), h200HostXml(2))
    const script = join(dir, 'nvidia-smi')
    writeFileSync(
      script,
      `#!/bin/sh
D="${dir}"
case "$1" in
  -q) echo q >> "$D/reads"; if [ -f "$D/two" ]; then cat "$D/two.xml"; else cat "$D/one.xml"; fi ;;
  --query-gpu=*) echo "timestamp, index, uuid, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W]" ;;
  --query-compute-apps=*) echo "gpu_uuid, pid, used_gpu_memory [MiB]" ;;
  *) echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 2 ;;
esac
`,
    )
    chmodSync(script, 0o755)
    const reads = () => (existsSync(join(dir, 'reads')) ? readFileSync(join(dir, 'reads'), 'utf8').split('\n').length - 1 : 0)
    type Slice = { metadata: { name: string; resourceVersion: string }; spec: { nodeName: string; devices: Array<{ name: string }> } }
    const slices = async () => (await store.list('ResourceSlice')).items as unknown as Slice[]
    const devices = async () => (await slices()).flatMap((s) => s.spec.devices.map((d) => d.name))
    const logs: string[] = []
    const agent = new NodeAgent({ server: `http://127.0.0.1:${port}`, token, node: 'h200', intervalMs: 60_000, nvidiaSmi: script, inventoryIntervalMs: 50, batchSize: 10, bufferSize: 100, flushTimeoutMs: 2_000, log: (l) => logs.push(l) })
    const published = () => logs.filter((l) => /published 1 ResourceSlice\(s\) for node h200/.test(l)).length
    /** Waits for `k` more inventory reads than now. */
    const moreReads = async (k: number) => {
      const n = reads()
      await until(`${k} more inventory reads`, () => reads() >= n + k)
    }
    agent.start()
    try {
      // At start: one H200.
      await until('the first publish', () => agent.counters.inventoryApplied === 1)
      assert.deepEqual(await devices(), ['gpu-0'], 'the H200 as gpu-0')
      const [first] = await slices()
      const requestsAfterFirst = sliceRequests.length
      assert.ok(sliceRequests.some((r) => r.startsWith('POST ')), `created (${sliceRequests.join(', ')})`)

      // Unchanged: read again and again, nothing written.
      await moreReads(4)
      assert.equal(agent.counters.inventoryApplied, 1, 'not applied again')
      assert.deepEqual(sliceRequests.slice(requestsAfterFirst), [], 'no ResourceSlice written while the inventory is unchanged')
      assert.equal((await slices())[0]!.metadata.resourceVersion, first!.metadata.resourceVersion, 'the slice is untouched')
      assert.equal(published(), 1, 'published once')

      // A second GPU appears: re-published.
      writeFileSync(join(dir, 'two'), '')
      await until('the second GPU published', async () => (await devices()).length === 2)
      await until('the second publish counted', () => agent.counters.inventoryApplied === 2)
      assert.deepEqual(await devices(), ['gpu-0', 'gpu-1'], 'both H200s')
      const [second] = await slices()
      assert.equal(second!.metadata.name, first!.metadata.name, 'the same slice, replaced')
      assert.notEqual(second!.metadata.resourceVersion, first!.metadata.resourceVersion, 'a new version')
      assert.ok(JSON.stringify(second!.spec.devices[1]).includes('GPU-00000000-0000-0000-0000-000000000001'), 'gpu-1 is the new GPU')
      assert.ok(sliceRequests.slice(requestsAfterFirst).some((r) => r.startsWith('PUT ')), `replaced (${sliceRequests.join(', ')})`)
      const requestsAfterSecond = sliceRequests.length
      await moreReads(4)
      assert.deepEqual(sliceRequests.slice(requestsAfterSecond), [], 'nothing written while the two GPUs stay')
      assert.equal(agent.counters.inventoryApplied, 2, 'applied twice in all')

      // The server loses the slice (deleted, or a restored database): the next read brings it back.
      await store.delete({ kind: 'ResourceSlice', name: second!.metadata.name })
      await until('the slice re-created', async () => (await devices()).length === 2)
      await until('the re-creation counted', () => agent.counters.inventoryApplied === 3)

      // The GPU goes away again: re-published without it.
      unlinkSync(join(dir, 'two'))
      await until('the second GPU gone', async () => (await devices()).length === 1)
      await until('the fourth publish counted', () => agent.counters.inventoryApplied === 4)
      assert.deepEqual(await devices(), ['gpu-0'], 'the H200 alone')
      assert.equal(published(), 4, 'each change logged once')
    } finally {
      await agent.stop()
      await app.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
