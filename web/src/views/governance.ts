// The Governance view: approved models and the namespaces that may call them, agents with token use against each cap of their TokenPolicies over the current window, recent refusals, and (admin) the kill switch.
import { api, ApiError, GPUPLANE, optional } from '../api.ts'
import { chart } from '../chart.ts'
import { h, notice, num, replace, table } from '../dom.ts'
import type { KubeObject } from '../live.ts'
import { collectionNotice, counted, useLive, type ViewContext } from '../view.ts'
import { WINDOW_MS, windowEnd, windowStart } from './governance-window.ts'

/** A ledger entry as GET .../usage returns it. */
export interface UsageEntry {
  id: string
  time: number
  namespace: string
  agent: string
  model: string
  endpoint?: string
  outcome: 'completed' | 'failed' | 'released' | 'refused'
  promptTokens: number
  completionTokens: number
  costMicro: number
  status?: number
  reason?: string
}

const USAGE_REFRESH_MS = 5000

/** A token cap that covers an agent: one `tokens` limit of one TokenPolicy. */
interface Cap {
  policy: string
  mode: string
  window: string
  tokens: number
  model?: string
}

function capsOf(agent: KubeObject, policies: KubeObject[]): Cap[] {
  const caps: Cap[] = []
  for (const p of policies) {
    if (p.metadata.namespace !== agent.metadata.namespace) continue
    const sel = p.spec?.selector ?? {}
    if (sel.agent !== undefined && sel.agent !== agent.metadata.name) continue
    for (const l of (p.spec?.limits ?? []) as Array<{ window: string; tokens?: number }>) {
      if (l.tokens !== undefined) caps.push({ policy: p.metadata.name, mode: p.spec?.mode ?? 'hard-reject', window: l.window, tokens: l.tokens, ...(sel.model ? { model: sel.model } : {}) })
    }
  }
  return caps
}

function tokensOf(e: UsageEntry): number {
  return e.promptTokens + e.completionTokens
}

export function governanceView(ctx: ViewContext): void {
  const models = h('section', { 'aria-labelledby': 'models-h' })
  const agents = h('section', { 'aria-labelledby': 'agents-h' })
  const usage = h('section', { 'aria-labelledby': 'usage-h' })
  const refusals = h('section', { 'aria-labelledby': 'refusals-h' })
  const status = h('div', { 'aria-live': 'polite', class: 'action-status' })
  replace(ctx.root, h('h1', {}, 'Governance'), status, models, agents, usage, refusals)
  let entries: UsageEntry[] | undefined
  let usageMessage = 'Loading the usage ledger…'
  let redraw = () => {}
  let chartsKey = ''
  let chartAbort: AbortController | undefined
  let agentsHtml = ''

  const live = useLive(ctx, ['models', 'agents', 'tokenpolicies'], (c) => {
    drawModels(c.models.list(), collectionNotice(c.models, 'Models'))
    drawUsage(c.agents.list(), c.tokenpolicies.list())
  })
  redraw = () => drawUsage(live.agents.list(), live.tokenpolicies.list())

  function drawModels(list: KubeObject[], waiting?: HTMLElement): void {
    const namespaces = [...new Set(list.flatMap((m) => (m.spec?.namespaces ?? []) as string[]))].sort()
    replace(
      models,
      h('h2', { id: 'models-h' }, counted('Models', list.length, waiting)),
      waiting ?? null,
      list.length === 0 && !waiting ? h('p', { class: 'muted' }, 'No Model is approved: agents can call nothing.') : null,
      list.length
        ? table(
            'Approved models, their upstream and prices, and which namespaces’ agents may call them',
            ['Model', 'Upstream model', 'Price in / out ($ per M tokens)', 'Max tokens', ...namespaces.map((n) => `ns ${n}`)],
            list.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).map((m) => [m.metadata.name, m.spec?.upstream?.model ?? '', `${m.spec?.pricing?.inputPerMTok ?? '?'} / ${m.spec?.pricing?.outputPerMTok ?? '?'}`, String(m.spec?.maxTokens ?? ''), ...namespaces.map((n) => ((m.spec?.namespaces ?? []) as string[]).includes(n) ? h('span', { class: 'yes', 'aria-label': 'allowed' }, '✓ allowed') : h('span', { class: 'no', 'aria-label': 'not allowed' }, '—'))]),
            { 'data-table': 'models' },
          )
        : null,
    )
  }

  function drawAgents(list: KubeObject[], policies: KubeObject[], waiting?: HTMLElement): void {
    const now = Date.now()
    const rows = list
      .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))
      .map((a) => {
        const caps = capsOf(a, policies)
        const disabled = a.spec?.disabled === true
        const capText = caps.length
          ? h('ul', { class: 'caps' }, ...caps.map((cap) => {
              const used = entries?.filter((e) => e.namespace === a.metadata.namespace && e.agent === a.metadata.name && (!cap.model || e.model === cap.model) && e.time >= windowStart(cap.window, now)).reduce((n, e) => n + tokensOf(e), 0)
              return h('li', {}, `${cap.policy}: `, used === undefined ? '' : h('meter', { min: 0, max: cap.tokens, value: used, 'aria-label': `${used} of ${cap.tokens} tokens this ${cap.window}` }), ` ${used === undefined ? '?' : num(used)} / ${num(cap.tokens)} tokens per ${cap.window}${cap.model ? ` (${cap.model})` : ''}, ${cap.mode}`)
            }))
          : live.tokenpolicies.state === 'ready'
            ? h('span', { class: 'muted' }, 'no token cap')
            : h('span', { class: 'muted' }, live.tokenpolicies.state === 'loading' ? 'loading caps…' : 'caps unknown (TokenPolicies unreadable)')
        const action = ctx.admin
          ? h('button', { type: 'button', class: disabled ? 'secondary' : 'danger', 'data-agent': `${a.metadata.namespace}/${a.metadata.name}`, onclick: () => void setDisabled(a, !disabled) }, disabled ? `Enable ${a.metadata.name}` : `Disable ${a.metadata.name}`)
          : h('span', { class: 'muted' }, 'admin only')
        return [a.metadata.namespace ?? '', a.metadata.name, ((a.spec?.models ?? []) as string[]).join(', '), h('span', { class: disabled ? 'state off' : 'state on', 'data-state': disabled ? 'disabled' : 'enabled' }, disabled ? 'disabled' : 'enabled'), capText, action]
      })
    const next = [h('h2', { id: 'agents-h' }, counted('Agents', list.length, waiting)), waiting ?? null, list.length ? table('Agents, their models, state, and token use in the current window of each cap', ['Namespace', 'Agent', 'Models', 'State', 'Token caps (use this window)', 'Kill switch'], rows, { 'data-table': 'agents' }) : null]
    // The usage refresh redraws every few seconds: leave the table alone when nothing in it changed,
    // and otherwise put the keyboard focus back on the same kill switch, so that Tab and Enter work.
    const html = next.map((n) => (n ? n.outerHTML : '')).join('')
    if (html === agentsHtml) return
    agentsHtml = html
    const focused = document.activeElement instanceof HTMLElement && agents.contains(document.activeElement) ? document.activeElement.getAttribute('data-agent') : null
    replace(agents, ...next)
    if (focused) (agents.querySelector(`button[data-agent="${CSS.escape(focused)}"]`) as HTMLButtonElement | null)?.focus()
  }

  function drawUsage(agentList: KubeObject[], policies: KubeObject[]): void {
    drawAgents(agentList, policies, collectionNotice(live.agents, 'Agents'))
    if (entries === undefined) {
      replace(usage, h('h2', { id: 'usage-h' }, 'Token use against caps'), notice('info', usageMessage))
      replace(refusals, h('h2', { id: 'refusals-h' }, 'Recent refusals'), h('p', { class: 'muted' }, 'Refusals come from the usage ledger (see above).'))
      return
    }
    const now = Date.now()
    const series = agentList.flatMap((a) => capsOf(a, policies).map((cap) => ({ a, cap })))
    // Without the Agents and TokenPolicies read, no series is no evidence that no agent has a cap.
    const capsState = live.agents.state === 'loading' || live.tokenpolicies.state === 'loading' ? 'loading' : live.agents.state === 'ready' && live.tokenpolicies.state === 'ready' ? 'ready' : 'unknown'
    const key = JSON.stringify([capsState, series.map((s) => [s.a.metadata.namespace, s.a.metadata.name, s.cap]), entries.length, entries.at(-1)?.id])
    if (key !== chartsKey) {
      chartsKey = key
      chartAbort?.abort()
      chartAbort = new AbortController()
      ctx.signal.addEventListener('abort', () => chartAbort?.abort())
      const charts = series.map(({ a, cap }) => capChart(a, cap, entries as UsageEntry[], now, chartAbort!.signal))
      replace(usage, h('h2', { id: 'usage-h' }, 'Token use against caps'), series.length ? h('div', { class: 'chart-grid' }, ...charts) : capsState === 'loading' ? h('p', { class: 'loading', role: 'status' }, 'Loading the agents and their token caps…') : capsState === 'ready' ? h('p', { class: 'muted' }, 'No agent has a token cap.') : h('p', { class: 'muted' }, 'Token caps unknown: the Agents or TokenPolicies could not be read.'))
    }
    const refused = entries.filter((e) => e.outcome === 'refused').sort((x, y) => y.time - x.time).slice(0, 20)
    replace(
      refusals,
      h('h2', { id: 'refusals-h' }, 'Recent refusals'),
      refused.length === 0
        ? h('p', { class: 'muted' }, 'No request was refused in the last 24 hours.')
        : table('The last 20 refused requests (24 hours), newest first', ['Time', 'Namespace', 'Agent', 'Model', 'Status', 'Reason'], refused.map((e) => [new Date(e.time).toLocaleString(), e.namespace, e.agent, e.model, String(e.status ?? ''), e.reason ?? '']), { 'data-table': 'refusals' }),
    )
  }

  async function setDisabled(agent: KubeObject, disabled: boolean): Promise<void> {
    const path = `${GPUPLANE}/namespaces/${encodeURIComponent(agent.metadata.namespace ?? '')}/agents/${encodeURIComponent(agent.metadata.name)}`
    const label = `${agent.metadata.namespace}/${agent.metadata.name}`
    replace(status, h('p', { class: 'loading', role: 'status' }, `${disabled ? 'Disabling' : 'Enabling'} ${label}…`))
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        // Read, change, write with the resourceVersion read: a concurrent edit gets 409 and a retry.
        const fresh = await api<KubeObject>(path)
        await api(path, { method: 'PUT', body: { ...fresh, spec: { ...fresh.spec, disabled } } })
        replace(status, notice('ok', `${label} is ${disabled ? 'disabled: the gateway refuses its requests' : 'enabled again'}.`))
        return
      } catch (e) {
        if (e instanceof ApiError && e.status === 409 && attempt < 2) continue
        replace(status, notice('error', `Could not ${disabled ? 'disable' : 'enable'} ${label}: ${(e as Error).message}`))
        return
      }
    }
  }

  async function refreshUsage(): Promise<void> {
    const now = Date.now()
    // The longest window a dashboard cap needs is a month; the refusals list needs 24 hours.
    const from = Math.min(windowStart('month', now), now - WINDOW_MS.day)
    try {
      const res = await optional<{ items: UsageEntry[] }>(`${GPUPLANE}/usage?from=${from}&to=${now + 60_000}`, 'The usage ledger')
      if (ctx.signal.aborted) return
      if (res.available) entries = res.data.items ?? []
      else usageMessage = res.message
    } catch (e) {
      usageMessage = `The usage ledger could not be read: ${(e as Error).message}`
    }
    redraw()
  }
  void refreshUsage()
  const timer = setInterval(() => void refreshUsage(), USAGE_REFRESH_MS)
  ctx.signal.addEventListener('abort', () => clearInterval(timer))
}

/** Cumulative tokens of one agent in the current window of one cap, against the cap. */
function capChart(agent: KubeObject, cap: Cap, entries: UsageEntry[], now: number, signal: AbortSignal): HTMLElement {
  const start = windowStart(cap.window, now)
  const mine = entries.filter((e) => e.namespace === agent.metadata.namespace && e.agent === agent.metadata.name && (!cap.model || e.model === cap.model) && e.time >= start).sort((x, y) => x.time - y.time)
  let total = 0
  const points = [{ time: start, tokens: 0 }, ...mine.map((e) => ({ time: e.time, tokens: (total += tokensOf(e)) })), { time: now, tokens: total }]
  const title = `${agent.metadata.namespace}/${agent.metadata.name}: ${cap.policy} (${num(cap.tokens)} tokens per ${cap.window})`
  const c = chart(
    {
      width: 380,
      height: 160,
      title: { text: title, fontSize: 12 },
      layer: [
        { data: { values: points }, mark: { type: 'line', interpolate: 'step-after', tooltip: true }, encoding: { x: { field: 'time', type: 'temporal', title: `this ${cap.window} (UTC)`, scale: { type: 'utc', domain: [start, windowEnd(cap.window, now)] }, axis: { format: cap.window === 'month' ? '%b %d' : '%H:%M' } }, y: { field: 'tokens', type: 'quantitative', title: 'tokens used', scale: { domainMax: cap.tokens * 1.05 } } } },
        { data: { values: [{ cap: cap.tokens }] }, mark: { type: 'rule', color: '#e45756', strokeDash: [4, 3] }, encoding: { y: { field: 'cap', type: 'quantitative' } } },
      ],
    } as never,
    `${title}: ${num(total)} tokens used so far this ${cap.window}, cap ${num(cap.tokens)} (red dashed line).`,
    signal,
  )
  return c.el
}
