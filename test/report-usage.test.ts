// `gpuplane report usage` against a real `gpuplane server --gpu-prices FILE` process: the cost is the GPU-hours allocated × the file's price per model, and the CLI's --from/--to (ISO and relative), -n/--namespace, --step and its errors do what its help says.
//
// The allocation intervals are written into the server's SQLite file before it starts (closed
// intervals in the past, on minute boundaries), so every expected number is known exactly; the
// samples are pushed through the agents' route (POST telemetry/samples), which charges them to
// those intervals.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { main } from '../src/cli/main.ts'
import { ensureAdminToken } from '../src/server/auth.ts'
import { TELEMETRY_SAMPLES_PATH } from '../src/server/telemetry-routes.ts'
import { openStore, openTelemetryStore } from '../src/store/index.ts'
import type { ChargebackReport, ChargebackRow } from '../src/telemetry/chargeback.ts'
import type { AllocationInterval } from '../src/telemetry/types.ts'
import { api, startServer, stopServer, type ServerProcess } from './server-invariants.ts'

const MIN = 60_000
const H = 3_600_000
const DAY = 24 * H

/** The prices file given to `gpuplane server --gpu-prices`: a currency other than the default, both entry forms, and no price for L4-24GB. */
const PRICES = `currency: EUR
prices:
  H100-80GB: {perGpuHour: 3.5, source: test}
  A100-80GB: 2
`
const PRICE: Record<string, number> = { 'H100-80GB': 3.5, 'A100-80GB': 2 }

/** Start of the intervals: about four hours ago, on a minute boundary. */
const T0 = Math.floor((Date.now() - 4 * H) / MIN) * MIN

const INTERVALS: AllocationInterval[] = [
  // research/train: a whole H100 for 2 h -> 2 GPU-hours, 7 EUR.
  { node: 'n1', device: 'gpu-0', gpuModel: 'H100-80GB', namespace: 'research', workload: 'train', share: 1, gpuUuid: 'GPU-h100', from: T0, to: T0 + 2 * H },
  // research/tune: a 3g.40gb MIG device of an A100 (half of it) for 1 h -> 0.5 GPU-hours, 1 EUR.
  { node: 'n1', device: 'gpu-1-mig-3g40gb-9-4', gpuModel: 'A100-80GB', namespace: 'research', workload: 'tune', share: 0.5, gpuUuid: 'GPU-a100', partition: true, from: T0 + 30 * MIN, to: T0 + 90 * MIN },
  // vision/infer: a whole L4 for 1 h -> 1 GPU-hour, unpriced (0).
  { node: 'n2', device: 'gpu-0', gpuModel: 'L4-24GB', namespace: 'vision', workload: 'infer', share: 1, gpuUuid: 'GPU-l4', from: T0, to: T0 + H },
]

/** What the report over [from, to) must say per workload: the intervals clipped to the range × share, and the price. */
function expected(from: number, to: number, namespace?: string): Map<string, { hours: number; cost: number }> {
  const out = new Map<string, { hours: number; cost: number }>()
  for (const iv of INTERVALS) {
    if (namespace !== undefined && iv.namespace !== namespace) continue
    const ms = Math.max(0, Math.min(iv.to!, to) - Math.max(iv.from, from))
    if (ms === 0) continue
    const hours = (ms / H) * iv.share
    out.set(`${iv.namespace}/${iv.workload}`, { hours, cost: hours * (PRICE[iv.gpuModel] ?? 0) })
  }
  return out
}

const close = (a: number, b: number, what: string, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} ≈ ${b}`)

/** Checks every workload and namespace line, and the totals, against expected(report.from, report.to). */
function checkRows(r: ChargebackReport, namespace?: string): void {
  const want = expected(r.from, r.to, namespace)
  assert.deepEqual(r.workloads.map((w) => `${w.namespace}/${w.workload}`), [...want.keys()].sort(), 'the workloads that held a GPU in the range, and only those')
  for (const w of r.workloads) {
    const e = want.get(`${w.namespace}/${w.workload}`)!
    close(w.allocatedGpuHours, e.hours, `${w.namespace}/${w.workload} allocated GPU-hours`)
    close(w.gpuCost, e.cost, `${w.namespace}/${w.workload} GPU cost = GPU-hours × price`)
    close(w.totalCost, e.cost, `${w.namespace}/${w.workload} total cost (no tokens)`)
  }
  const byNs = new Map<string, { hours: number; cost: number }>()
  for (const [key, e] of want) {
    const ns = key.split('/')[0]!
    const acc = byNs.get(ns) ?? { hours: 0, cost: 0 }
    byNs.set(ns, { hours: acc.hours + e.hours, cost: acc.cost + e.cost })
  }
  assert.deepEqual(r.namespaces.map((n) => n.namespace), [...byNs.keys()].sort(), 'namespace lines')
  for (const n of r.namespaces) {
    close(n.allocatedGpuHours, byNs.get(n.namespace)!.hours, `${n.namespace} allocated GPU-hours`)
    close(n.totalCost, byNs.get(n.namespace)!.cost, `${n.namespace} cost`)
  }
  close(r.totals.allocatedGpuHours, [...want.values()].reduce((a, e) => a + e.hours, 0), 'total GPU-hours')
  close(r.totals.totalCost, [...want.values()].reduce((a, e) => a + e.cost, 0), 'total cost')
}

describe('gpuplane report usage against gpuplane server --gpu-prices', () => {
  let dir: string
  let server: ServerProcess
  let token: string
  const report = async (...args: string[]) => {
    let out = ''
    let err = ''
    const code = await main(['node', 'gpuplane', 'report', 'usage', ...args, '--server', server.url, '--token', token], (s) => void (out += s), (s) => void (err += s))
    return { code, out, err }
  }
  const json = async (...args: string[]): Promise<ChargebackReport> => {
    const r = await report(...args, '-o', 'json')
    assert.equal(r.code, 0, `report usage ${args.join(' ')} exits 0: ${r.err}`)
    return JSON.parse(r.out) as ChargebackReport
  }
  const row = (r: ChargebackReport, ns: string, wl?: string): ChargebackRow => {
    const found = (wl === undefined ? r.namespaces : r.workloads).find((x) => x.namespace === ns && x.workload === wl)
    assert.ok(found, `a line for ${ns}/${wl ?? '-'}`)
    return found
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gp-report-'))
    const db = join(dir, 'g.db')
    const store = await openStore({ sqlite: db })
    try {
      token = (await ensureAdminToken(store)).generated!
      const telemetry = openTelemetryStore(store)
      for (const iv of INTERVALS) {
        const { to, ...open } = iv
        await telemetry.openInterval(open)
        await telemetry.closeInterval(iv, to!)
      }
    } finally {
      await store.close()
    }
    writeFileSync(join(dir, 'prices.yaml'), PRICES)
    server = await startServer(['--db', db, '--gpu-prices', join(dir, 'prices.yaml'), '--no-gateway'], { GPUPLANE_ADMIN_TOKEN: '' })
    // train's H100 at 50% every minute it was held (mid-minute): 1 GPU-hour used of 2 held.
    const samples = Array.from({ length: 120 }, (_, k) => ({ time: T0 + k * MIN + 30_000, node: 'n1', device: 'gpu-0', uuid: 'GPU-h100', smUtil: 50, memUsedBytes: 1e9, memTotalBytes: 80e9 }))
    const pushed = await api(server.url, token, 'POST', TELEMETRY_SAMPLES_PATH, { node: 'n1', agentId: 'report-test', seq: 1, samples })
    assert.equal(pushed.status, 200, JSON.stringify(pushed.body))
    assert.equal(pushed.body.attributed, 120, `every sample charged to train: ${JSON.stringify(pushed.body)}`)
  })
  after(async () => {
    if (server) await stopServer(server)
    rmSync(dir, { recursive: true, force: true })
  })

  it('charges GPU-hours × the price per GPU-hour of the model, in the file\'s currency; a model without a price is named', async () => {
    const r = await json('--from', new Date(T0 - H).toISOString())
    assert.equal(r.currency, 'EUR', 'the currency of the prices file')
    checkRows(r)
    // The numbers, spelled out: 2 h × 3.5 + 0.5 h × 2 = 8 for research; the L4 is unpriced.
    close(row(r, 'research', 'train').gpuCost, 7, 'train: 2 GPU-hours × 3.5')
    close(row(r, 'research', 'tune').gpuCost, 1, 'tune: 0.5 GPU-hours (half an A100 for an hour) × 2')
    close(row(r, 'research').totalCost, 8, 'research: 8')
    close(row(r, 'vision', 'infer').allocatedGpuHours, 1, 'infer held an L4 for an hour')
    assert.equal(row(r, 'vision', 'infer').gpuCost, 0, 'an unpriced model costs 0')
    assert.deepEqual(r.unpricedModels, ['L4-24GB'], 'only the L4 lacks a price')
    close(row(r, 'research', 'train').usedGpuHours, 1, 'train used 1 GPU-hour (50% for 2 h)', 1e-6)
    close(row(r, 'research', 'train').efficiency!, 0.5, 'train efficiency', 1e-6)

    const table = await report('--from', new Date(T0 - H).toISOString())
    assert.equal(table.code, 0, table.err)
    assert.match(table.out, /cost in EUR/, table.out)
    assert.match(table.out, /\nresearch\s+train\s+H100-80GB\s+2\.00\s+1\.00\s+50%\s+0\.00\s+0\s+7\.00\n/, table.out)
    assert.match(table.out, /\nresearch\s+tune\s+A100-80GB\s+0\.50\s+0\.00\s+0%\s+0\.00\s+0\s+1\.00\n/, table.out)
    assert.match(table.out, /\nTOTAL\s+-\s+\S+\s+3\.50\s+1\.00\s+\S+\s+0\.00\s+0\s+8\.00\n/, table.out)
    assert.match(table.out, /No price for L4-24GB \(charged 0\)/, 'says what is unpriced')
    assert.doesNotMatch(table.out, /No price for [^\n]*H100/, 'the priced models are not listed as unpriced')

    const csv = await report('--from', new Date(T0 - H).toISOString(), '-o', 'csv')
    assert.equal(csv.code, 0, csv.err)
    const lines = csv.out.trim().split('\n')
    assert.ok(lines.includes('research,train,H100-80GB,2,1,0.5,0,0,7'), csv.out)
    assert.ok(lines.includes('research,tune,A100-80GB,0.5,0,0,0,0,1'), csv.out)
    assert.ok(lines.includes('research,-,A100-80GB H100-80GB,2.5,1,0.4,0,0,8'), csv.out)
  })

  it('--from and --to (ISO) clip the intervals to the range; a range before any allocation has no GPU-hours', async () => {
    const mid = await json('--from', new Date(T0 - H).toISOString(), '--to', new Date(T0 + H).toISOString())
    assert.deepEqual([mid.from, mid.to], [T0 - H, T0 + H], 'the range asked for')
    checkRows(mid)
    close(row(mid, 'research', 'train').allocatedGpuHours, 1, 'train: its first hour only')
    close(row(mid, 'research', 'train').totalCost, 3.5, 'train: 1 GPU-hour × 3.5')
    close(row(mid, 'research', 'tune').allocatedGpuHours, 0.25, 'tune: 30 min of half an A100')
    close(row(mid, 'research', 'tune').usedGpuHours, 0, 'tune pushed no samples')
    close(row(mid, 'research', 'train').usedGpuHours, 0.5, 'train: 60 minutes at 50%', 1e-6)

    const beforeAll = await json('--from', new Date(T0 - 2 * H).toISOString(), '--to', new Date(T0).toISOString())
    assert.deepEqual([beforeAll.namespaces, beforeAll.workloads], [[], []], 'nobody held a GPU before T0')
    assert.equal(beforeAll.totals.allocatedGpuHours, 0, 'zero GPU-hours')
    assert.equal(beforeAll.totals.totalCost, 0, 'zero cost')

    const afterAll = await json('--from', new Date(T0 + 2 * H).toISOString(), '--to', 'now')
    assert.equal(afterAll.totals.allocatedGpuHours, 0, 'every interval ended at T0 + 2h')
  })

  it('-n/--namespace gives that namespace\'s lines only', async () => {
    const research = await json('--namespace', 'research', '--from', new Date(T0 - H).toISOString())
    assert.deepEqual(research.namespaces.map((n) => n.namespace), ['research'])
    assert.deepEqual(research.workloads.map((w) => w.workload), ['train', 'tune'])
    checkRows(research, 'research')
    close(research.totals.totalCost, 8, 'the totals are research\'s')
    assert.deepEqual(research.unpricedModels, [], 'the L4 of vision is not this report\'s')

    const vision = await report('-n', 'vision', '--from', new Date(T0 - H).toISOString(), '-o', 'csv')
    assert.equal(vision.code, 0, vision.err)
    assert.deepEqual(vision.out.trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 4).join(',')), ['vision,-,L4-24GB,1', 'vision,infer,L4-24GB,1'], vision.out)

    const nobody = await json('-n', 'nobody', '--from', new Date(T0 - H).toISOString())
    assert.deepEqual([nobody.namespaces, nobody.workloads, nobody.totals.allocatedGpuHours], [[], [], 0], 'a namespace that held nothing')
  })

  it('takes times relative to now (-3h, -150m, -7d) and "now"', async () => {
    const t1 = Date.now()
    const r = await json('--from', '-3h', '--to', '-150m')
    const t2 = Date.now()
    assert.ok(r.from >= t1 - 3 * H && r.from <= t2 - 3 * H, `--from -3h is 3 hours before now (${new Date(r.from).toISOString()})`)
    assert.ok(r.to >= t1 - 150 * MIN && r.to <= t2 - 150 * MIN, `--to -150m is 150 minutes before now (${new Date(r.to).toISOString()})`)
    checkRows(r)
    // T0 is 4 h (up to a minute more) before now: train (to T0+2h) and tune (T0+30m..T0+90m) overlap the range, infer (to T0+1h) does not.
    assert.deepEqual(r.workloads.map((w) => w.workload), ['train', 'tune'], 'the holders within [-3h, -150m)')
    close(row(r, 'research', 'train').allocatedGpuHours, 0.5, 'train held all 30 minutes', 1e-9)

    const week = await json('--from', '-7d')
    assert.ok(Math.abs(week.from - (Date.now() - 7 * DAY)) < 60_000, `-7d is a week ago (${new Date(week.from).toISOString()})`)
    checkRows(week)
    close(week.totals.allocatedGpuHours, 3.5, 'everything')

    const t3 = Date.now()
    const now = await json('--from', '-5h', '--to', 'now')
    assert.ok(now.to >= t3 && now.to <= Date.now(), '"now" is now')
    close(now.totals.allocatedGpuHours, 3.5, 'everything within the last 5 hours')
  })

  it('--step sets the cluster view\'s bucket (default 1h)', async () => {
    const from = new Date(T0 - H).toISOString()
    const to = new Date(T0 + 3 * H).toISOString()
    const hourly = await json('--from', from, '--to', to)
    assert.equal(hourly.cluster.stepMs, H, 'default 1h')
    const h100 = hourly.cluster.models.find((m) => m.gpuModel === 'H100-80GB')!
    assert.deepEqual(h100.points.map((p) => p.time - (T0 - H)), [0, 1, 2, 3].map((k) => k * H), 'four hourly buckets')
    assert.deepEqual(h100.points.map((p) => Math.round(p.allocatedPercent)), [0, 100, 100, 0], 'the H100 held from T0 to T0+2h')

    const half = await json('--from', from, '--to', to, '--step', '30m')
    assert.equal(half.cluster.stepMs, 30 * MIN, '--step 30m')
    const a100 = half.cluster.models.find((m) => m.gpuModel === 'A100-80GB')!
    assert.equal(a100.points.length, 8, 'eight half-hour buckets')
    assert.deepEqual(a100.points.map((p) => Math.round(p.allocatedPercent)), [0, 0, 0, 50, 50, 0, 0, 0], 'half the A100 from T0+30m to T0+90m')
    checkRows(half)

    const tooSmall = await report('--step', '30s')
    assert.equal(tooSmall.code, 2, 'invalid input')
    assert.match(tooSmall.err, /--step 30s must be at least 1m/)
    const word = await report('--step', 'hourly')
    assert.equal(word.code, 2, 'invalid input')
    assert.match(word.err, /--step "hourly" is not a duration/, word.err)
  })

  it('rejects a time it cannot read, and --from not before --to, with exit code 2 and a message naming the flag', async () => {
    const bad = await report('--from', 'yesterday')
    assert.equal(bad.code, 2)
    assert.match(bad.err, /--from yesterday is not a time; give an ISO time or date \(2026-11-01\), "now", or -7d, -24h, -30m/)
    assert.equal(bad.out, '', 'no report')
    const badTo = await report('--to', '-3w')
    assert.equal(badTo.code, 2)
    assert.match(badTo.err, /--to -3w is not a time/)
    const reversed = await report('--from', new Date(T0).toISOString(), '--to', new Date(T0 - H).toISOString())
    assert.equal(reversed.code, 2)
    assert.match(reversed.err, /--from \(.*\) must be before --to/)
    const format = await report('-o', 'xml')
    assert.equal(format.code, 2, 'an unknown output format')
  })
})
