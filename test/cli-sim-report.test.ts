// End-to-end tests of the simulation report and `gpuplane sim compare` on a tiny trace: the table, the files, the JSON, the errors.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { XMLValidator } from 'fast-xml-parser'
import { resolvePodLists, SHIPPED_TRACE_DIR } from '../src/cli/sim-compare.ts'
import { writeReport } from '../src/cli/sim-report.ts'
import { cli } from './cli-helpers.ts'
import { expectGpuplaneError } from './expect-error.ts'

const NODES = `sn,cpu_milli,memory_mib,gpu,model
node-0,32000,262144,8,V100M32
node-1,32000,131072,4,T4
node-2,16000,65536,2,T4
node-3,64000,262144,0,
`
const PODS = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec
pod-00,4000,8192,1,500,
pod-01,4000,8192,1,250,
pod-02,8000,16384,1,1000,
pod-03,2000,4096,0,0,
pod-04,4000,8192,2,1000,
pod-05,4000,8192,1,810,
pod-06,4000,8192,1,470,T4
pod-07,6000,8192,1,1000,
pod-08,4000,8192,1,320,
pod-09,2000,8192,1,650,
`

/** A folder with the tiny node list and the tiny pod list twice, as traces `tiny` and `tiny2`. */
function tinyTrace(): { dir: string; nodes: string; pods: string; pods2: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gpuplane-sim-'))
  const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name))
  return { dir, nodes: file('nodes.csv', NODES), pods: file('openb_pod_list_tiny.csv', PODS), pods2: file('openb_pod_list_tiny2.csv', PODS) }
}

test('sim compare on two tiny traces: an aligned table, the report with every chart, the JSON', async () => {
  const t = tinyTrace()
  const report = join(t.dir, 'report')
  const json = join(t.dir, 'compare.json')
  const r = await cli(['sim', 'compare', '--report', report, '--nodes', t.nodes, '--pods', t.pods, t.pods2, '--policies', 'fgd,bestfit', '--seeds', '2', '--json', json])
  assert.equal(r.code, 0, r.err)

  const lines = r.out.trimEnd().split('\n')
  assert.equal(lines.length, 5)
  assert.match(lines[0], /^trace\s+policy\s+seeds\s+ours mean ± sd\s+ours median\s+paper mean ± sd\s+paper median\s+ours − paper\s+time \(s\)$/)
  assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join('/')), ['tiny/bestfit', 'tiny/fgd', 'tiny2/bestfit', 'tiny2/fgd'], 'policies in the paper order')
  assert.ok(lines.every((l) => l.length === lines[0].length), 'columns aligned')
  assert.match(lines[1], /42, 43\s+\d+\.\d\d ± \d+\.\d\d\s+\d+\.\d\d\s+—\s+—\s+—\s+\d+\.\d$/, 'no paper numbers for a trace the artifact lacks')
  assert.match(r.err, /tiny\/fgd: 2 seeds in \d+\.\d s, unallocated at 100%: /)
  assert.match(r.err, /report: .*index\.html/)

  for (const trace of ['tiny', 'tiny2']) {
    for (const chart of ['unallocated', 'unallocated-zoom', 'fragmentation', 'at100']) assert.ok(existsSync(join(report, 'charts', `${trace}-${chart}.svg`)), `${trace}-${chart}`)
  }
  assert.ok(existsSync(join(report, 'charts', 'all-traces-at100.svg')))
  const html = readFileSync(join(report, 'index.html'), 'utf8')
  assert.equal(XMLValidator.validate(html), true)
  assert.equal((html.match(/<svg /g) ?? []).length, 9)
  assert.ok(html.includes('gpuplane sim compare --report'), 'the command is stated')

  const written = JSON.parse(readFileSync(json, 'utf8')) as { results: Record<string, unknown>[]; comparison: { trace: string; policy: string }[] }
  assert.equal(written.results.length, 4)
  const first = written.results[0] as { policy: string; trace: string; seeds: number[]; points: Record<string, number>[]; unallocatedAt100: Record<string, number>; elapsedMs: number }
  assert.deepEqual([first.trace, first.policy, first.seeds], ['tiny', 'fgd', [42, 43]])
  for (const key of ['arrivedPct', 'allocatedPct', 'unallocatedPct', 'fragPct']) assert.equal(typeof first.points[0][key], 'number', key)
  assert.deepEqual(Object.keys(first.unallocatedAt100).sort(), ['mean', 'median', 'sd'])
  assert.ok(first.elapsedMs > 0)
  assert.deepEqual(written.comparison.map((c) => `${c.trace}/${c.policy}`), ['tiny/bestfit', 'tiny/fgd', 'tiny2/bestfit', 'tiny2/fgd'])
  assert.deepEqual(JSON.parse(readFileSync(join(report, 'results.json'), 'utf8')).comparison, written.comparison)
})

test('sim compare --quiet prints the table only', async () => {
  const t = tinyTrace()
  const r = await cli(['sim', 'compare', '--report', join(t.dir, 'r'), '--nodes', t.nodes, '--pods', t.pods, '--policies', 'random', '--seeds', '1', '--quiet'])
  assert.equal(r.code, 0, r.err)
  assert.equal(r.err, '')
  assert.equal(r.out.trimEnd().split('\n').length, 2)
})

test('sim compare refuses unknown policies and traces, bad seed counts, unreadable node lists (exit 2, saying what to do)', async () => {
  const t = tinyTrace()
  const run = (...args: string[]) => cli(['sim', 'compare', '--report', join(t.dir, 'r'), '--nodes', t.nodes, '--pods', t.pods, ...args])
  const policy = await run('--policies', 'fgd,nope')
  assert.equal(policy.code, 2)
  assert.match(policy.err, /unknown policy nope; choose from random, dotprod, clustering, packing, bestfit, fgd, gpuplane/)
  const seeds = await run('--seeds', '0')
  assert.equal(seeds.code, 2)
  assert.match(seeds.err, /--seeds: expected a whole number from 1 to 1000, got "0"/)
  const trace = await cli(['sim', 'compare', '--report', join(t.dir, 'r'), '--pods', 'nosuch'])
  assert.equal(trace.code, 2)
  assert.match(trace.err, /--pods nosuch: no such file and no shipped trace variant of that name; variants: default, /)
  const nodes = await cli(['sim', 'compare', '--report', join(t.dir, 'r'), '--nodes', join(t.dir, 'missing.csv'), '--pods', t.pods])
  assert.equal(nodes.code, 2)
  assert.match(nodes.err, /--nodes: cannot read .*missing\.csv: ENOENT/)
})

test('--pods takes shipped variants by name, "all" of them, or paths, one trace name each', () => {
  const [d] = resolvePodLists(['default'])
  assert.deepEqual(d, { trace: 'default', file: join(SHIPPED_TRACE_DIR, 'openb_pod_list_default.csv') })
  const all = resolvePodLists(['all', 'cpu050'])
  assert.equal(all[0].trace, 'default')
  for (const v of ['cpu050', 'gpushare40', 'gpuspec10', 'multigpu20']) assert.ok(all.some((x) => x.trace === v), v)
  assert.equal(new Set(all.map((x) => x.trace)).size, all.length, 'a variant named twice is run once')
  const t = tinyTrace()
  const copy = join(mkdtempSync(join(tmpdir(), 'gpuplane-sim-')), 'openb_pod_list_tiny.csv')
  writeFileSync(copy, PODS)
  expectGpuplaneError(() => resolvePodLists([t.pods, copy]))
})

test('writeReport: nothing to report is an error; PNGs are written only where Chromium is, else the page says why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuplane-report-'))
  await assert.rejects(writeReport(dir, []), /no simulation results to report/)
  const points = [0, 100, 130].map((x) => ({ arrivedPct: x, allocatedPct: Math.min(x, 95), unallocatedPct: 100 - Math.min(x, 95), fragPct: 5 }))
  const written = await writeReport(dir, [{ policy: 'fgd', trace: 'default', seeds: 1, points, unallocatedAt100: { mean: 5, sd: 0, median: 5 } }])
  assert.equal(written[0], join(dir, 'index.html'))
  assert.ok(written.every((f) => existsSync(f)))
  const html = readFileSync(written[0], 'utf8')
  assert.ok(html.includes('4.77 ± 0.10'), "the paper's shipped numbers are used by default")
  const pngs = written.filter((f) => f.endsWith('.png'))
  if (pngs.length > 0) assert.equal(pngs.length, 4)
  else assert.match(html, /PNG copies of the charts were skipped: (playwright-core is not installed|no Chromium found|Chromium .* failed)/)
})
