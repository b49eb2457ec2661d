// Forwards an admitted request to its Model's upstream and settles its reservation: buffered or streamed pass-through, upstream errors, client disconnects.
//
// Settlement, exactly once per admitted request (reconcile.ts): the counters end at
//   - the upstream's reported usage when it reported one;
//   - a stream without usage (cut short, or an upstream that ignores include_usage): the prompt
//     bound plus the bytes of the streamed text (usageFromText), never an undercount;
//   - an upstream error status: no tokens, one request (the upstream saw it);
//   - a connection refused: nothing at all (the upstream never saw it);
//   - anything else where the gateway saw no output (a buffered response cut off, a reset
//     connection): the whole reservation, since the upstream may have generated up to max_tokens.
import { once } from 'node:events'
import type { FastifyBaseLogger, FastifyReply } from 'fastify'
import { request, type Dispatcher } from 'undici'
import type { Model } from '../api/model-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { Reservation } from '../governance/admission.ts'
import type { Counters } from '../governance/counters.ts'
import { reconcile, reservedUsage, usageFromText, type Usage } from '../governance/reconcile.ts'
import type { Endpoint } from '../governance/requests.ts'
import { readUsage, SseRelay } from './sse.ts'

/** What the proxy needs besides the request. */
export interface ProxyContext {
  counters: Counters
  now: () => number
  /** undici dispatcher for upstream calls (the global one when absent). */
  dispatcher?: Dispatcher
  /** Where upstream API keys are read (Model spec.upstream.apiKeyEnv). */
  env: Readonly<Record<string, string | undefined>>
  log: FastifyBaseLogger
}

/** An admitted request, ready to forward. */
export interface AdmittedCall {
  endpoint: Endpoint
  model: Model
  /** The body to send upstream (max_tokens already set; model and stream options are set here). */
  body: Record<string, unknown>
  reservation: Reservation
  /** `x-ratelimit-*` headers of the admission. */
  headers: Record<string, string>
}

const UPSTREAM_PATHS: Record<Endpoint, string> = { chat: '/chat/completions', completions: '/completions', embeddings: '/embeddings' }

/** Forwards the call and answers the client through `reply`; settles the reservation before it resolves. */
export async function forward(ctx: ProxyContext, call: AdmittedCall, reply: FastifyReply): Promise<void> {
  const settle = settler(ctx, call.reservation)
  const { body, showUsage } = upstreamBody(call)
  const abort = new AbortController()
  // 'close' also fires after a complete response; only an unfinished one means the client left.
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort()
  })
  let res: Dispatcher.ResponseData
  try {
    res = await request(upstreamURL(call.model, call.endpoint), { method: 'POST', headers: upstreamHeaders(ctx, call.model), body: JSON.stringify(body), signal: abort.signal, dispatcher: ctx.dispatcher })
  } catch (e) {
    const refused = (e as { code?: string }).code === 'ECONNREFUSED'
    await settle(refused ? { promptTokens: 0, completionTokens: 0, requests: 0 } : abort.signal.aborted && body.stream === true ? usageFromText(call.reservation, 0) : reservedUsage(call.reservation))
    if (abort.signal.aborted) return void reply.hijack()
    throw new GpuplaneError('UNAVAILABLE', `upstream ${call.model.spec.upstream.baseURL} of model ${call.model.metadata.name as string} is unreachable (${(e as Error).message}); try again later`, {}, { cause: e })
  }
  const contentType = headerValue(res.headers['content-type'])
  if (res.statusCode < 400 && contentType?.startsWith('text/event-stream')) return relayStream(res, call, reply, abort.signal, showUsage, settle)
  let text: Buffer
  try {
    text = Buffer.from(await res.body.arrayBuffer())
  } catch (e) {
    await settle(reservedUsage(call.reservation))
    if (abort.signal.aborted) return void reply.hijack()
    throw new GpuplaneError('UNAVAILABLE', `upstream of model ${call.model.metadata.name as string} broke off its response (${(e as Error).message}); try again later`, {}, { cause: e })
  }
  await settle(res.statusCode >= 400 ? { promptTokens: 0, completionTokens: 0 } : (usageOfBody(text) ?? reservedUsage(call.reservation)))
  void reply
    .code(res.statusCode)
    .headers({ ...call.headers, 'content-type': contentType ?? 'application/json' })
    .send(text)
}

/** The upstream model name, and for streams include_usage forced on; `showUsage` says whether the client asked for it. */
function upstreamBody(call: AdmittedCall): { body: Record<string, unknown>; showUsage: boolean } {
  const body: Record<string, unknown> = { ...call.body, model: call.model.spec.upstream.model }
  if (body.stream !== true) return { body, showUsage: false }
  const asked = typeof body.stream_options === 'object' && body.stream_options !== null ? (body.stream_options as Record<string, unknown>) : {}
  body.stream_options = { ...asked, include_usage: true }
  return { body, showUsage: asked.include_usage === true }
}

function upstreamURL(model: Model, endpoint: Endpoint): string {
  return model.spec.upstream.baseURL.replace(/\/+$/, '') + UPSTREAM_PATHS[endpoint]
}

function upstreamHeaders(ctx: ProxyContext, model: Model): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  const envName = model.spec.upstream.apiKeyEnv
  const key = envName === undefined ? undefined : ctx.env[envName]
  if (key !== undefined && key !== '') headers.authorization = `Bearer ${key}`
  return headers
}

/** Passes an SSE response through event by event, writing each as soon as it is complete. */
async function relayStream(res: Dispatcher.ResponseData, call: AdmittedCall, reply: FastifyReply, signal: AbortSignal, showUsage: boolean, settle: (u: Usage) => Promise<void>): Promise<void> {
  const relay = new SseRelay(showUsage)
  reply.hijack()
  const raw = reply.raw
  raw.writeHead(res.statusCode, { ...call.headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
  raw.flushHeaders()
  try {
    for await (const chunk of res.body) {
      const out = relay.push(chunk as Buffer)
      if (out !== '' && !raw.write(out)) await once(raw, 'drain', { signal })
    }
    raw.end(relay.end())
  } catch {
    // The client left (the upstream call was aborted) or the upstream broke off: end what was sent.
    if (!raw.writableEnded) raw.end()
  } finally {
    await settle(relay.usage ?? usageFromText(call.reservation, relay.completionBytes))
  }
}

/** A settle function that reconciles the reservation once and logs what should be looked at. */
function settler(ctx: ProxyContext, reservation: Reservation): (usage: Usage) => Promise<void> {
  let done = false
  return async (usage) => {
    if (done) return
    done = true
    const result = reconcile(reservation, usage, ctx.now())
    if (result.boundExceeded) ctx.log.warn({ usage, promptBound: reservation.promptBound, maxTokens: reservation.maxTokens }, 'upstream reported more tokens than the reservation bound: check the Model templateOverhead')
    if (result.adjustments.length === 0) return
    try {
      await ctx.counters.adjust(result.adjustments)
    } catch (e) {
      ctx.log.error({ err: e, adjustments: result.adjustments }, 'could not reconcile counters after a request; they keep the reservation until their window ends')
    }
  }
}

function usageOfBody(text: Buffer): Usage | undefined {
  try {
    return readUsage((JSON.parse(text.toString('utf8')) as { usage?: unknown }).usage)
  } catch {
    return undefined
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}
