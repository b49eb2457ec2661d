// The OpenAI-compatible gateway as a Fastify app: authentication, request checks, admission by reservation, then the proxy (proxy.ts).
//
// Per request: the agent from its Bearer key (401/403), the body parsed and checked (400, 413),
// the Model authorized (403/404), then planAdmission -> counters.reserve -> decideAdmission: a
// refused reservation is a 429 with the limit, its window and reset, and `x-ratelimit-*` headers;
// an admitted one is forwarded with max_tokens set to what was reserved (lowered by hard-clamp).
// While shared counters are unavailable the outage policy decides (admit.ts, counter-guard.ts).
// Every request that reaches admission ends as one usage ledger entry (settlement.ts), written in
// batches off the request path (ledger-writer.ts) and flushed when the app closes.
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { Agent } from '../api/agent-v1alpha1.ts'
import type { Model } from '../api/model-v1alpha1.ts'
import type { TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { GpuplaneError, isGpuplaneError } from '../common/errors.ts'
import { authenticate, authorizeModel, buildRegistry, checkEnabled, identifyAgent, modelsFor, policiesOf, type AgentIdentity, type GovernanceRegistry } from '../governance/access.ts'
import { planAdmission } from '../governance/admission.ts'
import { withMaxTokens } from '../governance/bound.ts'
import type { Counters } from '../governance/counters.ts'
import { OutagePolicy } from '../governance/outage.ts'
import { reservedUsage } from '../governance/reconcile.ts'
import { ENDPOINT_PATHS, parseInferenceRequest, type Endpoint } from '../governance/requests.ts'
import { admit } from './admit.ts'
import { CounterGuard } from './counter-guard.ts'
import { asGpuplaneError, openAIError } from './errors.ts'
import { LedgerWriter, type LedgerSink, type LedgerWriterOptions } from './ledger-writer.ts'
import { createGatewayMetrics, type GatewayMetrics } from './metrics.ts'
import { forward, type ProxyContext } from './proxy.ts'
import type { LedgerReader } from './rebuild-counters.ts'
import { InflightTracker, recordRefusal, Settlement, type GatewayRuntime, type RequestInfo } from './settlement.ts'

/** Largest request body accepted by default (bytes): long chat histories fit, runaway uploads do not. */
export const DEFAULT_GATEWAY_BODY_LIMIT = 4 * 1024 * 1024

/** What buildGateway needs: the governance objects (or their registry) and the counters. */
export interface GatewayOptions {
  /**
   * The indexed objects, or a function giving the current ones (read on every request, so a
   * reloaded configuration — a disabled agent, a revoked key — applies to the next request); or
   * give `objects` and the registry is built from them.
   */
  registry?: GovernanceRegistry | (() => GovernanceRegistry)
  objects?: { models: readonly Model[]; agents: readonly Agent[]; policies: readonly TokenPolicy[] }
  counters: Counters
  /** undici dispatcher for upstream calls (tests, connection pools); the global one when absent. */
  dispatcher?: Dispatcher
  /** Milliseconds since the epoch (picks the limit windows); Date.now when absent. */
  now?: () => number
  /** Where upstream API keys are read; process.env when absent. */
  env?: Readonly<Record<string, string | undefined>>
  /** A pino-compatible logger; none when absent. */
  logger?: FastifyBaseLogger
  /** Largest request body in bytes; DEFAULT_GATEWAY_BODY_LIMIT when absent. */
  bodyLimit?: number
  /**
   * The usage ledger (a Store): every request's outcome is appended, in batches off the request
   * path. With queryUsage too, shared counters are rebuilt from it at start and after an outage.
   */
  ledger?: LedgerSink & Partial<LedgerReader>
  /** Batching and retry settings of the ledger writer (ledger-writer.ts defaults). */
  ledgerWriter?: Partial<LedgerWriterOptions>
  /** What to do per limit class while the shared counters are unavailable (outage.ts defaults: tokens and cost fail closed, requests local). */
  outage?: OutagePolicy
  /** Gateway replicas sharing the limits: the `local` outage mode enforces 1/replicas of each (default 1). */
  replicas?: number
  /** Metrics registry to count into and serve at /metrics (default: a fresh one). */
  metrics?: GatewayMetrics
}

/** How long close waits for admitted requests to settle before the last ledger flush (ms). */
const CLOSE_SETTLE_TIMEOUT_MS = 30_000

/** The gateway app (not listening: call listen, or inject in tests). The registry's problems are logged once. */
export function buildGateway(options: GatewayOptions): FastifyInstance {
  const given = options.registry ?? (options.objects ? buildRegistry(options.objects) : undefined)
  if (given === undefined) throw new GpuplaneError('INVALID_INPUT', 'buildGateway needs a registry or the Model, Agent and TokenPolicy objects')
  const current = typeof given === 'function' ? given : () => given
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? DEFAULT_GATEWAY_BODY_LIMIT,
    ...(options.logger ? { loggerInstance: options.logger, childLoggerFactory: requestLogger } : { logger: false }),
  })
  for (const problem of current().problems) app.log.warn(problem)
  const now = options.now ?? Date.now
  const ctx: ProxyContext = { now, dispatcher: options.dispatcher, env: options.env ?? process.env, log: app.log }
  const rt = runtime(options, current, now, app.log)
  app.addHook('onReady', () => rt.guard.start())
  // onClose runs after the server stopped listening and its requests ended; streams settle just
  // after their response ends, so wait for the settlements, then write the last ledger entries.
  app.addHook('onClose', async () => {
    await rt.inflight.idle(CLOSE_SETTLE_TIMEOUT_MS)
    await rt.ledger?.close()
    await rt.guard.close()
  })

  // Bodies arrive as bytes whatever their content type: JSON errors are reported here, in OpenAI's shape.
  app.removeAllContentTypeParsers()
  const asBytes = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => done(null, body)
  // application/json by name too: Fastify caches the parser it finds for a named type, while the
  // catch-all is looked up again (the Content-Type parsed) on every request.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, asBytes)
  app.addContentTypeParser('*', { parseAs: 'buffer' }, asBytes)
  app.setErrorHandler((e, _req, reply) => {
    const error = asGpuplaneError(e)
    if (error.code === 'INTERNAL') app.log.error({ err: e }, 'gateway request failed')
    const { status, body } = openAIError(error)
    void reply.code(status).send(body)
  })
  app.setNotFoundHandler((req, reply) => {
    const { status, body } = openAIError(new GpuplaneError('NOT_FOUND', `no route ${req.method} ${req.url}; the gateway serves POST ${Object.keys(ENDPOINT_PATHS).join(', ')} and GET /v1/models`))
    void reply.code(status).send(body)
  })

  app.get('/metrics', async (_req, reply) => reply.type(rt.metrics.registry.contentType).send(await rt.metrics.registry.metrics()))
  app.get('/v1/models', async (req) => {
    const registry = current()
    const identity = authenticate(registry, bearerKey(req))
    return { object: 'list', data: modelsFor(registry, identity).map((m) => ({ id: m.metadata.name, object: 'model', created: 0, owned_by: identity.namespace })) }
  })
  for (const [path, endpoint] of Object.entries(ENDPOINT_PATHS) as Array<[string, Endpoint]>) {
    app.post(path, (req, reply) => handleInference(current(), ctx, rt, endpoint, req, reply))
  }
  return app
}

function runtime(options: GatewayOptions, current: () => GovernanceRegistry, now: () => number, log: FastifyBaseLogger): GatewayRuntime {
  const metrics = options.metrics ?? createGatewayMetrics()
  const replicas = options.replicas ?? 1
  if (!Number.isSafeInteger(replicas) || replicas < 1) throw new GpuplaneError('INVALID_INPUT', `replicas must be a whole number of at least 1, got ${replicas}`)
  const parsed = OutagePolicy.safeParse(options.outage ?? {})
  if (!parsed.success) throw new GpuplaneError('INVALID_INPUT', `outage policy ${JSON.stringify(options.outage)}: give fail-closed or local for tokens, requests and cost (${parsed.error.issues[0].message})`)
  const outage = parsed.data
  const ledger = options.ledger ? new LedgerWriter(options.ledger, log, metrics, options.ledgerWriter) : undefined
  const reader = options.ledger?.queryUsage ? (options.ledger as LedgerReader) : undefined
  const policies = () => [...current().policiesByNamespace.values()].flat()
  const guard = new CounterGuard({ counters: options.counters, ledger: reader, pending: () => ledger?.pending() ?? [], policies, now, log, metrics })
  return { counters: options.counters, guard, ledger, outage, replicas, metrics, now, log, inflight: new InflightTracker() }
}

async function handleInference(registry: GovernanceRegistry, ctx: ProxyContext, rt: GatewayRuntime, endpoint: Endpoint, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const startedAt = performance.now()
  const identity: AgentIdentity = identifyAgent(registry, bearerKey(req))
  let request
  try {
    request = parseInferenceRequest(endpoint, parseJson(req.body))
  } catch (e) {
    checkEnabled(identity) // a disabled agent hears 403, whatever it sent
    throw e
  }
  let model: Model
  try {
    checkEnabled(identity)
    model = authorizeModel(registry, identity, request.body.model)
  } catch (e) {
    // The kill switch and model approval refuse known agents: the ledger keeps these refusals too.
    if (isGpuplaneError(e) && e.code === 'FORBIDDEN') {
      recordRefusal(rt, { id: randomUUID(), time: ctx.now(), namespace: identity.namespace, agent: identity.name, model: request.body.model, endpoint, startedAt }, 403, e.message)
    }
    throw e
  }
  const now = ctx.now()
  const plan = planAdmission({ request, model, namespace: identity.namespace, agent: identity.name, policies: policiesOf(registry, identity.namespace), now })
  const info: RequestInfo = { id: randomUUID(), time: now, namespace: identity.namespace, agent: identity.name, model: model.metadata.name as string, endpoint, startedAt }
  const decision = await admit(rt, plan, info, (rejection) => void reply.code(429).headers(rejection.headers).send(rejection.body))
  if (decision === undefined) return
  if (decision.softExceeded.length > 0) ctx.log.info({ agent: `${identity.namespace}/${identity.name}`, limits: decision.softExceeded.map((c) => c.key) }, 'soft token limit exceeded')
  const settlement = new Settlement(rt, info, decision.reservation, decision.site)
  try {
    await forward(ctx, { endpoint, model, body: withMaxTokens(request, decision.maxTokens), headers: decision.headers, settlement }, reply)
  } finally {
    // A bug before the upstream call must not leak the reservation: count it whole.
    if (!settlement.settled) await settlement.settle(reservedUsage(decision.reservation), 'failed', 500)
  }
}

/**
 * Fastify's per-request logger: a child with the request id while request lines are logged
 * (level info or lower), else the app's logger itself, since creating a pino child per request
 * (bindings serialized each time) costs more than the rest of the request's logging.
 */
function requestLogger(this: FastifyInstance, logger: FastifyBaseLogger, ...[bindings, opts]: Parameters<FastifyBaseLogger['child']>): FastifyBaseLogger {
  const infoEnabled = (logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') ?? true
  return infoEnabled ? logger.child(bindings, opts) : logger
}

/** The Bearer token of the Authorization header, undefined when there is none. */
function bearerKey(req: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
  return match?.[1]
}

function parseJson(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new GpuplaneError('INVALID_INPUT', 'the request has no body: send a JSON object with Content-Type: application/json')
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch (e) {
    throw new GpuplaneError('INVALID_INPUT', `the request body is not valid JSON (${(e as Error).message})`)
  }
}
