// The simulation report as text: one self-contained HTML page (inline SVG charts, the numbers in tables) and the comparison table with the paper.
//
// Pure: results, rendered charts and the facts of the run go in; strings come out. Writing the
// files and making PNGs is src/cli/sim-report.ts's job.
import { findPaperCurve, type PaperResults } from './paper.ts'
import { ACROSS_TRACES, escapeXml, fileSafe, orderedPolicies, type Chart } from './report-charts.ts'
import type { Summary } from './report-stats.ts'
import type { ReportResult } from './report-types.ts'

export type { ReportPoint, ReportResult } from './report-types.ts'
export { renderCharts, type Chart } from './report-charts.ts'

/** What happened to the PNG copies of the charts: written next to the SVGs, or skipped and why. */
export type PngOutcome = { written: true } | { written: false; reason: string }

/** The facts of the run that the page states besides the results. */
export interface ReportContext {
  title?: string
  /** When the report was made, ISO 8601. */
  generatedAt: string
  /** The machine it ran on, in words (CPU model and count, memory, OS). */
  machine: string
  /** Node.js version. */
  node: string
  /** The command that produced the results, shown as is. */
  command?: string
  /** The paper's artifact results, to compare with; without them only ours are shown. */
  paper?: PaperResults
  png: PngOutcome
}

/** One line of the comparison: our unallocated GPU % at 100% arrival beside the paper's. */
export interface ComparisonRow {
  trace: string
  policy: string
  seeds: string
  ours: Summary
  /** The paper's, when its artifact ran this trace and policy. */
  paper?: Summary
  /** ours.mean − paper.mean, in percentage points. */
  diff?: number
  elapsedMs?: number
}

/** The comparison rows of `results`: traces in first-seen order, policies in the paper's order. */
export function comparisonRows(results: readonly ReportResult[], paper?: PaperResults): ComparisonRow[] {
  const traces = [...new Set(results.map((r) => r.trace))]
  const policies = orderedPolicies(results)
  const rows: ComparisonRow[] = []
  for (const trace of traces) {
    for (const policy of policies) {
      const r = results.find((x) => x.trace === trace && x.policy === policy)
      if (!r) continue
      const theirs = paper && findPaperCurve(paper, trace, policy)?.unallocatedAt100
      rows.push({
        trace,
        policy,
        seeds: describeSeeds(r.seeds),
        ours: r.unallocatedAt100,
        ...(theirs ? { paper: theirs, diff: r.unallocatedAt100.mean - theirs.mean } : {}),
        ...(r.elapsedMs !== undefined ? { elapsedMs: r.elapsedMs } : {}),
      })
    }
  }
  return rows
}

const COLUMNS = ['trace', 'policy', 'seeds', 'ours mean ± sd', 'ours median', 'paper mean ± sd', 'paper median', 'ours − paper', 'time (s)']

/** The comparison as an aligned plain-text table for a terminal: text left, numbers right. */
export function formatComparisonTable(rows: readonly ComparisonRow[]): string {
  const cells = [COLUMNS, ...rows.map(rowCells)]
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((r) => r[i].length)))
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()
  return cells.map(line).join('\n') + '\n'
}

/** The whole report page: self-contained HTML with the charts inline. */
export function renderHtml(results: readonly ReportResult[], charts: readonly Chart[], context: ReportContext): string {
  const title = context.title ?? 'gpuplane simulation report'
  const traces = [...new Set(results.map((r) => r.trace))]
  const rows = comparisonRows(results, context.paper)
  const across = charts.find((c) => c.id === ACROSS_TRACES)
  const body = [
    `<header><h1>${escapeXml(title)}</h1>`,
    `<p>Generated ${escapeXml(context.generatedAt)} on ${escapeXml(context.machine)}, Node.js ${escapeXml(context.node)}.</p>`,
    context.command ? `<p>Command: <code>${escapeXml(context.command)}</code></p>` : '',
    `<p>Traces: ${traces.map((t) => `<a href="#trace-${escapeXml(fileSafe(t))}">${escapeXml(t)}</a>`).join(', ')}. Policies: ${escapeXml(orderedPolicies(results).join(', '))}.</p></header>`,
    '<main>',
    section('summary', 'Unallocated GPUs at 100% arrival', [comparisonTableHtml(rows, context.paper !== undefined), across ? figure(across, context.png) : '']),
    ...traces.map((t) => traceSection(t, results, charts, context.png)),
    section('method', 'How the numbers are made', [methodNotes(context)]),
    '</main>',
  ]
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>${escapeXml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body.filter((s) => s !== '').join('\n')}
</body>
</html>
`
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.4rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; }
thead th { background: #f2f2f2; } td.num { text-align: right; }
figure { margin: 1.5rem 0; } figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.9rem; color: #444; max-width: 48rem; }
code { background: #f4f4f4; padding: 0 0.2rem; }
`

function traceSection(trace: string, results: readonly ReportResult[], charts: readonly Chart[], png: PngOutcome): string {
  const own = results.filter((r) => r.trace === trace)
  const figures = charts.filter((c) => c.trace === trace).map((c) => figure(c, png))
  const seeds = [...new Set(own.map((r) => describeSeeds(r.seeds)))].join(', ')
  return section(`trace-${fileSafe(trace)}`, `Trace ${trace}`, [`<p>Seeds: ${escapeXml(seeds)}. Policies: ${escapeXml(orderedPolicies(own).join(', '))}.</p>`, ...figures])
}

function section(id: string, heading: string, parts: string[]): string {
  return `<section aria-labelledby="${escapeXml(id)}-h"><h2 id="${escapeXml(id)}-h">${escapeXml(heading)}</h2>\n${parts.filter((p) => p !== '').join('\n')}\n</section>`
}

function figure(chart: Chart, png: PngOutcome): string {
  const links = [`<a href="charts/${escapeXml(chart.id)}.svg">SVG</a>`, png.written ? `<a href="charts/${escapeXml(chart.id)}.png">PNG</a>` : '']
  return `<figure id="chart-${escapeXml(chart.id)}">\n${chart.svg}\n<figcaption>${escapeXml(chart.description)} (${links.filter((l) => l !== '').join(', ')})</figcaption>\n</figure>`
}

function comparisonTableHtml(rows: readonly ComparisonRow[], withPaper: boolean): string {
  const head = COLUMNS.map((c) => `<th scope="col">${escapeXml(c)}</th>`).join('')
  const body = rows
    .map((r) => {
      const [trace, policy, ...rest] = rowCells(r)
      return `<tr><th scope="row">${escapeXml(trace)}</th><th scope="row">${escapeXml(policy)}</th>${rest.map((c) => `<td class="num">${escapeXml(c)}</td>`).join('')}</tr>`
    })
    .join('\n')
  const caption = `Unallocated GPU % at 100% arrived load per trace and policy: ours${withPaper ? " beside the paper's artifact results" : ''} (— where the paper has no run).`
  return `<table>\n<caption>${escapeXml(caption)}</caption>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`
}

function methodNotes(context: ReportContext): string {
  const png = context.png.written ? 'Each chart is also written as PNG, next to its SVG in charts/.' : `PNG copies of the charts were skipped: ${context.png.reason}. The SVG files in charts/ and the charts on this page are complete.`
  const items = [
    'Arrived load is the cumulative GPU request of every pod submitted so far, placed or not, in % of the cluster’s GPU capacity; pods arrive one by one and never leave, as in the paper’s protocol.',
    'Unallocated GPU % = 100 − allocated milli-GPU / capacity. “At 100%” is each seed’s value at arrived load 100%, summarised as mean, population sd and median over the seeds.',
    'Fragmentation is FGD’s measure: the GPU capacity the typical task mix cannot use, in % of all GPUs.',
    context.paper
      ? 'The paper’s numbers are the authors’ cached artifact results (hkust-adsl/kubernetes-scheduler-simulator, experiments/analysis/expected_results, commit 8f3d641, Apache-2.0; shipped in data/fgd-artifact-results/), 10 seeds (42–51) per trace and policy, read the same way. gpuplane’s own policy has no paper counterpart.'
      : 'No paper results were given, so only ours are shown.',
    png,
  ]
  return `<ul>\n${items.map((i) => `<li>${escapeXml(i)}</li>`).join('\n')}\n</ul>`
}

function rowCells(r: ComparisonRow): string[] {
  return [
    r.trace,
    r.policy,
    r.seeds,
    meanSd(r.ours),
    num(r.ours.median),
    r.paper ? meanSd(r.paper) : '—',
    r.paper ? num(r.paper.median) : '—',
    r.diff !== undefined && Number.isFinite(r.diff) ? signed(r.diff) : '—',
    r.elapsedMs !== undefined ? (r.elapsedMs / 1000).toFixed(1) : '—',
  ]
}

function meanSd(s: Summary): string {
  return Number.isFinite(s.mean) ? `${s.mean.toFixed(2)} ± ${s.sd.toFixed(2)}` : '—'
}

/** "+0.12", "−0.12", or "0.00" when it rounds to zero. */
function signed(v: number): string {
  const rounded = Number(v.toFixed(2))
  return `${rounded > 0 ? '+' : rounded < 0 ? '−' : ''}${Math.abs(rounded).toFixed(2)}`
}

function num(v: number): string {
  return Number.isFinite(v) ? v.toFixed(2) : '—'
}

/** "10" for a count; "42–51" for consecutive seeds; else the list. */
function describeSeeds(seeds: number | readonly number[]): string {
  if (typeof seeds === 'number') return String(seeds)
  const sorted = [...seeds].sort((a, b) => a - b)
  const consecutive = sorted.length > 2 && sorted.every((s, i) => i === 0 || s === sorted[i - 1] + 1)
  return consecutive ? `${sorted[0]}–${sorted[sorted.length - 1]}` : sorted.join(', ')
}
