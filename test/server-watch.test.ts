// Watch streams over a listening server: list+watch, order of events, resume from resourceVersion or Last-Event-ID, GONE, selectors, scopes, another replica's writes, heartbeats, cleanup.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import type { OpenStoreOptions } from '../src/store/index.ts'
import { events, readStream, testServer, workload, WORKLOADS, type TestServer } from './server-helpers.ts'

/** The PostgreSQL of the tests (a fresh schema per test); GPUPLANE_TEST_POSTGRES overrides it. */
const POSTGRES = process.env.GPUPLANE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits until `check` holds (polling), failing after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(10)
  }
}

describe('server watch', () => {
  let s: TestServer
  let url: string
  before(async () => {
    s = await testServer({ watch: { pollMs: 50, heartbeatMs: 100 } })
    url = await s.app.listen({ port: 0, host: '127.0.0.1' })
  })
  after(async () => {
    await s.close()
  })

  test('without resourceVersion: the objects as ADDED, an id-only message at the list revision, then changes in order', async () => {
    await s.call('POST', WORKLOADS, { body: workload('w1') })
    const stream = readStream(`${url}${WORKLOADS}?watch=true`, s.adminToken, (m) => events(m).length >= 5)
    await eventually(() => s.app.metrics.watchStreams.get().then((g) => g.values.some((v) => v.value > 0)))
    const w2 = await s.call('POST', WORKLOADS, { body: workload('w2') })
    const updated = await s.call('PUT', `${WORKLOADS}/w2`, { body: { ...w2.body, spec: { priority: 9 } } })
    await s.call('PUT', `${WORKLOADS}/w2/status`, { body: { status: { phase: 'Scheduled', nodeName: 'n1' } } })
    await s.call('DELETE', `${WORKLOADS}/w1`)
    const { status, contentType, messages } = await stream
    assert.equal(status, 200)
    assert.match(contentType ?? '', /^text\/event-stream/)
    const evs = events(messages)
    assert.deepEqual(evs.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'w1'], ['ADDED', 'w2'], ['MODIFIED', 'w2'], ['MODIFIED', 'w2'], ['DELETED', 'w1']])
    assert.equal(evs[0].id, undefined, 'listed objects carry no id')
    const bookmark = messages.findIndex((m) => m.id !== undefined && m.data === undefined)
    assert.ok(bookmark > messages.findIndex((m) => m.data?.object?.metadata?.name === 'w1'), 'the list revision follows the listed objects')
    for (const e of evs.slice(1)) assert.equal(e.id, e.object.metadata.resourceVersion)
    assert.equal(evs[2].object.spec.priority, 9)
    assert.equal(evs[2].id, updated.body.metadata.resourceVersion)
    assert.equal(evs[3].object.status.phase, 'Scheduled')
    const ids = evs.slice(1).map((e) => Number(e.id))
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'ids increase')
  })

  test('with resourceVersion (or Last-Event-ID): only the changes after it', async () => {
    const a = await s.call('POST', WORKLOADS, { body: workload('r1') })
    await s.call('POST', WORKLOADS, { body: workload('r2') })
    await s.call('DELETE', `${WORKLOADS}/r1`)
    const rv = a.body.metadata.resourceVersion
    const fromRv = await readStream(`${url}${WORKLOADS}?watch=true&resourceVersion=${rv}`, s.adminToken, (m) => events(m).length >= 2)
    assert.deepEqual(events(fromRv.messages).map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'r2'], ['DELETED', 'r1']])
    const resumed = await readStream(`${url}${WORKLOADS}?watch=true`, s.adminToken, (m) => events(m).length >= 2, { headers: { 'last-event-id': rv } })
    assert.deepEqual(events(resumed.messages).map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'r2'], ['DELETED', 'r1']])
    const bad = await readStream(`${url}${WORKLOADS}?watch=true&resourceVersion=abc`, s.adminToken, () => true)
    assert.equal(bad.status, 400)
    assert.equal(bad.messages[0].data.details.field, 'resourceVersion')
  })

  test('label selectors and namespaces filter the stream', async () => {
    const token = await s.namespaceToken('team-a')
    const all = '/apis/gpuplane.io/v1alpha1/workloads'
    const gold = readStream(`${url}${all}?watch=true&resourceVersion=${(await s.call('GET', all)).body.metadata.resourceVersion}&labelSelector=tier%3Dgold`, s.adminToken, (m) => events(m).length >= 2)
    const scoped = readStream(`${url}${all}?watch=true&resourceVersion=${(await s.call('GET', all)).body.metadata.resourceVersion}`, token, (m) => events(m).length >= 2)
    await sleep(100)
    await s.call('POST', '/apis/gpuplane.io/v1alpha1/namespaces/team-b/workloads', { body: workload('b-gold', { labels: { tier: 'gold' } }) })
    await s.call('POST', WORKLOADS, { body: workload('a-plain') })
    await s.call('POST', WORKLOADS, { body: workload('a-gold', { labels: { tier: 'gold' } }) })
    assert.deepEqual(events((await gold).messages).map((e) => e.object.metadata.name), ['b-gold', 'a-gold'])
    assert.deepEqual(events((await scoped).messages).map((e) => e.object.metadata.name), ['a-plain', 'a-gold'], 'a namespace token watches its namespace only')
    const refused = await readStream(`${url}/apis/gpuplane.io/v1alpha1/namespaces/team-b/workloads?watch=true`, token, () => true)
    assert.equal(refused.status, 403)
  })

  test('heartbeats on an idle stream; a closed client is cleaned up', async () => {
    const idle = await readStream(`${url}/api/v1/nodes?watch=true`, s.adminToken, (m) => m.some((x) => x.comment === 'heartbeat'), { timeoutMs: 3000 })
    assert.ok(idle.messages.some((m) => m.comment === 'heartbeat'))
    await eventually(async () => (await s.app.metrics.watchStreams.get()).values.every((v) => v.value === 0))
  })
})

test('a resourceVersion older than the kept history answers 410 GONE', async () => {
  const s = await testServer({ watch: { pollMs: 50 } }, { sqlite: ':memory:', historyRevisions: 5 })
  try {
    const url = await s.app.listen({ port: 0, host: '127.0.0.1' })
    for (let i = 0; i < 20; i++) await s.call('POST', WORKLOADS, { body: workload(`g${i}`) })
    const res = await readStream(`${url}${WORKLOADS}?watch=true&resourceVersion=1`, s.adminToken, () => true)
    assert.equal(res.status, 410)
    assert.equal(res.messages[0].data.reason, 'GONE')
    assert.match(res.messages[0].data.message, /list again/)
  } finally {
    await s.close()
  }
})

/** Two servers on one database: a watch on the first sees what is written through the second (by polling the history). */
async function watchAcrossReplicas(storeOptions: OpenStoreOptions): Promise<void> {
  const a = await testServer({ watch: { pollMs: 50 } }, storeOptions, 'shared-admin')
  const b = await testServer({}, storeOptions, 'shared-admin')
  try {
    const url = await a.app.listen({ port: 0, host: '127.0.0.1' })
    const stream = readStream(`${url}${WORKLOADS}?watch=true`, a.adminToken, (m) => events(m).length >= 2)
    await sleep(150)
    await b.call('POST', WORKLOADS, { body: workload('via-b') })
    await b.call('DELETE', `${WORKLOADS}/via-b`)
    assert.deepEqual(events((await stream).messages).map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'via-b'], ['DELETED', 'via-b']])
  } finally {
    await a.close()
    await b.close()
  }
}

test('a watch sees the writes of another replica on the same SQLite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuplane-watch-'))
  try {
    await watchAcrossReplicas({ sqlite: join(dir, 'shared.db') })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a watch sees the writes of another replica on the same PostgreSQL', async () => {
  const admin = new pg.Pool({ connectionString: POSTGRES, max: 1 })
  const schema = `gp_test_watch_${randomBytes(6).toString('hex')}`
  await admin.query(`CREATE SCHEMA ${schema}`)
  try {
    await watchAcrossReplicas({ postgres: POSTGRES, postgresOptions: { schema } })
  } finally {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    await admin.end()
  }
})

test('closing the server ends open watch streams', async () => {
  const s = await testServer({ watch: { pollMs: 50 } })
  const url = await s.app.listen({ port: 0, host: '127.0.0.1' })
  const stream = readStream(`${url}${WORKLOADS}?watch=true`, s.adminToken, () => false, { timeoutMs: 10_000 })
  await eventually(async () => (await s.app.metrics.watchStreams.get()).values.some((v) => v.value > 0))
  const start = Date.now()
  await s.close()
  const { status, messages } = await stream
  assert.equal(status, 200)
  assert.ok(messages.length >= 1)
  assert.ok(Date.now() - start < 5000, 'the stream ended with the server, not at the client timeout')
})
