// npm run bench:allocator — allocator throughput and search cost on generated clusters.
//
// Each scenario runs in a fresh child process (so peak RSS is the scenario's own), several times;
// the table shows medians, and bench/results/allocator.json keeps every figure with its target.
//   (a) 5,000 single-GPU claims with a productName selector on 500 nodes x 8 H100 (the shape of
//       upstream scheduler_perf's SchedulingWithResourceClaimTemplate/5000pods_500nodes).
//   (b) 5,000 nodes x 8 H100 in DynamicMIG layout (every MIG placement a partitionable device;
//       10% of the nodes share GPUs by memory instead), 10,000 mixed claims.
//   (c) the adversarial matchAttribute case of kubernetes/kubernetes#131730, with upstream's plain
//       search (gpuplane's pruning off) run beside it as the baseline.
// The driver places each claim like a minimal scheduler: nodes in order from a cursor per claim
// shape, skipping nodes where that shape already failed (no departures happen in these runs).
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import type { ResourceClaim, ResourceSlice } from '../src/api/resource-v1.ts'
import { allocate, AllocationState, Snapshot } from '../src/allocator/index.ts'
import { classes, claimOf, dynamicMigNode, H100, NV, sharedGpuNode, wholeGpuNode } from './clusters.ts'
import { median } from './stats.ts'

interface Measurement {
  claims: number
  allocated: number
  seconds: number
  setupSeconds: number
  rssMB: number
  perClaimMs?: number[]
  outcome?: string
}

const SCENARIOS: Record<string, () => Measurement> = { a: scenarioA, b: scenarioB, c: scenarioC, 'c-baseline': scenarioCBaseline }

function place(snapshot: Snapshot, state: AllocationState, nodes: string[], claims: ResourceClaim[], shape: (c: ResourceClaim) => string): number {
  const cursor = new Map<string, number>()
  let allocated = 0
  for (const claim of claims) {
    const key = shape(claim)
    for (let i = cursor.get(key) ?? 0; i < nodes.length; i++) {
      const outcome = allocate(snapshot, state, [claim], { node: { name: nodes[i] } })
      if (outcome.ok) {
        state.commit(outcome.allocations[0])
        allocated++
        cursor.set(key, i)
        break
      }
      cursor.set(key, i + 1)
    }
  }
  return allocated
}

function timed<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint()
  const v = fn()
  return [v, Number(process.hrtime.bigint() - t0) / 1e9]
}

function rssMB(): number {
  return process.resourceUsage().maxRSS / 1024
}

function scenarioA(): Measurement {
  const [setup, setupSeconds] = timed(() => {
    const nodes = Array.from({ length: 500 }, (_, i) => `node-${String(i).padStart(3, '0')}`)
    const snapshot = new Snapshot({ slices: nodes.map(wholeGpuNode), classes: classes() })
    const claims = Array.from({ length: 5000 }, (_, i) => claimOf(`claim-${i}`, 'gpu.nvidia.com', { selector: `device.attributes['${NV}'].productName == '${H100}'` }))
    return { nodes, snapshot, claims, state: new AllocationState(snapshot) }
  })
  const [allocated, seconds] = timed(() => place(setup.snapshot, setup.state, setup.nodes, setup.claims, () => 'one'))
  return { claims: setup.claims.length, allocated, seconds, setupSeconds, rssMB: rssMB() }
}

function scenarioB(): Measurement {
  const [setup, setupSeconds] = timed(() => {
    const nodes = Array.from({ length: 5000 }, (_, i) => `node-${String(i).padStart(4, '0')}`)
    const slices: ResourceSlice[] = []
    nodes.forEach((n, i) => (i < 4500 ? slices.push(...dynamicMigNode(n)) : slices.push(sharedGpuNode(n))))
    const snapshot = new Snapshot({ slices, classes: classes() })
    const product = `device.attributes['${NV}'].productName == '${H100}'`
    const profile = (p: string) => `device.attributes['${NV}'].profile == '${p}'`
    const nvlink = 'gpuplane.io/nvlinkDomain'
    // 30% one whole GPU, 15% two and 5% eight GPUs in one NVLink domain, 20% 1g and 10% 3g MIG, 20% memory shares.
    const claims = Array.from({ length: 10000 }, (_, i) => {
      const k = i % 20
      const name = `claim-${i}`
      if (k < 6) return claimOf(name, 'gpu.nvidia.com', { selector: product })
      if (k < 9) return claimOf(name, 'gpu.nvidia.com', { selector: product, count: 2, matchAttribute: nvlink })
      if (k < 10) return claimOf(name, 'gpu.nvidia.com', { selector: product, count: 8, matchAttribute: nvlink })
      if (k < 14) return claimOf(name, 'mig.nvidia.com', { selector: profile('1g.10gb') })
      if (k < 16) return claimOf(name, 'mig.nvidia.com', { selector: profile('3g.40gb') })
      return claimOf(name, 'shared-gpu.nvidia.com', { memory: k < 18 ? '10Gi' : '20Gi' })
    })
    return { nodes, snapshot, claims, state: new AllocationState(snapshot), devices: slices.reduce((n, s) => n + (s.spec.devices?.length ?? 0), 0) }
  })
  console.error(`  (b) ${setup.devices} devices in ${setup.nodes.length} nodes`)
  const [allocated, seconds] = timed(() => place(setup.snapshot, setup.state, setup.nodes, setup.claims, (c) => JSON.stringify(c.spec)))
  return { claims: setup.claims.length, allocated, seconds, setupSeconds, rssMB: rssMB() }
}

/**
 * kubernetes/kubernetes#131730: a claim for 4 GPUs and a NIC that must share a PCIe root. Every GPU
 * is on root A, the NIC on root B, so no combination works — and upstream's search tries them all
 * (C(64,4) = 635,376 GPU sets, each with the NIC) before it can say so.
 */
function adversarial(pruning: boolean): Measurement {
  const gpus: ResourceSlice = {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: 'node-0-gpus' },
    spec: { driver: NV, pool: { name: 'node-0', generation: 0, resourceSliceCount: 1 }, nodeName: 'node-0', devices: Array.from({ length: 64 }, (_, i) => ({ name: `gpu-${String(i).padStart(2, '0')}`, attributes: { type: { string: 'gpu' }, 'resource.kubernetes.io/pcieRoot': { string: 'pci0000:a' } } })) },
  }
  const nic: ResourceSlice = {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: 'node-0-nic' },
    spec: { driver: 'nic.example.com', pool: { name: 'node-0-nic', generation: 0, resourceSliceCount: 1 }, nodeName: 'node-0', devices: [{ name: 'nic-0', attributes: { 'resource.kubernetes.io/pcieRoot': { string: 'pci0000:b' } } }] },
  }
  const nicClass = { apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass' as const, metadata: { name: 'nic' }, spec: { selectors: [{ cel: { expression: "device.driver == 'nic.example.com'" } }] } }
  const snapshot = new Snapshot({ slices: [gpus, nic], classes: [...classes(), nicClass] })
  const state = new AllocationState(snapshot)
  const claim = (i: number): ResourceClaim => ({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name: `adv-${i}`, namespace: 'bench' },
    spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: 4 } }, { name: 'nic', exactly: { deviceClassName: 'nic' } }], constraints: [{ matchAttribute: 'resource.kubernetes.io/pcieRoot' }] } },
  })
  const runs = pruning ? 50 : 3
  const perClaimMs: number[] = []
  let outcome = ''
  const [, seconds] = timed(() => {
    for (let i = 0; i < runs; i++) {
      const [o, s] = timed(() => allocate(snapshot, state, [claim(i)], { node: { name: 'node-0' }, pruning }))
      perClaimMs.push(s * 1000)
      outcome = o.ok ? 'allocated' : o.code
    }
  })
  return { claims: runs, allocated: 0, seconds, setupSeconds: 0, rssMB: rssMB(), perClaimMs, outcome }
}

function scenarioC(): Measurement {
  return adversarial(true)
}

function scenarioCBaseline(): Measurement {
  return adversarial(false)
}

// ------------------------------------------------------------------------------------------------


function runChild(name: string): Measurement {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--max-old-space-size=4096', import.meta.filename, '--scenario', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  return JSON.parse(out.trim().split('\n').pop()!) as Measurement
}

function parent(): void {
  const quick = process.argv.includes('--quick')
  const reps = { a: quick ? 1 : 5, b: quick ? 1 : 3, c: 1, 'c-baseline': 1 } as Record<string, number>
  const results: Record<string, Measurement[]> = {}
  for (const name of Object.keys(SCENARIOS)) {
    results[name] = []
    for (let i = 0; i < reps[name]; i++) {
      process.stderr.write(`scenario ${name} run ${i + 1}/${reps[name]}...\n`)
      results[name].push(runChild(name))
    }
  }
  const rate = (m: Measurement) => m.claims / m.seconds
  const a = results.a
  const b = results.b
  const c = results.c[0]
  const cb = results['c-baseline'][0]
  const scenarios = [
    { name: 'a: 5,000 single-GPU claims, 500 nodes x 8 H100', metric: 'claims/s', value: round(median(a.map(rate))), unit: 'claims/s', target: 5000, better: 'higher', baseline: { name: 'upstream scheduler_perf 5000pods_500nodes (published, 6-core workstation)', value: 273 } },
    { name: 'a: claims allocated', metric: 'allocated', value: median(a.map((m) => m.allocated)), unit: 'claims', target: 4000, better: 'higher' },
    { name: 'b: 10,000 mixed claims, 5,000 nodes x 8 H100 dynamic MIG', metric: 'claims/s', value: round(median(b.map(rate))), unit: 'claims/s', target: 2000, better: 'higher' },
    { name: 'b: peak RSS', metric: 'peak RSS', value: round(median(b.map((m) => m.rssMB))), unit: 'MB', target: 2048, better: 'lower' },
    { name: 'b: claims allocated', metric: 'allocated', value: median(b.map((m) => m.allocated)), unit: 'claims', target: 10000, better: 'higher' },
    { name: 'b: setup (build slices and snapshot)', metric: 'seconds', value: round(median(b.map((m) => m.setupSeconds))), unit: 's', target: 60, better: 'lower' },
    { name: 'c: adversarial matchAttribute (#131730), per claim', metric: 'latency', value: round(median(c.perClaimMs!), 3), unit: 'ms', target: 100, better: 'lower', baseline: { name: `upstream search (pruning off), ${cb.outcome}`, value: round(median(cb.perClaimMs!), 1) } },
  ]
  const report = { machine: `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores; one used)`, node: process.version, date: new Date().toISOString(), scenarios, runs: results }
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true })
  writeFileSync(join(import.meta.dirname, 'results', 'allocator.json'), JSON.stringify(report, null, 2) + '\n')
  console.log(`\nallocator benchmark — ${report.machine}, Node ${report.node}, medians\n`)
  const rows = scenarios.map((s) => [s.name, `${s.value} ${s.unit}`, `${s.better === 'higher' ? '>=' : '<='} ${s.target} ${s.unit}`, (s.better === 'higher' ? s.value >= s.target : s.value <= s.target) ? 'ok' : 'MISSED', s.baseline ? `${s.baseline.value} (${s.baseline.name})` : ''])
  const header = ['scenario', 'median', 'target', '', 'baseline']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  for (const r of [header, ...rows]) console.log(r.map((x, i) => String(x).padEnd(widths[i])).join('  '))
  console.log(`\nwrote bench/results/allocator.json`)
}

function round(x: number, digits = 0): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

const i = process.argv.indexOf('--scenario')
if (i >= 0) {
  const m = SCENARIOS[process.argv[i + 1]]()
  process.stdout.write(JSON.stringify(m) + '\n')
} else {
  parent()
}
