// The gateway's non-streaming path through its HTTP app: pass-through, authentication and isolation, request errors, 429s, hard-clamp, reconcile, and 1,000 concurrent requests against one cap.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildGateway } from '../src/gateway/app.ts'
import { CAPS, CHAT_BOUND, chat, KEYS, MOCK_USAGE, postChat, RecordingCounters, startMockUpstream, testRegistry, type MockUpstream } from './gateway-helpers.ts'

const MOCK_TOKENS = MOCK_USAGE.prompt_tokens + MOCK_USAGE.completion_tokens

describe('gateway proxy', () => {
  let mock: MockUpstream
  let counters: RecordingCounters
  let app: FastifyInstance

  before(async () => {
    mock = await startMockUpstream()
  })
  after(async () => {
    await mock.close()
  })
  beforeEach(async () => {
    mock.calls.length = 0
    mock.behaviour = { chunks: 3, delayMs: 0, reportUsage: true }
    counters = new RecordingCounters()
    app = buildGateway({ registry: testRegistry(mock.url), counters, env: { TEST_UPSTREAM_KEY: 'upstream-secret' }, bodyLimit: 64 * 1024 })
  })

  const post = (key: string | undefined, body: unknown, path = '/v1/chat/completions') =>
    app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, payload: typeof body === 'string' ? body : JSON.stringify(body) })

  test('forwards a chat completion with the upstream model name, key and max_tokens, and returns its answer', async () => {
    const res = await post(KEYS.a, chat())
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().choices[0].message.content, 'hi')
    assert.equal(mock.calls.length, 1)
    const call = mock.calls[0]
    assert.equal(call.path, '/v1/chat/completions')
    assert.equal(call.body.model, 'upstream/m-a')
    assert.equal(call.body.max_tokens, 50, 'the Model default is sent when the request names none')
    assert.equal(call.headers.authorization, 'Bearer upstream-secret')
  })

  test('forwards completions and embeddings to their upstream paths', async () => {
    assert.equal((await post(KEYS.a, { model: 'm-a', prompt: 'hi', max_tokens: 3 }, '/v1/completions')).statusCode, 200)
    assert.equal((await post(KEYS.a, { model: 'm-a', input: ['a', 'b'] }, '/v1/embeddings')).statusCode, 200)
    assert.deepEqual(mock.calls.map((c) => c.path), ['/v1/completions', '/v1/embeddings'])
    assert.equal(mock.calls[0].body.max_tokens, 3)
  })

  test('GET /v1/models lists only the models the agent may use', async () => {
    const list = async (key: string) => (await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${key}` } })).json().data.map((m: { id: string }) => m.id)
    assert.deepEqual(await list(KEYS.a), ['m-a'], 'm-b is in the agent list but not approved for team-a')
    assert.deepEqual(await list(KEYS.b), ['m-b'])
  })

  test('missing or unknown key is 401, a disabled agent 403, in OpenAI error shape', async () => {
    for (const [key, status, code] of [[undefined, 401, 'UNAUTHORIZED'], ['gp-wrong', 401, 'UNAUTHORIZED'], [KEYS.off, 403, 'FORBIDDEN']] as const) {
      const res = await post(key, chat())
      assert.equal(res.statusCode, status)
      assert.equal(res.json().error.code, code)
      assert.equal(typeof res.json().error.message, 'string')
    }
    assert.equal((await app.inject({ method: 'GET', url: '/v1/models' })).statusCode, 401)
    assert.equal(mock.calls.length, 0)
  })

  test('an agent of team-a cannot use a model approved only for team-b (403), nor an unknown model (404)', async () => {
    const forbidden = await post(KEYS.a, chat({}, 'm-b'))
    assert.equal(forbidden.statusCode, 403)
    assert.match(forbidden.json().error.message, /not approved for namespace team-a/)
    assert.equal(forbidden.json().error.param, 'model')
    const notListed = await post(KEYS.b, chat({}, 'm-a'))
    assert.equal(notListed.statusCode, 403)
    const unknown = await post(KEYS.a, chat({}, 'gpt-9'))
    assert.equal(unknown.statusCode, 404)
    assert.equal(unknown.json().error.type, 'not_found_error')
    assert.equal(mock.calls.length, 0)
  })

  test('malformed JSON, a bad field, no body and a body too large are clear 4xx errors', async () => {
    const malformed = await post(KEYS.a, '{"model": "m-a", ')
    assert.equal(malformed.statusCode, 400)
    assert.match(malformed.json().error.message, /not valid JSON/)
    const badField = await post(KEYS.a, { model: 'm-a', messages: [] })
    assert.equal(badField.statusCode, 400)
    assert.equal(badField.json().error.param, 'messages')
    const notObject = await post(KEYS.a, '[1,2]')
    assert.equal(notObject.statusCode, 400)
    const empty = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${KEYS.a}` } })
    assert.equal(empty.statusCode, 400)
    const big = await post(KEYS.a, chat({ messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] }))
    assert.equal(big.statusCode, 413)
    assert.equal(big.json().error.code, 'PAYLOAD_TOO_LARGE')
    const route = await app.inject({ method: 'GET', url: '/v1/nothing' })
    assert.equal(route.statusCode, 404)
    assert.equal(route.json().error.code, 'NOT_FOUND')
    assert.equal(mock.calls.length, 0)
  })

  test('reconcile leaves the counters at the real usage', async () => {
    const res = await post(KEYS.capped, chat())
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-ratelimit-limit-tokens'], String(CAPS.capped))
    assert.equal(await counters.valueOf('capped-daily', 'tokens'), MOCK_TOKENS)
    assert.equal(await counters.valueOf('capped-daily', 'requests'), 1)
  })

  test('over the cap: 429 with the limit in the body and x-ratelimit headers; nothing reaches the upstream', async () => {
    assert.equal((await post(KEYS.capped, chat())).statusCode, 200)
    const res = await post(KEYS.capped, chat())
    assert.equal(res.statusCode, 429)
    const body = res.json()
    assert.equal(body.error.code, 'TOKEN_CAP_EXCEEDED')
    assert.equal(body.error.limit.window, 'day')
    assert.equal(body.error.limit.limit, CAPS.capped)
    assert.equal(body.error.limit.requested, CHAT_BOUND + 50)
    assert.equal(res.headers['x-ratelimit-limit-tokens'], String(CAPS.capped))
    assert.equal(res.headers['x-ratelimit-remaining-tokens'], String(CAPS.capped - MOCK_TOKENS))
    assert.ok(res.headers['x-ratelimit-reset-tokens'])
    assert.ok(Number(res.headers['retry-after']) >= 1)
    assert.equal(mock.calls.length, 1)
    assert.equal(await counters.valueOf('capped-daily', 'tokens'), MOCK_TOKENS, 'a refused request adds nothing')
  })

  test('hard-clamp lowers the max_tokens the upstream sees to the headroom', async () => {
    const res = await post(KEYS.clamp, chat({ max_tokens: 80 }))
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(mock.calls[0].body.max_tokens, CAPS.clamp - CHAT_BOUND)
  })

  test('an upstream error passes through with its status and body, and its tokens are released', async () => {
    mock.behaviour.failStatus = 503
    const res = await post(KEYS.capped, chat())
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().error.message, 'upstream is overloaded')
    assert.equal(await counters.valueOf('capped-daily', 'tokens'), 0)
    assert.equal(await counters.valueOf('capped-daily', 'requests'), 1)
  })

  test('an unreachable upstream is a 503 and releases the whole reservation', async () => {
    const dead = await startMockUpstream()
    const url = dead.url
    await dead.close()
    const gateway = buildGateway({ registry: testRegistry(url), counters, env: {} })
    const res = await postChat(gateway, KEYS.capped, chat())
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().error.code, 'UNAVAILABLE')
    assert.equal(await counters.valueOf('capped-daily', 'tokens'), 0)
    assert.equal(await counters.valueOf('capped-daily', 'requests'), 0)
  })

  test('1,000 concurrent requests against one cap never admit more tokens than the cap', async () => {
    let release = () => {}
    mock.behaviour.gate = new Promise<void>((resolve) => (release = resolve))
    const perRequest = CHAT_BOUND + 50
    const admittedMax = Math.floor(CAPS.crowd / perRequest)
    let refused = 0
    const all = Array.from({ length: 1000 }, () =>
      post(KEYS.crowd, chat()).then((res) => {
        if (res.statusCode === 429) refused++
        return res.statusCode
      }),
    )
    // Every request is either refused or held at the upstream: the reservations are all made.
    while (refused + mock.calls.length < 1000) await new Promise((r) => setTimeout(r, 5))
    const reserved = await counters.valueOf('crowd-daily', 'tokens')
    assert.ok(reserved <= CAPS.crowd, `reserved ${reserved} > cap ${CAPS.crowd}`)
    assert.equal(mock.calls.length, admittedMax, 'as many as fit are admitted, no more')
    assert.equal(reserved, admittedMax * perRequest)
    release()
    const statuses = await Promise.all(all)
    assert.equal(statuses.filter((s) => s === 200).length, admittedMax)
    assert.equal(statuses.filter((s) => s === 429).length, 1000 - admittedMax)
    assert.equal(await counters.valueOf('crowd-daily', 'tokens'), admittedMax * MOCK_TOKENS)
  })
})
