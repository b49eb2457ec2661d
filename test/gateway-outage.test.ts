// The gateway while its Redis counters are unavailable: fail-closed limits answer 503, local limits admit at most this replica's share, a metric counts it, one log line marks each end; after Redis returns, counters are rebuilt from the ledger before use.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import pino from 'pino'
import { buildGateway } from '../src/gateway/app.ts'
import { openStore } from '../src/store/index.ts'
import { RedisCounters } from '../src/store/redis/counters.ts'
import type { Store } from '../src/store/types.ts'
import { CAPS, CHAT_BOUND, chat, KEYS, MOCK_USAGE, postChat, startMockUpstream, testRegistry, type MockUpstream } from './gateway-helpers.ts'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'

const REDIS = process.env.GPUPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379'
const RUN = `gpuplane-test-outage:${randomBytes(6).toString('hex')}:`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A pino logger whose lines are kept as objects. */
function capturedLogger() {
  const lines: Array<{ msg: string; level: number }> = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

/** Counters on a Redis that is not there (a closed port): every command is UNAVAILABLE. */
function unreachable(): Promise<RedisCounters> {
  return RedisCounters.connect('redis://127.0.0.1:1', { prefix: RUN, connectTimeoutMs: 200, requireConnection: false, onError: () => {} })
}

async function metricValue(app: ReturnType<typeof buildGateway>, line: RegExp): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const match = text.split('\n').find((l) => line.test(l))
  return match === undefined ? 0 : Number(match.split(' ').pop())
}

describe('gateway with Redis unreachable', () => {
  let mock: MockUpstream
  let store: Store
  before(async () => {
    mock = await startMockUpstream()
    store = await openStore({ sqlite: ':memory:' })
  })
  after(async () => {
    await mock.close()
    await store.close()
  })

  test('token limits fail closed by default: 503 with a clear message, a refused ledger entry, a metric, one log line', async () => {
    const counters = await unreachable()
    const { logger, lines } = capturedLogger()
    const app = buildGateway({ registry: testRegistry(mock.url), counters, ledger: store, logger })
    for (let i = 0; i < 3; i++) {
      const res = await postChat(app, KEYS.capped, chat())
      assert.equal(res.statusCode, 503, res.body)
      assert.equal(res.json().error.code, 'UNAVAILABLE')
      assert.match(res.json().error.message, /token counter store is unavailable and tokens limits fail closed \(TokenPolicy team-a\/capped-daily\)/)
    }
    assert.equal(mock.calls.length, 0, 'nothing reached the upstream')
    assert.equal(await metricValue(app, /^gpuplane_gateway_degraded_requests_total\{decision="fail-closed"\}/), 3)
    assert.equal(await metricValue(app, /^gpuplane_gateway_degraded /), 1)
    assert.equal(lines.filter((l) => /degraded mode/.test(l.msg)).length, 1, `one line when degraded mode starts: ${lines.map((l) => l.msg).join(' | ')}`)
    // An agent no limit applies to needs no counters: served as usual.
    assert.equal((await postChat(app, KEYS.a, chat())).statusCode, 200)
    await app.close()
    await counters.close()
    const refused = await store.queryUsage({ agent: 'capped' })
    assert.equal(refused.length, 3)
    for (const e of refused) {
      assert.deepEqual([e.outcome, e.status, e.requests, e.promptTokens], ['refused', 503, 0, 0])
      assert.match(e.reason ?? '', /counters unavailable: tokens limits fail closed/)
    }
  })

  test('local mode admits at most floor(limit / replicas) on this replica, however many arrive at once', async () => {
    const counters = await unreachable()
    const replicas = 4
    const app = buildGateway({ registry: testRegistry(mock.url), counters, outage: { tokens: 'local' }, replicas })
    let release!: () => void
    mock.calls.length = 0
    mock.behaviour.gate = new Promise<void>((r) => (release = r))
    // Each reserves 6 + 44 = 50 tokens; the crowd agent's share of its 1,000 is 250: five fit.
    const perRequest = CHAT_BOUND + 44
    const share = Math.floor(CAPS.crowd / replicas)
    const pending = Array.from({ length: 20 }, () => postChat(app, KEYS.crowd, chat({ max_tokens: 44 })))
    while (mock.calls.length < Math.floor(share / perRequest)) await sleep(5)
    await sleep(50)
    release()
    mock.behaviour.gate = undefined
    const responses = await Promise.all(pending)
    const statuses = responses.map((r) => r.statusCode)
    assert.equal(statuses.filter((s) => s === 200).length, Math.floor(share / perRequest), `statuses ${statuses}`)
    assert.equal(statuses.filter((s) => s === 429).length, 20 - Math.floor(share / perRequest))
    const refused = responses.find((r) => r.statusCode === 429)!
    assert.equal(refused.json().error.limit.limit, share, 'the 429 names the replica share as the limit')
    assert.match(refused.json().error.message, /share of the limit while the counter store is unavailable, 1\/4/)
    assert.equal(await metricValue(app, /^gpuplane_gateway_degraded_requests_total\{decision="local-admitted"\}/), 5)
    await app.close()
    await counters.close()
  })
})

describe('gateway when Redis comes back', () => {
  let mock: MockUpstream
  let store: Store
  let relay: TcpProxy
  const admin = new Redis(REDIS, { lazyConnect: true })
  before(async () => {
    mock = await startMockUpstream()
    store = await openStore({ sqlite: ':memory:' })
    await admin.connect()
    relay = await startTcpProxy(Number(new URL(REDIS).port || 6379), new URL(REDIS).hostname)
  })
  after(async () => {
    await relay.close()
    const keys = await admin.keys(`${RUN}*`)
    if (keys.length > 0) await admin.del(...keys)
    admin.disconnect()
    await mock.close()
    await store.close()
  })

  test('after an outage in which Redis lost its counters, they are rebuilt from the ledger before use: the cap holds', async (t) => {
    const counters = await RedisCounters.connect(`redis://127.0.0.1:${relay.port}`, { prefix: `${RUN}back:`, onError: () => {} })
    const { logger, lines } = capturedLogger()
    const app = buildGateway({ registry: testRegistry(mock.url), counters, ledger: store, logger, ledgerWriter: { flushIntervalMs: 5 } })
    t.after(async () => {
      await relay.restore().catch(() => {})
      await app.close()
      await counters.close()
    })
    const capped = () => postChat(app, KEYS.capped, chat({ max_tokens: 10 }))
    for (let i = 0; i < 3; i++) assert.equal((await capped()).statusCode, 200)
    await relay.cut()
    assert.equal((await capped()).statusCode, 503, 'fail-closed during the outage')
    // Redis "restarts" empty.
    assert.ok((await admin.del(...(await admin.keys(`${RUN}back:*`)))) > 0, 'counters existed')
    await relay.restore()
    const deadline = Date.now() + 10_000
    while (!lines.some((l) => /degraded mode ended/.test(l.msg)) && Date.now() < deadline) await sleep(20)
    assert.ok(lines.some((l) => /restored from the usage ledger/.test(l.msg)), `log: ${lines.map((l) => l.msg).join(' | ')}`)
    // 3 × 12 = 36 used; 6 + 10 more fit once (52), then 16 more would pass 60.
    assert.equal((await capped()).statusCode, 200)
    const res = await capped()
    assert.equal(res.statusCode, 429, res.body)
    assert.equal(res.json().error.limit.used, 4 * (MOCK_USAGE.prompt_tokens + MOCK_USAGE.completion_tokens))
  })

  test('a request in flight across the outage adds its whole usage once it ends (its reservation was lost with the counters)', async (t) => {
    const prefix = `${RUN}inflight:`
    const counters = await RedisCounters.connect(`redis://127.0.0.1:${relay.port}`, { prefix, onError: () => {} })
    const { logger, lines } = capturedLogger()
    const app = buildGateway({ registry: testRegistry(mock.url), counters, ledger: store, logger, ledgerWriter: { flushIntervalMs: 5 } })
    let release = () => {}
    t.after(async () => {
      release()
      mock.behaviour.gate = undefined
      await relay.restore().catch(() => {})
      await app.close()
      await counters.close()
    })
    const tokensKey = async () => (await admin.keys(`${prefix}*`)).find((k) => k.includes('/clamp-daily/0/tokens/'))!
    mock.calls.length = 0
    mock.behaviour.gate = new Promise<void>((r) => (release = r))
    const inflight = postChat(app, KEYS.clamp, chat({ max_tokens: 10 }))
    while (mock.calls.length < 1) await sleep(5)
    assert.equal(await admin.get(await tokensKey()), String(CHAT_BOUND + 10), 'reserved 16 before the outage')
    await relay.cut()
    await admin.del(await tokensKey())
    const seen = lines.length
    await relay.restore()
    const deadline = Date.now() + 10_000
    while (!lines.slice(seen).some((l) => /restored from the usage ledger/.test(l.msg)) && Date.now() < deadline) await sleep(20)
    release()
    mock.behaviour.gate = undefined
    assert.equal((await inflight).statusCode, 200)
    const used = MOCK_USAGE.prompt_tokens + MOCK_USAGE.completion_tokens
    // The gateway settles just after answering (its own Redis connection): wait for it, briefly.
    const settledBy = Date.now() + 2000
    while ((await admin.get(await tokensKey())) !== String(used) && Date.now() < settledBy) await sleep(5)
    assert.equal(await admin.get(await tokensKey()), String(used), 'the actual 12 were added, not the reservation released from a counter that no longer held it')
  })
})
