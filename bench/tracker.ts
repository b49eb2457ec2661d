// Allocation-interval tracker benchmark: CPU per submitted workload of the incremental tracker (src/server/telemetry-intervals.ts) beside the full relist it replaced, on the same store and passes.
//
//   npm run bench:tracker [-- --count 2000] [-- --wave 200] [-- --runs 3]
//
// The shape of bench/server.ts, without HTTP: a Cluster with a GPU per workload (8 per host), then
// `count` one-GPU Workloads submitted in waves of `wave` (about what one 1 s tracker pass sees at
// the server's target of 1,000 submissions/s: fewer per pass makes the relist look worse still),
// each wave placed by the real controller (untimed), then one tracker pass, timed with
// process.cpuUsage (the process's CPU: better-sqlite3 works on this thread, GC included; run with
// --expose-gc so the controller's garbage is collected before each pass, not in it). The baseline,
// in its own run of the same scenario (the order alternating run by run), is what the tracker did
// before: list every ResourceClaim, Workload and ResourceSlice, currentHoldings, diffHoldings, one
// openInterval per change. Both must record the same intervals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Controller } from '../src/server/controller.ts'
import { IntervalTracker } from '../src/server/telemetry-intervals.ts'
import { openStore, openTelemetryStore } from '../src/store/index.ts'
import type { Holding } from '../src/telemetry/intervals.ts'
import { relistPass } from '../test/relist-tracker.ts'
import { median } from './stats.ts'

const { values: args } = parseArgs({ options: { count: { type: 'string', default: '2000' }, wave: { type: 'string', default: '200' }, runs: { type: 'string', default: '3' }, out: { type: 'string', default: join(import.meta.dirname, 'results', 'tracker.json') } } })
const COUNT = Number(args.count)
const WAVE = Number(args.wave)
const RUNS = Number(args.runs)
const GPUS_PER_HOST = 8
/** The server's budget is < 1 ms of CPU per submission in all (1,000/s); the tracker should take a small fraction: a tenth. */
const TARGET_MS = 0.1

function cpuMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.cpuUsage()
  return fn().then(() => {
    const t = process.cpuUsage(t0)
    return (t.user + t.system) / 1000
  })
}

type Mode = 'incremental' | 'relist'

/** One run of the scenario with one tracker: its CPU per submission and the intervals it recorded (keys). */
async function oneRun(mode: Mode): Promise<{ ms: number; intervals: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'gpuplane-bench-tracker-'))
  const store = await openStore({ sqlite: join(dir, 'objects.db') })
  const telemetryStore = await openStore({ sqlite: join(dir, 'telemetry.db') })
  try {
    await store.create({ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Cluster', metadata: { name: 'bench' }, spec: { hosts: [{ name: 'gpu', replicas: Math.ceil(COUNT / GPUS_PER_HOST), gpus: { model: 'H100-80GB', count: GPUS_PER_HOST } }] } })
    const controller = new Controller(store)
    await controller.reconcileOnce()
    let now = Date.UTC(2026, 10, 26, 12)
    const telemetry = openTelemetryStore(telemetryStore)
    const tracker = new IntervalTracker(store, telemetry, { now: () => now, intervalMs: 1e9 }) // passes run here, not on a timer
    const held = new Map<string, Holding>()
    const pass = mode === 'incremental' ? () => tracker.syncOnce() : () => relistPass(store, telemetry, held, now)
    if (mode === 'incremental') await tracker.start()
    else await pass()
    let ms = 0
    for (let at = 0; at < COUNT; at += WAVE) {
      for (let i = at; i < Math.min(COUNT, at + WAVE); i++) {
        await store.create({ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name: `w-${i}`, namespace: 'default' }, spec: { priority: 0, resourceClaims: [{ name: 'gpu', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: 1 } }] } } }] } })
      }
      while ((await controller.reconcileOnce()).pending > 0) {
        /* place the whole wave */
      }
      now += 1000
      // The controller's garbage is not the tracker's: collect it first where the flag allows.
      globalThis.gc?.()
      ms += await cpuMs(pass)
    }
    await tracker.stop()
    const intervals = (await telemetry.intervals({ from: 0, to: now + 1 })).map((iv) => `${iv.node}/${iv.device}/${iv.workload}/${iv.from}/${iv.to}/${iv.share}/${iv.gpuUuid}`).sort()
    return { ms: ms / COUNT, intervals }
  } finally {
    await store.close()
    await telemetryStore.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000

const results: Array<{ incremental: number; relist: number; intervals: number }> = []
const load: number[] = [loadavg()[0]!]
for (let run = 0; run < RUNS; run++) {
  // Alternate which goes first, so that drifting load weighs on both alike.
  const order: Mode[] = run % 2 === 0 ? ['incremental', 'relist'] : ['relist', 'incremental']
  const got: Partial<Record<Mode, { ms: number; intervals: string[] }>> = {}
  for (const mode of order) got[mode] = await oneRun(mode)
  if (got.incremental!.intervals.join('\n') !== got.relist!.intervals.join('\n')) throw new Error(`run ${run + 1}: the trackers recorded different intervals (${got.incremental!.intervals.length} against ${got.relist!.intervals.length})`)
  results.push({ incremental: got.incremental!.ms, relist: got.relist!.ms, intervals: got.incremental!.intervals.length })
  load.push(loadavg()[0]!)
  const r = results[results.length - 1]!
  console.log(`run ${run + 1}: incremental ${r.incremental.toFixed(3)} ms/submission, full relist ${r.relist.toFixed(3)} ms/submission (${r.intervals} intervals, the same in both)`)
}
const inc = median(results.map((r) => r.incremental))
const rel = median(results.map((r) => r.relist))
console.log(`\n| tracker CPU per submission (${COUNT} workloads, waves of ${WAVE}) | median of ${RUNS} | target |\n| --- | --- | --- |`)
console.log(`| incremental (changesSince + HoldingsIndex, one transaction a pass) | ${inc.toFixed(3)} ms | <= ${TARGET_MS} ms |`)
console.log(`| baseline: full relist each pass | ${rel.toFixed(3)} ms | - |`)
console.log(`ratio ${(rel / inc).toFixed(1)}x`)
const notes = `1-minute load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)} on ${cpus().length} cores (shared machine; CPU time, not wall time, is measured)`
console.log(notes)
writeFileSync(
  args.out,
  JSON.stringify(
    {
      machine: `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores); ${notes}`,
      node: process.version,
      date: new Date().toISOString(),
      scenarios: [{ name: `allocation-interval tracker, SQLite, ${COUNT} one-GPU workloads in waves of ${WAVE} per pass`, metric: 'tracker CPU per submission', value: round3(inc), unit: 'ms', target: TARGET_MS, better: 'lower', baseline: { name: 'full relist each pass (the tracker before)', value: round3(rel) } }],
    },
    null,
    2,
  ) + '\n',
)
