// Scale-out: 4 `gpuplane gateway` replica processes sharing Redis (counters) and PostgreSQL (objects and ledger) with a server process: one hard token cap is never overshot under a few hundred concurrent requests spread over the replicas, and an agent disabled through the server's API is refused by every replica within a second.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import pg from 'pg'
import { hashAgentKey } from '../src/governance/access.ts'
import { openStore } from '../src/store/index.ts'
import type { Store } from '../src/store/types.ts'
import { MOCK_USAGE, startMockUpstream, type MockUpstream } from './gateway-helpers.ts'
import { api, startServer, stopServer, type ServerProcess } from './server-invariants.ts'

const ADMIN = 'gateway-replicas-test-admin'
const PG_ADMIN_URL = process.env.GPUPLANE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres'
/** Its own Redis database, and a namespace of its own: no key of another test file is touched. */
const REDIS_URL = `${process.env.GPUPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379'}/13`
const REPLICAS = 4
const REQUESTS = Number(process.env.GATEWAY_REPLICAS_REQUESTS ?? 300)
const CAP = 1000
const MAX_TOKENS = 50
const CONTENT = 'hello there'
/** The prompt bound of one request: the UTF-8 bytes of the role and the content (the Model has no template overhead). */
const BOUND = 'user'.length + CONTENT.length
const RESERVED = BOUND + MAX_TOKENS
const NS = `gwrep-${process.pid}-${Date.now() % 100_000}`
const G = '/apis/gpuplane.io/v1alpha1'
const KEYS = { bot: `key-bot-${NS}`, victim: `key-victim-${NS}` }

interface Replica {
  child: ChildProcess
  url: string
}

async function startReplica(postgres: string): Promise<Replica> {
  const child = spawn(process.execPath, ['bin/gpuplane.js', 'gateway', '--postgres', postgres, '--redis', REDIS_URL, '--replicas', String(REPLICAS), '--port', '0', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${err}`)), 60_000)
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      const m = /listening on (http:\/\/\S+)/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`gateway exited (${code}): ${err}`))
    })
  })
  return { child, url }
}

async function stopReplica(r: Replica): Promise<void> {
  if (r.child.exitCode !== null) return
  r.child.kill('SIGTERM')
  await new Promise((resolve) => r.child.once('exit', resolve))
}

function chat(r: Replica, key: string): Promise<Response> {
  return fetch(`${r.url}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: CONTENT }] }) })
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('4 gateway replicas on shared Redis and PostgreSQL', { timeout: 180_000 }, () => {
  let admin: pg.Client
  let database = ''
  let postgres = ''
  let server: ServerProcess | undefined
  let mock: MockUpstream
  let store: Store
  let redis: Redis
  const replicas: Replica[] = []

  before(async () => {
    admin = new pg.Client({ connectionString: PG_ADMIN_URL })
    await admin.connect()
    database = `gpuplane_gwrep_${process.pid}_${Date.now()}`
    await admin.query(`CREATE DATABASE ${database}`)
    const url = new URL(PG_ADMIN_URL)
    url.pathname = `/${database}`
    postgres = url.toString()
    mock = await startMockUpstream()
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await redis.connect()
    server = await startServer(['--postgres', postgres, '--no-gateway'], { GPUPLANE_ADMIN_TOKEN: ADMIN }, 60_000)
    const created = [
      await api(server.url, ADMIN, 'POST', `${G}/models`, {
        apiVersion: 'gpuplane.io/v1alpha1',
        kind: 'Model',
        metadata: { name: 'm' },
        spec: { upstream: { baseURL: mock.url, model: 'upstream/m' }, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 }, maxTokens: 100, templateOverhead: { perMessage: 0, perRequest: 0 }, namespaces: [NS] },
      }),
      ...(['bot', 'victim'] as const).map((name) => api(server!.url, ADMIN, 'POST', `${G}/namespaces/${NS}/agents`, { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Agent', metadata: { name }, spec: { keyHashes: [hashAgentKey(KEYS[name])], models: ['m'] } })),
      await api(server.url, ADMIN, 'POST', `${G}/namespaces/${NS}/tokenpolicies`, {
        apiVersion: 'gpuplane.io/v1alpha1',
        kind: 'TokenPolicy',
        metadata: { name: 'cap' },
        spec: { selector: { agent: 'bot' }, mode: 'hard-reject', limits: [{ window: 'day', tokens: CAP }, { window: 'minute', requests: 1_000_000 }] },
      }),
    ]
    for (const res of await Promise.all(created)) assert.equal(res.status, 201, JSON.stringify(res.body))
    // Started one at a time: four tsx start-ups at once on a small machine take long.
    for (let i = 0; i < REPLICAS; i++) replicas.push(await startReplica(postgres))
    store = await openStore({ postgres })
  })

  after(async () => {
    await Promise.all(replicas.map(stopReplica))
    if (server) await stopServer(server)
    await store?.close()
    if (redis) {
      const keys = await redis.keys(`gpuplane:tp/${NS}/*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    }
    await mock?.close()
    if (admin) {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
      await admin.end()
    }
  })

  test(`${REQUESTS} concurrent requests over ${REPLICAS} replicas never admit more than the cap`, async (t) => {
    for (const r of replicas) await until(`replica ${r.url} knows the agent`, async () => (await fetch(`${r.url}/models`, { headers: { authorization: `Bearer ${KEYS.bot}` } })).status === 200, 5000)
    // Every admitted request is held at the upstream until all have been answered or refused, so
    // every reservation is outstanding at once: the cap must hold against all of them together.
    let release!: () => void
    mock.behaviour.gate = new Promise<void>((resolve) => (release = resolve))
    let refused = 0
    const refusals: Array<{ error: { code: string; limit: { policy: string; window: string } } }> = []
    const results = Array.from({ length: REQUESTS }, async (_, i) => {
      const res = await chat(replicas[i % REPLICAS], KEYS.bot)
      if (res.status === 429) {
        refused++
        refusals.push((await res.json()) as (typeof refusals)[number])
      }
      return res
    })
    try {
      await until('every request is at the upstream or refused', () => mock.calls.length + refused >= REQUESTS, 60_000)
    } finally {
      release()
    }
    const responses = await Promise.all(results)
    const statuses = responses.map((r) => r.status)
    await Promise.all(responses.filter((r) => !r.bodyUsed).map((r) => r.text()))
    const admitted = statuses.filter((s) => s === 200).length
    assert.deepEqual([...new Set(statuses)].sort(), [200, 429], `only 200 and 429: ${statuses.join(',')}`)
    assert.equal(admitted, mock.calls.length, 'the upstream saw exactly the admitted requests')
    const reservedAtUpstream = mock.calls.reduce((sum, c) => sum + BOUND + Number(c.body.max_tokens), 0)
    assert.ok(reservedAtUpstream <= CAP, `admitted ${reservedAtUpstream} tokens of reservations, cap ${CAP}`)
    // No undershoot either: with nothing released, exactly as many fit as the cap holds.
    assert.equal(admitted, Math.floor(CAP / RESERVED), `admitted ${admitted}`)
    assert.ok(refused > 0, 'some requests are refused')
    t.diagnostic(`admitted ${admitted} (${reservedAtUpstream} tokens reserved, cap ${CAP}), refused ${refused}`)
    assert.equal(refusals[0].error.code, 'TOKEN_CAP_EXCEEDED')
    assert.equal(refusals[0].error.limit.policy, `${NS}/cap`)
    assert.equal(refusals[0].error.limit.window, 'day')

    // Reconciled: the shared counter holds the real usage of the admitted requests, within the cap.
    const used = admitted * (MOCK_USAGE.prompt_tokens + MOCK_USAGE.completion_tokens)
    const counter = async () => {
      const keys = await redis.keys(`gpuplane:tp/${NS}/cap/0/tokens/*`)
      return keys.length === 1 ? Number(await redis.get(keys[0])) : -1
    }
    await until(`the token counter is reconciled to ${used}`, async () => (await counter()) === used, 5000)
    // The ledger in PostgreSQL: one completed entry per admitted request, their tokens within the cap.
    await until('the ledger has every admitted request', async () => (await store.queryUsage({ namespace: NS, agent: 'bot', outcome: 'completed', limit: 1000 })).length === admitted, 10_000)
    const completed = await store.queryUsage({ namespace: NS, agent: 'bot', outcome: 'completed', limit: 1000 })
    assert.ok(completed.reduce((s, e) => s + e.promptTokens + e.completionTokens, 0) <= CAP, 'ledger tokens within the cap')
  })

  test('an agent disabled through the server API is refused by every replica within a second', async (t) => {
    delete mock.behaviour.gate
    for (const r of replicas) assert.equal((await chat(r, KEYS.victim)).status, 200, `victim admitted on ${r.url}`)
    const path = `${G}/namespaces/${NS}/agents/victim`
    const current = (await api(server!.url, ADMIN, 'GET', path)).body
    assert.equal((await api(server!.url, ADMIN, 'PUT', path, { ...current, spec: { ...current.spec, disabled: true } })).status, 200)
    const changed = Date.now()
    const refusedAfter = await Promise.all(
      replicas.map(async (r) => {
        let status = 200
        while (status !== 403 && Date.now() - changed < 5000) {
          status = (await fetch(`${r.url}/models`, { headers: { authorization: `Bearer ${KEYS.victim}` } })).status
          if (status !== 403) await new Promise((resolve) => setTimeout(resolve, 10))
        }
        return { status, ms: Date.now() - changed }
      }),
    )
    t.diagnostic(`refused after ${refusedAfter.map((r) => r.ms).join(', ')} ms`)
    for (const [i, r] of refusedAfter.entries()) {
      assert.equal(r.status, 403, `replica ${i} refuses the disabled agent`)
      assert.ok(r.ms < 1000, `replica ${i} refused it ${r.ms} ms after the change`)
    }
    // Revoking a key (removing its hash) works the same way: 401 everywhere.
    const bot = (await api(server!.url, ADMIN, 'GET', `${G}/namespaces/${NS}/agents/bot`)).body
    assert.equal((await api(server!.url, ADMIN, 'PUT', `${G}/namespaces/${NS}/agents/bot`, { ...bot, spec: { ...bot.spec, keyHashes: [] } })).status, 200)
    const revoked = Date.now()
    for (const r of replicas) {
      await until(`replica ${r.url} refuses the revoked key`, async () => (await fetch(`${r.url}/models`, { headers: { authorization: `Bearer ${KEYS.bot}` } })).status === 401, 1000 - (Date.now() - revoked))
    }
  })
})
