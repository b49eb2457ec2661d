// `gpuplane agent --dcgm URL` end to end: a DCGM exporter stand-in (node:http serving test/fixtures/dcgm/dcgm-exporter-metrics.txt), a fake nvidia-smi for the inventory (the H100 and an A100 in MIG mode of that fixture), a real server; the samples it stores are checked per GPU and per MIG device.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { migDeviceName } from '../src/inventory/publish.ts'
import { until } from './fake-nvidia-smi.ts'
import { utilizationServer, type UtilizationServer } from './utilization-server.ts'

const FIXTURES = join(import.meta.dirname, 'fixtures')
const MIB = 1024 * 1024
const H100_UUID = 'GPU-a450c0d7-7a54-d5d0-306d-87b34a97c57c'
const A100_UUID = 'GPU-11111111-2222-3333-4444-555555555555'
const MIG_3G = migDeviceName(1, '3g.40gb', 9, 4)
const MIG_1G = migDeviceName(1, '1g.10gb', 19, 0)

/** One <mig_device> of `nvidia-smi -q -x` (the element layout of src/inventory/nvidia-smi.test.ts's synthetic MIG XML). */
function migDevice(gi: number, sm: number, mib: number): string {
  return `
			<mig_device>
				<index>0</index>
				<gpu_instance_id>${gi}</gpu_instance_id>
				<compute_instance_id>0</compute_instance_id>
				<device_attributes><shared><multiprocessor_count>${sm}</multiprocessor_count><copy_engine_count>1</copy_engine_count><encoder_count>0</encoder_count><decoder_count>1</decoder_count><ofa_count>0</ofa_count><jpg_count>0</jpg_count></shared></device_attributes>
				<fb_memory_usage><total>${mib} MiB</total><reserved>0 MiB</reserved><used>12 MiB</used><free>${mib - 12} MiB</free></fb_memory_usage>
			</mig_device>`
}

/**
 * Synthetic `nvidia-smi -q -x` of the DCGM fixture's host: GPU 0 the real H100 read (same UUID as
 * the fixture's gpu="0"), GPU 1 a copy of it renamed an A100-SXM4-80GB with the fixture's UUID,
 * in MIG mode with GPU instances 1 (3g.40gb) and 9 (1g.10gb).
 */
function dcgmHostXml(): string {
  const real = readFileSync(join(FIXTURES, 'nvidia-smi', 'h100-passthrough', 'nvidia-smi-q.xml'), 'utf8')
  const start = real.indexOf('<gpu id=')
  const end = real.indexOf('</gpu>') + '</gpu>'.length
  const gpu = real.slice(start, end)
  const a100 = gpu
    .replaceAll('00000000:00:06.0', '00000000:00:07.0')
    .replace(H100_UUID, A100_UUID)
    .replace('<product_name>NVIDIA H100 80GB HBM3</product_name>', '<product_name>NVIDIA A100-SXM4-80GB</product_name>')
    .replace('<minor_number>0</minor_number>', '<minor_number>1</minor_number>')
    .replace('<current_mig>Disabled</current_mig>', '<current_mig>Enabled</current_mig>')
    .replace(/<mig_devices>\s*None\s*<\/mig_devices>/, `<mig_devices>${migDevice(1, 42, 40192)}${migDevice(9, 14, 9856)}\n\t\t</mig_devices>`)
  assert.notEqual(a100, gpu.replace(H100_UUID, A100_UUID), 'the MIG edits applied')
  return real.slice(0, start) + gpu + '\n\t' + a100 + real.slice(end).replace('<attached_gpus>1</attached_gpus>', '<attached_gpus>2</attached_gpus>')
}

/** `nvidia-smi mig -lgi` for GPU 1 (format of NVIDIA's MIG user guide, as in src/inventory/nvidia-smi.test.ts). */
const LGI = `+-------------------------------------------------------+
| GPU instances:                                        |
| GPU   Name             Profile  Instance   Placement  |
|                          ID       ID       Start:Size |
|=======================================================|
|   1  MIG 3g.40gb          9        1          4:4     |
+-------------------------------------------------------+
|   1  MIG 1g.10gb         19        9          0:1     |
+-------------------------------------------------------+
`

/** A fake nvidia-smi for the inventory only: it logs each call and fails on the utilization queries (--dcgm replaces them). */
function fakeInventoryNvidiaSmi(dir: string): string {
  writeFileSync(join(dir, 'q.xml'), dcgmHostXml())
  writeFileSync(join(dir, 'lgi.txt'), LGI)
  const script = join(dir, 'nvidia-smi')
  writeFileSync(
    script,
    `#!/bin/sh
D="${dir}"
echo "$*" >> "$D/calls"
case "$1 $2" in
  "-q -x") cat "$D/q.xml" ;;
  "mig -lgi") cat "$D/lgi.txt" ;;
  "mig -lgip"|"mig -lgipp") echo "No MIG-enabled devices found." ;;
  *) echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 2 ;;
esac
`,
  )
  chmodSync(script, 0o755)
  return script
}

describe('gpuplane agent --dcgm', () => {
  let srv: UtilizationServer
  let exporter: Server
  let exporterUrl: string
  let scrapes = 0
  const metrics = readFileSync(join(FIXTURES, 'dcgm', 'dcgm-exporter-metrics.txt'), 'utf8')

  before(async () => {
    srv = await utilizationServer('gp-dcgm-')
    const { store } = srv
    // The exporter answers 503 to its first scrape, and until the node's slices are published (so
    // every sample stored can be named through the inventory); then the fixture's text.
    exporter = createServer((req, res) => {
      void (async () => {
        if (req.url !== '/metrics') return res.writeHead(404).end()
        scrapes++
        if (scrapes === 1 || (await store.list('ResourceSlice')).items.length === 0) return res.writeHead(503).end('not ready\n')
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics)
      })()
    })
    exporter.listen(0, '127.0.0.1')
    await once(exporter, 'listening')
    exporterUrl = `http://127.0.0.1:${(exporter.address() as { port: number }).port}/metrics`
  })
  after(async () => {
    exporter?.close()
    await srv?.close()
  })

  it('stores one sample per GPU and per MIG device per scrape, named as the node\'s ResourceSlice names them, and charges the MIG holder', async () => {
    const { dir, store, app, url, token } = srv
    // Someone holds the 3g.40gb MIG device (half the A100) from now on.
    const held = Date.now()
    await app.telemetry.openInterval({ node: 'gpu-node-1', device: MIG_3G, gpuModel: 'A100-80GB', namespace: 'ml', workload: 'finetune', share: 0.5, gpuUuid: A100_UUID, partition: true, from: held })
    const script = fakeInventoryNvidiaSmi(dir)
    const bin = join(import.meta.dirname, '..', 'bin', 'gpuplane.js')
    const started = Date.now()
    const child = spawn(process.execPath, [bin, 'agent', '--server', url, '--token', token, '--node', 'gpu-node-1', '--interval', '100ms', '--nvidia-smi', script, '--dcgm', exporterUrl], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000)
    const stored = () => app.telemetry.samples({ from: 0, to: Date.now() + 60_000, node: 'gpu-node-1' })
    try {
      await until('three scrapes stored', async () => new Set((await stored()).map((s) => s.time)).size >= 3, 30_000)
      child.kill('SIGTERM')
      assert.equal(await exited, 0, `exits 0 (${stderr})`)
    } finally {
      clearTimeout(killer)
      child.kill('SIGKILL')
    }
    const ended = Date.now()

    const slices = (await store.list('ResourceSlice')).items as unknown as Array<{ spec: { nodeName: string; devices: Array<{ name: string }> } }>
    assert.deepEqual(slices.map((s) => s.spec.nodeName), ['gpu-node-1'], 'one slice for the node')
    const published = slices[0]!.spec.devices.map((d) => d.name)
    assert.deepEqual(published, ['gpu-0', MIG_3G, MIG_1G], 'the H100 and the two MIG devices of the A100')

    const samples = await stored()
    const counters = JSON.parse(/stopped \((\{.*\})\)/.exec(stderr)?.[1] ?? '{}') as { sampled?: number }
    assert.equal(samples.length, counters.sampled, `every sample taken is stored (${stderr})`)
    const byTime = new Map<number, string[]>()
    for (const s of samples) byTime.set(s.time, [...(byTime.get(s.time) ?? []), s.device])
    for (const [time, devices] of byTime) {
      assert.deepEqual([...devices].sort(), [...published].sort(), `the scrape at ${new Date(time).toISOString()} gave one sample per published device`)
      assert.ok(time >= started && time <= ended, 'stamped with the agent\'s clock (the exporter\'s text has no timestamps)')
    }

    const pick = (s: (typeof samples)[number]) => ({ device: s.device, uuid: s.uuid, smUtil: s.smUtil, memUsedBytes: s.memUsedBytes, memTotalBytes: s.memTotalBytes, powerWatts: s.powerWatts, namespace: s.namespace, workload: s.workload, share: s.share, usedPercent: s.usedPercent })
    const one = (device: string) => pick(samples.find((s) => s.device === device)!)
    assert.deepEqual(one('gpu-0'), { device: 'gpu-0', uuid: H100_UUID, smUtil: 65.23, memUsedBytes: 21000 * MIB, memTotalBytes: 81000 * MIB, powerWatts: 512.25, namespace: undefined, workload: undefined, share: 0, usedPercent: 65.23 }, 'the H100: SM_ACTIVE × 100, framebuffer used + free, power; nobody holds it')
    assert.deepEqual(one(MIG_3G), { device: MIG_3G, uuid: undefined, smUtil: 42, memUsedBytes: 10000 * MIB, memTotalBytes: 40000 * MIB, powerWatts: undefined, namespace: 'ml', workload: 'finetune', share: 0.5, usedPercent: 21 }, 'the 3g.40gb device (GPU instance 1), charged to its holder: 42% of half the A100')
    assert.deepEqual(one(MIG_1G), { device: MIG_1G, uuid: undefined, smUtil: 0, memUsedBytes: 0, memTotalBytes: 9800 * MIB, powerWatts: undefined, namespace: undefined, workload: undefined, share: 0, usedPercent: 0 }, 'the idle 1g.10gb device (GPU instance 9)')
    assert.ok(samples.filter((s) => s.device === MIG_3G).every((s) => s.workload === 'finetune' && s.time >= held), 'every sample of the held MIG device is charged to its holder')

    assert.match(stderr, /DCGM exporter http:\/\/127\.0\.0\.1:\d+\/metrics answered 503/, 'a failed scrape is logged and sampling goes on')
    assert.ok(scrapes > byTime.size, 'the 503 scrapes stored nothing')
    const calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n')
    assert.ok(calls.includes('-q -x') && calls.includes('mig -lgi'), `the inventory was read from nvidia-smi (${calls.join(' | ')})`)
    assert.ok(!calls.some((c) => c.startsWith('--query')), `no nvidia-smi utilization query with --dcgm (${calls.join(' | ')})`)
  })
})
