// The Simulations view: the reports of `gpuplane sim` (those of `gpuplane server --sim-reports DIR`, rendered by the server, and those shipped with the dashboard, rendered at build time by web/build.ts), their comparison with the paper and their charts.
import { h, notice, num, replace, table } from '../dom.ts'
import type { DashboardReport as Report, ReportSummary as Summary } from '../../../src/sim/dashboard-report.ts'
import type { ViewContext } from '../view.ts'

/** Static files of the dashboard (no token needed): fetched without the API's helpers. */
async function getJson<T>(path: string, signal: AbortSignal): Promise<T | undefined> {
  const res = await fetch(path, { signal })
  if (res.status === 404) return undefined
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
  return (await res.json()) as T
}

export async function simulationsView(ctx: ViewContext): Promise<void> {
  const name = decodeURIComponent(location.hash.split('/')[2] ?? '')
  replace(ctx.root, h('h1', {}, 'Simulations'), h('p', { class: 'loading', role: 'status' }, 'Loading reports…'))
  const index = await getJson<{ reports: Summary[] }>('sim-reports/index.json', ctx.signal)
  if (ctx.signal.aborted) return
  if (!index || index.reports.length === 0) {
    replace(ctx.root, h('h1', {}, 'Simulations'), notice('info', 'No simulation reports are available. Start the server with --sim-reports DIR to show the "gpuplane sim --json FILE" (or "sim compare --json") files of DIR, or put such a file into web/sim-reports/ and run npm run build to ship it with the dashboard.'))
    return
  }
  const chosen = index.reports.find((r) => r.name === name) ?? index.reports[0]
  const list = h('nav', { 'aria-label': 'Reports', class: 'reports' }, h('ul', {}, ...index.reports.map((r) => h('li', {}, h('a', { href: `#/simulations/${encodeURIComponent(r.name)}`, ...(r === chosen ? { 'aria-current': 'true' } : {}) }, r.title)))))
  const body = h('div', {}, h('p', { class: 'loading', role: 'status' }, 'Loading the report…'))
  replace(ctx.root, h('h1', {}, 'Simulations'), h('p', { class: 'muted' }, 'Trace replays of "gpuplane sim" (the FGD paper’s method on the Alibaba GPU trace): how many GPUs each placement policy leaves unallocated as load arrives. Lower is better.'), list, body)
  const report = await getJson<Report>(`sim-reports/${encodeURIComponent(chosen.name)}.json`, ctx.signal)
  if (ctx.signal.aborted) return
  if (!report) return replace(body, notice('error', `The report "${chosen.name}" is listed but its file is missing; rebuild the dashboard (npm run build).`))
  const urls: string[] = []
  ctx.signal.addEventListener('abort', () => urls.forEach((u) => URL.revokeObjectURL(u)))
  const image = (svg: string, alt: string) => {
    const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }))
    urls.push(url)
    return h('img', { src: url, alt, class: 'report-chart' })
  }
  replace(
    body,
    h('h2', { 'data-report': report.name }, report.title),
    h('p', { class: 'muted' }, `Traces: ${report.traces.join(', ')}. Policies: ${report.policies.join(', ')}.${report.generatedAt ? ` Run ${report.generatedAt.slice(0, 10)}.` : ''}${report.machine ? ` Machine: ${report.machine}.` : ''}`),
    report.command ? h('p', {}, 'Command: ', h('code', {}, report.command)) : null,
    h('div', { class: 'report-charts' }, ...report.charts.map((c) => h('figure', { class: 'figure', 'data-chart': c.id }, image(c.svg, c.description), h('figcaption', {}, c.title)))),
    table(
      'Unallocated GPU % at 100% arrived load: ours beside the paper’s artifact (lower is better)',
      ['Trace', 'Policy', 'Seeds', 'Ours mean ± sd', 'Ours median', 'Paper mean ± sd', 'Ours − paper', 'Time (s)'],
      report.comparison.map((r) => [r.trace, r.policy, r.seeds, `${r.ours.mean.toFixed(2)} ± ${r.ours.sd.toFixed(2)}`, r.ours.median.toFixed(2), r.paper ? `${r.paper.mean.toFixed(2)} ± ${r.paper.sd.toFixed(2)}` : '—', r.diff === undefined ? '—' : `${r.diff > 0 ? '+' : ''}${r.diff.toFixed(2)}`, r.elapsedMs === undefined ? '—' : num(r.elapsedMs / 1000)]),
      { 'data-table': 'comparison' },
    ),
  )
}
