// The Utilization view: GPUs allocated against GPUs actually used over time, per GPU model and per namespace (the gap between them is what gpuplane exists to close), and the idle allocations with what the idle policy will do.
import { GPUPLANE, optional } from '../api.ts'
import { chart } from '../chart.ts'
import { duration, h, notice, replace, table } from '../dom.ts'
import type { ViewContext } from '../view.ts'
import { utilPoints, type UtilizationResponse } from './utilization-series.ts'

const RANGES = [
  { id: '1h', label: 'last hour', ms: 3_600_000, stepS: 60 },
  { id: '6h', label: 'last 6 hours', ms: 6 * 3_600_000, stepS: 300 },
  { id: '24h', label: 'last 24 hours', ms: 24 * 3_600_000, stepS: 900 },
]
const REFRESH_MS = 15_000

export function utilizationView(ctx: ViewContext): void {
  let range = RANGES[0]
  const picker = h('div', { class: 'range', role: 'group', 'aria-label': 'Time range' })
  const byModel = h('section', { 'aria-labelledby': 'by-model-h' })
  const byNamespace = h('section', { 'aria-labelledby': 'by-ns-h' })
  const idle = h('section', { 'aria-labelledby': 'idle-h' })
  replace(
    ctx.root,
    h('h1', {}, 'Utilization'),
    h(
      'p',
      { class: 'muted', id: 'util-help' },
      'Allocated: GPUs held by workloads (a share or a partition counts as its fraction of a GPU). Used: the GPU time the telemetry saw busy (SM utilization), charged to the workloads holding each GPU and split between them (by the shares they hold, or by their processes’ memory where the agent reports processes); so on a shared GPU a holder may use more than it holds while the rest of the GPU is unallocated. Per GPU model, use of unallocated GPUs counts too; per namespace it shows as "(unallocated)". Where the dashed line runs below the solid one, paid-for capacity is doing nothing.',
    ),
    picker,
    byModel,
    byNamespace,
    idle,
  )
  let chartAbort: AbortController | undefined

  // The buttons stay in place (only aria-pressed changes), so a keyboard user keeps focus on the one activated.
  const buttons = RANGES.map((r) =>
    h('button', { type: 'button', class: 'secondary', 'aria-pressed': r === range ? 'true' : 'false', onclick: () => {
      range = r
      for (const [i, b] of buttons.entries()) b.setAttribute('aria-pressed', RANGES[i] === range ? 'true' : 'false')
      void refresh()
    } }, r.label),
  )
  replace(picker, ...buttons)

  async function series(by: 'model' | 'namespace', target: HTMLElement, title: string, id: string, signal: AbortSignal): Promise<void> {
    const now = Date.now()
    const res = await optional<UtilizationResponse>(`${GPUPLANE}/telemetry/utilization?from=${now - range.ms}&to=${now}&step=${range.stepS}s&by=${by}`, 'Utilization telemetry')
    if (signal.aborted) return
    if (!res.available) return replace(target, h('h2', { id }, title), notice('info', res.message))
    const points = utilPoints(res.data)
    if (points.length === 0) return replace(target, h('h2', { id }, title), h('p', { class: 'muted' }, `No telemetry in the ${range.label}: no node agent has reported samples (gpuplane agent, or the demo's telemetry feed).`))
    const rows = points.flatMap((p) => [
      { time: p.time, group: p.group, what: 'allocated', gpus: p.allocated },
      { time: p.time, group: p.group, what: 'used', gpus: p.used },
    ])
    // GPU-hours per group over the range: each point is an average number of GPUs over one step.
    const stepH = range.stepS / 3600
    const totals = new Map<string, { a: number; u: number }>()
    for (const p of points) {
      const t = totals.get(p.group) ?? { a: 0, u: 0 }
      t.a += p.allocated * stepH
      t.u += p.used * stepH
      totals.set(p.group, t)
    }
    const groups = [...totals].sort(([x], [y]) => x.localeCompare(y))
    const share = (t: { a: number; u: number }) => (t.a > 0 ? `${Math.round((100 * t.u) / t.a)}%` : 'nothing allocated')
    const summary = groups.map(([g, t]) => (t.a > 0 ? `${g}: ${share(t)} of allocated GPU time used` : `${g}: no allocation recorded, ${gpuTime(t.u)} of GPU time used`)).join('; ')
    const c = chart(
      {
        width: 'container',
        height: 220,
        data: { values: rows },
        mark: { type: 'line', interpolate: 'monotone', tooltip: true },
        encoding: {
          x: { field: 'time', type: 'temporal', title: null },
          y: { field: 'gpus', type: 'quantitative', title: 'GPUs' },
          color: { field: 'group', type: 'nominal', title: by === 'model' ? 'GPU model' : 'namespace' },
          strokeDash: { field: 'what', type: 'nominal', title: null, scale: { domain: ['allocated', 'used'], range: [[1, 0], [5, 3]] } },
        },
      } as never,
      `${title}: line chart, solid lines allocated GPUs, dashed lines used GPUs, ${range.label}. ${summary}.`,
      signal,
    )
    const totalsTable = table(
      `GPU time allocated and used in the ${range.label}, per ${by === 'model' ? 'GPU model' : 'namespace'}`,
      [by === 'model' ? 'GPU model' : 'Namespace', 'Allocated GPU time', 'Used GPU time', 'Used of allocated'],
      groups.map(([g, t]) => [g, h('span', { 'data-gpu-hours': t.a.toFixed(6) }, gpuTime(t.a)), h('span', { 'data-gpu-hours': t.u.toFixed(6) }, gpuTime(t.u)), share(t)]),
      { 'data-table': by === 'model' ? 'by-model' : 'by-namespace', class: 'totals' },
    )
    replace(target, h('h2', { id }, title), c.el, totalsTable)
  }

  async function idleList(signal: AbortSignal): Promise<void> {
    const res = await optional<{ items?: IdleItem[] }>(`${GPUPLANE}/idle`, 'Idle allocation detection')
    if (signal.aborted) return
    if (!res.available) return replace(idle, h('h2', { id: 'idle-h' }, 'Idle allocations'), notice('info', res.message))
    const items = res.data.items ?? []
    const now = Date.now()
    const rank = (i: IdleItem) => (i.state === 'idle' ? 0 : i.state === 'unknown' ? 1 : 2)
    const idleCount = items.filter((i) => i.state === 'idle').length
    replace(
      idle,
      h('h2', { id: 'idle-h' }, `Idle allocations (${idleCount} idle of ${items.length} watched)`),
      h('p', { class: 'muted' }, 'Workloads of namespaces with an idle policy (Namespace spec.idle), classified from their GPUs’ telemetry now.'),
      items.length === 0
        ? h('p', { class: 'muted' }, 'No workload is watched: no namespace that holds GPUs has an idle policy.')
        : table(
            'Watched allocations, idle ones first: how long they have idled and what the idle policy does',
            ['Namespace', 'Workload', 'GPUs', 'State', 'Idle for', 'Policy', 'Action'],
            items.sort((a, b) => rank(a) - rank(b) || (b.idleSeconds ?? 0) - (a.idleSeconds ?? 0)).map((i) => [
              i.namespace,
              i.workload,
              `${+i.gpus.toFixed(3)} × ${(i.gpuModels ?? []).join(', ') || 'GPU'}`,
              h('span', { class: `state ${i.state === 'idle' ? 'off' : i.state === 'busy' ? 'on' : ''}`, 'data-state': i.state }, i.state),
              i.state !== 'idle' ? '—' : i.idleSeconds !== undefined ? duration(i.idleSeconds * 1000) : i.since ? duration(now - Date.parse(i.since)) : '?',
              i.policy ? `SM below ${i.policy.smUtilBelow}% for ${duration(i.policy.forSeconds * 1000)}` : '',
              actionText(i),
            ]),
            { 'data-table': 'idle' },
          ),
    )
  }

  async function refresh(): Promise<void> {
    chartAbort?.abort()
    chartAbort = new AbortController()
    const signal = chartAbort.signal
    const failed = (target: HTMLElement, title: string) => (e: unknown) => {
      if (!signal.aborted) replace(target, h('h2', {}, title), notice('error', `Could not be read: ${(e as Error).message}`))
    }
    await Promise.all([
      series('model', byModel, 'Allocated vs used, per GPU model', 'by-model-h', signal).catch(failed(byModel, 'Allocated vs used, per GPU model')),
      series('namespace', byNamespace, 'Allocated vs used, per namespace', 'by-ns-h', signal).catch(failed(byNamespace, 'Allocated vs used, per namespace')),
      idleList(signal).catch(failed(idle, 'Idle allocations')),
    ])
  }
  void refresh()
  const timer = setInterval(() => void refresh(), REFRESH_MS)
  ctx.signal.addEventListener('abort', () => {
    clearInterval(timer)
    chartAbort?.abort()
  })
}

/** One entry of GET .../idle (src/server/report-routes.ts). */
interface IdleItem {
  namespace: string
  workload: string
  gpuModels?: string[]
  gpus: number
  state: 'idle' | 'busy' | 'unknown'
  since?: string
  idleSeconds?: number
  reason?: string
  policy?: { smUtilBelow: number; forSeconds: number; action: string; gracePeriodSeconds: number }
  reclaimAt?: string
}

/** What the idle policy does (or will do) to the workload. */
function actionText(i: IdleItem): string {
  const action = i.policy?.action ?? 'none'
  if (i.reclaimAt) return `${action}: devices reclaimed at ${new Date(i.reclaimAt).toLocaleString()}`
  if (i.state === 'idle' && action === 'reclaim') return `reclaim after a notice and ${duration((i.policy?.gracePeriodSeconds ?? 0) * 1000)} of grace`
  if (i.state === 'idle' && action === 'flag') return 'flag: marked Idle (Workload condition, metric); its devices are kept'
  return action === 'none' ? action : `${action} once idle`
}

/** GPU-hours in words: "3 GPU-min", "2.5 GPU-h". */
function gpuTime(hours: number): string {
  if (hours <= 0) return '0 GPU-h'
  if (hours < 1 / 60) return `${+(hours * 3600).toFixed(hours * 3600 < 10 ? 1 : 0)} GPU-s`
  if (hours < 1) return `${+(hours * 60).toFixed(1)} GPU-min`
  return `${+hours.toFixed(hours < 100 ? 2 : 0)} GPU-h`
}
