// The OpenAPI document against the server itself: every route Fastify registers is documented with its method (and every documented operation is a route), references resolve, path parameters are declared, open routes say so, and the new routes answer in the documented shapes.
//
// Routes are collected with an onRoute hook. buildServer registers its routes synchronously while
// it builds the instance, so the hook is added from Fastify's documented 'fastify.initialization'
// diagnostics channel (published inside Fastify(), before buildServer registers anything).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { testServer, type TestServer } from './server-helpers.ts'
import { TELEMETRY_SAMPLES_PATH, TELEMETRY_UTILIZATION_PATH } from '../src/server/telemetry-routes.ts'
import { IDLE_PATH, REPORT_USAGE_PATH } from '../src/server/report-routes.ts'
import { USAGE_PATH } from '../src/server/usage-routes.ts'

type Json = Record<string, any>

interface Route {
  method: string
  /** OpenAPI form: `{name}` for `:name`. */
  path: string
  open: boolean
}

/** Registered routes the document leaves out on purpose, as "METHOD path", with the reason. */
const UNDOCUMENTED: Record<string, string> = {
  'GET /*': 'the dashboard static files (dashboard.ts): a wildcard under every path that only sees paths no API route claims; OpenAPI paths cannot express it, and `/` documents the dashboard',
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']
const T0 = Date.UTC(2026, 10, 26, 10, 0, 0)
const MIN = 60_000

/** `:name` (with an optional regex) to `{name}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)(\([^)]*\))?/g, '{$1}')
}

function operations(doc: Json): Array<{ method: string; path: string; op: Json; item: Json }> {
  const out = []
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS) if (item[method]) out.push({ method: method.toUpperCase(), path, op: item[method] as Json, item: item as Json })
  }
  return out
}

function resolve(doc: Json, ref: string): Json {
  assert.match(ref, /^#\/components\/schemas\/[^/]+$/, `a local schema reference: ${ref}`)
  const schema = doc.components.schemas[ref.split('/').pop() as string]
  assert.ok(schema !== undefined, `${ref} resolves`)
  return schema
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value)
    case 'array':
      return Array.isArray(value)
    case 'integer':
      return Number.isInteger(value)
    case 'null':
      return value === null
    default:
      return typeof value === type
  }
}

/**
 * Where `value` departs from the documented `schema` (the keywords these documents use: $ref,
 * allOf, type, const, enum, properties, required, items); [] when it conforms.
 */
function departures(doc: Json, schema: Json, value: unknown, at = '$'): string[] {
  if (schema.$ref) return departures(doc, resolve(doc, schema.$ref), value, at)
  const out: string[] = []
  for (const part of (schema.allOf ?? []) as Json[]) out.push(...departures(doc, part, value, at))
  if ('const' in schema && value !== schema.const) out.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`)
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) out.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`)
  const types = schema.type === undefined ? [] : ([] as string[]).concat(schema.type)
  if (types.length > 0 && !types.some((t) => hasType(value, t))) return [...out, `${at}: ${JSON.stringify(value)} is not ${types.join(' or ')}`]
  if (hasType(value, 'object') && schema.properties) {
    const v = value as Json
    for (const key of (schema.required ?? []) as string[]) if (!(key in v)) out.push(`${at}.${key}: missing`)
    for (const [key, sub] of Object.entries(schema.properties as Json)) if (key in v) out.push(...departures(doc, sub, v[key], `${at}.${key}`))
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => out.push(...departures(doc, schema.items, item, `${at}[${i}]`)))
  return out
}

/** Asserts that a response's status is documented for the operation and its body conforms to the documented JSON schema. */
function assertDocumented(doc: Json, method: string, path: string, res: { status: number; body: unknown }): void {
  const op = doc.paths[path]?.[method.toLowerCase()] as Json | undefined
  assert.ok(op, `${method} ${path} is documented`)
  const response = op.responses[String(res.status)] as Json | undefined
  assert.ok(response, `${method} ${path} documents status ${res.status} (body ${JSON.stringify(res.body).slice(0, 200)})`)
  const schema = response.content?.['application/json']?.schema as Json | undefined
  assert.ok(schema, `${method} ${path} ${res.status} documents a JSON body`)
  assert.deepEqual(departures(doc, schema, res.body), [], `${method} ${path} ${res.status}: the body conforms to the document`)
}

describe('OpenAPI document', () => {
  let s: TestServer
  let doc: Json
  const routes: Route[] = []

  before(async () => {
    const collect = (message: unknown) => {
      const app = (message as { fastify: FastifyInstance }).fastify
      app.addHook('onRoute', (route: RouteOptions) => {
        for (const method of ([] as string[]).concat(route.method)) routes.push({ method, path: openApiPath(route.url), open: route.config?.open === true })
      })
    }
    subscribe('fastify.initialization', collect)
    try {
      s = await testServer({ telemetryRetention: { rawMs: 0, minutesMs: 0, everyMs: 0 } })
    } finally {
      unsubscribe('fastify.initialization', collect)
    }
    await s.app.ready()
    const res = await s.call('GET', '/openapi.json')
    assert.equal(res.status, 200, 'the document is served')
    doc = res.body
  })
  after(() => s.close())

  it('collects the routes the server registers', () => {
    assert.ok(routes.length > 50, `routes collected through the onRoute hook: ${routes.length}`)
    assert.ok(routes.some((r) => r.method === 'POST' && r.path === TELEMETRY_SAMPLES_PATH), 'the telemetry push is among them')
  })

  it('documents every registered route with its method', () => {
    const gets = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.path))
    const missing: string[] = []
    for (const r of routes) {
      const key = `${r.method} ${r.path}`
      if (UNDOCUMENTED[key]) continue
      // Fastify answers HEAD for every GET route (exposeHeadRoutes); the document describes the GET.
      if (r.method === 'HEAD' && gets.has(r.path)) continue
      if (!doc.paths[r.path]?.[r.method.toLowerCase()]) missing.push(key)
    }
    assert.deepEqual(missing, [], 'routes missing from /openapi.json: describe them beside the route (an exported ...OpenApiPaths() merged in src/server/openapi.ts)')
    const apiRoutes = routes.filter((r) => /^\/apis?\//.test(r.path))
    assert.ok(apiRoutes.length > 40, `the /api and /apis routes are among those checked: ${apiRoutes.length}`)
  })

  it('lists an excluded route only while it is registered', () => {
    const registered = new Set(routes.map((r) => `${r.method} ${r.path}`))
    for (const key of Object.keys(UNDOCUMENTED)) assert.ok(registered.has(key), `${key} is still registered (else drop it from UNDOCUMENTED)`)
  })

  it('documents no operation the server does not have', () => {
    const registered = new Set(routes.map((r) => `${r.method} ${r.path}`))
    const stale = operations(doc).map((o) => `${o.method} ${o.path}`).filter((key) => !registered.has(key))
    assert.deepEqual(stale, [], 'documented operations without a route')
  })

  it('marks exactly the open routes as needing no token', () => {
    const wrong: string[] = []
    for (const { method, path, op } of operations(doc)) {
      const route = routes.find((r) => r.method === method && r.path === path)
      if (!route) continue
      const open = Array.isArray(op.security) && op.security.length === 0
      if (open !== route.open) wrong.push(`${method} ${path}: document ${open ? 'open' : 'token'}, route ${route.open ? 'open' : 'token'}`)
      if (!open && !op.responses['401']) wrong.push(`${method} ${path}: needs a token but documents no 401`)
    }
    assert.deepEqual(wrong, [], 'security of each operation')
  })

  it('declares every path parameter, documents 400 for every request body, and every reference resolves', () => {
    const problems: string[] = []
    for (const { method, path, op, item } of operations(doc)) {
      const declared = new Set([...(item.parameters ?? []), ...(op.parameters ?? [])].filter((p: Json) => p.in === 'path').map((p: Json) => p.name as string))
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) if (!declared.has(name)) problems.push(`${method} ${path}: path parameter ${name} not declared`)
      if (op.requestBody && !op.responses['400']) problems.push(`${method} ${path}: takes a body but documents no 400`)
      if (!op.summary) problems.push(`${method} ${path}: no summary`)
    }
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? []
    for (const r of new Set(refs)) {
      const name = r.slice('"$ref":"#/components/schemas/'.length, -1)
      if (!r.startsWith('"$ref":"#/components/schemas/') || !(name in doc.components.schemas)) problems.push(`unresolved ${r}`)
    }
    assert.deepEqual(problems, [], 'document consistency')
  })

  it('describes the telemetry push body from the route’s zod schema', () => {
    const body = doc.components.schemas.SampleBatch as Json
    assert.deepEqual(body.required, ['node', 'agentId', 'seq', 'samples'], 'the batch fields')
    assert.equal(body.additionalProperties, false, 'strict, as the zod schema')
    assert.equal(body.properties.samples.items.properties.smUtil.maximum, 100, 'the sample bounds come from zod')
  })

  it('the telemetry, report, idle and usage routes answer in the documented shapes', async () => {
    await s.app.telemetry.openInterval({ node: 'node-a', device: 'gpu-0', gpuModel: 'H100-80GB', namespace: 'team-a', workload: 'train', share: 1, from: T0 - MIN })
    const batch = { node: 'node-a', agentId: 'agent-1', seq: 1, samples: [0, 1, 2].map((m) => ({ time: T0 + m * MIN, node: 'node-a', device: 'gpu-0', uuid: 'GPU-0', smUtil: 40, memUsedBytes: 1e9, memTotalBytes: 8e10 })) }
    assert.deepEqual(departures(doc, doc.components.schemas.SampleBatch, batch), [], 'the batch sent conforms to the documented body')
    const pushed = await s.call('POST', TELEMETRY_SAMPLES_PATH, { body: batch })
    assert.equal(pushed.status, 200, `pushed: ${JSON.stringify(pushed.body)}`)
    assertDocumented(doc, 'POST', TELEMETRY_SAMPLES_PATH, pushed)

    const range = `from=${T0 - 10 * MIN}&to=${T0 + 10 * MIN}`
    const utilization = await s.call('GET', `${TELEMETRY_UTILIZATION_PATH}?${range}&step=1m`)
    assert.equal(utilization.status, 200, `utilization: ${JSON.stringify(utilization.body).slice(0, 200)}`)
    assert.ok(utilization.body.series.length > 0, 'a series to check the point shape on')
    assertDocumented(doc, 'GET', TELEMETRY_UTILIZATION_PATH, utilization)

    const report = await s.call('GET', `${REPORT_USAGE_PATH}?${range}&step=60`)
    assert.equal(report.status, 200, `report: ${JSON.stringify(report.body).slice(0, 200)}`)
    assert.ok(report.body.namespaces.length > 0 && report.body.cluster.models.length > 0, 'rows and a cluster model to check the shape on')
    assertDocumented(doc, 'GET', REPORT_USAGE_PATH, report)

    assertDocumented(doc, 'GET', IDLE_PATH, await s.call('GET', IDLE_PATH))
    assertDocumented(doc, 'GET', USAGE_PATH, await s.call('GET', USAGE_PATH))
  })

  it('the new routes fail with the documented statuses and Status bodies', async () => {
    const ns = await s.namespaceToken('team-b')
    const cases: Array<[string, string, { token?: string | null; body?: unknown }, number]> = [
      ['POST', TELEMETRY_SAMPLES_PATH, { body: { node: 'node-a' } }, 400],
      ['POST', TELEMETRY_SAMPLES_PATH, { body: { node: 'node-a', agentId: 'a', seq: 1, samples: [] }, token: null }, 401],
      ['POST', TELEMETRY_SAMPLES_PATH, { body: { node: 'node-a', agentId: 'a', seq: 1, samples: [] }, token: ns }, 403],
      ['GET', `${TELEMETRY_UTILIZATION_PATH}?by=device`, {}, 400],
      ['GET', TELEMETRY_UTILIZATION_PATH, { token: null }, 401],
      ['GET', `${REPORT_USAGE_PATH}?step=5`, {}, 400],
      ['GET', `${REPORT_USAGE_PATH}?namespace=team-a`, { token: ns }, 403],
      ['GET', IDLE_PATH, { token: null }, 401],
      ['GET', `${IDLE_PATH}?namespace=team-a`, { token: ns }, 403],
      ['GET', `${USAGE_PATH}?outcome=lost`, {}, 400],
      ['GET', `${USAGE_PATH}?namespace=team-a`, { token: ns }, 403],
    ]
    for (const [method, url, options, status] of cases) {
      const res = await s.call(method as 'GET', url, options)
      assert.equal(res.status, status, `${method} ${url}: ${JSON.stringify(res.body)}`)
      assertDocumented(doc, method, url.split('?')[0], res)
    }
  })
})
