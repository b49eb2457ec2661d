// Forwards an admitted request to its Model's upstream and settles its reservation: buffered or streamed pass-through, upstream errors, client disconnects.
//
// Settlement, exactly once per admitted request (call.settlement: settlement.ts reconciles the counters and writes the ledger entry with the outcome): the counters end at
//   - the upstream's reported usage when it reported one;
//   - a stream without usage (cut short, or an upstream that ignores include_usage): the prompt
//     bound plus the bytes of the streamed text (usageFromText), never an undercount;
//   - an upstream error status: no tokens, one request (the upstream saw it);
//   - a connection refused: nothing at all (the upstream never saw it);
//   - anything else where the gateway saw no output (a buffered response cut off, a reset
//     connection): the whole reservation, since the upstream may have generated up to max_tokens.
import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger, FastifyReply } from 'fastify'
import { getGlobalDispatcher, type Dispatcher } from 'undici'
import type { Model } from '../api/model-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { reservedUsage, usageFromText, type Usage } from '../governance/reconcile.ts'
import type { Endpoint } from '../governance/requests.ts'
import type { LedgerOutcome } from '../store/types.ts'
import type { Settlement } from './settlement.ts'
import { readUsage, SseRelay } from './sse.ts'

/** What the proxy needs besides the request. */
export interface ProxyContext {
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
  /** The body to send upstream, a copy of the client's (max_tokens already set; model and stream options are set here, in place). */
  body: Record<string, unknown>
  /** `x-ratelimit-*` headers of the admission (the response's content type is added to them). */
  headers: Record<string, string>
  /** Settles the reservation and records the request's outcome (settlement.ts), once, with the status the client got (499: it left first). */
  settlement: Settlement
}

/**
 * Aborts the upstream call when the client leaves: undici's request() takes an EventEmitter with
 * an 'abort' event as its signal. An AbortController's signal (an EventTarget, made per request)
 * cost several µs more per request than this, measured in bench:gateway's CPU profile.
 */
class ClientGone extends EventEmitter {
  aborted = false
  abort(): void {
    if (this.aborted) return
    this.aborted = true
    this.emit('abort')
  }
}

/** The status recorded for a request whose client disconnected first (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499

const UPSTREAM_PATHS: Record<Endpoint, string> = { chat: '/chat/completions', completions: '/completions', embeddings: '/embeddings' }

/** Forwards the call and answers the client through `reply`; settles the reservation (after answering) before it resolves. */
export async function forward(ctx: ProxyContext, call: AdmittedCall, reply: FastifyReply): Promise<void> {
  const { settlement } = call
  const reservation = settlement.reservation
  const showUsage = prepareBody(call)
  const abort = new ClientGone()
  // 'close' also fires after a complete response; only an unfinished one means the client left.
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort()
  })
  let res: Dispatcher.ResponseData
  try {
    const target = upstreamTarget(call.model, call.endpoint)
    // The dispatcher's own request(): what undici's request(url) calls, without parsing the URL again each time.
    res = await (ctx.dispatcher ?? getGlobalDispatcher()).request({ origin: target.origin, path: target.path, method: 'POST', headers: upstreamHeaders(ctx, call.model), body: JSON.stringify(call.body), signal: abort })
  } catch (e) {
    const refused = (e as { code?: string }).code === 'ECONNREFUSED'
    const left = abort.aborted
    if (refused) await settlement.settle({ promptTokens: 0, completionTokens: 0, requests: 0 }, 'released', 503)
    else await settlement.settle(left && call.body.stream === true ? usageFromText(reservation, 0) : reservedUsage(reservation), left ? 'released' : 'failed', left ? CLIENT_CLOSED_STATUS : 503)
    if (abort.aborted) return void reply.hijack()
    throw new GpuplaneError('UNAVAILABLE', `upstream ${call.model.spec.upstream.baseURL} of model ${call.model.metadata.name as string} is unreachable (${(e as Error).message}); try again later`, {}, { cause: e })
  }
  const contentType = headerValue(res.headers['content-type'])
  if (res.statusCode < 400 && contentType?.startsWith('text/event-stream')) return relayStream(res, call, reply, abort, showUsage)
  let text: Buffer
  try {
    text = Buffer.from(await res.body.arrayBuffer())
  } catch (e) {
    await settlement.settle(reservedUsage(reservation), abort.aborted ? 'released' : 'failed', abort.aborted ? CLIENT_CLOSED_STATUS : 503)
    if (abort.aborted) return void reply.hijack()
    throw new GpuplaneError('UNAVAILABLE', `upstream of model ${call.model.metadata.name as string} broke off its response (${(e as Error).message}); try again later`, {}, { cause: e })
  }
  // Answer first, then settle (as streams do): the reconcile round trip of shared counters is not
  // the client's to wait for. The settlement starts in this same turn (an in-process counter is
  // adjusted before anything else runs) and the handler resolves only once it is done.
  call.headers['content-type'] = contentType ?? 'application/json'
  void reply.code(res.statusCode).headers(call.headers).send(text)
  if (res.statusCode >= 400) await settlement.settle(UPSTREAM_ERROR_USAGE, 'failed', res.statusCode)
  else await settlement.settle(usageOfBody(text) ?? reservedUsage(reservation), 'completed', res.statusCode)
}

/** Usage of a request the upstream answered with an error status: no tokens, one request (it saw it). */
const UPSTREAM_ERROR_USAGE: Usage = { promptTokens: 0, completionTokens: 0 }

/** Sets the upstream model name, and for streams include_usage; returns whether the client asked for the usage chunk. */
function prepareBody(call: AdmittedCall): boolean {
  const body = call.body
  body.model = call.model.spec.upstream.model
  if (body.stream !== true) return false
  const asked = typeof body.stream_options === 'object' && body.stream_options !== null ? (body.stream_options as Record<string, unknown>) : {}
  body.stream_options = { ...asked, include_usage: true }
  return asked.include_usage === true
}

interface UpstreamTarget {
  origin: string
  path: string
}

/** Where each Model's endpoints are, worked out once per Model object (a registry rebuild brings new ones). */
const targets = new WeakMap<Model, Partial<Record<Endpoint, UpstreamTarget>>>()

function upstreamTarget(model: Model, endpoint: Endpoint): UpstreamTarget {
  let byEndpoint = targets.get(model)
  if (byEndpoint === undefined) targets.set(model, (byEndpoint = {}))
  let target = byEndpoint[endpoint]
  if (target === undefined) {
    const url = new URL(model.spec.upstream.baseURL.replace(/\/+$/, '') + UPSTREAM_PATHS[endpoint])
    target = byEndpoint[endpoint] = { origin: url.origin, path: url.pathname + url.search }
  }
  return target
}

/** The upstream request headers of each Model, with the API key they were made with (rebuilt when the variable changes). */
const headersByModel = new WeakMap<Model, { key: string | undefined; headers: Readonly<Record<string, string>> }>()

function upstreamHeaders(ctx: ProxyContext, model: Model): Readonly<Record<string, string>> {
  const envName = model.spec.upstream.apiKeyEnv
  const value = envName === undefined ? undefined : ctx.env[envName]
  const key = value === '' ? undefined : value
  const cached = headersByModel.get(model)
  if (cached !== undefined && cached.key === key) return cached.headers
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (key !== undefined) headers.authorization = `Bearer ${key}`
  headersByModel.set(model, { key, headers })
  return headers
}

/** Passes an SSE response through event by event, writing each as soon as it is complete. */
async function relayStream(res: Dispatcher.ResponseData, call: AdmittedCall, reply: FastifyReply, signal: ClientGone, showUsage: boolean): Promise<void> {
  const relay = new SseRelay(showUsage)
  reply.hijack()
  const raw = reply.raw
  let outcome: LedgerOutcome = 'completed'
  // The headers leave with the first event (one write, not two): the upstream answered, so its
  // first event follows at once.
  raw.writeHead(res.statusCode, { ...call.headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
  try {
    await pipeEvents(res.body, relay, raw)
    raw.end(relay.end())
  } catch {
    // The client left (the upstream call was aborted) or the upstream broke off: end what was sent.
    outcome = signal.aborted ? 'released' : 'failed'
    if (!raw.writableEnded) raw.end()
  } finally {
    await call.settlement.settle(relay.usage ?? usageFromText(call.settlement.reservation, relay.completionBytes), outcome, outcome === 'released' ? CLIENT_CLOSED_STATUS : res.statusCode)
  }
}

/**
 * Writes what the relay makes of each upstream chunk; resolves at the end of the upstream body,
 * rejects when it fails (an aborted call included). Plain 'data' events with pause and resume for
 * backpressure: an async iterator over the body costs some tens of µs more per stream.
 */
function pipeEvents(body: Dispatcher.ResponseData['body'], relay: SseRelay, raw: FastifyReply['raw']): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    body.on('data', (chunk: Buffer) => {
      const out = relay.push(chunk)
      // The usual chunk (whole events, all shown) leaves as the bytes that came, not re-encoded.
      const data = relay.passedThrough ? chunk : out
      if (data.length > 0 && !raw.write(data)) {
        body.pause()
        raw.once('drain', () => body.resume())
      }
    })
    body.once('end', resolve)
    body.once('error', reject)
    // Destroyed without an error or an end (it should not be): the stream is over all the same.
    body.once('close', () => reject(new Error('the upstream stream closed before its end')))
  })
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
