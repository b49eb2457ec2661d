// npm run bench:scheduler — scheduler throughput on the Alibaba trace cluster and a generated 5,000-node cluster.
//
// Each scenario runs in a fresh child process, several times; the table shows medians, and
// bench/results/scheduler.json keeps every figure with its target. Workloads are streamed in one
// by one (scheduleOne, or scheduleGang for gangs) until the cluster is full, plus 2% more that can
// no longer fit, so the cost of explaining a refusal is measured too. Every run hashes its
// decisions (workload, node, devices); the runs of a scenario must agree.
//   trace   the 1,213 nodes (6,212 GPUs) of the Alibaba GPU trace node list
//           (test/fixtures/fgd/openb_node_list_gpu_node.csv, github.com/alibaba/clusterdata,
//           cluster-trace-gpu-v2023), whole GPUs; 1-GPU workloads of 2 CPUs and 8Gi.
//   single  5,000 nodes x 8 H100 (one NVLink domain per node, as publishHost publishes an HGX
//           host); 1-GPU workloads of 4 CPUs and 16Gi, default profile (binpack + topology).
//   gang    the same cluster; gangs of 4 workloads x 2 GPUs sharing an NVLink domain, all or
//           nothing (a 8-GPU data-parallel job); the rate counts member workloads.
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import type { ResourceSlice } from '../src/api/resource-v1.ts'
import type { Workload } from '../src/api/workload-v1alpha1.ts'
import { deviceClasses, publishHost } from '../src/inventory/publish.ts'
import { parseTraceNodes, traceNodeToHost } from '../src/inventory/trace.ts'
import type { HostInfo } from '../src/inventory/types.ts'
import { type Decision, Scheduler } from '../src/scheduler/scheduler.ts'
import type { SchedNode } from '../src/scheduler/types.ts'
import { clusterView } from '../src/scheduler/view.ts'
import { median } from './stats.ts'

interface Measurement {
  nodes: number
  gpus: number
  workloads: number
  placed: number
  seconds: number
  setupSeconds: number
  rssMB: number
  decisionsHash: string
}

const TRACE_NODES = join(import.meta.dirname, '..', 'test', 'fixtures', 'fgd', 'openb_node_list_gpu_node.csv')

function timed<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint()
  const v = fn()
  return [v, Number(process.hrtime.bigint() - t0) / 1e9]
}

function workload(name: string, gpus: number, cpu: string, memory: string, extra: Partial<Workload['spec']> = {}): Workload {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace: 'bench' },
    spec: {
      resources: { cpu, memory },
      resourceClaims: [
        {
          name: 'gpus',
          spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: gpus } }], ...(gpus > 1 ? { constraints: [{ matchAttribute: 'gpuplane.io/nvlinkDomain' }] } : {}) } },
        },
      ],
      ...extra,
    },
  }
}

function build(hosts: HostInfo[], node: (h: HostInfo) => SchedNode) {
  const slices: ResourceSlice[] = hosts.flatMap((h) => publishHost(h))
  const view = clusterView({ nodes: hosts.map(node), slices, classes: deviceClasses() })
  return { scheduler: new Scheduler(view), gpus: hosts.reduce((n, h) => n + h.gpus.length, 0), nodes: hosts.length }
}

function hgx(i: number): HostInfo {
  const name = `node-${String(i).padStart(4, '0')}`
  return { node: name, mode: 'whole', gpus: Array.from({ length: 8 }, (_, g) => ({ index: g, uuid: `GPU-${name}-${g}`, productName: 'NVIDIA H100 80GB HBM3', model: 'H100-80GB', nvlinkDomain: `${name}-nvl0`, numaNode: g < 4 ? 0 : 1, pcieRoot: `pci0000:${g < 4 ? '1a' : '9a'}` })) }
}

function hashDecisions(decisions: Decision[]): string {
  const h = createHash('sha256')
  for (const d of decisions) h.update(d.ok ? `${d.workload} ${d.node} ${d.allocations.flatMap((a) => a.devices?.results?.map((r) => r.device) ?? []).join(',')}\n` : `${d.workload} -\n`)
  return h.digest('hex').slice(0, 16)
}

/** Streams `count` workloads one by one and measures only the scheduling. */
function stream(setup: { scheduler: Scheduler; gpus: number; nodes: number }, setupSeconds: number, count: number, make: (i: number) => Workload): Measurement {
  const workloads = Array.from({ length: count }, (_, i) => make(i))
  const [decisions, seconds] = timed(() => workloads.map((w) => setup.scheduler.scheduleOne(w)))
  return { nodes: setup.nodes, gpus: setup.gpus, workloads: count, placed: decisions.filter((d) => d.ok).length, seconds, setupSeconds, rssMB: process.resourceUsage().maxRSS / 1024, decisionsHash: hashDecisions(decisions) }
}

function scenarioTrace(): Measurement {
  const [setup, setupSeconds] = timed(() => {
    const nodes = parseTraceNodes(readFileSync(TRACE_NODES, 'utf8'), TRACE_NODES).filter((n) => n.gpuCount > 0)
    const byName = new Map(nodes.map((n) => [n.name, n]))
    return build(
      nodes.map((n) => traceNodeToHost(n)),
      (h) => ({ name: h.node, labels: h.labels ?? {}, taints: [], cpuMilli: byName.get(h.node)!.cpuMilli, memoryBytes: byName.get(h.node)!.memoryMiB * 2 ** 20 }),
    )
  })
  return stream(setup, setupSeconds, Math.ceil(setup.gpus * 1.02), (i) => workload(`w-${i}`, 1, '2', '8Gi'))
}

function scenarioSingle(): Measurement {
  const [setup, setupSeconds] = timed(() => build(Array.from({ length: 5000 }, (_, i) => hgx(i)), (h) => ({ name: h.node, labels: {}, taints: [], cpuMilli: 192000, memoryBytes: 2048 * 2 ** 30 })))
  return stream(setup, setupSeconds, Math.ceil(setup.gpus * 1.02), (i) => workload(`w-${i}`, 1, '4', '16Gi'))
}

function scenarioGang(): Measurement {
  const [setup, setupSeconds] = timed(() => build(Array.from({ length: 5000 }, (_, i) => hgx(i)), (h) => ({ name: h.node, labels: {}, taints: [], cpuMilli: 192000, memoryBytes: 2048 * 2 ** 30 })))
  const gangs = Math.ceil((setup.gpus / 8) * 1.02)
  const members = (g: number) => Array.from({ length: 4 }, (_, m) => workload(`g${g}-m${m}`, 2, '8', '64Gi', { gang: { group: `g${g}`, minMember: 4 } }))
  const all = Array.from({ length: gangs }, (_, g) => members(g))
  const [decisions, seconds] = timed(() => all.flatMap((ms) => [...setup.scheduler.scheduleGang(ms, 4).values()]))
  return { nodes: setup.nodes, gpus: setup.gpus, workloads: decisions.length, placed: decisions.filter((d) => d.ok).length, seconds, setupSeconds, rssMB: process.resourceUsage().maxRSS / 1024, decisionsHash: hashDecisions(decisions) }
}

const SCENARIOS: Record<string, () => Measurement> = { trace: scenarioTrace, single: scenarioSingle, gang: scenarioGang }


function round(x: number, digits = 0): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

function runChild(name: string): Measurement {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--max-old-space-size=4096', import.meta.filename, '--scenario', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  return JSON.parse(out.trim().split('\n').pop()!) as Measurement
}

function parent(): void {
  const runs = process.argv.includes('--quick') ? 1 : 3
  const results: Record<string, Measurement[]> = {}
  for (const name of Object.keys(SCENARIOS)) {
    results[name] = []
    for (let i = 0; i < runs; i++) {
      process.stderr.write(`scenario ${name} run ${i + 1}/${runs}...\n`)
      results[name].push(runChild(name))
    }
  }
  const rate = (m: Measurement) => m.workloads / m.seconds
  const same = (ms: Measurement[]) => new Set(ms.map((m) => m.decisionsHash)).size === 1
  const describe = (name: string, m: Measurement) => `${name}: ${m.workloads.toLocaleString('en')} workloads, ${m.nodes.toLocaleString('en')} nodes, ${m.gpus.toLocaleString('en')} GPUs`
  const scenarios = [
    { name: describe('trace', results.trace[0]), metric: 'workloads/s', value: round(median(results.trace.map(rate))), unit: 'workloads/s', target: 3000, better: 'higher' },
    { name: describe('single', results.single[0]), metric: 'workloads/s', value: round(median(results.single.map(rate))), unit: 'workloads/s', target: 3000, better: 'higher' },
    { name: describe('gang (4 x 2 GPUs)', results.gang[0]), metric: 'workloads/s', value: round(median(results.gang.map(rate))), unit: 'workloads/s', target: 500, better: 'higher' },
    ...Object.entries(results).map(([name, ms]) => ({ name: `${name}: placed`, metric: 'placed', value: median(ms.map((m) => m.placed)), unit: 'workloads', target: name === 'gang' ? ms[0].gpus / 2 : ms[0].gpus, better: 'higher' })),
    { name: 'single: peak RSS', metric: 'peak RSS', value: round(median(results.single.map((m) => m.rssMB))), unit: 'MB', target: 2048, better: 'lower' },
    ...Object.entries(results).map(([name, ms]) => ({ name: `${name}: identical decisions in ${ms.length} runs`, metric: 'deterministic', value: same(ms) ? 1 : 0, unit: '', target: 1, better: 'higher' })),
  ]
  const report = { machine: `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores; one used)`, node: process.version, date: new Date().toISOString(), scenarios, runs: results }
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true })
  writeFileSync(join(import.meta.dirname, 'results', 'scheduler.json'), JSON.stringify(report, null, 2) + '\n')
  console.log(`\nscheduler benchmark — ${report.machine}, Node ${report.node}, medians of ${runs} runs\n`)
  const rows = scenarios.map((s) => [s.name, `${s.value} ${s.unit}`, `${s.better === 'higher' ? '>=' : '<='} ${s.target} ${s.unit}`, (s.better === 'higher' ? s.value >= s.target : s.value <= s.target) ? 'ok' : 'MISSED'])
  const header = ['scenario', 'median', 'target', '']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  for (const r of [header, ...rows]) console.log(r.map((x, i) => String(x).padEnd(widths[i])).join('  '))
  console.log('\nwrote bench/results/scheduler.json')
}

const arg = process.argv.indexOf('--scenario')
if (arg >= 0) process.stdout.write(JSON.stringify(SCENARIOS[process.argv[arg + 1]]()) + '\n')
else parent()
