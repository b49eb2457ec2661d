// The gateway's streaming path on a real port: SSE chunks pass through as they arrive, include_usage is forced upstream and the usage chunk shown only to clients that asked, usage reconciled, a client disconnect aborts the upstream and releases.
import assert from 'node:assert/strict'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { after, before, beforeEach, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildGateway } from '../src/gateway/app.ts'
import { CHAT_BOUND, CHUNK_TEXT, chat, KEYS, RecordingCounters, startMockUpstream, testRegistry, type MockUpstream } from './gateway-helpers.ts'

interface Received {
  status: number
  headers: IncomingMessage['headers']
  /** Each chunk of the body as the client got it, with its arrival time (performance.now()). */
  chunks: Array<{ text: string; at: number }>
  text: string
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('gateway streaming', () => {
  let mock: MockUpstream
  let counters: RecordingCounters
  let app: FastifyInstance
  let base: string

  before(async () => {
    mock = await startMockUpstream()
  })
  after(async () => {
    await app.close()
    await mock.close()
  })
  beforeEach(async () => {
    await app?.close()
    mock.calls.length = 0
    mock.behaviour = { chunks: 3, delayMs: 0, reportUsage: true }
    counters = new RecordingCounters()
    app = buildGateway({ registry: testRegistry(mock.url), counters, env: {} })
    base = await app.listen({ port: 0, host: '127.0.0.1' })
  })

  /** POSTs a chat stream; `stopAfter` chunks received, the client hangs up. */
  function stream(key: string, body: Record<string, unknown>, stopAfter?: number): Promise<Received> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
        const got: Received = { status: res.statusCode ?? 0, headers: res.headers, chunks: [], text: '' }
        res.setEncoding('utf8')
        res.on('data', (text: string) => {
          got.chunks.push({ text, at: performance.now() })
          got.text += text
          if (stopAfter !== undefined && got.chunks.length >= stopAfter) {
            req.destroy()
            resolve(got)
          }
        })
        res.on('end', () => resolve(got))
        res.on('error', () => resolve(got))
      })
      req.on('error', reject)
      req.end(JSON.stringify(body))
    })
  }

  /** The data payloads of an SSE text. */
  const events = (text: string) => text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6))

  test('chunks reach the client while the upstream is still streaming', async () => {
    mock.behaviour = { chunks: 4, delayMs: 200, reportUsage: true }
    const got = await stream(KEYS.a, chat({ stream: true }))
    assert.equal(got.status, 200)
    assert.match(String(got.headers['content-type']), /text\/event-stream/)
    const finished = mock.calls[0].finishedAt as number
    assert.ok(got.chunks.length >= 4, `expected the chunks one by one, got ${got.chunks.length} reads`)
    assert.ok(got.chunks[0].at < finished - 300, `first chunk at ${got.chunks[0].at.toFixed(0)} ms, upstream finished at ${finished.toFixed(0)} ms`)
    assert.equal(events(got.text).filter((e) => e.includes(CHUNK_TEXT)).length, 4)
    assert.equal(events(got.text).at(-1), '[DONE]')
  })

  test('include_usage is forced upstream; the usage chunk is hidden from a client that did not ask', async () => {
    const got = await stream(KEYS.a, chat({ stream: true }))
    assert.deepEqual(mock.calls[0].body.stream_options, { include_usage: true })
    assert.ok(!got.text.includes('"usage"'), got.text)
    assert.equal(events(got.text).length, 4, 'three content chunks and [DONE]')
  })

  test('the usage chunk is shown to a client that asked for it, and other stream options are kept', async () => {
    const got = await stream(KEYS.a, chat({ stream: true, stream_options: { include_usage: true, continuous_usage_stats: false } }))
    assert.deepEqual(mock.calls[0].body.stream_options, { include_usage: true, continuous_usage_stats: false })
    const usage = events(got.text).filter((e) => e.includes('"usage"'))
    assert.equal(usage.length, 1)
    assert.deepEqual(JSON.parse(usage[0]).usage, { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 })
  })

  test('a stream is reconciled to the usage the upstream reported', async () => {
    await stream(KEYS.capped, chat({ stream: true }))
    await sleep(20)
    assert.equal(await counters.valueOf('capped-daily', 'tokens'), 7 + 3)
  })

  test('without usage from the upstream, a stream is counted from its text: prompt bound + bytes + 1', async () => {
    mock.behaviour.reportUsage = false
    await stream(KEYS.capped, chat({ stream: true }))
    await sleep(20)
    assert.equal(await counters.valueOf('capped-daily', 'tokens'), CHAT_BOUND + 3 * CHUNK_TEXT.length + 1)
  })

  test('a client disconnect aborts the upstream call and releases what was not used', async () => {
    mock.behaviour = { chunks: 50, delayMs: 40, reportUsage: true }
    const got = await stream(KEYS.capped, chat({ stream: true }), 2)
    assert.equal(got.status, 200)
    const call = mock.calls[0]
    for (let i = 0; i < 100 && !call.closedEarly; i++) await sleep(10)
    assert.ok(call.closedEarly, 'the upstream saw its connection close before it finished')
    await sleep(20)
    const tokens = await counters.valueOf('capped-daily', 'tokens')
    assert.ok(tokens >= CHAT_BOUND + 2 * CHUNK_TEXT.length && tokens < CHAT_BOUND + 10 * CHUNK_TEXT.length, `counted ${tokens} tokens`)
    assert.ok(tokens < CHAT_BOUND + 50, 'less than the reservation (bound + max_tokens)')
  })
})
