// `gpuplane agent`: the node agent. Publishes its node's ResourceSlices from nvidia-smi, samples utilization every interval (nvidia-smi or a DCGM exporter) and pushes it to the server in numbered batches, riding out server outages.
//
// Inventory: `nvidia-smi -q -x` (plus `mig -lgi/-lgip/-lgipp` when a GPU is in MIG mode) through
// the inventory's own path (inventoryFromNvidiaSmi -> publishHost), applied like `gpuplane apply`;
// re-read every --inventory-interval and applied again only when the slices changed.
// Samples: stamped with the agent's clock (nvidia-smi's timestamps carry no time zone), queued in
// a SampleBuffer (bounded, drop-oldest, counted and logged) and sent one batch at a time with
// (agentId, seq); a failed send is retried with the same seq after a jittered exponential
// backoff while sampling goes on. SIGTERM/SIGINT stop sampling and flush what is queued (for at
// most --flush-timeout), then exit.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Command } from 'commander'
import { GpuplaneError } from '../common/errors.ts'
import { inventoryFromNvidiaSmi } from '../inventory/nvidia-smi.ts'
import { migDeviceName, publishHost } from '../inventory/publish.ts'
import { backoffMs, SampleBuffer } from '../telemetry/agent-buffer.ts'
import { parsePrometheusText, samplesFromDcgm } from '../telemetry/dcgm.ts'
import { nameProcessOwners, WORKLOAD_ENV } from '../telemetry/process-owner.ts'
import { deviceMapFromHost, parseComputeApps, parseQueryGpu, samplesFromQuery, type DeviceMap } from '../telemetry/nvidia-smi-query.ts'
import type { UtilizationSample } from '../telemetry/types.ts'
import { applyOne } from './apply.ts'
import { ApiClient, RemoteError } from './client.ts'
import { normalizeServer } from './config.ts'
import { parseDuration } from './duration.ts'
import { kindOfObject } from './kinds.ts'

export const QUERY_GPU = 'timestamp,index,uuid,utilization.gpu,utilization.memory,memory.used,memory.total,power.draw'
export const QUERY_APPS = 'gpu_uuid,pid,used_memory'
const SAMPLES_PATH = '/apis/gpuplane.io/v1alpha1/telemetry/samples'

export interface AgentOptions {
  server: string
  token: string
  node: string
  intervalMs: number
  nvidiaSmi: string
  dcgm?: string
  /** Where processes' environments are read (GPUPLANE_WORKLOAD, process-owner.ts); /proc when absent. */
  procRoot?: string
  inventoryIntervalMs: number
  batchSize: number
  bufferSize: number
  flushTimeoutMs: number
  log: (line: string) => void
}

/** What the agent did, for logs and tests. */
export interface AgentCounters {
  sampled: number
  sent: number
  duplicateBatches: number
  dropped: number
  sendFailures: number
  inventoryApplied: number
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 15_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new GpuplaneError('UNAVAILABLE', `${file} ${args.join(' ')} failed: ${stderr.trim() || error.message}`))
      else resolve(stdout)
    })
  })
}

/** Waits `ms`, or until `signal` aborts; the abort listener is removed when the time is up (the agent's signal lives as long as it runs). */
export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(t)
      resolve()
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })

export class NodeAgent {
  readonly agentId: string
  readonly counters: AgentCounters = { sampled: 0, sent: 0, duplicateBatches: 0, dropped: 0, sendFailures: 0, inventoryApplied: 0 }
  private readonly buffer: SampleBuffer
  private readonly client: ApiClient
  private map: DeviceMap | undefined
  /** Devices whose DCGM series could not be named yet, logged once each. */
  private readonly unnamed = new Set<string>()
  private readonly stopping = new AbortController()
  private wake: (() => void) | undefined
  private loops: Promise<unknown>[] = []

  constructor(private readonly options: AgentOptions) {
    // A fresh id per process: its seq starts at 1 and the server keeps the last seq per id.
    this.agentId = `${options.node}-${randomBytes(6).toString('hex')}`
    this.buffer = new SampleBuffer(options.bufferSize, options.batchSize)
    this.client = new ApiClient({ server: normalizeServer(options.server), serverFrom: 'flag', token: options.token, tokenFrom: 'flag' })
  }

  /** Starts the inventory, sampling and sending loops. */
  start(): void {
    this.loops = [this.every(this.options.inventoryIntervalMs, () => this.inventory()), this.every(this.options.intervalMs, () => this.sample()), this.sendLoop()]
  }

  /** Stops sampling, sends what is queued for at most flushTimeoutMs, and resolves when done. */
  async stop(): Promise<void> {
    this.stopping.abort()
    this.wake?.()
    await Promise.allSettled(this.loops)
    const deadline = Date.now() + this.options.flushTimeoutMs
    while (this.buffer.size > 0 && Date.now() < deadline) {
      if (!(await this.sendOne())) await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))))
    }
    if (this.buffer.size > 0) this.options.log(`agent ${this.agentId}: exiting with ${this.buffer.size} samples not sent (server unreachable for ${this.options.flushTimeoutMs} ms)`)
  }

  private async every(ms: number, fn: () => Promise<void>): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        await fn()
      } catch (e) {
        this.options.log(`agent ${this.agentId}: ${(e as Error).message}`)
      }
      await sleep(ms, this.stopping.signal)
    }
  }

  /** Reads the inventory and applies the slices when they differ from those last applied. */
  private async inventory(): Promise<void> {
    const nvsmi = this.options.nvidiaSmi
    const xml = await run(nvsmi, ['-q', '-x'])
    const mig = /<mig_device>/.test(xml)
    const [migInstances, migProfiles, migPlacements] = mig ? await Promise.all([run(nvsmi, ['mig', '-lgi']), run(nvsmi, ['mig', '-lgip']), run(nvsmi, ['mig', '-lgipp'])]) : []
    const { host, warnings } = inventoryFromNvidiaSmi({ xml, node: this.options.node, ...(mig ? { migInstances, migProfiles, migPlacements } : {}) })
    for (const w of warnings) this.options.log(`agent ${this.agentId}: inventory: ${w}`)
    this.map = deviceMapFromHost(host, migDeviceName)
    const slices = publishHost(host)
    // Applied on every read, not only when the inventory changed: applyOne reads each slice and
    // writes only when the server's differs, so a slice deleted or lost on the server comes back.
    const info = kindOfObject('resource.k8s.io/v1', 'ResourceSlice')
    let changed = 0
    for (const slice of slices) {
      const body = JSON.parse(JSON.stringify(slice, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) as Record<string, unknown>
      const result = await applyOne(this.client, { info, name: slice.metadata.name ?? '', body, location: { file: `nvidia-smi -q -x on ${this.options.node}` } })
      if (result !== 'unchanged') changed++
    }
    if (changed === 0) return
    this.counters.inventoryApplied++
    this.options.log(`agent ${this.agentId}: published ${slices.length} ResourceSlice(s) for node ${this.options.node} (${changed} created or replaced)`)
  }

  private async sample(): Promise<void> {
    const time = Date.now()
    let samples: UtilizationSample[]
    if (this.options.dcgm !== undefined) {
      const res = await fetch(this.options.dcgm, { signal: AbortSignal.timeout(10_000) })
      if (!res.ok) throw new GpuplaneError('UNAVAILABLE', `DCGM exporter ${this.options.dcgm} answered ${res.status}`)
      const read = samplesFromDcgm(parsePrometheusText(await res.text()), { node: this.options.node, time, ...(this.map ? { map: this.map } : {}) })
      samples = read.samples
      this.logUnnamed(read.skipped)
    } else {
      const [gpus, apps] = await Promise.all([run(this.options.nvidiaSmi, [`--query-gpu=${QUERY_GPU}`, '--format=csv']), run(this.options.nvidiaSmi, [`--query-compute-apps=${QUERY_APPS}`, '--format=csv'])])
      samples = samplesFromQuery(parseQueryGpu(gpus), parseComputeApps(apps), { node: this.options.node, time, useOwnClock: true, ...(this.map ? { map: this.map } : {}) }).samples
      await nameProcessOwners(samples, this.options.procRoot ?? '/proc')
    }
    this.counters.sampled += samples.length
    const dropped = this.buffer.push(samples)
    if (dropped > 0) {
      this.counters.dropped += dropped
      this.options.log(`agent ${this.agentId}: buffer full (${this.options.bufferSize} samples): dropped the ${dropped} oldest (${this.buffer.dropped} since start)`)
    }
    this.wake?.()
  }

  /** Logs, once per device, DCGM series the agent could not turn into samples (not yet in its inventory, or missing a figure). */
  private logUnnamed(skipped: readonly string[]): void {
    const fresh = skipped.filter((d) => !this.unnamed.has(d))
    if (fresh.length === 0) return
    for (const d of fresh) this.unnamed.add(d)
    this.options.log(`agent ${this.agentId}: DCGM series not sampled (a device not in the inventory read yet, or without utilization or framebuffer figures): ${fresh.join(', ')}`)
  }

  /** Sends the next batch; true when there was one and the server took it (stored or duplicate). */
  private async sendOne(): Promise<boolean> {
    const batch = this.buffer.next()
    if (!batch) return false
    try {
      const res = await this.client.call<{ duplicate: boolean }>('POST', SAMPLES_PATH, { body: { node: this.options.node, agentId: this.agentId, seq: batch.seq, samples: batch.samples } })
      this.buffer.ack(batch.seq)
      if (res.duplicate) this.counters.duplicateBatches++
      else this.counters.sent += batch.samples.length
      return true
    } catch (e) {
      if (e instanceof RemoteError && e.status === 400) {
        // The server will never take this batch: keeping it would stop every later one.
        this.buffer.ack(batch.seq)
        this.counters.dropped += batch.samples.length
        this.options.log(`agent ${this.agentId}: the server refused batch ${batch.seq} (${e.message}); dropped its ${batch.samples.length} samples`)
        return true
      }
      this.counters.sendFailures++
      throw e
    }
  }

  private async sendLoop(): Promise<void> {
    let attempt = 0
    while (!this.stopping.signal.aborted) {
      try {
        if (await this.sendOne()) {
          if (attempt > 0) this.options.log(`agent ${this.agentId}: the server is back; sending the ${this.buffer.size} samples queued`)
          attempt = 0
          continue
        }
        await new Promise<void>((resolve) => (this.wake = resolve))
      } catch (e) {
        const wait = backoffMs(attempt++, Math.random)
        if (attempt === 1 || attempt % 10 === 0) this.options.log(`agent ${this.agentId}: cannot push samples (${(e as Error).message}); retrying in ${wait} ms, still sampling (${this.buffer.size} queued)`)
        await sleep(wait, this.stopping.signal)
      }
    }
  }
}

function positive(text: string, option: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new GpuplaneError('INVALID_INPUT', `${option} "${text}" must be a whole number of at least 1`)
  return n
}

const AGENT_HELP = `
What it does:
  At start and every --inventory-interval: runs "nvidia-smi -q -x" (and "nvidia-smi mig -lgi,
  -lgip, -lgipp" when a GPU is in MIG mode), publishes the node's ResourceSlices like
  "gpuplane inventory nvidia-smi" would, and applies them to the server when they changed.
  Every --interval: reads utilization (nvidia-smi --query-gpu and --query-compute-apps, or the
  DCGM exporter at --dcgm, which also reports MIG devices) and pushes it in batches.

Shared GPUs:
  nvidia-smi lists each GPU's processes with their memory. A process whose environment has
  GPUPLANE_WORKLOAD=<namespace>/<workload> (set it in the workload's container) is charged to that
  workload, by its share of the GPU memory the processes use, when that workload holds the GPU;
  the agent reads it from --proc/<pid>/environ, so it must see the host's processes (hostPID).
  Without it, a shared GPU's use is split by the share each holder holds.

When the server is away:
  Sampling goes on; samples queue in a buffer of --buffer samples (the oldest are dropped when
  it is full, and the drop is logged). Pushes are retried with exponential backoff (0.5 s up to
  30 s); every batch carries (agent id, sequence number), so a retry never stores a sample twice.
  SIGTERM or SIGINT stops sampling and sends what is queued (for at most --flush-timeout).

Token: the admin token (samples decide what namespaces are charged; namespace tokens get 403).

Example:
  gpuplane agent --server http://gpuplane:7480 --token "$GPUPLANE_ADMIN_TOKEN" --interval 10s
`

export function registerAgent(program: Command, err: (s: string) => void): void {
  program
    .command('agent')
    .description('node agent: publish this node\'s GPUs and push their utilization to the server')
    .requiredOption('--server <URL>', 'the gpuplane server', process.env.GPUPLANE_SERVER)
    .requiredOption('--token <TOKEN>', 'the admin token (default: $GPUPLANE_TOKEN)', process.env.GPUPLANE_TOKEN)
    .option('--interval <DURATION>', 'time between samples', '10s')
    .option('--nvidia-smi <PATH>', 'the nvidia-smi to run', 'nvidia-smi')
    .option('--dcgm <URL>', 'read utilization from a DCGM exporter instead (e.g. http://localhost:9400/metrics)')
    .option('--node <NAME>', 'the Kubernetes node name to publish as (default: the host name)')
    .option('--proc <DIR>', `where processes' environments are read for ${WORKLOAD_ENV} (the host's /proc)`, '/proc')
    .option('--inventory-interval <DURATION>', 'time between inventory reads', '5m')
    .option('--batch <N>', 'most samples per push', '2000')
    .option('--buffer <N>', 'most samples queued while the server is away', '100000')
    .option('--flush-timeout <DURATION>', 'how long SIGTERM waits to send what is queued', '10s')
    .addHelpText('after', AGENT_HELP)
    .action(async (opts: Record<string, string>) => {
      const agent = new NodeAgent({
        server: opts.server,
        token: opts.token,
        node: opts.node ?? hostname(),
        intervalMs: parseDuration(opts.interval, '--interval'),
        nvidiaSmi: opts.nvidiaSmi,
        ...(opts.dcgm !== undefined ? { dcgm: opts.dcgm } : {}),
        procRoot: opts.proc,
        inventoryIntervalMs: parseDuration(opts.inventoryInterval, '--inventory-interval'),
        batchSize: positive(opts.batch, '--batch'),
        bufferSize: Math.max(positive(opts.buffer, '--buffer'), positive(opts.batch, '--batch')),
        flushTimeoutMs: parseDuration(opts.flushTimeout, '--flush-timeout'),
        log: (line) => err(`${new Date().toISOString()} ${line}\n`),
      })
      agent.start()
      err(`${new Date().toISOString()} agent ${agent.agentId}: node ${opts.node ?? hostname()}, pushing to ${opts.server} every ${opts.interval}\n`)
      await new Promise<void>((resolve) => {
        const onSignal = () => {
          process.off('SIGTERM', onSignal)
          process.off('SIGINT', onSignal)
          resolve()
        }
        process.on('SIGTERM', onSignal)
        process.on('SIGINT', onSignal)
      })
      await agent.stop()
      err(`${new Date().toISOString()} agent ${agent.agentId}: stopped (${JSON.stringify(agent.counters)})\n`)
    })
}
