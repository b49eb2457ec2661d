// Auth and audit of the HTTP API: bearer tokens, the admin token at start, namespace scopes, token endpoints, the audit log.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ensureAdminToken, hashToken } from '../src/server/auth.ts'
import { openStore } from '../src/store/index.ts'
import { testServer, workload, WORKLOADS, type TestServer } from './server-helpers.ts'

const TOKENS = '/apis/gpuplane.io/v1alpha1/tokens'
const AUDIT = '/apis/gpuplane.io/v1alpha1/auditlog'
const TEAM_B = '/apis/gpuplane.io/v1alpha1/namespaces/team-b/workloads'
const NAMESPACES = '/apis/gpuplane.io/v1alpha1/namespaces'

describe('server auth', () => {
  let s: TestServer
  let teamA: string
  before(async () => {
    s = await testServer()
    teamA = await s.namespaceToken('team-a')
  })
  after(async () => {
    await s.close()
  })

  test('/healthz and /readyz need no token; every other path answers 401 without a valid one', async () => {
    assert.equal((await s.call('GET', '/healthz', { token: null })).status, 200)
    const ready = await s.call('GET', '/readyz', { token: null })
    assert.equal(ready.status, 200)
    assert.equal(ready.body.status, 'ready')
    for (const path of [WORKLOADS, '/api/v1/nodes', '/metrics', '/openapi.json', TOKENS, AUDIT]) {
      const none = await s.call('GET', path, { token: null })
      assert.equal(none.status, 401, path)
      assert.equal(none.body.reason, 'UNAUTHORIZED')
      assert.match(none.body.message, /Authorization: Bearer/)
      assert.equal(none.headers['www-authenticate'], 'Bearer')
      const wrong = await s.call('GET', path, { token: 'gp_not-a-token' })
      assert.equal(wrong.status, 401, path)
      assert.match(wrong.body.message, /not valid/)
    }
    const basic = await s.app.inject({ method: 'GET', url: WORKLOADS, headers: { authorization: `Basic ${s.adminToken}` } })
    assert.equal(basic.statusCode, 401)
  })

  test('tokens: admin only, shown once, listed without secrets, stored as sha256', async () => {
    const created = await s.call('POST', TOKENS, { body: { namespace: 'team-c', description: 'CI' } })
    assert.equal(created.status, 201)
    assert.match(created.body.token, /^gp_[A-Za-z0-9_-]{43}$/)
    assert.equal(created.body.namespace, 'team-c')
    assert.equal(created.body.description, 'CI')
    assert.ok(created.body.id && created.body.createdAt)

    const list = await s.call('GET', TOKENS)
    assert.equal(list.status, 200)
    const text = JSON.stringify(list.body)
    assert.ok(!text.includes(created.body.token), 'the token is never listed')
    assert.ok(!text.includes(hashToken(created.body.token)), 'nor its hash')
    assert.ok(list.body.items.some((t: any) => t.id === created.body.id && t.namespace === 'team-c'))
    assert.ok(list.body.items.some((t: any) => t.admin === true))

    const stored = await s.store.findTokenByHash(hashToken(created.body.token))
    assert.equal(stored?.id, created.body.id)
    assert.ok((await s.store.listTokens()).every((t) => t.hash !== created.body.token && /^[0-9a-f]{64}$/.test(t.hash)))

    for (const [method, path, body] of [['POST', TOKENS, { namespace: 'team-a' }], ['GET', TOKENS, undefined], ['DELETE', `${TOKENS}/${created.body.id}`, undefined]] as const) {
      const res = await s.call(method, path, { token: teamA, body })
      assert.equal(res.status, 403, `${method} ${path}`)
      assert.equal(res.body.reason, 'FORBIDDEN')
      assert.match(res.body.message, /needs the admin token/)
    }
    const invalid = await s.call('POST', TOKENS, { body: { namespace: 'Team C' } })
    assert.equal(invalid.status, 400)
    assert.equal(invalid.body.details.field, 'namespace')

    const cToken = created.body.token
    assert.equal((await s.call('GET', '/apis/gpuplane.io/v1alpha1/namespaces/team-c/workloads', { token: cToken })).status, 200)
    const deleted = await s.call('DELETE', `${TOKENS}/${created.body.id}`)
    assert.equal(deleted.status, 200)
    assert.equal(deleted.body.id, created.body.id)
    assert.equal((await s.call('GET', '/apis/gpuplane.io/v1alpha1/namespaces/team-c/workloads', { token: cToken })).status, 401, 'a deleted token stops working')
    assert.equal((await s.call('DELETE', `${TOKENS}/${created.body.id}`)).status, 404)
    const admin = await s.call('DELETE', `${TOKENS}/admin`)
    assert.equal(admin.status, 400)
    assert.match(admin.body.message, /--reset-admin-token/)
  })

  test('whoami tells any valid token who it is, and nobody else', async () => {
    const path = '/apis/gpuplane.io/v1alpha1/whoami'
    assert.deepEqual((await s.call('GET', path)).body, { admin: true, actor: 'admin' })
    assert.deepEqual((await s.call('GET', path, { token: teamA })).body, { admin: false, namespace: 'team-a', actor: 'namespace:team-a' })
    assert.equal((await s.call('GET', path, { token: null })).status, 401)
    assert.equal((await s.call('GET', path, { token: 'gp_not-a-token' })).status, 401)
  })

  test('a namespace token sees and changes its namespace only', async () => {
    const own = await s.call('POST', WORKLOADS, { token: teamA, body: workload('mine') })
    assert.equal(own.status, 201)
    assert.equal((await s.call('POST', TEAM_B, { body: workload('theirs') })).status, 201)

    const other = await s.call('POST', TEAM_B, { token: teamA, body: workload('intrude') })
    assert.equal(other.status, 403)
    assert.match(other.body.message, /namespace "team-a" can change objects of namespace "team-a" only, not of "team-b"/)
    assert.equal((await s.call('GET', `${TEAM_B}/theirs`, { token: teamA })).status, 403)
    assert.equal((await s.call('GET', TEAM_B, { token: teamA })).status, 403)
    assert.equal((await s.call('DELETE', `${TEAM_B}/theirs`, { token: teamA })).status, 403)
    assert.equal((await s.call('PUT', `${TEAM_B}/theirs`, { token: teamA, body: workload('theirs') })).status, 403)

    const all = await s.call('GET', '/apis/gpuplane.io/v1alpha1/workloads', { token: teamA })
    assert.equal(all.status, 200)
    assert.ok(all.body.items.length > 0)
    assert.ok(all.body.items.every((o: any) => o.metadata.namespace === 'team-a'), 'the cluster-wide list is filtered to its namespace')
    const adminAll = await s.call('GET', '/apis/gpuplane.io/v1alpha1/workloads')
    assert.ok(adminAll.body.items.some((o: any) => o.metadata.namespace === 'team-b'))

    assert.equal((await s.call('GET', '/api/v1/nodes', { token: teamA })).status, 200, 'cluster-scoped kinds are readable')
    const ns = { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name: 'team-a' }, spec: { quota: { gpus: 1000 } } }
    const write = await s.call('POST', NAMESPACES, { token: teamA, body: ns })
    assert.equal(write.status, 403)
    assert.match(write.body.message, /cluster-scoped: only the admin token can change them/)
  })

  test('a namespace token cannot write status: dropped on create and replace, refused on the subresource', async () => {
    const withStatus = { ...workload('sneaky'), status: { phase: 'Scheduled', nodeName: 'n1' } }
    const created = await s.call('POST', WORKLOADS, { token: teamA, body: withStatus })
    assert.equal(created.status, 201)
    assert.deepEqual(created.body.status, { phase: 'Pending' })
    const replaced = await s.call('PUT', `${WORKLOADS}/sneaky`, { token: teamA, body: { ...created.body, status: { phase: 'Scheduled' } } })
    assert.equal(replaced.status, 200)
    assert.deepEqual(replaced.body.status, { phase: 'Pending' })
    const sub = await s.call('PUT', `${WORKLOADS}/sneaky/status`, { token: teamA, body: { status: { phase: 'Scheduled' } } })
    assert.equal(sub.status, 403)
    assert.match(sub.body.message, /status .* needs the admin token/)
  })

  test('the audit log records writes and refusals with the actor, never the token', async () => {
    const before = (await s.call('GET', `${AUDIT}?limit=1000`)).body.items.length
    await s.call('POST', WORKLOADS, { token: teamA, body: workload('audited') })
    await s.call('POST', TEAM_B, { token: teamA, body: workload('refused') })
    await s.call('DELETE', `${WORKLOADS}/audited`)
    await s.call('POST', WORKLOADS, { token: 'gp_wrong', body: workload('anon') })
    await s.call('POST', WORKLOADS, { body: { ...workload('invalid'), spec: { bad: 1 } } })
    const entries = (await s.call('GET', `${AUDIT}?limit=1000`)).body.items.slice(before)
    const brief = entries.map((e: any) => [e.actor, e.action, e.kind, e.namespace, e.name, e.result])
    assert.deepEqual(brief, [
      ['namespace:team-a', 'create', 'Workload', 'team-a', 'audited', '201'],
      ['namespace:team-a', 'create', 'Workload', 'team-b', 'refused', '403'],
      ['admin', 'delete', 'Workload', 'team-a', 'audited', '200'],
      ['anonymous', 'create', 'Workload', 'team-a', undefined, '401'],
      ['admin', 'create', 'Workload', 'team-a', 'invalid', '400'],
    ])
    assert.match(entries[1].detail, /^FORBIDDEN: /)
    assert.match(entries[4].detail, /^INVALID_INPUT: unknown field "bad"/)
    for (const e of entries) assert.ok(!Number.isNaN(Date.parse(e.time)) && typeof e.id === 'number')
    const text = JSON.stringify(await s.store.queryAudit({ limit: 10000 }))
    assert.ok(!text.includes(s.adminToken) && !text.includes(teamA), 'no token in the audit log')
  })

  test('token creation is audited; the audit query filters, and a namespace token reads its namespace only', async () => {
    const t = await s.call('POST', TOKENS, { body: { namespace: 'team-d' } })
    const tokenEntries = (await s.call('GET', `${AUDIT}?kind=Token&namespace=team-d`)).body.items
    assert.equal(tokenEntries.length, 1)
    assert.deepEqual([tokenEntries[0].action, tokenEntries[0].name, tokenEntries[0].result], ['token.create', t.body.id, '201'])

    const byActor = (await s.call('GET', `${AUDIT}?actor=${encodeURIComponent('namespace:team-a')}`)).body.items
    assert.ok(byActor.length > 0 && byActor.every((e: any) => e.actor === 'namespace:team-a'))
    const first = byActor[0].id
    const afterFirst = (await s.call('GET', `${AUDIT}?actor=${encodeURIComponent('namespace:team-a')}&after=${first}&limit=2`)).body.items
    assert.ok(afterFirst.length === 2 && afterFirst.every((e: any) => e.id > first))

    const mine = await s.call('GET', AUDIT, { token: teamA })
    assert.equal(mine.status, 200)
    assert.ok(mine.body.items.length > 0 && mine.body.items.every((e: any) => e.namespace === 'team-a'))
    assert.equal((await s.call('GET', `${AUDIT}?namespace=team-b`, { token: teamA })).status, 403)
    assert.equal((await s.call('GET', `${AUDIT}?limit=0`)).status, 400)
    assert.equal((await s.call('GET', `${AUDIT}?after=x`)).body.details.field, 'after')
  })
})

test('the admin token: generated once, from GPUPLANE_ADMIN_TOKEN, or reset', async () => {
  const store = await openStore({ sqlite: ':memory:' })
  try {
    const first = await ensureAdminToken(store)
    assert.equal(first.source, 'generated')
    assert.match(first.generated ?? '', /^gp_/)
    const again = await ensureAdminToken(store)
    assert.deepEqual(again, { source: 'stored' }, 'a later start does not show it again')
    assert.equal((await store.findTokenByHash(hashToken(first.generated!)))?.id, 'admin')

    const reset = await ensureAdminToken(store, { reset: true })
    assert.ok(reset.generated && reset.generated !== first.generated)
    assert.equal(await store.findTokenByHash(hashToken(first.generated!)), undefined, 'the old one stops working')

    const env = await ensureAdminToken(store, { envToken: 'my-admin-secret' })
    assert.deepEqual(env, { source: 'environment' })
    assert.equal((await store.findTokenByHash(hashToken('my-admin-secret')))?.id, 'admin')
    assert.equal(await store.findTokenByHash(hashToken(reset.generated!)), undefined)
    assert.equal((await store.listTokens()).filter((t) => 'admin' in t.scope).length, 1)
  } finally {
    await store.close()
  }
})
