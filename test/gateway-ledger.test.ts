// The gateway's usage ledger: one entry per request with its outcome and real usage, written in batches off the request path, retried, bounded, flushed on close; counters rebuilt from it after Redis lost them.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import pino from 'pino'
import { buildGateway } from '../src/gateway/app.ts'
import { LedgerWriter } from '../src/gateway/ledger-writer.ts'
import { createGatewayMetrics } from '../src/gateway/metrics.ts'
import { openStore } from '../src/store/index.ts'
import { RedisCounters } from '../src/store/redis/counters.ts'
import type { LedgerEntry, Store } from '../src/store/types.ts'
import { CAPS, CHAT_BOUND, chat, KEYS, MOCK_USAGE, postChat, RecordingCounters, startMockUpstream, testRegistry, type MockUpstream } from './gateway-helpers.ts'

const REDIS = process.env.GPUPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379'
const RUN = `gpuplane-test-ledger:${randomBytes(6).toString('hex')}:`
const silent = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function entry(id: string): LedgerEntry {
  return { id, time: 1, namespace: 'n', agent: 'a', model: 'm', endpoint: 'chat', outcome: 'completed', promptTokens: 1, completionTokens: 1, costMicro: 0, requests: 1, status: 200 }
}

/** A sink that fails the first `failures` writes (after applying some of them, as a lost acknowledgement would) and dedups by id like a store. */
function flakySink(failures: number) {
  const stored = new Map<string, LedgerEntry>()
  const batches: number[] = []
  return {
    stored,
    batches,
    async appendUsage(entries: readonly LedgerEntry[]): Promise<number> {
      batches.push(entries.length)
      let added = 0
      for (const e of entries) if (!stored.has(e.id)) (stored.set(e.id, e), added++)
      if (failures-- > 0) throw new Error('connection lost while committing')
      return added
    },
  }
}

describe('ledger writer', () => {
  test('batches entries: a full batch at once, the rest after the interval', async () => {
    const sink = flakySink(0)
    const w = new LedgerWriter(sink, silent, undefined, { maxBatch: 10, flushIntervalMs: 30 })
    for (let i = 0; i < 25; i++) w.add(entry(`e${i}`))
    await sleep(5)
    // Full batches go at once, one after the other (two, if the first write was done within the 5 ms); the 5 left wait for the interval.
    assert.ok(sink.batches.length >= 1 && sink.batches.every((n) => n === 10), `full batches are written without waiting for the interval: ${sink.batches}`)
    assert.equal(sink.stored.size, 10 * sink.batches.length, 'the partial batch waits for the interval')
    await sleep(80)
    assert.equal(sink.stored.size, 25)
    assert.ok(sink.batches.length <= 4, `batches ${sink.batches}`)
    await w.close()
  })

  test('a failed write is retried with backoff; ids make a retry of an applied batch add nothing', async () => {
    const sink = flakySink(3)
    const metrics = createGatewayMetrics()
    const w = new LedgerWriter(sink, silent, metrics, { flushIntervalMs: 5, retryMinMs: 10, retryMaxMs: 40 })
    for (let i = 0; i < 7; i++) w.add(entry(`r${i}`))
    await w.flush(2000)
    assert.equal(sink.stored.size, 7)
    assert.ok(sink.batches.length >= 4, `retried: ${sink.batches}`)
    assert.equal((await metrics.ledgerWriteFailures.get()).values[0].value, 3)
    assert.deepEqual(w.pending(), [])
    await w.close()
  })

  test('a full buffer drops the oldest entries and counts them; close writes the rest', async () => {
    let release!: () => void
    const blocked = new Promise<void>((r) => (release = r))
    const stored: string[] = []
    const metrics = createGatewayMetrics()
    const w = new LedgerWriter({ appendUsage: async (es) => (await blocked, stored.push(...es.map((e) => e.id)), es.length) }, silent, metrics, { maxBatch: 2, maxBuffer: 5, flushIntervalMs: 1 })
    w.add(entry('a'))
    w.add(entry('b'))
    await sleep(5) // a and b are in flight, held by the sink
    for (const id of ['c', 'd', 'e', 'f', 'g']) w.add(entry(id))
    assert.equal(w.droppedCount, 2, 'five buffered past a batch of two in flight: two dropped')
    assert.equal((await metrics.ledgerDropped.get()).values[0].value, 2)
    release()
    await w.close()
    assert.deepEqual(stored, ['a', 'b', 'e', 'f', 'g'], 'the oldest buffered (c, d) were dropped, the in-flight batch kept')
  })
})

test('close gives up after its timeout when the store stays down, saying how many entries were lost', async () => {
  const lines: string[] = []
  const logger = pino({ level: 'error' }, { write: (l: string) => void lines.push(l) })
  const w = new LedgerWriter({ appendUsage: async () => Promise.reject(new Error('store down')) }, logger, undefined, { flushIntervalMs: 1, retryMinMs: 5, closeTimeoutMs: 150 })
  for (let i = 0; i < 3; i++) w.add(entry(`x${i}`))
  const started = performance.now()
  await w.close()
  assert.ok(performance.now() - started < 1000, 'close does not hang')
  assert.ok(lines.some((l) => /lost at shutdown/.test(l) && /"lost":3/.test(l)), lines.join('\n'))
})

describe('gateway ledger entries', () => {
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

  test('every request that reaches admission is one entry: completed, failed, refused with its limit, released; counters equal the entries', async () => {
    const counters = new RecordingCounters()
    const app = buildGateway({ registry: testRegistry(mock.url), counters, ledger: store, ledgerWriter: { flushIntervalMs: 5 } })
    const post = (key: string, body: unknown) => postChat(app, key, body)
    assert.equal((await post(KEYS.capped, chat({ max_tokens: 10 }))).statusCode, 200)
    mock.behaviour.failStatus = 503
    assert.equal((await post(KEYS.capped, chat({ max_tokens: 10 }))).statusCode, 503)
    mock.behaviour.failStatus = undefined
    assert.equal((await post(KEYS.capped, chat({ max_tokens: 100 }))).statusCode, 429, 'needs 106 of a cap of 60')
    assert.equal((await post(KEYS.a, { model: 'm-a' })).statusCode, 400, 'a malformed request never reaches admission')
    const down = buildGateway({ registry: testRegistry('http://127.0.0.1:1/v1'), counters, ledger: store, ledgerWriter: { flushIntervalMs: 5 } })
    assert.equal((await postChat(down, KEYS.capped, chat({ max_tokens: 10 }))).statusCode, 503)
    await app.close()
    await down.close()

    const entries = await store.queryUsage({ agent: 'capped' })
    assert.deepEqual(entries.map((e) => [e.outcome, e.status, e.requests]), [
      ['completed', 200, 1],
      ['failed', 503, 1],
      ['refused', 429, 0],
      ['released', 503, 0],
    ])
    const [done, failed, refused, released] = entries
    assert.deepEqual([done.promptTokens, done.completionTokens], [MOCK_USAGE.prompt_tokens, MOCK_USAGE.completion_tokens])
    assert.equal(done.costMicro, 2, '7 tokens at $0.10/M and 5 at $0.20/M, rounded up to whole micro-dollars')
    assert.equal(done.reservedTokens, CHAT_BOUND + 10)
    assert.equal(done.namespace, 'team-a')
    assert.equal(done.model, 'm-a')
    assert.equal(done.endpoint, 'chat')
    assert.ok(done.latencyMs !== undefined && done.latencyMs >= 0, 'latency recorded')
    assert.deepEqual([failed.promptTokens, failed.completionTokens], [0, 0])
    assert.match(refused.reason ?? '', /^tokens per day: tp\/team-a\/capped-daily\/0\/tokens\//)
    assert.deepEqual([released.promptTokens, released.completionTokens, released.costMicro], [0, 0, 0])
    assert.equal(new Set(entries.map((e) => e.id)).size, 4, 'ids are unique')
    const tokens = entries.reduce((s, e) => s + e.promptTokens + e.completionTokens, 0)
    assert.equal(await counters.valueOf('capped-daily', 'tokens'), tokens, 'the counter holds exactly what the ledger holds')
  })

  test('refusals of known agents are entries too: a disabled agent (the kill switch) and a model not approved; an unknown key is not', async () => {
    const ledger = await openStore({ sqlite: ':memory:' })
    const app = buildGateway({ registry: testRegistry(mock.url), counters: new RecordingCounters(), ledger, ledgerWriter: { flushIntervalMs: 5 } })
    assert.equal((await postChat(app, KEYS.off, chat({ max_tokens: 10 }))).statusCode, 403, 'disabled')
    assert.equal((await postChat(app, KEYS.off, { model: 'm-a' })).statusCode, 403, 'disabled, even with a malformed request')
    assert.equal((await postChat(app, KEYS.a, chat({ model: 'm-b', max_tokens: 10 }))).statusCode, 403, 'm-b is approved for team-b only')
    assert.equal((await postChat(app, 'gp-not-a-key', chat({ max_tokens: 10 }))).statusCode, 401)
    await app.close()
    const entries = await ledger.queryUsage({})
    await ledger.close()
    assert.deepEqual(entries.map((e) => [e.namespace, e.model, e.outcome, e.status, e.requests, e.promptTokens + e.completionTokens]), [
      ['team-a', 'm-a', 'refused', 403, 0, 0],
      ['team-a', 'm-b', 'refused', 403, 0, 0],
    ])
    assert.match(entries[0].reason ?? '', /is disabled/)
    assert.match(entries[1].reason ?? '', /not approved for namespace team-a/)
  })

  test('graceful close: streams in flight when close starts are all in the ledger after it', async () => {
    const counters = new RecordingCounters()
    const app = buildGateway({ registry: testRegistry(mock.url), counters, ledger: store, ledgerWriter: { flushIntervalMs: 1000 } })
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    mock.behaviour = { chunks: 4, delayMs: 60, reportUsage: true }
    const before = (await store.queryUsage({ agent: 'crowd' })).length
    const streams = Array.from({ length: 5 }, () =>
      fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.crowd}`, 'content-type': 'application/json' }, body: JSON.stringify(chat({ stream: true })) }).then((r) => r.text()),
    )
    while (mock.calls.filter((c) => c.body.stream === true && c.finishedAt === undefined).length < 5) await sleep(5)
    const closing = app.close()
    const bodies = await Promise.all(streams)
    for (const b of bodies) assert.match(b, /\[DONE\]/)
    await closing
    const entries = (await store.queryUsage({ agent: 'crowd' })).slice(before)
    assert.equal(entries.length, 5, 'every stream the clients saw complete is in the ledger')
    for (const e of entries) assert.deepEqual([e.outcome, e.completionTokens], ['completed', 4])
    mock.behaviour = { chunks: 3, delayMs: 0, reportUsage: true }
  })
})

describe('counter rebuild from the ledger (Redis)', () => {
  let mock: MockUpstream
  let store: Store
  const admin = new Redis(REDIS, { lazyConnect: true })
  before(async () => {
    mock = await startMockUpstream()
    store = await openStore({ sqlite: ':memory:' })
    await admin.connect()
  })
  after(async () => {
    const keys = await admin.keys(`${RUN}*`)
    if (keys.length > 0) await admin.del(...keys)
    admin.disconnect()
    await mock.close()
    await store.close()
  })

  /** Deletes every counter of this run: Redis restarted without its data. */
  async function loseCounters(): Promise<number> {
    const keys = await admin.keys(`${RUN}*`)
    return keys.length === 0 ? 0 : admin.del(...keys)
  }

  test('counters lost in Redis are rebuilt from the ledger when a gateway starts, and the cap still holds', async () => {
    const post = (app: ReturnType<typeof buildGateway>) =>
      postChat(app, KEYS.capped, chat({ max_tokens: 10 }))
    const counters = await RedisCounters.connect(REDIS, { prefix: `${RUN}start:` })
    const first = buildGateway({ registry: testRegistry(mock.url), counters, ledger: store })
    // Each request reserves 6 + 10 and uses 12: four use 48 of the cap of 60; a fifth would need 16.
    for (let i = 0; i < 4; i++) assert.equal((await post(first)).statusCode, 200)
    assert.equal((await post(first)).statusCode, 429)
    await first.close()
    await counters.close()
    assert.ok((await loseCounters()) > 0, 'the counters were in Redis')

    const fresh = await RedisCounters.connect(REDIS, { prefix: `${RUN}start:` })
    const metrics = createGatewayMetrics()
    const second = buildGateway({ registry: testRegistry(mock.url), counters: fresh, ledger: store, metrics })
    const res = await post(second)
    assert.equal(res.statusCode, 429, `rebuilt at start, the cap holds: ${res.body}`)
    assert.equal(res.json().error.limit.used, 4 * (MOCK_USAGE.prompt_tokens + MOCK_USAGE.completion_tokens))
    assert.equal((await metrics.counterRebuilds.get()).values.find((v) => v.labels.result === 'ok')?.value, 1)
    await second.close()
    await fresh.close()
    assert.ok(CAPS.capped === 60, 'the test configuration caps the agent at 60 tokens a day')
  })
})
