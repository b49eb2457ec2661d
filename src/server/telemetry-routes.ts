// Telemetry routes: node agents push utilization samples (attributed to allocations, exactly once), the dashboard reads allocated-vs-used series; the periodic rollup; and the routes' OpenAPI description.
//
//   POST /apis/gpuplane.io/v1alpha1/telemetry/samples   {"node","agentId","seq","samples":[UtilizationSample]}
//        -> {"accepted","attributed","duplicate"}  (admin token; namespace tokens 403)
//   GET  /apis/gpuplane.io/v1alpha1/telemetry/utilization?from&to&step&by=model|namespace
//        -> {"from","to","step","by","series":[{"key","points":[{"time","allocated","used"}]}]}
//
// Pushing samples needs the admin token: a sample names any node's devices and decides what a
// namespace is charged, so a namespace token must not write them. (A narrower node-agent token
// would need a new token scope; until then agents run with the admin token, as `gpuplane agent` says.)
//
// Exactly once: an agent numbers its batches (agentId, seq) and retries a batch with the same
// seq until it gets an answer; appendBatch records the seq with the samples in one transaction,
// so a retry after a lost response is answered `duplicate` and adds nothing, even if the
// allocations changed in between (which would attribute the samples to other holders).
import type { FastifyInstance } from 'fastify'
import { Counter } from 'prom-client'
import { z } from 'zod'
import { describeIssue, formatPath } from '../api/decode.ts'
import { GPUPLANE_V1ALPHA1 } from '../api/decode-kind.ts'
import { GpuplaneError } from '../common/errors.ts'
import { openTelemetryStore } from '../store/index.ts'
import type { Store } from '../store/types.ts'
import { attribute } from '../telemetry/attribution.ts'
import type { TelemetryStore } from '../telemetry/types.ts'
import { requestPrincipal, requireAdmin } from './auth.ts'
import type { ServerContext } from './context.ts'
import { utilizationSeries, type UtilizationBy } from './telemetry-series.ts'

export const TELEMETRY_SAMPLES_PATH = `/apis/${GPUPLANE_V1ALPHA1}/telemetry/samples`
export const TELEMETRY_UTILIZATION_PATH = `/apis/${GPUPLANE_V1ALPHA1}/telemetry/utilization`

/** Most samples in one push (10,000 x ~250 bytes of JSON stays under the 4 MiB body limit). */
export const MAX_BATCH_SAMPLES = 10_000

/** Retention of the periodic rollup: raw samples for a day, minute rows for 30 days, then hour rows (kept). */
export interface TelemetryRetention {
  rawMs: number
  minutesMs: number
  /** How often the server rolls up (0: never, e.g. in tests that call rollUp themselves). */
  everyMs: number
}

export const DEFAULT_RETENTION: TelemetryRetention = { rawMs: 24 * 3_600_000, minutesMs: 30 * 24 * 3_600_000, everyMs: 5 * 60_000 }

declare module './app.ts' {
  interface ServerOptions {
    /** Telemetry retention and rollup period (default DEFAULT_RETENTION). */
    telemetryRetention?: TelemetryRetention
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Where samples, rollups and allocation intervals live (the server's store's database). */
    telemetry: TelemetryStore
  }
}

const Sample = z.strictObject({
  time: z.number().finite().nonnegative(),
  node: z.string().min(1).max(253),
  device: z.string().min(1).max(253),
  uuid: z.string().max(128).optional(),
  smUtil: z.number().min(0).max(100),
  memUsedBytes: z.number().nonnegative(),
  memTotalBytes: z.number().nonnegative(),
  powerWatts: z.number().nonnegative().optional(),
  processes: z.array(z.strictObject({ pid: z.number().int().nonnegative(), usedBytes: z.number().nonnegative(), namespace: z.string().optional(), workload: z.string().optional() })).max(1024).optional(),
})

export const SampleBatch = z
  .strictObject({
    node: z.string().min(1).max(253),
    agentId: z.string().min(1).max(128),
    seq: z.number().int().positive(),
    samples: z.array(Sample).max(MAX_BATCH_SAMPLES),
  })
  .superRefine((b, ctx) => {
    const i = b.samples.findIndex((s) => s.node !== b.node)
    if (i >= 0) ctx.addIssue({ code: 'custom', path: ['samples', i, 'node'], message: `is "${b.samples[i].node}", but the batch is from node "${b.node}": an agent pushes its own node's samples` })
  })

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value ?? {})
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  throw new GpuplaneError('INVALID_INPUT', describeIssue(issue), { path: formatPath(issue.path) })
}

/** A telemetry store that says why there is none (a Store that keeps no telemetry). */
function unavailableTelemetry(reason: string): TelemetryStore {
  const fail = async (): Promise<never> => {
    throw new GpuplaneError('UNAVAILABLE', reason)
  }
  return { appendSamples: fail, appendBatch: fail, samples: fail, usage: fail, rollUp: fail, openInterval: fail, closeInterval: fail, intervals: fail }
}

function telemetryOf(store: Store): TelemetryStore {
  try {
    return openTelemetryStore(store)
  } catch (e) {
    return unavailableTelemetry((e as Error).message)
  }
}

export function registerTelemetryRoutes(app: FastifyInstance, ctx: ServerContext, options: { store: Store; telemetryRetention?: TelemetryRetention; now?: () => number }): void {
  // The raw store, not ctx.store: telemetry writes are not watched objects.
  const telemetry = telemetryOf(options.store)
  app.decorate('telemetry', telemetry)
  const now = options.now ?? Date.now
  const ingested = new Counter({ name: 'gpuplane_telemetry_samples_ingested_total', help: 'Utilization samples pushed by node agents, by result (added, or duplicate: already stored)', labelNames: ['result'], registers: [ctx.metrics.registry] })
  const batches = new Counter({ name: 'gpuplane_telemetry_batches_total', help: 'Sample batches pushed by node agents, by result (stored, or duplicate: a retry of a batch already stored)', labelNames: ['result'], registers: [ctx.metrics.registry] })

  app.post(TELEMETRY_SAMPLES_PATH, async (req) => {
    requireAdmin(requestPrincipal(req), 'pushing telemetry samples')
    const batch = parseOrThrow(SampleBatch, req.body)
    let attributed: ReturnType<typeof attribute> = []
    if (batch.samples.length > 0) {
      let from = Infinity
      let to = -Infinity
      for (const s of batch.samples) {
        from = Math.min(from, s.time)
        to = Math.max(to, s.time)
      }
      const intervals = await telemetry.intervals({ from, to: to + 1, node: batch.node })
      attributed = attribute(batch.samples, intervals)
    }
    const { added, duplicate } = await telemetry.appendBatch({ agentId: batch.agentId, seq: batch.seq }, attributed)
    batches.inc({ result: duplicate ? 'duplicate' : 'stored' })
    if (duplicate) ingested.inc({ result: 'duplicate' }, batch.samples.length)
    else ingested.inc({ result: 'added' }, batch.samples.length)
    return { accepted: duplicate ? 0 : batch.samples.length, attributed: added, duplicate }
  })

  app.get(TELEMETRY_UTILIZATION_PATH, async (req) => {
    const principal = requestPrincipal(req)
    const q = parseUtilizationQuery(req.query as Record<string, string | undefined>, now())
    // A namespace token sees its own namespace's use only.
    const namespace = principal.admin ? undefined : principal.namespace
    const [rows, intervals] = await Promise.all([telemetry.usage({ from: q.from, to: q.to, ...(namespace ? { namespace } : {}) }), telemetry.intervals({ from: q.from, to: q.to, ...(namespace ? { namespace } : {}) })])
    return { from: q.from, to: q.to, step: q.step, by: q.by, series: utilizationSeries(rows, intervals, q) }
  })

  startRollups(app, telemetry, options.telemetryRetention ?? DEFAULT_RETENTION, now)
}

/** Rolls up every `everyMs` (timer unref'd: it never keeps the process alive) until the server closes. */
function startRollups(app: FastifyInstance, telemetry: TelemetryStore, retention: TelemetryRetention, now: () => number): void {
  if (retention.everyMs <= 0) return
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    const t = now()
    telemetry
      .rollUp(t - retention.rawMs, t - retention.minutesMs)
      .catch((e: unknown) => app.log.warn({ err: e }, 'telemetry rollup failed; retrying at the next period'))
      .finally(() => (running = false))
  }, retention.everyMs)
  timer.unref()
  app.addHook('onClose', async () => clearInterval(timer))
}

/** Largest number of points one series may have. */
export const MAX_POINTS = 2000

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A time: ms since the epoch, an ISO date, or a duration before now ("6h" = six hours ago). */
function parseTime(value: string, name: string, now: number): number {
  const d = DURATION.exec(value)
  if (d) return now - Number(d[1]) * UNIT_MS[d[2]]
  if (/^\d+$/.test(value)) return Number(value)
  const t = Date.parse(value)
  if (Number.isNaN(t)) throw new GpuplaneError('INVALID_INPUT', `${name}="${value}" is not a time: give ms since the epoch, an ISO date, or a duration before now such as 6h`, { path: name })
  return t
}

export function parseUtilizationQuery(query: Record<string, string | undefined>, now: number): { from: number; to: number; step: number; by: UtilizationBy } {
  let to = query.to !== undefined ? parseTime(query.to, 'to', now) : now
  let from = query.from !== undefined ? parseTime(query.from, 'from', now) : to - 6 * 3_600_000
  if (!(from < to)) throw new GpuplaneError('INVALID_INPUT', `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`, { path: 'from' })
  let step = Math.max(60_000, Math.ceil((to - from) / 360 / 60_000) * 60_000)
  if (query.step !== undefined) {
    const d = DURATION.exec(query.step)
    step = d ? Number(d[1]) * UNIT_MS[d[2]] : Number(query.step)
    // usage() reports whole minutes (raw samples are grouped per minute): a finer step would
    // spread a minute's use over buckets before its first sample.
    if (!Number.isFinite(step) || step < 60_000 || step % 60_000 !== 0) throw new GpuplaneError('INVALID_INPUT', `step="${query.step}" must be a whole number of minutes (e.g. 1m, 5m, 1h): use is kept per minute`, { path: 'step' })
  }
  // Buckets on multiples of the step, so a minute row falls in one bucket and series line up between calls.
  from = Math.floor(from / step) * step
  to = Math.ceil(to / step) * step
  if ((to - from) / step > MAX_POINTS) throw new GpuplaneError('INVALID_INPUT', `from..to at step ${step} ms gives more than ${MAX_POINTS} points: use a larger step`, { path: 'step' })
  const by = query.by ?? 'model'
  if (by !== 'model' && by !== 'namespace') throw new GpuplaneError('INVALID_INPUT', `by="${by}" must be model or namespace`, { path: 'by' })
  return { from, to, step, by }
}

type Json = Record<string, unknown>
const failure = (description: string): Json => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Status' } } } })

/** The utilization series as the OpenAPI document shows them (the SampleBatch request comes from the zod schema above: openapi.ts). */
export const UTILIZATION_REPORT_SCHEMA: Json = {
  type: 'object',
  description: 'allocated: average GPUs held in the bucket (allocation intervals × share); used: average GPUs worth of SM time used (samples); both per series key',
  properties: {
    from: { type: 'integer', description: 'ms since the epoch, rounded down to the step' },
    to: { type: 'integer', description: 'ms since the epoch, rounded up to the step' },
    step: { type: 'integer', description: 'bucket, ms (whole minutes)' },
    by: { type: 'string', enum: ['model', 'namespace'] },
    series: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          key: { type: 'string', description: 'a GPU model or a namespace; "(unknown model)" / "(unallocated)" for use nobody held' },
          points: { type: 'array', items: { type: 'object', properties: { time: { type: 'integer', description: 'bucket start, ms' }, allocated: { type: 'number' }, used: { type: 'number' } }, required: ['time', 'allocated', 'used'] } },
        },
        required: ['key', 'points'],
      },
    },
  },
  required: ['from', 'to', 'step', 'by', 'series'],
}

/** The telemetry routes in the OpenAPI document. */
export function telemetryOpenApiPaths(): Json {
  const param = (name: string, description: string, schema: Json = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema })
  const unavailable = failure('the store keeps no telemetry (UNAVAILABLE)')
  return {
    [TELEMETRY_SAMPLES_PATH]: {
      post: {
        tags: ['telemetry'],
        summary: 'Push a node agent batch of utilization samples (admin token); a retried (agentId, seq) is answered duplicate and adds nothing',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/SampleBatch' } } } },
        responses: {
          '200': {
            description: 'stored, or a duplicate of a batch already stored',
            content: { 'application/json': { schema: { type: 'object', properties: { accepted: { type: 'integer', description: 'samples taken (0 for a duplicate)' }, attributed: { type: 'integer', description: 'rows added after attribution to allocations' }, duplicate: { type: 'boolean' } }, required: ['accepted', 'attributed', 'duplicate'] } } },
          },
          '400': failure(`invalid batch (INVALID_INPUT, details.field), e.g. a sample of another node or more than ${MAX_BATCH_SAMPLES} samples`),
          '401': failure('no token, or an unknown one (UNAUTHORIZED)'),
          '403': failure('not the admin token (FORBIDDEN)'),
          '413': failure('body too large (PAYLOAD_TOO_LARGE)'),
          '503': unavailable,
        },
      },
    },
    [TELEMETRY_UTILIZATION_PATH]: {
      get: {
        tags: ['telemetry'],
        summary: 'Allocated vs used GPUs over time, per GPU model or namespace (a namespace token: its namespace)',
        parameters: [
          param('from', 'start: ms since the epoch, an ISO time, or a duration before now such as 6h (default: to - 6h)'),
          param('to', 'end: as from (default: now)'),
          param('step', `bucket: a whole number of minutes, as a duration (1m, 5m, 1h) or ms (default: the range / 360, at least 1m); at most ${MAX_POINTS} buckets`),
          param('by', 'series per GPU model or per namespace (default model)', { type: 'string', enum: ['model', 'namespace'] }),
        ],
        responses: {
          '200': { description: 'the series', content: { 'application/json': { schema: { $ref: '#/components/schemas/UtilizationReport' } } } },
          '400': failure('invalid from, to, step or by (INVALID_INPUT, details.field)'),
          '401': failure('no token, or an unknown one (UNAUTHORIZED)'),
          '503': unavailable,
        },
      },
    },
  }
}
