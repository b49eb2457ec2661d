// Operations of the HTTP server: Prometheus metrics, the OpenAPI document, readiness, and graceful shutdown finishing a request in flight.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { buildServer } from '../src/server/app.ts'
import { ensureAdminToken } from '../src/server/auth.ts'
import { KINDS } from '../src/server/kinds.ts'
import { serve } from '../src/server/serve.ts'
import { openStore } from '../src/store/index.ts'
import type { Store } from '../src/store/types.ts'
import { testServer, workload, WORKLOADS, type TestServer } from './server-helpers.ts'

describe('server operations', () => {
  let s: TestServer
  before(async () => {
    s = await testServer()
  })
  after(async () => {
    await s.close()
  })

  test('/metrics: request latency by method, route pattern and status, process metrics, and metrics others register', async () => {
    await s.call('POST', WORKLOADS, { body: workload('m1') })
    await s.call('GET', `${WORKLOADS}/missing`)
    const { Counter } = await import('prom-client')
    new Counter({ name: 'gpuplane_test_total', help: 'registered by another part of the server', registers: [s.app.metrics.registry] }).inc(3)
    const res = await s.call('GET', '/metrics')
    assert.equal(res.status, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain/)
    const text = String(res.body)
    assert.match(text, /gpuplane_http_request_duration_seconds_bucket\{le="0\.001",method="POST",route="\/apis\/gpuplane\.io\/v1alpha1\/namespaces\/:namespace\/workloads",status="201"\}/)
    assert.match(text, /gpuplane_http_request_duration_seconds_count\{method="GET",route="\/apis\/gpuplane\.io\/v1alpha1\/namespaces\/:namespace\/workloads\/:name",status="404"\} 1/)
    assert.match(text, /gpuplane_process_cpu_seconds_total/)
    assert.match(text, /gpuplane_test_total 3/)
  })

  test('/openapi.json: OpenAPI 3.1 with every path of every kind and the kinds\' JSON schemas', async () => {
    const res = await s.call('GET', '/openapi.json')
    assert.equal(res.status, 200)
    const doc = res.body
    assert.equal(doc.openapi, '3.1.0')
    for (const k of KINDS) {
      const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`
      const collection = k.namespaced ? `${base}/namespaces/{namespace}/${k.plural}` : `${base}/${k.plural}`
      assert.ok(doc.paths[collection]?.get && doc.paths[collection]?.post, collection)
      assert.ok(doc.paths[`${collection}/{name}`]?.put && doc.paths[`${collection}/{name}`]?.delete, `${collection}/{name}`)
      assert.ok(doc.paths[`${collection}/{name}/status`]?.put)
      if (k.namespaced) assert.ok(doc.paths[`${base}/${k.plural}`]?.get)
      const schema = doc.components.schemas[k.kind]
      assert.equal(schema.type, 'object', k.kind)
      assert.ok(schema.properties.metadata && schema.properties.kind, k.kind)
      assert.equal(schema.$schema, undefined)
    }
    assert.ok(doc.components.schemas.Workload.properties.spec.properties.resourceClaims)
    assert.ok(doc.paths['/apis/gpuplane.io/v1alpha1/tokens'].post)
    assert.ok(doc.paths['/apis/gpuplane.io/v1alpha1/auditlog'].get)
    assert.deepEqual(doc.paths['/healthz'].get.security, [])
    assert.equal(doc.components.schemas.Status.properties.kind.const, 'Status')
  })
})

test('/readyz answers 503 UNAVAILABLE when the store is not reachable', async () => {
  const store = await openStore({ sqlite: ':memory:' })
  const broken: Store = Object.assign(Object.create(store) as Store, { schemaVersion: () => Promise.reject(new Error('database is gone')) })
  const app = buildServer({ store: broken })
  try {
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    assert.equal(res.statusCode, 503)
    assert.equal(JSON.parse(res.body).reason, 'UNAVAILABLE')
  } finally {
    await app.close()
    await store.close()
  }
})

test('graceful shutdown finishes the request in flight, then refuses connections and closes the store', async () => {
  const store = await openStore({ sqlite: ':memory:' })
  const { generated: token } = await ensureAdminToken(store)
  let entered!: () => void
  const inHandler = new Promise<void>((resolve) => (entered = resolve))
  // A slow store: create waits 300 ms, as a busy database would.
  const slow: Store = Object.assign(Object.create(store) as Store, {
    create: async (object: Parameters<Store['create']>[0]) => {
      entered()
      await new Promise((r) => setTimeout(r, 300))
      return store.create(object)
    },
  })
  const app = buildServer({ store: slow })
  let controllerStopped = false
  const serving = await serve({ app, store, controller: { stop: async () => void (controllerStopped = true) }, port: 0, host: '127.0.0.1' })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const inFlight = fetch(`${serving.url}${WORKLOADS}`, { method: 'POST', headers, body: JSON.stringify(workload('in-flight')) })
  await inHandler
  const shutdown = serving.shutdown()
  const res = await inFlight
  assert.equal(res.status, 201, 'the request in flight completes')
  assert.equal(((await res.json()) as { metadata: { name: string } }).metadata.name, 'in-flight')
  await shutdown
  assert.ok(controllerStopped, 'the controller is stopped')
  await assert.rejects(fetch(`${serving.url}/healthz`), TypeError, 'no new connections after shutdown')
  await assert.rejects(store.get({ kind: 'Workload', namespace: 'team-a', name: 'in-flight' }), /closed/, 'the store is closed')
  assert.equal(serving.shutdown(), shutdown, 'shutdown is idempotent')
})
