// The report's charts: Vega-Lite specs built from simulation results and the paper's curves, rendered to SVG headless (no browser, no I/O).
//
// Charts per trace: unallocated GPU % vs arrived load over 0–130 and Fig. 9(a)'s 75–120 zoom
// (median with a 25–75% band, and the "Ideal" line y = 100 − x), fragmentation amount vs arrived
// load, and bars at 100% arrival against the paper. Across traces: the bars of every trace, one
// panel each. Our series are solid, the paper's dashed, the ideal dotted.
import type { TopLevelSpec } from 'vega-lite'
import { findPaperCurve, MAX_ARRIVED_PCT, type PaperPoint, type PaperResults } from './paper.ts'
import type { ReportPoint, ReportResult } from './report-types.ts'

/** One rendered chart: an SVG with a title and a text description for readers who cannot see it. */
export interface Chart {
  /** File-safe name, unique within a report (`default-unallocated`). */
  id: string
  /** The trace it shows; absent for the chart across traces. */
  trace?: string
  title: string
  /** What the chart shows, in words (its alt text). */
  description: string
  /** A standalone SVG document, `role="img"` with the description as its accessible name. */
  svg: string
}

/** Policies in the paper's order, then ours; the colours follow this order in every chart. */
export const POLICY_ORDER = ['random', 'dotprod', 'clustering', 'packing', 'bestfit', 'fgd', 'gpuplane']
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#9d755d', '#e45756', '#17becf', '#bcbd22', '#ff9da6', '#72b7b2']
const IDEAL = 'Ideal (y = 100 − x)'
const SOURCES = { ours: 'ours', paper: 'paper (artifact)', ideal: 'ideal' }
const ZOOM: [number, number] = [75, 120]
/** The id of the chart across traces. */
export const ACROSS_TRACES = 'all-traces-at100'
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'
const CONFIG = { font: 'system-ui, sans-serif', view: { stroke: null }, title: { anchor: 'start' as const, fontSize: 15, subtitleFontSize: 12 } }

/** Policies of `results` in POLICY_ORDER, unknown ones after them in name order. */
export function orderedPolicies(results: readonly ReportResult[]): string[] {
  const names = [...new Set(results.map((r) => r.policy))]
  const rank = (p: string) => (POLICY_ORDER.includes(p) ? POLICY_ORDER.indexOf(p) : POLICY_ORDER.length)
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

/** Renders every chart of the report: four per trace, plus one across traces when there are several. */
export async function renderCharts(results: readonly ReportResult[], paper?: PaperResults): Promise<Chart[]> {
  const traces = [...new Set(results.map((r) => r.trace))]
  const policies = orderedPolicies(results)
  const charts: Chart[] = []
  for (const trace of traces) {
    const own = results.filter((r) => r.trace === trace)
    const id = fileSafe(trace)
    charts.push(await chart(`${id}-unallocated`, unallocatedSpec(trace, own, policies, paper, false), trace))
    charts.push(await chart(`${id}-unallocated-zoom`, unallocatedSpec(trace, own, policies, paper, true), trace))
    charts.push(await chart(`${id}-fragmentation`, fragmentationSpec(trace, own, policies, paper), trace))
    charts.push(await chart(`${id}-at100`, barsSpec(own, policies, paper, false), trace))
  }
  if (traces.length > 1) charts.push(await chart(ACROSS_TRACES, barsSpec(results, policies, paper, true)))
  return charts
}

/** Renders a Vega-Lite spec to an SVG string, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on first use: vega adds most of a second to every gpuplane start otherwise.
  const [{ parse, View }, { compile }] = await Promise.all([import('vega'), import('vega-lite')])
  const view = new View(parse(compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** `name` with anything but letters, digits, `.`, `_` and `-` replaced, for file names and ids. */
export function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-')
}

async function chart(id: string, spec: TopLevelSpec & { title: { text: string }; description: string }, trace?: string): Promise<Chart> {
  const svg = await renderSvg(spec)
  const label = escapeXml(spec.description)
  // The root <svg> becomes one image with a name and a <title>; vega's own marks stay inside it.
  const accessible = svg.replace(/^<svg /, `<svg role="img" aria-label="${label}" `).replace(/^(<svg[^>]*>)/, `$1<title>${escapeXml(spec.title.text)}</title>`)
  return { id, ...(trace !== undefined ? { trace } : {}), title: spec.title.text, description: spec.description, svg: accessible }
}

/** Escapes text for XML/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

interface LineRow {
  series: string
  source: string
  arrived: number
  value: number
  lo?: number
  hi?: number
}

function unallocatedSpec(trace: string, own: readonly ReportResult[], policies: string[], paper: PaperResults | undefined, zoom: boolean) {
  const [from, to] = zoom ? ZOOM : [0, MAX_ARRIVED_PCT]
  const inRange = (p: ReportPoint) => p.arrivedPct >= from && p.arrivedPct <= to
  const withMedian = zoom && own.some((r) => r.points.some((p) => p.unallocatedMedian !== undefined))
  const rows: LineRow[] = []
  for (const r of own) {
    for (const p of r.points.filter(inRange)) {
      const row: LineRow = { series: r.policy, source: SOURCES.ours, arrived: p.arrivedPct, value: zoom ? (p.unallocatedMedian ?? p.unallocatedPct) : p.unallocatedPct }
      if (zoom && p.unallocatedP25 !== undefined && p.unallocatedP75 !== undefined) Object.assign(row, { lo: p.unallocatedP25, hi: p.unallocatedP75 })
      rows.push(row)
    }
    for (const p of paperPoints(paper, trace, r.policy).filter(inRange)) rows.push({ series: r.policy, source: SOURCES.paper, arrived: p.arrivedPct, value: zoom ? p.unallocatedMedian : p.unallocatedPct })
  }
  for (let x = from; x <= to; x++) rows.push({ series: IDEAL, source: SOURCES.ideal, arrived: x, value: Math.max(0, 100 - x) })
  const withPaper = rows.some((r) => r.source === SOURCES.paper)
  const statistic = zoom ? (withMedian ? 'median over seeds, band 25–75%' : 'mean over seeds') : 'mean over seeds'
  const title = zoom ? `Unallocated GPUs at high load, ${trace} (Fig. 9(a) view)` : `Unallocated GPUs vs arrived load, ${trace}`
  const layers: object[] = []
  if (zoom) layers.push({ transform: [{ filter: 'isValid(datum.lo)' }], mark: { type: 'area', opacity: 0.15 }, encoding: { x: arrivedAxis(from, to), y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { ...colorOf(policies, true), legend: null } } })
  layers.push({ mark: { type: 'line', strokeWidth: 1.8, clip: true }, encoding: { x: arrivedAxis(from, to), y: { field: 'value', type: 'quantitative', title: 'unallocated GPU (% of cluster GPUs)', scale: { zero: !zoom } }, color: colorOf(policies, true), strokeDash: dashOf(withPaper, true), detail: { field: 'source' } } })
  return {
    $schema: SCHEMA,
    title: { text: title, subtitle: `ours: ${statistic}${withPaper ? '; paper: dashed' + (zoom ? ' (median)' : ' (mean)') : ''}` },
    description: `${title}. Line chart of unallocated GPU percent against arrived load from ${from}% to ${to}%, one line per policy (${policies.join(', ')}), ${statistic}${withPaper ? ", with the paper's artifact curves dashed" : ''} and the ideal y = 100 − x dotted.${atLoad(own, 100)}`,
    width: 640,
    height: 340,
    data: { values: rows },
    layer: layers,
    // The band's legend (null) and the lines' legend stay apart, so the lines' one is shown.
    resolve: { legend: { color: 'independent' } },
    config: CONFIG,
  } as TopLevelSpec & { title: { text: string }; description: string }
}

function fragmentationSpec(trace: string, own: readonly ReportResult[], policies: string[], paper: PaperResults | undefined) {
  const rows: LineRow[] = []
  for (const r of own) {
    for (const p of r.points) if (Number.isFinite(p.fragPct)) rows.push({ series: r.policy, source: SOURCES.ours, arrived: p.arrivedPct, value: p.fragPct })
    for (const p of paperPoints(paper, trace, r.policy)) if (Number.isFinite(p.fragPct)) rows.push({ series: r.policy, source: SOURCES.paper, arrived: p.arrivedPct, value: p.fragPct })
  }
  const title = `Fragmentation vs arrived load, ${trace}`
  const withPaper = rows.some((r) => r.source === SOURCES.paper)
  return {
    $schema: SCHEMA,
    title: { text: title, subtitle: `FGD's fragmentation amount, % of all GPUs; ours: mean over seeds${withPaper ? '; paper: dashed (mean)' : ''}` },
    description: `${title}. Line chart of the fragmented GPU amount (percent of all GPUs) against arrived load from 0% to ${MAX_ARRIVED_PCT}%, one line per policy (${policies.join(', ')})${withPaper ? ", with the paper's artifact curves dashed" : ''}.`,
    width: 640,
    height: 300,
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 1.8 },
    encoding: { x: arrivedAxis(0, MAX_ARRIVED_PCT), y: { field: 'value', type: 'quantitative', title: 'fragmented GPU (% of cluster GPUs)' }, color: colorOf(policies, false), strokeDash: dashOf(withPaper, false), detail: { field: 'source' } },
    config: CONFIG,
  } as TopLevelSpec & { title: { text: string }; description: string }
}

interface BarRow {
  trace: string
  policy: string
  source: string
  mean: number
  lo: number
  hi: number
  label: string
}

function barsSpec(results: readonly ReportResult[], policies: string[], paper: PaperResults | undefined, faceted: boolean) {
  const rows: BarRow[] = []
  const bar = (trace: string, policy: string, source: string, s: { mean: number; sd: number }) => {
    if (Number.isFinite(s.mean)) rows.push({ trace, policy, source, mean: s.mean, lo: s.mean - (s.sd || 0), hi: s.mean + (s.sd || 0), label: s.mean.toFixed(2) })
  }
  for (const r of results) {
    bar(r.trace, r.policy, SOURCES.ours, r.unallocatedAt100)
    const p = paper && findPaperCurve(paper, r.trace, r.policy)
    if (p) bar(r.trace, r.policy, SOURCES.paper, p.unallocatedAt100)
  }
  const traces = [...new Set(results.map((r) => r.trace))]
  const title = faceted ? 'Unallocated GPUs at 100% arrival, every trace' : `Unallocated GPUs at 100% arrival, ${traces[0]}`
  const x = { field: 'policy', type: 'nominal', sort: policies, title: null, axis: { labelAngle: -40 } }
  const xOffset = { field: 'source', sort: [SOURCES.ours, SOURCES.paper] }
  const y = { field: 'mean', type: 'quantitative', title: 'unallocated GPU % (mean ± sd)' }
  const sources = rows.some((r) => r.source === SOURCES.paper) ? [SOURCES.ours, SOURCES.paper] : [SOURCES.ours]
  const color = { field: 'source', type: 'nominal', title: null, scale: { domain: sources, range: ['#4c78a8', '#bab0ac'].slice(0, sources.length) } }
  const layer = [
    { mark: 'bar', encoding: { x, xOffset, y, color } },
    { mark: { type: 'rule', color: '#333' }, encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
    ...(faceted ? [] : [{ mark: { type: 'text', dy: -8, fontSize: 10 }, encoding: { x, xOffset, y: { field: 'hi', type: 'quantitative' }, text: { field: 'label' } } }]),
  ]
  const numbers = rows.map((r) => `${faceted ? r.trace + ' ' : ''}${r.policy} ${r.source} ${r.label}%`).join('; ')
  const common = {
    $schema: SCHEMA,
    title: { text: title, subtitle: `mean ± sd over seeds${sources.length > 1 ? "; grey: the paper's artifact results" : ''}` },
    description: `${title}. Grouped bar chart, ours beside the paper's per policy, with ± sd error bars: ${numbers}.`,
    data: { values: rows },
    config: CONFIG,
  }
  const spec = faceted
    ? { ...common, facet: { field: 'trace', type: 'nominal', sort: traces, title: null }, columns: 4, spec: { width: 220, height: 180, layer } }
    : { ...common, width: 420, height: 300, layer }
  return spec as TopLevelSpec & { title: { text: string }; description: string }
}

function paperPoints(paper: PaperResults | undefined, trace: string, policy: string): PaperPoint[] {
  return (paper && findPaperCurve(paper, trace, policy)?.points) ?? []
}

function arrivedAxis(from: number, to: number) {
  return { field: 'arrived', type: 'quantitative', title: 'arrived workload (% of cluster GPU capacity)', scale: { domain: [from, to], nice: false } }
}

function colorOf(policies: string[], withIdeal: boolean) {
  // Known policies keep their colour whatever else is shown; others take the colours after them.
  const unknown = policies.filter((p) => !POLICY_ORDER.includes(p))
  const colour = (p: string) => PALETTE[(POLICY_ORDER.includes(p) ? POLICY_ORDER.indexOf(p) : POLICY_ORDER.length + unknown.indexOf(p)) % PALETTE.length]
  const scale = withIdeal ? { domain: [...policies, IDEAL], range: [...policies.map(colour), '#888888'] } : { domain: policies, range: policies.map(colour) }
  return { field: 'series', type: 'nominal', title: 'policy', scale }
}

function dashOf(withPaper: boolean, withIdeal: boolean) {
  const dashes: [string, number[]][] = [[SOURCES.ours, [1, 0]], ...(withPaper ? [[SOURCES.paper, [6, 4]] as [string, number[]]] : []), ...(withIdeal ? [[SOURCES.ideal, [2, 3]] as [string, number[]]] : [])]
  return { field: 'source', type: 'nominal', title: 'source', scale: { domain: dashes.map((d) => d[0]), range: dashes.map((d) => d[1]) } }
}

/** " At 100%: fgd 4.80%, ..." for the description, from our results. */
function atLoad(own: readonly ReportResult[], x: number): string {
  const parts = own.filter((r) => Number.isFinite(r.unallocatedAt100.mean)).map((r) => `${r.policy} ${r.unallocatedAt100.mean.toFixed(2)}%`)
  return parts.length ? ` At ${x}% arrived, ours: ${parts.join(', ')}.` : ''
}
