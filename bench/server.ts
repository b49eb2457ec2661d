// npm run bench:server — Workload submissions per second through the HTTP API, on SQLite and on PostgreSQL.
//
// Per backend and run: a fresh store (a temporary SQLite file; a new PostgreSQL database), the
// server in a child process (`gpuplane server`), a cluster with a GPU for every workload (a
// Cluster object the server publishes, and the DeviceClasses), then the load generator in a second
// child process (this file with --load): undici with a keep-alive pool, CONCURRENCY requests in
// flight, each POSTing one Workload. It reports submissions/s and the latency of each request. The
// server's controller schedules while the submissions arrive; afterwards the main process lists
// the controller's allocation counter on /metrics until it reaches the count (cheap: listing
// thousands of workloads to count them would itself load the server being measured), checks with
// one list that every workload is Scheduled, and notes how long after the first submission that
// was. The server runs with --log-level warn (no log line per request).
// CPU per submission is the load-independent figure (the machine is shared, so rates vary with
// what else runs): the server process's CPU time (/proc) from the first submission until every
// workload is Scheduled — the API's work and the controller's together — divided by the count.
// 1,000 submissions/s on one core needs under 1 ms of it.
// The table shows medians over the runs; bench/results/server.json keeps every run.
//
//   npm run bench:server -- [--count 5000] [--concurrency 32] [--runs 3] [--backends sqlite,postgres]
//                           [--postgres postgres://postgres@127.0.0.1:5432/postgres] [--profile DIR] [--out FILE] [--baseline DIR]
// --profile DIR writes a CPU profile of each server process into DIR (open it in Chrome's DevTools);
// --out FILE writes the results there instead of bench/results/server.json;
// --baseline DIR runs, before each run, the same run on the server of another checkout of gpuplane
// (DIR, with its node_modules), so that the two versions meet the same machine load; each scenario
// then names the baseline's median beside its own.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { freePort } from '../test/free-port.ts'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Pool, request } from 'undici'
import { deviceClasses } from '../src/inventory/publish.ts'
import { ApiClient } from '../src/cli/client.ts'
import { resolveKind } from '../src/cli/kinds.ts'
import { formatTable } from '../src/cli/table.ts'
import { cpuSeconds, median } from './stats.ts'

const ROOT = join(import.meta.dirname, '..')
const ADMIN_TOKEN = 'gp_bench-admin-token-not-secret'
const NAMESPACE = 'bench'
/** Submissions/s the issue asks of SQLite on this machine. */
const TARGET_RATE = 1000
/** How long to wait for the server to be ready, and for the controller to place every workload. */
const READY_TIMEOUT_MS = 60_000
const SCHEDULE_TIMEOUT_MS = 300_000
const GPUS_PER_HOST = 8
/** How often the driver lists the workloads after the submissions, to see them all scheduled. */
const POLL_MS = 250

type Backend = 'sqlite' | 'postgres'

/** What the load generator reports (its stdout, as JSON). */
interface LoadResult {
  /** Date.now() when the first request went out, and seconds until the last answer. */
  startedAt: number
  seconds: number
  submitted: number
  errors: number
  firstError?: string
  p50Ms: number
  p99Ms: number
  /** CPU seconds the load generator itself used while submitting. */
  loadCpuSeconds: number
}

interface RunResult extends LoadResult {
  backend: Backend
  /** The server measured: this checkout, or the --baseline one. */
  side: 'current' | 'baseline'
  rate: number
  /** Seconds from the first submission until every workload was Scheduled (undefined: not within SCHEDULE_TIMEOUT_MS). */
  allScheduledSeconds?: number
  scheduled: number
  /** CPU seconds the server process used from the first submission to the last answer (Linux /proc; undefined elsewhere). */
  serverCpuSeconds?: number
  /** CPU milliseconds per submission the server used from the first submission until all were Scheduled (API + controller). */
  serverCpuMsPerSubmission?: number
  /** The machine's 1-minute load average when the submissions ended. */
  loadAverage: number
}

const { values: args } = parseArgs({
  options: {
    load: { type: 'boolean', default: false },
    url: { type: 'string' },
    token: { type: 'string' },
    count: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '32' },
    runs: { type: 'string', default: '3' },
    backends: { type: 'string', default: 'sqlite,postgres' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    profile: { type: 'string' },
    out: { type: 'string' },
    baseline: { type: 'string' },
  },
})

if (args.load) await generateLoad(args.url!, args.token!, Number(args.count), Number(args.concurrency))
else await main()

// ---- the load generator (second process) ----

function workload(i: number): object {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name: `bench-${i}`, namespace: NAMESPACE, labels: { bench: 'server' } },
    spec: {
      priority: i % 3,
      resourceClaims: [{ name: 'gpu', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: 1 } }] } } }],
    },
  }
}

/** POSTs `count` Workloads with `concurrency` in flight over keep-alive connections; prints a LoadResult. */
async function generateLoad(url: string, token: string, count: number, concurrency: number): Promise<void> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 })
  const path = `/apis/gpuplane.io/v1alpha1/namespaces/${NAMESPACE}/workloads`
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const bodies = Array.from({ length: count }, (_, i) => JSON.stringify(workload(i)))
  const latencies = new Float64Array(count)
  let next = 0
  let errors = 0
  let firstError: string | undefined
  const startedAt = Date.now()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const t = performance.now()
      const res = await pool.request({ method: 'POST', path, headers, body: bodies[i] })
      const text = await res.body.text()
      latencies[i] = performance.now() - t
      if (res.statusCode !== 201) {
        errors++
        firstError ??= `HTTP ${res.statusCode}: ${text.slice(0, 300)}`
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  await pool.close()
  const sorted = [...latencies].sort((a, b) => a - b)
  const result: LoadResult = { startedAt, seconds, submitted: count, errors, firstError, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), loadCpuSeconds: (cpu.user + cpu.system) / 1e6 }
  process.stdout.write(JSON.stringify(result) + '\n')
}

// ---- the driver (main process) ----

async function main(): Promise<void> {
  const count = Number(args.count)
  const concurrency = Number(args.concurrency)
  const runs = Number(args.runs)
  const backends = args.backends!.split(',') as Backend[]
  const results: RunResult[] = []
  const sides: Array<RunResult['side']> = args.baseline !== undefined ? ['baseline', 'current'] : ['current']
  for (const backend of backends) {
    for (let run = 0; run < runs; run++) for (const side of sides) {
      const r = await oneRun(backend, side, run, count, concurrency)
      results.push(r)
      console.error(`${side === 'baseline' ? 'baseline ' : ''}${backend} run ${run + 1}/${runs}: ${r.rate.toFixed(0)} submissions/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, all scheduled after ${r.allScheduledSeconds?.toFixed(1) ?? `— (${r.scheduled}/${count})`} s; server CPU ${r.serverCpuMsPerSubmission?.toFixed(2) ?? '?'} ms/submission; CPU s: server ${r.serverCpuSeconds?.toFixed(1) ?? '?'}, load generator ${r.loadCpuSeconds.toFixed(1)}${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}; load ${r.loadAverage}`)
    }
  }
  report(results, backends, count, concurrency, runs)
}

async function oneRun(backend: Backend, side: RunResult['side'], run: number, count: number, concurrency: number): Promise<RunResult> {
  const store = await freshStore(backend, `${run}_${side}`)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const server = startServer(side === 'baseline' ? args.baseline! : ROOT, store.flags, port)
  try {
    await waitReady(url, server)
    const client = new ApiClient({ server: url, token: ADMIN_TOKEN, serverFrom: 'flag', tokenFrom: 'flag' })
    await setUpCluster(client, count)
    const cpu0 = cpuSeconds(server.pid)
    const load = await runLoadProcess(url, count, concurrency)
    const cpu1 = cpuSeconds(server.pid)
    const done = await waitScheduled(url, client, count, server.pid!)
    return {
      ...load,
      backend,
      side,
      rate: load.submitted / load.seconds,
      loadAverage: round2(loadavg()[0]),
      scheduled: done.count,
      ...(done.at !== undefined ? { allScheduledSeconds: (done.at - load.startedAt) / 1000 } : {}),
      ...(cpu0 !== undefined && cpu1 !== undefined ? { serverCpuSeconds: round2(cpu1 - cpu0) } : {}),
      ...(cpu0 !== undefined && done.cpu !== undefined && done.at !== undefined ? { serverCpuMsPerSubmission: round2(((done.cpu - cpu0) * 1000) / count) } : {}),
    }
  } finally {
    await stopServer(server)
    await store.drop()
  }
}

/**
 * Reads the controller's allocation counter on /metrics every POLL_MS until it reaches `count`
 * (or SCHEDULE_TIMEOUT_MS passed), notes the time and the server's CPU then, and checks with one
 * list that every workload is Scheduled (the count returned is the list's).
 */
async function waitScheduled(url: string, client: ApiClient, count: number, pid: number): Promise<{ count: number; at?: number; cpu?: number }> {
  const deadline = Date.now() + SCHEDULE_TIMEOUT_MS
  for (;;) {
    const allocated = await allocationsOf(url, pid)
    if (allocated.count >= count || Date.now() > deadline) {
      const { items } = await client.list(resolveKind('workloads'), { namespace: NAMESPACE })
      const scheduled = items.filter((w) => (w.status as { phase?: string } | undefined)?.phase === 'Scheduled').length
      return scheduled >= count ? { count: scheduled, at: allocated.at, cpu: allocated.cpu } : { count: scheduled }
    }
    await sleep(POLL_MS)
  }
}

/** The bench namespace's gpuplane_allocations_total, with the time and the server's CPU seconds when it was read. */
async function allocationsOf(url: string, pid: number): Promise<{ count: number; at: number; cpu?: number }> {
  const res = await request(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const text = await res.body.text()
  const at = Date.now()
  const cpu = cpuSeconds(pid)
  const line = text.split('\n').find((l) => l.startsWith(`gpuplane_allocations_total{namespace="${NAMESPACE}"}`))
  return { count: line === undefined ? 0 : Number(line.split(' ').pop()), at, cpu }
}

/** The Namespace, a Cluster with a GPU per workload, and the DeviceClasses; waits until the server has published the cluster's Nodes. */
async function setUpCluster(client: ApiClient, count: number): Promise<void> {
  const hosts = Math.ceil(count / GPUS_PER_HOST)
  await client.create(resolveKind('namespaces'), undefined, { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name: NAMESPACE }, spec: {} })
  for (const c of deviceClasses()) await client.create(resolveKind('deviceclasses'), undefined, c)
  const cluster = { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Cluster', metadata: { name: 'bench' }, spec: { hosts: [{ name: 'gpu', replicas: hosts, gpus: { model: 'H100-80GB', count: GPUS_PER_HOST } }] } }
  await client.create(resolveKind('clusters'), undefined, cluster)
  const deadline = Date.now() + READY_TIMEOUT_MS
  while ((await client.list(resolveKind('nodes'))).items.length < hosts) {
    if (Date.now() > deadline) throw new Error(`the server did not publish the ${hosts} nodes of the bench Cluster within ${READY_TIMEOUT_MS / 1000} s`)
    await sleep(200)
  }
}

function runLoadProcess(url: string, count: number, concurrency: number): Promise<LoadResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'server.ts'), '--load', '--url', url, '--token', ADMIN_TOKEN, '--count', String(count), '--concurrency', String(concurrency)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => void (out += d.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`the load generator exited with ${code}`))))
  })
}

// ---- the server and its store ----

async function freshStore(backend: Backend, run: string): Promise<{ flags: string[]; drop: () => Promise<void> }> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gpuplane-bench-'))
    return { flags: ['--db', join(dir, 'gpuplane.db')], drop: async () => rmSync(dir, { recursive: true, force: true }) }
  }
  const admin = args.postgres!
  const database = `gpuplane_bench_${process.pid}_${run}`
  await withPg(admin, (c) => c.query(`CREATE DATABASE ${database}`))
  const url = new URL(admin)
  url.pathname = `/${database}`
  return { flags: ['--postgres', url.toString()], drop: () => withPg(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)) }
}

async function withPg(url: string, fn: (c: pg.Client) => Promise<unknown>): Promise<void> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    await fn(c)
  } finally {
    await c.end()
  }
}

/** `gpuplane server` of the checkout at `root` (this one, or --baseline). */
function startServer(root: string, storeFlags: string[], port: number): ChildProcess & { log: string[] } {
  const profile = args.profile !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : []
  const child = spawn(process.execPath, [...profile, join(root, 'bin', 'gpuplane.js'), 'server', ...storeFlags, '--port', String(port), '--log-level', 'warn'], {
    cwd: root,
    env: { ...process.env, GPUPLANE_ADMIN_TOKEN: ADMIN_TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  }) as ChildProcess & { log: string[] }
  child.log = []
  child.stderr!.on('data', (d: Buffer) => {
    child.log.push(d.toString())
    if (child.log.length > 50) child.log.shift()
  })
  return child
}

async function waitReady(url: string, server: ChildProcess & { log: string[] }): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}:\n${server.log.join('')}`)
    try {
      const res = await request(`${url}/readyz`)
      await res.body.text()
      if (res.statusCode === 200) return
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the server was not ready within ${READY_TIMEOUT_MS / 1000} s:\n${server.log.join('')}`)
    await sleep(100)
  }
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null) return
  const exited = new Promise((resolve) => server.on('exit', resolve))
  server.kill('SIGTERM')
  const timer = setTimeout(() => server.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}


// ---- the report ----

function report(results: RunResult[], backends: Backend[], count: number, concurrency: number, runs: number): void {
  const machine = `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores)`
  const scenarios: object[] = []
  const rows: string[][] = []
  for (const backend of backends) {
    const name = `${backend}: ${count.toLocaleString('en-US')} Workloads, ${concurrency} in flight`
    const now = medians(results.filter((r) => r.backend === backend && r.side === 'current'))
    const before = args.baseline !== undefined ? medians(results.filter((r) => r.backend === backend && r.side === 'baseline')) : undefined
    const metrics: Array<[keyof Medians, string, string, 'higher' | 'lower', number | null, (x: number) => number]> = [
      ['rate', 'submissions/s', 'submissions/s', 'higher', backend === 'sqlite' ? TARGET_RATE : null, Math.round],
      ['p50', 'p50 latency', 'ms', 'lower', null, round1],
      ['p99', 'p99 latency', 'ms', 'lower', null, round1],
      ['all', 'all scheduled after', 's', 'lower', null, round1],
      ['cpuMs', 'server CPU per submission', 'ms', 'lower', backend === 'sqlite' ? 1000 / TARGET_RATE : null, round2],
    ]
    for (const [key, metric, unit, better, target, round] of metrics) {
      const value = now[key]
      const base = before?.[key]
      scenarios.push({ name, metric, value: value === undefined ? null : round(value), unit, target, better, ...(before ? { baseline: { name: `the server of ${args.baseline}, run alternately with this one`, value: base === undefined ? null : round(base) } } : {}) })
    }
    for (const [label, m] of before ? [[`${backend} (baseline)`, before] as const, [backend, now] as const] : [[backend, now] as const]) {
      const row = [m.rate.toFixed(0), backend === 'sqlite' ? `>= ${TARGET_RATE}` : '-', m.p50.toFixed(1), m.p99.toFixed(1), m.all === undefined ? 'not all' : m.all.toFixed(1), m.cpuMs === undefined ? '?' : m.cpuMs.toFixed(2)]
      rows.push([label, String(count), String(concurrency), ...row, String(m.errors)])
    }
  }
  const load = results.map((r) => r.loadAverage)
  const notes = `1-minute load average during the runs ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)} on ${cpus().length} cores (the machine is shared: rates vary with it; CPU per submission much less)`
  const out = { machine, node: process.version, date: new Date().toISOString(), notes, settings: { count, concurrency, runs, ...(args.baseline !== undefined ? { baseline: args.baseline } : {}) }, scenarios, runs: results }
  const file = args.out ?? join(ROOT, 'bench', 'results', 'server.json')
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n')
  console.log(`\nserver benchmark — ${machine}, Node ${process.version}, medians of ${runs} runs; ${notes}\n`)
  const header = ['store', 'workloads', 'in flight', 'submissions/s', 'target', 'p50 ms', 'p99 ms', 'all scheduled (s)', 'server CPU ms/submission', 'errors']
  process.stdout.write(formatTable(header, rows))
  console.log(`\nwrote ${file}`)
}

interface Medians {
  rate: number
  p50: number
  p99: number
  all?: number
  cpuMs?: number
  errors: number
}

function medians(rs: RunResult[]): Medians {
  return {
    rate: median(rs.map((r) => r.rate)),
    p50: median(rs.map((r) => r.p50Ms)),
    p99: median(rs.map((r) => r.p99Ms)),
    ...(rs.every((r) => r.allScheduledSeconds !== undefined) ? { all: median(rs.map((r) => r.allScheduledSeconds!)) } : {}),
    ...(rs.every((r) => r.serverCpuMsPerSubmission !== undefined) ? { cpuMs: median(rs.map((r) => r.serverCpuMsPerSubmission!)) } : {}),
    errors: rs.reduce((n, r) => n + r.errors, 0),
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}


function round1(x: number): number {
  return Math.round(x * 10) / 10
}

function round2(x: number): number {
  return Math.round(x * 100) / 100
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
