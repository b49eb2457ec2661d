// npm run bench:store — Store write throughput (single creates, 10-write commits) and label-selector lists, on SQLite and PostgreSQL.
//
// Every run opens a fresh database (a temporary SQLite file, or a fresh schema on PostgreSQL) and
// writes for about two seconds per scenario; the table shows medians of 3 runs (--quick: 1), and
// bench/results/store.json keeps every figure with its target.
//   sqlite NORMAL  WAL, synchronous=NORMAL (the default: durable against a process crash)
//   sqlite FULL    WAL, synchronous=FULL (an fsync per commit: durable against power loss)
//   postgres       GPUPLANE_BENCH_POSTGRES or postgres://postgres@127.0.0.1:5432/test, one
//                  client awaiting each write, and 8 clients writing at once through the pool
//                  (what several request handlers or replicas do)
// Writes are Workload-sized objects (~400 bytes of JSON). The list scenario stores 10,000 Nodes
// with two labels and lists those matching `zone=east` (1%): the stores filter in SQL; the baseline
// is the same list filtered in JS after parsing every row.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { matchesLabels, parseLabelSelector } from '../src/api/labels.ts'
import { openStore, type NewObject, type Store } from '../src/store/index.ts'
import { median } from './stats.ts'

const POSTGRES = process.env.GPUPLANE_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const SECONDS = 2

interface Backend {
  name: string
  open(): Promise<{ store: Store; dispose(): Promise<void> }>
}

const sqlite = (synchronous: 'NORMAL' | 'FULL'): Backend => ({
  name: `sqlite ${synchronous}`,
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'gpuplane-bench-store-'))
    const store = await openStore({ sqlite: join(dir, 'store.db'), sqliteOptions: { synchronous } })
    return {
      store,
      async dispose() {
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  },
})

const postgres: Backend = {
  name: 'postgres',
  async open() {
    const schema = `gp_bench_${randomBytes(6).toString('hex')}`
    const admin = new pg.Client(POSTGRES)
    await admin.connect()
    await admin.query(`CREATE SCHEMA ${schema}`)
    const store = await openStore({ postgres: POSTGRES, postgresOptions: { schema } })
    return {
      store,
      async dispose() {
        await store.close()
        await admin.query(`DROP SCHEMA ${schema} CASCADE`)
        await admin.end()
      },
    }
  },
}

function workload(name: string): NewObject {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace: 'bench', labels: { team: 'bench', tier: 'standard' } },
    spec: {
      priority: 100,
      resources: { cpu: '4', memory: '16Gi' },
      resourceClaims: [{ name: 'gpus', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: 1 } }] } } }],
    },
  }
}

/** Runs `step` (which writes `perStep` objects) from `clients` loops for SECONDS; writes per second. */
async function rate(clients: number, perStep: number, step: (client: number, i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  const deadline = t0 + SECONDS * 1000
  let steps = 0
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await step(c, i)
        steps++
      }
    }),
  )
  return (steps * perStep) / ((performance.now() - t0) / 1000)
}

interface Figures {
  creates: number
  commits10: number
  concurrentCreates?: number
  listSql: number
  listJs: number
}

async function measure(backend: Backend): Promise<Figures> {
  const figures: Partial<Figures> = {}
  const withStore = async (fn: (store: Store) => Promise<void>) => {
    const { store, dispose } = await backend.open()
    try {
      await fn(store)
    } finally {
      await dispose()
    }
  }
  await withStore(async (store) => {
    figures.creates = await rate(1, 1, (_, i) => store.create(workload(`w-${i}`)))
  })
  await withStore(async (store) => {
    figures.commits10 = await rate(1, 10, (_, i) => store.commit(Array.from({ length: 10 }, (_, j) => ({ op: 'create' as const, object: workload(`w-${i}-${j}`) }))))
  })
  if (backend.name === 'postgres') {
    await withStore(async (store) => {
      figures.concurrentCreates = await rate(8, 1, (c, i) => store.create(workload(`w-${c}-${i}`)))
    })
  }
  await withStore(async (store) => {
    const nodes = Array.from({ length: 10_000 }, (_, i) => ({
      op: 'create' as const,
      object: { apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${i}`, labels: { zone: i % 100 === 0 ? 'east' : 'west', 'gpuplane.io/cluster': `c${i % 10}` } }, spec: { gpus: 8 } },
    }))
    for (let i = 0; i < nodes.length; i += 500) await store.commit(nodes.slice(i, i + 500))
    const selector = parseLabelSelector('zone=east')
    const timeList = async (fn: () => Promise<number>) => {
      await fn()
      const t0 = performance.now()
      for (let i = 0; i < 5; i++) if ((await fn()) !== 100) throw new Error('the selector must match 100 nodes')
      return (performance.now() - t0) / 5
    }
    figures.listSql = await timeList(async () => (await store.list('Node', { labelSelector: selector })).items.length)
    figures.listJs = await timeList(async () => (await store.list('Node')).items.filter((o) => matchesLabels(o.metadata.labels, selector)).length)
  })
  return figures as Figures
}


async function main(): Promise<void> {
  const runs = process.argv.includes('--quick') ? 1 : 3
  const backends = [sqlite('NORMAL'), sqlite('FULL'), postgres]
  const results: Record<string, Figures[]> = {}
  for (const b of backends) {
    results[b.name] = []
    for (let i = 0; i < runs; i++) {
      process.stderr.write(`${b.name} run ${i + 1}/${runs}...\n`)
      results[b.name].push(await measure(b))
    }
  }
  const m = (name: string, f: (x: Figures) => number | undefined) => Math.round(median(results[name].map((x) => f(x) ?? 0)))
  const ms = (name: string, f: (x: Figures) => number) => Math.round(median(results[name].map(f)) * 10) / 10
  const writes = (name: string, metric: string, value: number, target: number) => ({ name, metric, value, unit: 'writes/s', target, better: 'higher' as const })
  const scenarios = [
    // The server's target is 1,000 submissions/s on SQLite; a submission is one create and one
    // scheduling commit, so the store should take ≥ 2,000 single writes/s with room to spare.
    writes('sqlite NORMAL: single creates', 'writes/s', m('sqlite NORMAL', (x) => x.creates), 2000),
    writes('sqlite NORMAL: 10-write commits', 'writes/s', m('sqlite NORMAL', (x) => x.commits10), 10000),
    { ...writes('sqlite FULL: single creates', 'writes/s', m('sqlite FULL', (x) => x.creates), 200), baseline: { name: 'sqlite NORMAL: single creates', value: m('sqlite NORMAL', (x) => x.creates) } },
    writes('sqlite FULL: 10-write commits', 'writes/s', m('sqlite FULL', (x) => x.commits10), 2000),
    // PostgreSQL flushes its WAL at every COMMIT; pg_test_fsync measures about 270 fdatasync/s on
    // this machine's disk, so one client awaiting each write is bound near that, and the targets
    // ask for most of it. Group commit lets 8 clients share flushes: they must beat one per write.
    writes('postgres: single creates, 1 client', 'writes/s', m('postgres', (x) => x.creates), 200),
    { ...writes('postgres: single creates, 8 clients', 'writes/s', m('postgres', (x) => x.concurrentCreates), 1000), baseline: { name: 'postgres: single creates, 1 client', value: m('postgres', (x) => x.creates) } },
    writes('postgres: 10-write commits, 1 client', 'writes/s', m('postgres', (x) => x.commits10), 2000),
    ...backends.map((b) => ({
      name: `${b.name}: list 10,000 Nodes by zone=east (1%)`,
      metric: 'latency',
      value: ms(b.name, (x) => x.listSql),
      unit: 'ms',
      target: 100,
      better: 'lower' as const,
      baseline: { name: 'filtered in JS after parsing every row', value: ms(b.name, (x) => x.listJs) },
    })),
  ]
  const report = { machine: `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores)`, node: process.version, date: new Date().toISOString(), scenarios, runs: results }
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true })
  writeFileSync(join(import.meta.dirname, 'results', 'store.json'), JSON.stringify(report, null, 2) + '\n')
  console.log(`\nstore benchmark — ${report.machine}, Node ${report.node}, medians of ${runs} runs\n`)
  const rows = scenarios.map((s) => [
    s.name,
    `${s.value} ${s.unit}`,
    `${s.better === 'higher' ? '>=' : '<='} ${s.target} ${s.unit}`,
    'baseline' in s && s.baseline ? `${s.baseline.value} ${s.unit} (${s.baseline.name})` : '',
    (s.better === 'higher' ? s.value >= s.target : s.value <= s.target) ? 'ok' : 'MISSED',
  ])
  const header = ['scenario', 'median', 'target', 'baseline', '']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  for (const r of [header, ...rows]) console.log(r.map((x, i) => String(x).padEnd(widths[i])).join('  '))
  console.log('\nwrote bench/results/store.json')
}

await main()
