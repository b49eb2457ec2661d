// The usage ledger over HTTP, for the dashboard and reports: GET /apis/gpuplane.io/v1alpha1/usage lists the gateway's ledger entries.
//
//   GET /apis/gpuplane.io/v1alpha1/usage?from=&to=&namespace=&agent=&model=&outcome=&after=&limit=
//     → {"apiVersion": "gpuplane.io/v1alpha1", "kind": "UsageList", "items": [LedgerEntry...]},
//     oldest first (by seq; `after` pages on). `from` (inclusive) and `to` (exclusive) are ISO 8601
//     times or milliseconds since the epoch, on the entries' admission time. The admin sees every
//     namespace; a namespace token its own only (FORBIDDEN naming another).
import type { FastifyInstance } from 'fastify'
import { GPUPLANE_V1ALPHA1 } from '../api/decode-kind.ts'
import { GpuplaneError } from '../common/errors.ts'
import { LEDGER_OUTCOMES, USAGE_MAX_LIMIT } from '../store/ledger.ts'
import type { LedgerOutcome, UsageQuery } from '../store/types.ts'
import { authorizeRead, requestPrincipal } from './auth.ts'
import type { ServerContext } from './context.ts'

export const USAGE_PATH = `/apis/${GPUPLANE_V1ALPHA1}/usage`

/** Entries one query returns without a limit. */
const DEFAULT_LIMIT = 1000

export function registerUsageRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(USAGE_PATH, async (req) => {
    const principal = requestPrincipal(req)
    const q = req.query as Record<string, string | undefined>
    const query: UsageQuery = { limit: integer(q.limit, 'limit', 1, USAGE_MAX_LIMIT) ?? DEFAULT_LIMIT }
    const from = time(q.from, 'from')
    const to = time(q.to, 'to')
    const after = integer(q.after, 'after', 0, Number.MAX_SAFE_INTEGER)
    if (from !== undefined) query.from = from
    if (to !== undefined) query.to = to
    if (after !== undefined) query.after = after
    if (q.namespace) query.namespace = q.namespace
    if (q.agent) query.agent = q.agent
    if (q.model) query.model = q.model
    if (q.outcome) {
      if (!LEDGER_OUTCOMES.includes(q.outcome as LedgerOutcome)) throw new GpuplaneError('INVALID_INPUT', `outcome must be one of ${LEDGER_OUTCOMES.join(', ')}, got "${q.outcome}"`, { path: 'outcome' })
      query.outcome = q.outcome
    }
    if (!principal.admin) {
      authorizeRead(principal, true, query.namespace ?? principal.namespace, 'usage')
      query.namespace = principal.namespace
    }
    return { apiVersion: GPUPLANE_V1ALPHA1, kind: 'UsageList', items: await ctx.store.queryUsage(query) }
  })
}

/** A time parameter: milliseconds since the epoch, or an ISO 8601 time; undefined when absent. */
function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const ms = /^\d+$/.test(value) ? Number(value) : /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : NaN
  if (!Number.isSafeInteger(ms) || ms < 0) throw new GpuplaneError('INVALID_INPUT', `${name} must be an ISO 8601 time (e.g. 2026-11-01T00:00:00Z) or milliseconds since the epoch, got "${value}"`, { path: name })
  return ms
}

function integer(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new GpuplaneError('INVALID_INPUT', `${name} must be a whole number from ${min} to ${max}, got "${value}"`, { path: name })
  return n
}

type Json = Record<string, unknown>

/** A ledger entry as the OpenAPI document shows it. */
export const LEDGER_ENTRY_SCHEMA: Json = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'request id (the idempotency key)' },
    seq: { type: 'integer', description: 'append order' },
    time: { type: 'integer', description: 'admission time, ms since the epoch' },
    namespace: { type: 'string' },
    agent: { type: 'string' },
    model: { type: 'string' },
    endpoint: { type: 'string', enum: ['chat', 'completions', 'embeddings'] },
    outcome: { type: 'string', enum: [...LEDGER_OUTCOMES] },
    promptTokens: { type: 'integer' },
    completionTokens: { type: 'integer' },
    costMicro: { type: 'integer', description: 'cost in micro-dollars' },
    requests: { type: 'integer', enum: [0, 1] },
    status: { type: 'integer', description: 'HTTP status the client got (499: it left first)' },
    reason: { type: 'string', description: 'for refusals: the limit or the outage' },
    reservedTokens: { type: 'integer' },
    latencyMs: { type: 'integer' },
  },
  required: ['id', 'time', 'namespace', 'agent', 'model', 'endpoint', 'outcome', 'promptTokens', 'completionTokens', 'costMicro', 'requests', 'status'],
}

/** The route in the OpenAPI document. */
export function usageOpenApiPaths(): Json {
  const param = (name: string, description: string, schema: Json = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema })
  return {
    [USAGE_PATH]: {
      get: {
        tags: ['usage'],
        summary: 'Read the gateway usage ledger (a namespace token: its namespace), oldest first',
        parameters: [
          param('from', 'entries admitted at or after this time (ISO 8601 or ms)'),
          param('to', 'entries admitted before this time (ISO 8601 or ms)'),
          param('namespace', 'only this namespace'),
          param('agent', 'only this agent'),
          param('model', 'only this Model'),
          param('outcome', 'completed, failed, released or refused'),
          param('after', 'entries with seq greater than this', { type: 'integer' }),
          param('limit', `at most this many (default ${DEFAULT_LIMIT}, up to ${USAGE_MAX_LIMIT})`, { type: 'integer' }),
        ],
        responses: {
          '200': { description: 'entries', content: { 'application/json': { schema: { type: 'object', properties: { apiVersion: { const: GPUPLANE_V1ALPHA1 }, kind: { const: 'UsageList' }, items: { type: 'array', items: { $ref: '#/components/schemas/LedgerEntry' } } } } } } },
          '400': { description: 'invalid query (INVALID_INPUT)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Status' } } } },
          '401': { description: 'no token, or an unknown one (UNAUTHORIZED)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Status' } } } },
          '403': { description: 'a namespace token asked for another namespace (FORBIDDEN)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Status' } } } },
        },
      },
    },
  }
}
