// The CLI's HTTP client of the gpuplane server (undici request()): objects, lists, watches, tokens, the audit log; server errors become GpuplaneErrors with the server's reason.
import type { Command } from 'commander'
import { request, type Dispatcher } from 'undici'
import { ERROR_CODES, GpuplaneError, type ErrorCode } from '../common/errors.ts'
import type { AuditEntry, AuditQuery, StoredObject, WatchEvent } from '../store/types.ts'
import { stringifyJson } from './allocate.ts'
import { CONNECTION_HELP, resolveConnection, type Connection } from './config.ts'
import { collectionPath, objectPath, type KindInfo } from './kinds.ts'

/** How long a request waits for the server's response headers (watches wait for their body forever). */
const HEADERS_TIMEOUT_MS = 30_000

/** A list as the server returns it (`{apiVersion, kind: "<Kind>List", metadata: {resourceVersion}, items}`). */
export interface ObjectList {
  apiVersion: string
  kind: string
  metadata: { resourceVersion: string }
  items: StoredObject[]
}

/** A token as `POST .../tokens` returns it: the secret is in `token`, shown this once. */
export interface CreatedToken {
  id: string
  token: string
  namespace: string
  createdAt: string
}

/** A token as `GET .../tokens` lists it, without its secret or hash. */
export interface TokenInfo {
  id: string
  /** The namespace of a namespace token; absent for the admin token. */
  namespace?: string
  admin?: true
  description?: string
  createdAt?: string
}

/** An error the server reported; prints as `path: message (REASON)` with the reason the server gave. */
export class RemoteError extends GpuplaneError {
  /** The `reason` of the server's Status, e.g. `NOT_FOUND`. */
  readonly reason: string
  /** The HTTP status. */
  readonly status: number

  constructor(code: ErrorCode, reason: string, status: number, message: string, location: { path?: string; file?: string } = {}) {
    super(code, message, location)
    this.reason = reason
    this.status = status
  }

  override describe(): string {
    return `${super.describe()} (${this.reason})`
  }
}

/** A client of one server with one token. */
export class ApiClient {
  readonly connection: Connection
  private readonly dispatcher?: Dispatcher

  constructor(connection: Connection, dispatcher?: Dispatcher) {
    this.connection = connection
    this.dispatcher = dispatcher
  }

  /** One object; NOT_FOUND (exit 3) when absent. */
  get(info: KindInfo, namespace: string | undefined, name: string): Promise<StoredObject> {
    return this.call<StoredObject>('GET', objectPath(info, namespace, name))
  }

  /** One object, or undefined when absent. */
  async find(info: KindInfo, namespace: string | undefined, name: string): Promise<StoredObject | undefined> {
    try {
      return await this.get(info, namespace, name)
    } catch (e) {
      if (e instanceof RemoteError && e.status === 404 && e.code === 'NOT_FOUND') return undefined
      throw e
    }
  }

  /** The objects of a kind in one namespace, or in all (namespace undefined), matching the label selector. */
  list(info: KindInfo, options: { namespace?: string; labelSelector?: string } = {}): Promise<ObjectList> {
    return this.call<ObjectList>('GET', collectionPath(info, options.namespace), { query: { labelSelector: options.labelSelector } })
  }

  create(info: KindInfo, namespace: string | undefined, object: unknown): Promise<StoredObject> {
    return this.call<StoredObject>('POST', collectionPath(info, info.namespaced ? namespace : undefined), { body: object })
  }

  /** Replaces the object; conditional (CONFLICT when stale) when it carries metadata.resourceVersion. */
  replace(info: KindInfo, namespace: string | undefined, name: string, object: unknown): Promise<StoredObject> {
    return this.call<StoredObject>('PUT', objectPath(info, namespace, name), { body: object })
  }

  delete(info: KindInfo, namespace: string | undefined, name: string): Promise<StoredObject> {
    return this.call<StoredObject>('DELETE', objectPath(info, namespace, name))
  }

  /**
   * The changes after `resourceVersion` as they happen, from the server-sent-events stream; ends
   * when the server closes it or `signal` aborts. GONE (410) when that version is too old.
   */
  async *watch(info: KindInfo, options: { namespace?: string; labelSelector?: string; resourceVersion?: string; signal?: AbortSignal }): AsyncGenerator<WatchEvent> {
    const query = { watch: 'true', resourceVersion: options.resourceVersion, labelSelector: options.labelSelector }
    const res = await this.send('GET', collectionPath(info, options.namespace), { query, signal: options.signal, stream: true })
    if (res.statusCode >= 300) throw await this.errorOf(res)
    let buffer = ''
    try {
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString('utf8').replace(/\r\n/g, '\n')
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = parseSseEvent(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
          if (event !== undefined) yield event
        }
      }
    } catch (e) {
      if (options.signal?.aborted) return
      throw e
    }
  }

  createToken(namespace: string, description?: string): Promise<CreatedToken> {
    return this.call<CreatedToken>('POST', '/apis/gpuplane.io/v1alpha1/tokens', { body: { namespace, ...(description !== undefined ? { description } : {}) } })
  }

  async listTokens(): Promise<TokenInfo[]> {
    return (await this.call<{ items: TokenInfo[] }>('GET', '/apis/gpuplane.io/v1alpha1/tokens')).items
  }

  async deleteToken(id: string): Promise<void> {
    await this.call<unknown>('DELETE', `/apis/gpuplane.io/v1alpha1/tokens/${encodeURIComponent(id)}`)
  }

  async audit(query: AuditQuery): Promise<AuditEntry[]> {
    const q = Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v === undefined ? undefined : String(v)]))
    const res = await this.call<{ items: AuditEntry[] }>('GET', '/apis/gpuplane.io/v1alpha1/auditlog', { query: q })
    return res.items
  }

  /** One request; the parsed JSON body on 2xx, else the server's error as a RemoteError. */
  async call<T>(method: Dispatcher.HttpMethod, path: string, options: { body?: unknown; query?: Record<string, string | undefined> } = {}): Promise<T> {
    const res = await this.send(method, path, options)
    if (res.statusCode >= 300) throw await this.errorOf(res)
    const text = await res.body.text()
    return (text === '' ? undefined : JSON.parse(text)) as T
  }

  private async send(method: Dispatcher.HttpMethod, path: string, options: { body?: unknown; query?: Record<string, string | undefined>; signal?: AbortSignal; stream?: boolean }): Promise<Dispatcher.ResponseData> {
    const query = Object.entries(options.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    const url = `${this.connection.server}${path}${query.length > 0 ? `?${new URLSearchParams(query)}` : ''}`
    const headers: Record<string, string> = { accept: options.stream ? 'text/event-stream' : 'application/json' }
    if (this.connection.token !== undefined) headers.authorization = `Bearer ${this.connection.token}`
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    try {
      return await request(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : stringifyJson(options.body),
        headersTimeout: HEADERS_TIMEOUT_MS,
        bodyTimeout: options.stream ? 0 : HEADERS_TIMEOUT_MS,
        signal: options.signal,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      })
    } catch (e) {
      throw this.connectionError(e)
    }
  }

  /** The server's Status as a RemoteError, with a hint on what to do for auth failures. */
  private async errorOf(res: Dispatcher.ResponseData): Promise<RemoteError> {
    const text = await res.body.text().catch(() => '')
    let status: { reason?: unknown; message?: unknown; details?: { field?: unknown; file?: unknown } } = {}
    try {
      status = JSON.parse(text) as typeof status
    } catch {
      // Not a Status (a proxy's page, say): the HTTP status and the start of the body say what happened.
    }
    const reason = typeof status.reason === 'string' && status.reason !== '' ? status.reason : codeOfStatus(res.statusCode)
    const code = reason in ERROR_CODES ? (reason as ErrorCode) : codeOfStatus(res.statusCode)
    let message = typeof status.message === 'string' && status.message !== '' ? status.message : `the server answered HTTP ${res.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`
    // Which token the server refused, or how to give one: the server cannot know the CLI's ways.
    if (res.statusCode === 401) message += this.connection.token === undefined ? `; no token was given: pass --token, set GPUPLANE_TOKEN or run "gpuplane login --server ${this.connection.server} --token T"` : `; the token came from ${describeSource(this.connection.tokenFrom)}`
    const location: { path?: string; file?: string } = {}
    if (typeof status.details?.field === 'string' && status.details.field !== '') location.path = status.details.field
    if (typeof status.details?.file === 'string' && status.details.file !== '') location.file = status.details.file
    return new RemoteError(code, reason, res.statusCode, message, location)
  }

  /** UNAVAILABLE naming the server, where its URL came from, and how to start one. */
  private connectionError(e: unknown): unknown {
    if (e instanceof Error && e.name === 'AbortError') return e
    const code = errorCode(e)
    if (code === undefined) return e
    const what = CONNECTION_FAILURES[code] ?? code
    const from = this.connection.serverFrom === 'default' ? 'the default server' : `server from ${describeSource(this.connection.serverFrom)}`
    return new GpuplaneError(
      'UNAVAILABLE',
      `cannot reach the gpuplane server at ${this.connection.server} (${what}; ${from}): start one with "gpuplane server --db gpuplane.db" (or "npm start"), or point --server, GPUPLANE_SERVER or "gpuplane login" at a running one`,
      {},
      { cause: e },
    )
  }
}

const CONNECTION_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: `no answer within ${HEADERS_TIMEOUT_MS / 1000} s`,
  UND_ERR_SOCKET: 'the connection closed',
}

/** The network error code of e, of its cause, or of the first of its errors (an AggregateError when every address failed). */
function errorCode(e: unknown): string | undefined {
  const err = e as { code?: unknown; cause?: unknown; errors?: unknown[] } | undefined
  if (typeof err?.code === 'string' && err.code in CONNECTION_FAILURES) return err.code
  if (err?.cause !== undefined) return errorCode(err.cause)
  if (Array.isArray(err?.errors) && err.errors.length > 0) return errorCode(err.errors[0])
  return undefined
}

function describeSource(from: Connection['serverFrom'] | undefined): string {
  switch (from) {
    case 'flag':
      return 'the command line'
    case 'env':
      return 'the environment'
    case 'config':
      return 'the config file'
    default:
      return 'the default'
  }
}

/** The error code for an HTTP status when the server named none we know. */
function codeOfStatus(status: number): ErrorCode {
  const byStatus: Record<number, ErrorCode> = { 400: 'INVALID_INPUT', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT', 410: 'GONE', 413: 'PAYLOAD_TOO_LARGE', 503: 'UNAVAILABLE' }
  return byStatus[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_INPUT')
}

/** One event of the stream (`id:`/`data:` lines; comments are heartbeats); undefined for heartbeats. */
function parseSseEvent(block: string): WatchEvent | undefined {
  const data = block
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).replace(/^ /, ''))
    .join('\n')
  if (data === '') return undefined
  const event = JSON.parse(data) as { type: string; object: unknown }
  if (event.type === 'ERROR') {
    const s = event.object as { reason?: string; message?: string; code?: number }
    const reason = s.reason ?? 'GONE'
    throw new RemoteError(reason in ERROR_CODES ? (reason as ErrorCode) : 'INTERNAL', reason, s.code ?? 500, s.message ?? 'the watch ended with an error')
  }
  return event as WatchEvent
}

/** Adds --server and --token and the connection help to a server verb. */
export function withConnection(command: Command): Command {
  return command.option('--server <URL>', 'the gpuplane server (see "Connection" below)').option('--token <TOKEN>', 'the API token (see "Connection" below)').addHelpText('after', CONNECTION_HELP)
}

/** A client for the connection the flags, environment and config file name. */
export function connect(flags: { server?: string; token?: string }): ApiClient {
  return new ApiClient(resolveConnection(flags))
}
