// GET /apis/gpuplane.io/v1alpha1/usage: the gateway's usage ledger for the dashboard and reports, filtered, paged, and limited to a namespace token's own namespace.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { LedgerEntry } from '../src/store/types.ts'
import { testServer, type TestServer } from './server-helpers.ts'

const USAGE = '/apis/gpuplane.io/v1alpha1/usage'
const T0 = Date.parse('2026-11-01T00:00:00Z')

function entry(id: string, extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return { id, time: T0, namespace: 'team-a', agent: 'bot', model: 'm-a', endpoint: 'chat', outcome: 'completed', promptTokens: 7, completionTokens: 5, costMicro: 2, requests: 1, status: 200, ...extra }
}

describe('usage API', () => {
  let s: TestServer
  let teamA: string
  before(async () => {
    s = await testServer()
    teamA = await s.namespaceToken('team-a')
    await s.store.appendUsage([
      entry('a1'),
      entry('a2', { time: T0 + 60_000, agent: 'other', model: 'm-b' }),
      entry('a3', { time: T0 + 120_000, outcome: 'refused', promptTokens: 0, completionTokens: 0, costMicro: 0, requests: 0, status: 429, reason: 'tokens per day: tp/team-a/p/0/tokens/2026-11-01T00:00:00Z' }),
      entry('b1', { namespace: 'team-b', time: T0 + 30_000 }),
    ])
  })
  after(() => s.close())

  const ids = (body: { items: LedgerEntry[] }) => body.items.map((e) => e.id)

  test('the admin lists every entry, oldest first, as a UsageList', async () => {
    const res = await s.call('GET', USAGE)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.apiVersion, 'gpuplane.io/v1alpha1')
    assert.equal(res.body.kind, 'UsageList')
    assert.deepEqual(ids(res.body), ['a1', 'a2', 'a3', 'b1'])
    const { seq: _, ...first } = res.body.items[0]
    assert.deepEqual(first, entry('a1'))
  })

  test('filters: ISO and millisecond times, namespace, agent, model, outcome, after and limit', async () => {
    assert.deepEqual(ids((await s.call('GET', `${USAGE}?from=2026-11-01T00:00:30Z&to=${T0 + 120_000}`)).body), ['a2', 'b1'])
    assert.deepEqual(ids((await s.call('GET', `${USAGE}?namespace=team-b`)).body), ['b1'])
    assert.deepEqual(ids((await s.call('GET', `${USAGE}?agent=other`)).body), ['a2'])
    assert.deepEqual(ids((await s.call('GET', `${USAGE}?model=m-b`)).body), ['a2'])
    const refused = (await s.call('GET', `${USAGE}?outcome=refused`)).body
    assert.deepEqual(ids(refused), ['a3'])
    assert.match(refused.items[0].reason, /tokens per day/)
    const firstTwo = (await s.call('GET', `${USAGE}?limit=2`)).body
    assert.deepEqual(ids(firstTwo), ['a1', 'a2'])
    assert.deepEqual(ids((await s.call('GET', `${USAGE}?after=${firstTwo.items[1].seq}`)).body), ['a3', 'b1'])
  })

  test('bad parameters are 400 naming the parameter', async () => {
    for (const [q, field] of [['from=yesterday', 'from'], ['to=-5', 'to'], ['limit=0', 'limit'], ['limit=100000', 'limit'], ['outcome=lost', 'outcome'], ['after=x', 'after']]) {
      const res = await s.call('GET', `${USAGE}?${q}`)
      assert.equal(res.status, 400, `${q}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.details?.field, field, q)
    }
  })

  test('a namespace token sees its namespace only; asking for another is 403; no token is 401', async () => {
    const own = await s.call('GET', USAGE, { token: teamA })
    assert.equal(own.status, 200)
    assert.deepEqual(ids(own.body), ['a1', 'a2', 'a3'])
    assert.deepEqual(ids((await s.call('GET', `${USAGE}?namespace=team-a&agent=bot`, { token: teamA })).body), ['a1', 'a3'])
    const other = await s.call('GET', `${USAGE}?namespace=team-b`, { token: teamA })
    assert.equal(other.status, 403)
    assert.match(other.body.message, /team-a/)
    assert.equal((await s.call('GET', USAGE, { token: null })).status, 401)
  })

  test('the OpenAPI document describes the route and the entry', async () => {
    const doc = (await s.call('GET', '/openapi.json')).body
    assert.ok(doc.paths[USAGE]?.get, 'the usage path is documented')
    assert.ok(doc.components.schemas.LedgerEntry.required.includes('outcome'), 'LedgerEntry schema present')
  })
})
