// The demo's simulated node agent (`gpuplane server --demo` only): utilization samples for every allocated device of the store, some busy and some idle, so the dashboard's utilization view has data. DEMO DATA, not measured.
//
// Every tick it lists the ResourceClaims with an allocation, makes one sample per allocated
// (pool = node, device), attributes them to the allocation intervals like the ingest route does,
// and stores them as batches of the agent id DEMO_AGENT_ID (so the data says where it came from).
// Which devices idle is fixed per device (a hash of its name: about one in three holds memory at
// ~1% SM), the busy ones follow a slow wave with noise, so the series look like real work and the
// idle detector has something to find.
import type { FastifyInstance } from 'fastify'
import { attribute } from '../telemetry/attribution.ts'
import type { UtilizationSample } from '../telemetry/types.ts'

/** The agent id of the simulated samples: every demo batch is recorded under it. */
export const DEMO_AGENT_ID = 'demo-simulated-agent'

const GIB = 1024 ** 3

interface ClaimStatus {
  allocation?: { devices?: { results?: Array<{ pool: string; device: string }> } }
}

/** A stable number in [0, 1) from a string (FNV-1a): which devices idle, and their phase. */
function unit(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0) / 2 ** 32
}

/** One simulated reading of a device at `time`. */
export function demoSample(node: string, device: string, time: number, random: () => number): UtilizationSample {
  const key = `${node}/${device}`
  const idle = unit(key) < 0.35
  const phase = unit(`${key}#phase`) * 2 * Math.PI
  const level = 35 + 55 * unit(`${key}#level`)
  const wave = Math.sin(time / 600_000 + phase) * 15
  const smUtil = idle ? Math.round(random() * 2 * 10) / 10 : Math.max(0, Math.min(100, Math.round((level + wave + (random() - 0.5) * 10) * 10) / 10))
  const memUsedBytes = Math.round((idle ? 18 + 10 * unit(`${key}#mem`) : 30 + 40 * unit(`${key}#mem`)) * GIB)
  return { time, node, device, smUtil, memUsedBytes, memTotalBytes: 80 * GIB, powerWatts: Math.round(idle ? 90 + random() * 10 : 150 + smUtil * 5) }
}

/** The allocated (node, device) pairs of the store's claims. */
async function allocatedDevices(app: FastifyInstance): Promise<Array<{ node: string; device: string }>> {
  const seen = new Map<string, { node: string; device: string }>()
  for (const claim of (await app.store.list('ResourceClaim')).items) {
    for (const r of (claim.status as ClaimStatus | undefined)?.allocation?.devices?.results ?? []) seen.set(`${r.pool}/${r.device}`, { node: r.pool, device: r.device })
  }
  return [...seen.values()]
}

/** Starts the simulated agent on the server's store; it stops when the server closes (timer unref'd). */
export function startDemoTelemetry(app: FastifyInstance, options: { intervalMs?: number; random?: () => number; now?: () => number } = {}): void {
  const random = options.random ?? Math.random
  const now = options.now ?? Date.now
  let seq = now()
  let busy = false
  const tick = async () => {
    const time = now()
    const devices = await allocatedDevices(app)
    if (devices.length === 0) return
    const intervals = await app.telemetry.intervals({ from: time, to: time + 1 })
    const samples = devices.map((d) => demoSample(d.node, d.device, time, random))
    // A simulated memory share or vGPU stands for a whole GPU's reading: its holder is charged
    // the GPU's use (attribution.ts), so a share's simulated work stays within the share held.
    for (const s of samples) {
      const held = intervals.find((iv) => iv.node === s.node && iv.device === s.device && !iv.partition)
      if (held !== undefined && held.share < 1) s.smUtil = Math.round(s.smUtil * held.share * 10) / 10
    }
    // seq: above every earlier tick, also across restarts (the server keeps the last per agent id).
    seq = Math.max(seq + 1, time)
    await app.telemetry.appendBatch({ agentId: DEMO_AGENT_ID, seq }, attribute(samples, intervals))
  }
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    tick()
      .catch((e: unknown) => app.log.warn({ err: e }, 'demo telemetry: simulated samples not stored'))
      .finally(() => (busy = false))
  }, options.intervalMs ?? 10_000)
  timer.unref()
  app.addHook('onClose', async () => clearInterval(timer))
  app.log.info('demo telemetry: a simulated agent writes DEMO utilization samples for the allocated devices (agent id %s); they are not measurements', DEMO_AGENT_ID)
}
