// Tests of the report's rendering: one SVG per chart with its series, accessible names, the numbers in the tables, well-formed HTML, an aligned terminal table.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { parsePaperResults } from './paper.ts'
import { comparisonRows, formatComparisonTable, renderCharts, renderHtml, type ReportResult } from './report.ts'

const LEVELS = [0, 40, 75, 80, 90, 95, 100, 110, 120, 130]

/** A result whose unallocated GPU % follows the ideal line down to `floor`, with a ±0.1 band. */
function result(trace: string, policy: string, floor: number, elapsedMs?: number): ReportResult {
  const points = LEVELS.map((x) => {
    const unallocated = Math.max(100 - x, floor)
    return { arrivedPct: x, allocatedPct: 100 - unallocated, unallocatedPct: unallocated, fragPct: floor * 0.9, unallocatedMedian: unallocated, unallocatedP25: unallocated - 0.1, unallocatedP75: unallocated + 0.1 }
  })
  return { trace, policy, seeds: [42, 43, 44], points, unallocatedAt100: { mean: floor, sd: 0.1, median: floor }, ...(elapsedMs !== undefined ? { elapsedMs } : {}) }
}

/** Paper results for trace `tiny`: FGD at 4.77 and BestFit at 7.14 (seeds 42, 43), every level filled. */
function paper() {
  const header = `workload,sc_policy,tune,seed,total_gpus,${Array.from({ length: 131 }, (_, i) => i).join(',')}`
  const row = (policy: string, seed: number, floor: number) =>
    `openb_pod_list_tiny,${policy},1.3,${seed},6212,${Array.from({ length: 131 }, (_, x) => (100 - Math.max(100 - x, floor)).toFixed(2)).join(',')}`
  const frag = (policy: string, seed: number) => `openb_pod_list_tiny,${policy},1.3,${seed},${Array(131).fill('5.0').join(',')}`
  return parsePaperResults({
    allocationCsv: [header, row('06-FGD', 42, 4.67), row('06-FGD', 43, 4.87), row('05-BestFit', 42, 7.14), row('05-BestFit', 43, 7.14)].join('\n'),
    fragmentationCsv: [header.replace(',total_gpus', ''), frag('06-FGD', 42), frag('06-FGD', 43), frag('05-BestFit', 42), frag('05-BestFit', 43)].join('\n'),
  })
}

const RESULTS = [result('tiny', 'gpuplane', 4.5, 1500), result('tiny', 'fgd', 4.8, 2000), result('tiny', 'bestfit', 7.0, 900), result('other', 'fgd', 6.0, 800)]
const PAPER = paper()
const chartsOnce = renderCharts(RESULTS, PAPER)

test('four charts per trace and one across traces, each an accessible SVG', async () => {
  const charts = await chartsOnce
  assert.deepEqual(
    charts.map((c) => c.id),
    ['tiny-unallocated', 'tiny-unallocated-zoom', 'tiny-fragmentation', 'tiny-at100', 'other-unallocated', 'other-unallocated-zoom', 'other-fragmentation', 'other-at100', 'all-traces-at100'],
  )
  for (const c of charts) {
    assert.match(c.svg, /^<svg role="img" aria-label="[^"]+" [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*><title>[^<]+<\/title>/, c.id)
    assert.equal(XMLValidator.validate(c.svg), true, c.id)
  }
})

test('the charts name their series: policies in the paper order, ours vs the paper, the ideal line', async () => {
  const charts = new Map((await chartsOnce).map((c) => [c.id, c]))
  const legend = (id: string) => [...charts.get(id)!.svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1])
  const line = legend('tiny-unallocated')
  for (const name of ['bestfit', 'fgd', 'gpuplane', 'ours', 'paper (artifact)', 'Ideal (y = 100 − x)']) assert.ok(line.includes(name), `${name} in ${line.join('|')}`)
  assert.ok(line.indexOf('bestfit') < line.indexOf('fgd') && line.indexOf('fgd') < line.indexOf('gpuplane'), 'paper order')
  assert.ok(!legend('tiny-fragmentation').includes('Ideal (y = 100 − x)'))
  assert.ok(!legend('other-unallocated').includes('paper (artifact)'), 'no paper curves for a trace the artifact lacks')
  const bars = legend('tiny-at100')
  for (const label of ['4.80', '4.77', '7.00', '7.14', '4.50']) assert.ok(bars.includes(label), `${label} in ${bars.join('|')}`)
  assert.match(charts.get('tiny-unallocated-zoom')!.description, /median over seeds, band 25–75%/)
  assert.match(charts.get('tiny-at100')!.description, /fgd paper \(artifact\) 4\.77%/)
  const across = legend('all-traces-at100')
  assert.ok(across.includes('tiny') && across.includes('other'), 'one panel per trace')
})

test('comparison rows: ours beside the paper, the difference, the time', () => {
  const rows = comparisonRows(RESULTS, PAPER)
  assert.deepEqual(rows.map((r) => `${r.trace}/${r.policy}`), ['tiny/bestfit', 'tiny/fgd', 'tiny/gpuplane', 'other/fgd'])
  const fgd = rows[1]
  assert.equal(fgd.seeds, '42–44')
  assert.ok(Math.abs(fgd.paper!.mean - 4.77) < 1e-9 && Math.abs(fgd.diff! - 0.03) < 1e-9)
  assert.equal(rows[2].paper, undefined)
  const table = formatComparisonTable(rows).trimEnd().split('\n')
  assert.equal(table.length, 5)
  assert.ok(table.every((l) => l.length === table[0].length), 'every line as wide as the header: columns aligned')
  assert.match(table[0], /^trace\s+policy\s+seeds\s+ours mean ± sd\s+ours median\s+paper mean ± sd\s+paper median\s+ours − paper\s+time \(s\)$/)
  assert.match(table[2], /^tiny\s+fgd\s+42–44\s+4\.80 ± 0\.10\s+4\.80\s+4\.77 ± 0\.10\s+4\.77\s+\+0\.03\s+2\.0$/)
  assert.match(table[3], /^tiny\s+gpuplane .* — +— +— +1\.5$/)
  const zero = formatComparisonTable([{ ...fgd, diff: -0.002 }])
  assert.match(zero, / 0\.00 /, 'a difference that rounds to zero has no sign')
})

test('the page is well-formed, self-contained, and holds every chart, the numbers and the facts of the run', async () => {
  const charts = await chartsOnce
  const html = renderHtml(RESULTS, charts, { generatedAt: '2026-01-02T03:04:05.000Z', machine: '2 × Test CPU, 24 GiB, Linux', node: 'v20.0.0', command: 'gpuplane sim compare --pods tiny', paper: PAPER, png: { written: false, reason: 'no Chromium found' } })
  assert.equal(XMLValidator.validate(html), true)
  assert.equal((html.match(/<svg /g) ?? []).length, charts.length)
  assert.equal((html.match(/<figure /g) ?? []).length, charts.length)
  assert.doesNotMatch(html, /<script|<link |src="http/, 'nothing loaded from elsewhere')
  for (const text of ['2026-01-02T03:04:05.000Z', '2 × Test CPU, 24 GiB, Linux', 'v20.0.0', 'gpuplane sim compare --pods tiny', '4.80 ± 0.10', '4.77 ± 0.10', '+0.03', 'PNG copies of the charts were skipped: no Chromium found']) {
    assert.ok(html.includes(text), text)
  }
  const ids = [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1])
  assert.equal(new Set(ids).size, ids.length, 'ids are unique across the inline SVGs')

  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(html) as { html: { lang: string; head: { title: string }; body: { main: { section: Section[] } } } }
  type Section = { h2: { '#text': string }; table?: { caption: string; thead: { tr: { th: { scope: string }[] } }; tbody: { tr: { th: { scope: string }[] }[] } }; figure?: unknown }
  assert.equal(doc.html.lang, 'en')
  assert.equal(doc.html.head.title, 'gpuplane simulation report')
  const sections = doc.html.body.main.section
  assert.deepEqual(sections.map((s) => s.h2['#text']), ['Unallocated GPUs at 100% arrival', 'Trace tiny', 'Trace other', 'How the numbers are made'])
  const table = sections[0].table!
  assert.match(table.caption, /Unallocated GPU % at 100% arrived load/)
  assert.equal(table.thead.tr.th.length, 9)
  assert.ok(table.thead.tr.th.every((th) => th.scope === 'col'))
  assert.equal(table.tbody.tr.length, 4)
  assert.ok(table.tbody.tr.every((tr) => tr.th.every((th) => th.scope === 'row')))
})

test('PNG links appear only when PNGs were written', async () => {
  const charts = await chartsOnce
  const context = { generatedAt: 'now', machine: 'm', node: 'v20', png: { written: true as const } }
  const html = renderHtml(RESULTS, charts, context)
  assert.ok(html.includes('<a href="charts/tiny-at100.png">PNG</a>'))
  assert.ok(html.includes('also written as PNG'))
  assert.ok(!renderHtml(RESULTS, charts, { ...context, png: { written: false, reason: 'x' } }).includes('.png"'))
})
