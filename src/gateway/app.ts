// The OpenAI-compatible gateway as a Fastify app: authentication, request checks, admission by reservation, then the proxy (proxy.ts).
//
// Per request: the agent from its Bearer key (401/403), the body parsed and checked (400, 413),
// the Model authorized (403/404), then planAdmission -> counters.reserve -> decideAdmission: a
// refused reservation is a 429 with the limit, its window and reset, and `x-ratelimit-*` headers;
// an admitted one is forwarded with max_tokens set to what was reserved (lowered by hard-clamp).
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { Agent } from '../api/agent-v1alpha1.ts'
import type { Model } from '../api/model-v1alpha1.ts'
import type { TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { authenticate, authorizeModel, buildRegistry, modelsFor, policiesOf, type AgentIdentity, type GovernanceRegistry } from '../governance/access.ts'
import { decideAdmission, planAdmission } from '../governance/admission.ts'
import { withMaxTokens } from '../governance/bound.ts'
import type { Counters } from '../governance/counters.ts'
import { estimatePromptTokens } from '../governance/estimate.ts'
import { ENDPOINT_PATHS, parseInferenceRequest, type Endpoint } from '../governance/requests.ts'
import { asGpuplaneError, openAIError } from './errors.ts'
import { forward, type ProxyContext } from './proxy.ts'

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
}

/** The gateway app (not listening: call listen, or inject in tests). The registry's problems are logged once. */
export function buildGateway(options: GatewayOptions): FastifyInstance {
  const given = options.registry ?? (options.objects ? buildRegistry(options.objects) : undefined)
  if (given === undefined) throw new GpuplaneError('INVALID_INPUT', 'buildGateway needs a registry or the Model, Agent and TokenPolicy objects')
  const current = typeof given === 'function' ? given : () => given
  const app = Fastify({ bodyLimit: options.bodyLimit ?? DEFAULT_GATEWAY_BODY_LIMIT, ...(options.logger ? { loggerInstance: options.logger } : { logger: false }) })
  for (const problem of current().problems) app.log.warn(problem)
  const ctx: ProxyContext = { counters: options.counters, now: options.now ?? Date.now, dispatcher: options.dispatcher, env: options.env ?? process.env, log: app.log }

  // Bodies arrive as bytes whatever their content type: JSON errors are reported here, in OpenAI's shape.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
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

  app.get('/v1/models', async (req) => {
    const registry = current()
    const identity = authenticate(registry, bearerKey(req))
    return { object: 'list', data: modelsFor(registry, identity).map((m) => ({ id: m.metadata.name, object: 'model', created: 0, owned_by: identity.namespace })) }
  })
  for (const [path, endpoint] of Object.entries(ENDPOINT_PATHS) as Array<[string, Endpoint]>) {
    app.post(path, (req, reply) => handleInference(current(), ctx, endpoint, req, reply))
  }
  return app
}

async function handleInference(registry: GovernanceRegistry, ctx: ProxyContext, endpoint: Endpoint, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const identity: AgentIdentity = authenticate(registry, bearerKey(req))
  const request = parseInferenceRequest(endpoint, parseJson(req.body))
  const model = authorizeModel(registry, identity, request.body.model)
  const now = ctx.now()
  const plan = planAdmission({ request, model, namespace: identity.namespace, agent: identity.name, policies: policiesOf(registry, identity.namespace), now, promptEstimate: () => estimatePromptTokens(request) })
  const decision = decideAdmission(plan, await ctx.counters.reserve(plan.items, plan.options), now)
  if (!decision.admitted) {
    void reply.code(429).headers(decision.rejection.headers).send(decision.rejection.body)
    return
  }
  if (decision.softExceeded.length > 0) ctx.log.info({ agent: `${identity.namespace}/${identity.name}`, limits: decision.softExceeded.map((c) => c.key) }, 'soft token limit exceeded')
  await forward(ctx, { endpoint, model, body: withMaxTokens(request, decision.maxTokens), reservation: decision.reservation, headers: decision.headers }, reply)
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
