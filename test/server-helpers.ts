// Shared setup of the server tests: a server on a fresh in-memory SQLite store with an admin token, and small request helpers.
import type { FastifyInstance, InjectOptions } from 'fastify'
import { buildServer, type ServerOptions } from '../src/server/app.ts'
import { ensureAdminToken } from '../src/server/auth.ts'
import { openStore, type OpenStoreOptions } from '../src/store/index.ts'
import type { Store } from '../src/store/types.ts'

export interface TestServer {
  app: FastifyInstance
  store: Store
  adminToken: string
  /** Sends a request with a token (default: the admin's) and a JSON body; returns status and parsed JSON. */
  call(method: InjectOptions['method'], url: string, options?: { token?: string | null; body?: unknown }): Promise<{ status: number; body: any; headers: Record<string, unknown> }>
  /** Creates a namespace token through the API. */
  namespaceToken(namespace: string): Promise<string>
  close(): Promise<void>
}

/** A server on a SQLite store (default in memory; migrated), with a generated admin token. */
export async function testServer(options: Partial<ServerOptions> = {}, storeOptions: OpenStoreOptions = { sqlite: ':memory:' }, envAdminToken?: string): Promise<TestServer> {
  const store = options.store ?? (await openStore(storeOptions))
  const { generated } = await ensureAdminToken(store, { envToken: envAdminToken })
  const app = buildServer({ store, ...options })
  const adminToken = generated ?? (envAdminToken as string)
  const call: TestServer['call'] = async (method, url, opts = {}) => {
    const token = opts.token === undefined ? adminToken : opts.token
    const headers: Record<string, string> = {}
    if (token !== null) headers.authorization = `Bearer ${token}`
    const res = await app.inject({ method, url, headers, ...(opts.body !== undefined ? { payload: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body), headers: { ...headers, 'content-type': 'application/json' } } : {}) })
    let body: unknown = res.body
    try {
      body = JSON.parse(res.body)
    } catch {
      // not JSON (metrics text): keep the text
    }
    return { status: res.statusCode, body, headers: res.headers }
  }
  return {
    app,
    store,
    adminToken,
    call,
    async namespaceToken(namespace) {
      const res = await call('POST', '/apis/gpuplane.io/v1alpha1/tokens', { body: { namespace } })
      if (res.status !== 201) throw new Error(`token create failed: ${JSON.stringify(res.body)}`)
      return res.body.token as string
    },
    async close() {
      await app.close()
      await store.close()
    },
  }
}

export const WORKLOADS = '/apis/gpuplane.io/v1alpha1/namespaces/team-a/workloads'

/** A minimal valid Workload. */
export function workload(name: string, extra: { labels?: Record<string, string>; namespace?: string; priority?: number } = {}): Record<string, unknown> {
  const metadata: Record<string, unknown> = { name }
  if (extra.labels) metadata.labels = extra.labels
  if (extra.namespace) metadata.namespace = extra.namespace
  return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata, spec: { priority: extra.priority ?? 0, resources: { cpu: '1', memory: '1Gi' } } }
}

/** One server-sent event as a watch stream writes it. */
export interface SseMessage {
  id?: string
  data?: any
  comment?: string
}

/**
 * Opens a stream with fetch and collects its messages (events, id-only messages and comments)
 * until `until` says enough or `timeoutMs` passes; then closes it.
 */
export async function readStream(url: string, token: string, until: (messages: SseMessage[]) => boolean, options: { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<{ status: number; messages: SseMessage[]; contentType: string | null }> {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), options.timeoutMs ?? 5000)
  const messages: SseMessage[] = []
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...options.headers }, signal: abort.signal })
  try {
    if (res.status !== 200 || res.body === null) return { status: res.status, messages: [{ data: await res.json() }], contentType: res.headers.get('content-type') }
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const message: SseMessage = {}
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) message.comment = line.slice(1).trim()
          else if (line.startsWith('id: ')) message.id = line.slice(4)
          else if (line.startsWith('data: ')) message.data = JSON.parse(line.slice(6))
        }
        messages.push(message)
      }
      if (until(messages)) break
    }
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e
  } finally {
    clearTimeout(timer)
    abort.abort()
  }
  return { status: res.status, messages, contentType: res.headers.get('content-type') }
}

/** The data of the messages that are watch events. */
export function events(messages: SseMessage[]): Array<{ type: string; object: any; id?: string }> {
  return messages.filter((m) => m.data !== undefined).map((m) => ({ ...m.data, id: m.id }))
}
