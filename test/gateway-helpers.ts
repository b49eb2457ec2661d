// Test fixtures for the gateway: a mock OpenAI-compatible upstream on a loopback port, a governance configuration around it, and counters that record their keys.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { hashAgentKey, type GovernanceRegistry } from '../src/governance/access.ts'
import type { AdjustItem, CounterEntry, Counters, ReserveItem, ReserveOptions, ReserveResult } from '../src/governance/counters.ts'
import { MemoryCounters } from '../src/governance/counters-memory.ts'
import { loadGatewayConfig } from '../src/gateway/config.ts'

/** Usage the mock reports for every request. */
export const MOCK_USAGE = { prompt_tokens: 7, completion_tokens: 5 }
/** The text of each streamed chunk. */
export const CHUNK_TEXT = 'hello '

/** How the mock answers; change it between requests. */
export interface MockBehaviour {
  /** Streamed chunks (content deltas) per stream. */
  chunks: number
  /** Milliseconds between streamed chunks. */
  delayMs: number
  /** Honour stream_options.include_usage (false: an upstream that never reports usage in streams). */
  reportUsage: boolean
  /** Answer every request with this status and an error body. */
  failStatus?: number
  /** Hold every response until this promise settles. */
  gate?: Promise<void>
}

/** A recorded upstream request. */
export interface MockCall {
  path: string
  headers: IncomingMessage['headers']
  body: Record<string, unknown>
  /** The connection closed before the mock finished its response. */
  closedEarly: boolean
  /** When the mock wrote its last byte (ms, performance.now()). */
  finishedAt?: number
}

/** The mock upstream: `url` is its base URL (with /v1); `calls` every request it received. */
export interface MockUpstream {
  url: string
  calls: MockCall[]
  behaviour: MockBehaviour
  close(): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Starts the mock on 127.0.0.1, port 0. */
export async function startMockUpstream(behaviour: Partial<MockBehaviour> = {}): Promise<MockUpstream> {
  const mock: MockUpstream = { url: '', calls: [], behaviour: { chunks: 3, delayMs: 0, reportUsage: true, ...behaviour }, close: async () => {} }
  const server: Server = createServer((req, res) => void answer(mock, req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  mock.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  mock.close = () => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(() => resolve()))
  }
  return mock
}

async function answer(mock: MockUpstream, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text = ''
  for await (const chunk of req) text += chunk
  const call: MockCall = { path: req.url ?? '', headers: req.headers, body: JSON.parse(text) as Record<string, unknown>, closedEarly: false }
  mock.calls.push(call)
  res.on('close', () => {
    if (!res.writableFinished) call.closedEarly = true
  })
  const b = mock.behaviour
  if (b.gate) await b.gate
  if (b.failStatus !== undefined) {
    res.writeHead(b.failStatus, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'upstream is overloaded', type: 'server_error' } }))
    return
  }
  if (call.body.stream !== true) {
    const reply = { id: 'cmpl-1', object: 'chat.completion', model: call.body.model, choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { ...MOCK_USAGE, total_tokens: 12 } }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply))
    return
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' })
  for (let i = 0; i < b.chunks && !res.destroyed; i++) {
    if (i > 0) await sleep(b.delayMs)
    res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: CHUNK_TEXT } }] })}\n\n`)
  }
  const options = call.body.stream_options as { include_usage?: boolean } | undefined
  if (b.reportUsage && options?.include_usage === true) res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 7, completion_tokens: b.chunks, total_tokens: 7 + b.chunks } })}\n\n`)
  if (res.destroyed) return
  res.end('data: [DONE]\n\n')
  call.finishedAt = performance.now()
}

/** Agent keys of the test configuration. */
export const KEYS = { a: 'gp-test-a', capped: 'gp-test-capped', clamp: 'gp-test-clamp', off: 'gp-test-off', b: 'gp-test-b', crowd: 'gp-test-crowd' } as const
/** Token caps of the test configuration's policies. */
export const CAPS = { capped: 60, clamp: 30, crowd: 1000 } as const

/**
 * Models m-a (team-a) and m-b (team-b) on the mock, with no template overhead so that the prompt
 * bound is the message bytes; agents of team-a (free, capped by hard-reject, capped by
 * hard-clamp, disabled, and one for the concurrency test) and one of team-b.
 */
export function testConfig(upstreamURL: string): string {
  const model = (name: string, ns: string) => `apiVersion: gpuplane.io/v1alpha1
kind: Model
metadata: {name: ${name}}
spec:
  upstream: {baseURL: "${upstreamURL}", model: upstream/${name}, apiKeyEnv: TEST_UPSTREAM_KEY}
  pricing: {inputPerMTok: 0.10, outputPerMTok: 0.20}
  maxTokens: 100
  defaultMaxTokens: 50
  templateOverhead: {perMessage: 0, perRequest: 0}
  namespaces: [${ns}]
`
  const agent = (name: string, ns: string, key: string, models: string, extra = '') => `apiVersion: gpuplane.io/v1alpha1
kind: Agent
metadata: {name: ${name}, namespace: ${ns}}
spec:
  keyHashes: ["${hashAgentKey(key)}"]
  models: [${models}]${extra}
`
  const policy = (name: string, agentName: string, mode: string, tokens: number) => `apiVersion: gpuplane.io/v1alpha1
kind: TokenPolicy
metadata: {name: ${name}, namespace: team-a}
spec:
  selector: {agent: ${agentName}}
  mode: ${mode}
  limits:
  - {window: day, tokens: ${tokens}}
  - {window: minute, requests: 100000}
`
  return [
    model('m-a', 'team-a'),
    model('m-b', 'team-b'),
    agent('bot', 'team-a', KEYS.a, 'm-a, m-b'),
    agent('capped', 'team-a', KEYS.capped, 'm-a'),
    agent('clamp', 'team-a', KEYS.clamp, 'm-a'),
    agent('off', 'team-a', KEYS.off, 'm-a', '\n  disabled: true'),
    agent('bot-b', 'team-b', KEYS.b, 'm-b'),
    agent('crowd', 'team-a', KEYS.crowd, 'm-a'),
    policy('capped-daily', 'capped', 'hard-reject', CAPS.capped),
    policy('clamp-daily', 'clamp', 'hard-clamp', CAPS.clamp),
    policy('crowd-daily', 'crowd', 'hard-reject', CAPS.crowd),
  ].join('---\n')
}

/** The test configuration as a registry. */
export function testRegistry(upstreamURL: string): GovernanceRegistry {
  return loadGatewayConfig(testConfig(upstreamURL), 'test-config.yaml')
}

/** MemoryCounters that remember every key they were asked to reserve, to read the counters back. */
export class RecordingCounters implements Counters {
  readonly inner = new MemoryCounters(Date.now)
  readonly keys = new Set<string>()

  reserve(items: readonly ReserveItem[], options?: ReserveOptions): Promise<ReserveResult> {
    for (const item of items) this.keys.add(item.key)
    return this.inner.reserve(items, options)
  }
  adjust(items: readonly AdjustItem[]): Promise<number[]> {
    return this.inner.adjust(items)
  }
  get(keys: readonly string[]): Promise<number[]> {
    return this.inner.get(keys)
  }
  rebuild(entries: readonly CounterEntry[]): Promise<void> {
    return this.inner.rebuild(entries)
  }
  close(): Promise<void> {
    return this.inner.close()
  }

  /** The value of the counter whose key contains `part` (e.g. `capped-daily` and `tokens`). */
  async valueOf(...parts: string[]): Promise<number> {
    const key = [...this.keys].find((k) => parts.every((p) => k.includes(p)))
    if (key === undefined) throw new Error(`no counter key with ${parts.join(', ')} among ${[...this.keys].join(', ')}`)
    return (await this.inner.get([key]))[0]
  }
}

/** A chat body for m-a with one user message "hi" (prompt bound 6 bytes: "user" + "hi"). */
export function chat(extra: Record<string, unknown> = {}, model = 'm-a'): Record<string, unknown> {
  return { model, messages: [{ role: 'user', content: 'hi' }], ...extra }
}
/** POSTs `body` as JSON to the app's chat completions with `key` as the agent key (Fastify inject). */
export function postChat(app: FastifyInstance, key: string, body: unknown) {
  return app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
}

/** The prompt bound of chat(): the UTF-8 bytes of "user" and "hi" (the Models have no template overhead). */
export const CHAT_BOUND = 6
