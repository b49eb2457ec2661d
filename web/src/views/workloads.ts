// The Workloads view: pending workloads with the scheduler's reason, running ones with their devices, and each namespace's quota use (borrowed beyond it) against its quota.
import { chart } from '../chart.ts'
import { h, notice, replace, table } from '../dom.ts'
import type { KubeObject, LiveCollection } from '../live.ts'
import { collectionNotice, counted, useLive, type ViewContext } from '../view.ts'
import { quantity } from './cluster-model.ts'

interface QuotaRow {
  namespace: string
  cohort: string
  gpus: number
  quota?: number
  borrowed: number
  borrowingLimit?: number
  lendingLimit?: number
  cpu: number
  cpuQuota?: number
  memory: number
  memoryQuota?: number
}

export function workloadsView(ctx: ViewContext): void {
  const pending = h('section', { 'aria-labelledby': 'pending-h' })
  const running = h('section', { 'aria-labelledby': 'running-h' })
  const quota = h('section', { 'aria-labelledby': 'quota-h' })
  replace(ctx.root, h('h1', {}, 'Workloads and queue'), quota, pending, running)
  let chartAbort: AbortController | undefined
  let lastQuotaKey = ''

  useLive(ctx, ['workloads', 'resourceclaims', 'namespaces'], (c) => {
    const waiting = collectionNotice(c.workloads, 'Workloads')
    const workloads = c.workloads.list().sort((a, b) => keyText(a).localeCompare(keyText(b)))
    const claims = new Map(c.resourceclaims.list().map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]))
    const isPending = (w: KubeObject) => !w.status?.nodeName
    const pend = workloads.filter(isPending).sort((a, b) => (b.spec?.priority ?? 0) - (a.spec?.priority ?? 0))
    const run = workloads.filter((w) => !isPending(w))
    replace(
      pending,
      h('h2', { id: 'pending-h' }, counted('Pending', pend.length, waiting)),
      waiting ?? null,
      pend.length === 0 && !waiting
        ? h('p', { class: 'muted' }, 'Nothing is waiting.')
        : table('Pending workloads, highest priority first, with the reason the scheduler gave', ['Namespace', 'Workload', 'Priority', 'Phase', 'Why it is pending'], pend.map((w) => [w.metadata.namespace ?? '', w.metadata.name, String(w.spec?.priority ?? 0), w.status?.phase ?? 'Pending', h('span', { class: 'reason' }, w.status?.reason ?? 'not scheduled yet')]), { class: 'pending', 'data-table': 'pending' }),
    )
    replace(
      running,
      h('h2', { id: 'running-h' }, counted('Running', run.length, waiting)),
      // A notice of its own: an element appended to a second section moves out of the first.
      collectionNotice(c.workloads, 'Workloads') ?? null,
      table('Running workloads with their node and devices', ['Namespace', 'Workload', 'Priority', 'Node', 'Devices'], run.map((w) => [w.metadata.namespace ?? '', w.metadata.name, String(w.spec?.priority ?? 0), w.status?.nodeName ?? '', c.resourceclaims.state === 'ready' ? devicesOf(w, claims) : (collectionNotice(c.resourceclaims, 'ResourceClaims') ?? null)]), { class: 'running', 'data-table': 'running' }),
    )
    // Use counts the running workloads' claims: until all three are read, it would show too little (or no Namespace at all).
    const quotaLoading = [c.namespaces, c.workloads, c.resourceclaims].some((x) => x.state === 'loading')
    const rows = quotaLoading ? [] : quotaRows(c.namespaces, workloads, claims)
    const key = JSON.stringify([quotaLoading, rows])
    if (key === lastQuotaKey) return
    lastQuotaKey = key
    chartAbort?.abort()
    chartAbort = new AbortController()
    ctx.signal.addEventListener('abort', () => chartAbort?.abort())
    const nsNotice = quotaLoading ? h('p', { class: 'loading', role: 'status' }, 'Loading the quota use…') : collectionNotice(c.namespaces, 'Namespaces')
    replace(quota, h('h2', { id: 'quota-h' }, 'Quota use by namespace'), nsNotice ?? null, ...(rows.length ? quotaContent(rows, chartAbort.signal) : nsNotice ? [] : [h('p', { class: 'muted' }, 'No Namespace objects: nothing has a quota.')]))
  })
}

function keyText(o: KubeObject): string {
  return `${o.metadata.namespace}/${o.metadata.name}`
}

function claimsOf(w: KubeObject, claims: Map<string, KubeObject>): KubeObject[] {
  const statuses = (w.status?.resourceClaimStatuses ?? []) as Array<{ name: string; resourceClaimName?: string }>
  const names = statuses.length ? statuses.map((s) => s.resourceClaimName ?? `${w.metadata.name}-${s.name}`) : ((w.spec?.resourceClaims ?? []) as Array<{ name: string; resourceClaimName?: string }>).map((r) => r.resourceClaimName ?? `${w.metadata.name}-${r.name}`)
  return names.map((n) => claims.get(`${w.metadata.namespace}/${n}`)).filter((x): x is KubeObject => x !== undefined)
}

function allocatedDevices(claim: KubeObject): Array<{ pool: string; device: string; memory?: string }> {
  return ((claim.status?.allocation?.devices?.results ?? []) as Array<{ pool: string; device: string; adminAccess?: boolean; consumedCapacity?: { memory?: string } }>).filter((r) => !r.adminAccess).map((r) => ({ pool: r.pool, device: r.device, memory: r.consumedCapacity?.memory }))
}

function devicesOf(w: KubeObject, claims: Map<string, KubeObject>): HTMLElement {
  const devices = claimsOf(w, claims).flatMap(allocatedDevices)
  if (devices.length === 0) return h('span', { class: 'muted' }, 'no devices')
  return h('ul', { class: 'devices' }, ...devices.map((d) => h('li', {}, `${d.pool}/${d.device}${d.memory ? ` (${d.memory})` : ''}`)))
}

/** Use per namespace as the scheduler's quota plugin counts it: one `gpus` per allocated device, CPU and memory of the running workloads. */
function quotaRows(namespaces: LiveCollection, workloads: KubeObject[], claims: Map<string, KubeObject>): QuotaRow[] {
  return namespaces
    .list()
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .map((ns) => {
      const name = ns.metadata.name
      const running = workloads.filter((w) => w.metadata.namespace === name && w.status?.nodeName)
      const gpus = running.reduce((n, w) => n + claimsOf(w, claims).flatMap(allocatedDevices).length, 0)
      const spec = ns.spec ?? {}
      const q = spec.quota ?? {}
      const cpu = running.reduce((n, w) => n + (quantity(w.spec?.resources?.cpu) || 0), 0)
      const memory = running.reduce((n, w) => n + (quantity(w.spec?.resources?.memory) || 0), 0)
      return {
        namespace: name,
        cohort: spec.cohort ?? '',
        gpus,
        quota: q.gpus,
        borrowed: q.gpus === undefined ? 0 : Math.max(0, gpus - q.gpus),
        borrowingLimit: spec.borrowingLimit?.gpus,
        lendingLimit: spec.lendingLimit?.gpus,
        cpu,
        cpuQuota: q.cpu === undefined ? undefined : quantity(q.cpu),
        memory,
        memoryQuota: q.memory === undefined ? undefined : quantity(q.memory),
      }
    })
}

function quotaContent(rows: QuotaRow[], signal: AbortSignal): HTMLElement[] {
  const values = rows.flatMap((r) => [
    { namespace: r.namespace, part: 'within quota', gpus: Math.min(r.gpus, r.quota ?? r.gpus) },
    { namespace: r.namespace, part: 'borrowed from cohort', gpus: r.borrowed },
  ])
  const quotas = rows.filter((r) => r.quota !== undefined).map((r) => ({ namespace: r.namespace, quota: r.quota }))
  const c = chart(
    {
      width: 560,
      height: { step: 26 },
      title: 'GPUs in use against each namespace’s quota',
      layer: [
        {
          data: { values },
          mark: { type: 'bar', tooltip: true },
          encoding: {
            y: { field: 'namespace', type: 'nominal', title: null },
            x: { field: 'gpus', type: 'quantitative', aggregate: 'sum', title: 'GPUs (devices allocated)' },
            color: { field: 'part', type: 'nominal', title: null, scale: { domain: ['within quota', 'borrowed from cohort'], range: ['#4c78a8', '#f58518'] } },
          },
        },
        {
          data: { values: quotas },
          mark: { type: 'tick', color: '#222', thickness: 2, size: 22, tooltip: true },
          encoding: { y: { field: 'namespace', type: 'nominal' }, x: { field: 'quota', type: 'quantitative' } },
        },
      ],
    } as never,
    `Bar chart of GPUs in use per namespace, borrowed GPUs in orange, a black tick at each namespace's quota. ${rows.map((r) => `${r.namespace}: ${r.gpus} of ${r.quota ?? 'unlimited'}`).join('; ')}.`,
    signal,
  )
  const fmt = (used: number, quota?: number, unit = '') => (quota === undefined ? `${+used.toFixed(2)}${unit} (no quota)` : `${+used.toFixed(2)}${unit} of ${+quota.toFixed(2)}${unit}`)
  const gib = (n: number) => n / 2 ** 30
  return [
    c.el,
    rows.some((r) => r.borrowed > 0) ? notice('info', `Borrowing now: ${rows.filter((r) => r.borrowed > 0).map((r) => `${r.namespace} uses ${r.borrowed} GPU${r.borrowed === 1 ? '' : 's'} beyond its quota, lent by its cohort "${r.cohort}"`).join('; ')}.`) : h('p', { class: 'muted' }, 'No namespace borrows beyond its quota now.'),
    table(
      'Quota use per namespace (GPUs count allocated devices, as the scheduler’s quota does)',
      ['Namespace', 'Cohort', 'GPUs', 'Borrowed', 'Borrowing limit', 'Lending limit', 'CPU', 'Memory'],
      rows.map((r) => [r.namespace, r.cohort || '—', fmt(r.gpus, r.quota), String(r.borrowed), r.borrowingLimit === undefined ? '—' : String(r.borrowingLimit), r.lendingLimit === undefined ? '—' : String(r.lendingLimit), fmt(r.cpu, r.cpuQuota), fmt(gib(r.memory), r.memoryQuota === undefined ? undefined : gib(r.memoryQuota), ' GiB')]),
      { 'data-table': 'quota' },
    ),
  ]
}
