// The utilization routes: the usage report (chargeback, efficiency, cluster view) and the idle list, read from the telemetry store, the ledger and the objects; and their OpenAPI description.
//
//   GET /apis/gpuplane.io/v1alpha1/reports/usage?from=&to=&namespace=&step=
//       The chargeback report of src/telemetry/chargeback.ts over [from, to) (ISO times or ms since
//       the epoch; default the last 24 hours; `to` is clipped to now, so intervals still open end
//       now), with GPU prices from `gpuplane server --gpu-prices FILE` (usePrices) and the cluster
//       view in buckets of `step` seconds (default 3600).
//   GET /apis/gpuplane.io/v1alpha1/idle?namespace=
//       Workloads of namespaces with an idle policy, classified now (busy, idle since, unknown).
// A namespace token sees its own namespace only (asking for another is FORBIDDEN); the admin sees
// every namespace, or one with ?namespace=. The telemetry store is the app's `telemetry`
// decoration (src/server/telemetry-routes.ts), read at request time.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GpuplaneError } from '../common/errors.ts'
import { USAGE_MAX_LIMIT } from '../store/ledger.ts'
import type { LedgerEntry, Store } from '../store/types.ts'
import { chargeback, type ChargebackReport, type GpuPrices, type ReclaimRecord } from '../telemetry/chargeback.ts'
import { gpuModelOf } from '../telemetry/intervals.ts'
import type { TelemetryStore } from '../telemetry/types.ts'
import { usageTotalsOf } from '../telemetry/usage-totals.ts'
import type { ServerContext } from './context.ts'
import { assessIdle, IDLE_ACTOR, type IdleEntry } from './idle-controller.ts'

export const REPORT_USAGE_PATH = '/apis/gpuplane.io/v1alpha1/reports/usage'
export const IDLE_PATH = '/apis/gpuplane.io/v1alpha1/idle'
/** Default range of a report: the last 24 hours. */
export const DEFAULT_REPORT_RANGE_MS = 24 * 3_600_000
/** Longest range of one report: a year. */
const MAX_REPORT_RANGE_MS = 366 * 24 * 3_600_000

/** Audit entries read per query (the store's most). */
const AUDIT_PAGE = 10_000

const PRICES = new WeakMap<FastifyInstance, GpuPrices>()

/** The GPU prices the app's usage reports charge (gpuplane server --gpu-prices FILE). */
export function usePrices(app: FastifyInstance, prices: GpuPrices): void {
  PRICES.set(app, prices)
}

function telemetryOf(app: FastifyInstance): TelemetryStore {
  const t = (app as unknown as { telemetry?: TelemetryStore }).telemetry
  if (!t) throw new GpuplaneError('UNAVAILABLE', 'this server keeps no telemetry (its store is neither SQLite nor PostgreSQL)')
  return t
}

/** The namespace a request may read: its token's own, or what the admin asked for (undefined: all). */
function namespaceOf(request: FastifyRequest, asked: string | undefined): string | undefined {
  const p = request.principal
  if (!p || p.admin) return asked
  if (asked !== undefined && asked !== p.namespace) throw new GpuplaneError('FORBIDDEN', `the token of namespace "${p.namespace}" can read the reports of namespace "${p.namespace}" only, not of "${asked}"`)
  return p.namespace
}

function timeParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isFinite(ms)) throw new GpuplaneError('INVALID_INPUT', `${name}=${value} is not a time; give an ISO time (2026-11-01T00:00:00Z) or milliseconds since the epoch`, { path: name })
  return ms
}

export function registerReportRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(REPORT_USAGE_PATH, async (request) => {
    const q = request.query as { from?: string; to?: string; namespace?: string; step?: string }
    const namespace = namespaceOf(request, q.namespace || undefined)
    const now = Date.now()
    const to = Math.min(timeParam(q.to, 'to') ?? now, now)
    const from = timeParam(q.from, 'from') ?? to - DEFAULT_REPORT_RANGE_MS
    if (!(from < to)) throw new GpuplaneError('INVALID_INPUT', `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()}, clipped to now)`, { path: 'from' })
    if (to - from > MAX_REPORT_RANGE_MS) throw new GpuplaneError('INVALID_INPUT', 'a report covers at most a year; narrow from/to', { path: 'from' })
    const step = q.step === undefined ? undefined : Number(q.step)
    if (step !== undefined && !(Number.isSafeInteger(step) && step >= 60)) throw new GpuplaneError('INVALID_INPUT', `step=${q.step} must be a whole number of seconds, at least 60`, { path: 'step' })
    return usageReport(ctx.store, telemetryOf(app), { from, to, namespace, ...(step !== undefined ? { stepMs: step * 1000 } : {}), prices: PRICES.get(app) })
  })

  app.get(IDLE_PATH, async (request) => {
    const q = request.query as { namespace?: string }
    const namespace = namespaceOf(request, q.namespace || undefined)
    const entries = await assessIdle(ctx.store, telemetryOf(app), Date.now(), namespace !== undefined ? { namespace } : {})
    const items: IdleEntry[] = []
    for (const { policyResolved: _, holdingSince: __, ...e } of entries) {
      const w = await ctx.store.get({ kind: 'Workload', namespace: e.namespace, name: e.workload })
      const notice = ((w?.status as { conditions?: Array<{ type: string; message?: string; lastTransitionTime?: string }> } | undefined)?.conditions ?? []).find((c) => c.type === 'IdleReclaim')
      const reclaimAt = notice?.lastTransitionTime && Date.parse(notice.lastTransitionTime) + e.policy.gracePeriodSeconds * 1000
      items.push({ ...e, ...(reclaimAt ? { reclaimAt: new Date(reclaimAt).toISOString() } : {}) })
    }
    return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'IdleAllocationList', items }
  })
}

/** The usage report over [from, to): telemetry usage totals and intervals, ledger tokens, idle reclaims, GPU capacity from the slices. */
export async function usageReport(store: Store, telemetry: TelemetryStore, options: { from: number; to: number; namespace?: string; stepMs?: number; prices?: GpuPrices }): Promise<ChargebackReport> {
  const { from, to, namespace } = options
  const [usageTotals, intervals, tokens, reclaims, capacity] = await Promise.all([
    // The cluster view covers every namespace (as aggregates per model): chargeback filters the
    // holders. Summed by the store (SQL): a month of 1,000 GPUs is ~1,000 holders, not 720,000 rows.
    telemetry.usageTotals ? telemetry.usageTotals({ from, to }) : telemetry.usage({ from, to }).then(async (rows) => usageTotalsOf(rows, await telemetry.intervals({ from, to }), from, to)),
    telemetry.intervals({ from, to }),
    ledgerEntries(store, from, to, namespace),
    reclaimRecords(store, namespace),
    gpuCapacity(store),
  ])
  return chargeback({ from, to, usageTotals, intervals, tokens, reclaims, capacity, ...(namespace !== undefined ? { namespace } : {}), ...(options.stepMs !== undefined ? { stepMs: options.stepMs } : {}), ...(options.prices ? { prices: options.prices } : {}) })
}

/** Every ledger entry of the range, page by page. */
async function ledgerEntries(store: Store, from: number, to: number, namespace?: string): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = []
  let after: number | undefined
  for (;;) {
    const page = await store.queryUsage({ from, to, ...(namespace !== undefined ? { namespace } : {}), ...(after !== undefined ? { after } : {}), limit: USAGE_MAX_LIMIT })
    out.push(...page)
    if (page.length < USAGE_MAX_LIMIT) return out
    after = page[page.length - 1]!.seq
  }
}

/** The idle controller's reclaims, from its audit entries. */
async function reclaimRecords(store: Store, namespace?: string): Promise<ReclaimRecord[]> {
  const entries = []
  for (let after: number | undefined; ; ) {
    const page = await store.queryAudit({ actor: IDLE_ACTOR, ...(namespace !== undefined ? { namespace } : {}), ...(after !== undefined ? { after } : {}), limit: AUDIT_PAGE })
    entries.push(...page)
    if (page.length < AUDIT_PAGE) break
    after = page[page.length - 1]!.id
  }
  const out: ReclaimRecord[] = []
  for (const e of entries) {
    if (e.action !== 'idle.reclaim' || !e.namespace || !e.name) continue
    let detail: { gpus?: unknown; gpuModel?: unknown } = {}
    try {
      detail = JSON.parse(e.detail ?? '{}') as typeof detail
    } catch {
      // an entry without detail counts no GPU
    }
    out.push({ time: Date.parse(e.time), namespace: e.namespace, workload: e.name, gpus: typeof detail.gpus === 'number' ? detail.gpus : 0, ...(typeof detail.gpuModel === 'string' ? { gpuModel: detail.gpuModel } : {}) })
  }
  return out
}

/** Physical GPUs per model published in ResourceSlices (distinct parentUUID, else uuid, of devices with a productName). */
async function gpuCapacity(store: Store): Promise<Record<string, number>> {
  const gpus = new Map<string, Set<string>>()
  for (const slice of (await store.list('ResourceSlice')).items) {
    const devices = ((slice.spec as { devices?: Array<{ attributes?: Record<string, { string?: string }> }> } | undefined)?.devices ?? [])
    for (const d of devices) {
      const a = d.attributes ?? {}
      const uuid = a.parentUUID?.string ?? a.uuid?.string
      const product = a.productName?.string
      if (!uuid || !product) continue
      const model = gpuModelOf(product)
      let set = gpus.get(model)
      if (!set) gpus.set(model, (set = new Set()))
      set.add(uuid)
    }
  }
  return Object.fromEntries([...gpus].map(([m, s]) => [m, s.size]))
}

type Json = Record<string, unknown>
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })
const failure = (description: string): Json => ({ description, content: { 'application/json': { schema: ref('Status') } } })

const CHARGEBACK_TOTALS: Record<string, Json> = {
  gpuModels: { type: 'array', items: { type: 'string' }, description: 'the GPU models held, sorted' },
  allocatedGpuHours: { type: 'number', description: 'Σ duration × share of the allocation intervals' },
  usedGpuHours: { type: 'number', description: 'Σ duration × usedPercent / 100 of the usage rows' },
  efficiency: { type: ['number', 'null'], description: 'used / allocated; null when nothing was allocated' },
  reclaimedGpuHours: { type: 'number', description: 'capacity given back by idle reclaims' },
  reclaims: { type: 'integer' },
  promptTokens: { type: 'integer' },
  completionTokens: { type: 'integer' },
  requests: { type: 'integer' },
  tokenCost: { type: 'number', description: 'gateway ledger cost, in currency' },
  gpuCost: { type: 'number', description: 'allocated GPU-hours × the price per GPU-hour, in currency' },
  totalCost: { type: 'number' },
}

/** The report and idle-list shapes as the OpenAPI document shows them (components; src/telemetry/chargeback.ts and IdleEntry of idle-controller.ts). */
export const REPORT_OPENAPI_SCHEMAS: Record<string, Json> = {
  ChargebackRow: {
    type: 'object',
    description: 'one namespace (workload absent) or workload line of the report',
    properties: { namespace: { type: 'string' }, workload: { type: 'string' }, ...CHARGEBACK_TOTALS },
    required: ['namespace', ...Object.keys(CHARGEBACK_TOTALS)],
  },
  UsageReport: {
    type: 'object',
    properties: {
      from: { type: 'integer', description: 'ms since the epoch' },
      to: { type: 'integer', description: 'ms since the epoch (clipped to now)' },
      currency: { type: 'string', description: 'of the prices (default USD)' },
      namespaces: { type: 'array', items: ref('ChargebackRow') },
      workloads: { type: 'array', items: ref('ChargebackRow') },
      totals: { type: 'object', properties: CHARGEBACK_TOTALS, required: Object.keys(CHARGEBACK_TOTALS) },
      cluster: {
        type: 'object',
        description: 'allocated and utilized percent of each GPU model capacity, per bucket (every namespace)',
        properties: {
          stepMs: { type: 'integer' },
          models: {
            type: 'array',
            items: {
              type: 'object',
              properties: { gpuModel: { type: 'string' }, gpus: { type: 'integer' }, points: { type: 'array', items: { type: 'object', properties: { time: { type: 'integer' }, allocatedPercent: { type: 'number' }, utilizedPercent: { type: 'number' } }, required: ['time', 'allocatedPercent', 'utilizedPercent'] } } },
              required: ['gpuModel', 'gpus', 'points'],
            },
          },
        },
        required: ['stepMs', 'models'],
      },
      unpricedModels: { type: 'array', items: { type: 'string' }, description: 'models held without a price (charged 0)' },
    },
    required: ['from', 'to', 'currency', 'namespaces', 'workloads', 'totals', 'cluster', 'unpricedModels'],
  },
  IdleEntry: {
    type: 'object',
    properties: {
      namespace: { type: 'string' },
      workload: { type: 'string' },
      gpuModels: { type: 'array', items: { type: 'string' } },
      gpus: { type: 'number', description: 'Σ share of the GPUs held' },
      state: { type: 'string', enum: ['busy', 'idle', 'unknown'], description: 'unknown: no recent samples (never reclaimed on missing data)' },
      since: { type: 'string', format: 'date-time', description: 'idle since, when idle' },
      idleSeconds: { type: 'number' },
      reason: { type: 'string' },
      policy: { type: 'object', properties: { smUtilBelow: { type: 'number' }, forSeconds: { type: 'number' }, action: { type: 'string' }, gracePeriodSeconds: { type: 'number' } }, required: ['smUtilBelow', 'forSeconds', 'action', 'gracePeriodSeconds'] },
      reclaimAt: { type: 'string', format: 'date-time', description: 'when the devices will be reclaimed, once a notice was given' },
    },
    required: ['namespace', 'workload', 'gpuModels', 'gpus', 'state', 'policy'],
  },
}

/** The report and idle routes in the OpenAPI document. */
export function reportOpenApiPaths(): Json {
  const param = (name: string, description: string, schema: Json = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema })
  const namespace = param('namespace', 'only this namespace (a namespace token: its own only)')
  const common = {
    '401': failure('no token, or an unknown one (UNAUTHORIZED)'),
    '403': failure('a namespace token asked for another namespace (FORBIDDEN)'),
    '503': failure('the store keeps no telemetry (UNAVAILABLE)'),
  }
  return {
    [REPORT_USAGE_PATH]: {
      get: {
        tags: ['reports'],
        summary: 'Chargeback and efficiency report over [from, to): GPU-hours allocated and used, idle reclaims, gateway tokens and cost, and the cluster view',
        parameters: [
          param('from', `start: ISO time or ms since the epoch (default: to - ${DEFAULT_REPORT_RANGE_MS / 3_600_000}h)`),
          param('to', 'end: ISO time or ms since the epoch (default and at most: now); at most a year after from'),
          namespace,
          param('step', 'bucket of the cluster view, whole seconds, at least 60 (default 3600)', { type: 'integer', minimum: 60 }),
        ],
        responses: { '200': { description: 'the report', content: { 'application/json': { schema: ref('UsageReport') } } }, '400': failure('invalid from, to or step (INVALID_INPUT, details.field)'), ...common },
      },
    },
    [IDLE_PATH]: {
      get: {
        tags: ['reports'],
        summary: 'Workloads of namespaces with an idle policy, classified now (busy, idle since, unknown), with the reclaim time once a notice was given',
        parameters: [namespace],
        responses: {
          '200': { description: 'the workloads', content: { 'application/json': { schema: { type: 'object', properties: { apiVersion: { const: 'gpuplane.io/v1alpha1' }, kind: { const: 'IdleAllocationList' }, items: { type: 'array', items: ref('IdleEntry') } }, required: ['apiVersion', 'kind', 'items'] } } } },
          ...common,
        },
      },
    },
  }
}
