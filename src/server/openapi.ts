// The OpenAPI 3.1 document of the API, generated from the kind table and the zod schemas (z.toJSONSchema), served at /openapi.json.
//
// Routes outside the kind table describe themselves beside their handlers (usage-routes.ts,
// telemetry-routes.ts, report-routes.ts: an exported ...OpenApiPaths()) and are merged here;
// test/server-openapi.test.ts fails when a registered route is missing from this document.
import { simReportOpenApiPaths } from './sim-reports.ts'
import { z } from 'zod'
import { AUDIT_PATH } from './audit.ts'
import { apiVersionOf, groupPath, KINDS, type KindInfo } from './kinds.ts'
import { REPORT_OPENAPI_SCHEMAS, reportOpenApiPaths } from './report-routes.ts'
import { SampleBatch, telemetryOpenApiPaths, UTILIZATION_REPORT_SCHEMA } from './telemetry-routes.ts'
import { TOKENS_PATH, TokenRequest, WHOAMI_PATH } from './tokens.ts'
import { LEDGER_ENTRY_SCHEMA, usageOpenApiPaths } from './usage-routes.ts'

type Json = Record<string, unknown>

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })
const json = (schema: Json): Json => ({ content: { 'application/json': { schema } } })
const failure = (description: string): Json => ({ description, ...json(ref('Status')) })

/** The failures every authenticated operation may answer. */
const COMMON_FAILURES: Json = {
  '401': failure('no token, or an unknown one (UNAUTHORIZED)'),
  '403': failure('the token may not do this (FORBIDDEN)'),
}

const STATUS_SCHEMA: Json = {
  type: 'object',
  description: 'Every failure: code is the HTTP status, reason the stable gpuplane error code, details.field the field path of wrong input',
  properties: {
    apiVersion: { const: 'v1' },
    kind: { const: 'Status' },
    status: { const: 'Failure' },
    code: { type: 'integer' },
    reason: { type: 'string' },
    message: { type: 'string' },
    details: { type: 'object', properties: { field: { type: 'string' } } },
  },
  required: ['apiVersion', 'kind', 'status', 'code', 'reason', 'message'],
}

const AUDIT_ENTRY_SCHEMA: Json = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    time: { type: 'string', format: 'date-time' },
    actor: { type: 'string', description: 'admin, namespace:<ns> or anonymous' },
    action: { type: 'string' },
    kind: { type: 'string' },
    namespace: { type: 'string' },
    name: { type: 'string' },
    result: { type: 'string', description: 'HTTP status' },
    detail: { type: 'string' },
  },
  required: ['time', 'actor', 'action', 'result'],
}

const TOKEN_ENTRY_SCHEMA: Json = {
  type: 'object',
  properties: { id: { type: 'string' }, namespace: { type: 'string' }, admin: { const: true }, description: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' } },
  required: ['id', 'createdAt'],
}

/** A zod schema as an OpenAPI 3.1 (JSON Schema 2020-12) schema: the input form, bigint shown as integer. */
function schemaOf(schema: z.ZodType): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json
  return rest
}

function query(name: string, description: string, schema: Json = { type: 'string' }): Json {
  return { name, in: 'query', required: false, description, schema }
}

function pathParam(name: string): Json {
  return { name, in: 'path', required: true, schema: { type: 'string' } }
}

const LIST_PARAMETERS = [
  query('labelSelector', 'Kubernetes label selector, e.g. a=b,c!=d,e in (x,y),!f'),
  query('watch', 'true: a server-sent-events stream of {"type":"ADDED|MODIFIED|DELETED","object"} with id: <resourceVersion>', { type: 'boolean' }),
  query('resourceVersion', 'with watch: the changes after this revision (410 GONE when compacted); without: list, then changes'),
]

function kindPaths(k: KindInfo): Record<string, Json> {
  const base = groupPath(k)
  const tag = [apiVersionOf(k)]
  const one = ref(k.kind)
  const scope = k.namespaced ? [pathParam('namespace')] : []
  const collection = k.namespaced ? `${base}/namespaces/{namespace}/${k.plural}` : `${base}/${k.plural}`
  const object = `${collection}/{name}`
  const list = {
    tags: tag,
    summary: `List or watch ${k.kind} objects${k.namespaced ? ' of a namespace' : ''}`,
    parameters: [...scope, ...LIST_PARAMETERS],
    responses: { '200': { description: `a ${k.kind}List, or with watch=true an event stream`, content: { 'application/json': { schema: ref(`${k.kind}List`) }, 'text/event-stream': { schema: { type: 'string' } } } }, '400': failure('invalid labelSelector (INVALID_INPUT)'), '410': failure('resourceVersion older than the kept history (GONE): list again'), ...COMMON_FAILURES },
  }
  const paths: Record<string, Json> = {
    [collection]: {
      get: list,
      post: {
        tags: tag,
        summary: `Create a ${k.kind}`,
        parameters: scope,
        requestBody: { required: true, ...json(one) },
        responses: { '201': { description: 'created', ...json(one) }, '400': failure('invalid object (INVALID_INPUT, details.field)'), '409': failure('exists already (ALREADY_EXISTS)'), '413': failure('body too large (PAYLOAD_TOO_LARGE)'), ...COMMON_FAILURES },
      },
    },
    [object]: {
      parameters: [...scope, pathParam('name')],
      get: { tags: tag, summary: `Read a ${k.kind}`, responses: { '200': { description: 'the object', ...json(one) }, '404': failure('not found (NOT_FOUND)'), ...COMMON_FAILURES } },
      put: {
        tags: tag,
        summary: `Replace a ${k.kind} (conditional when metadata.resourceVersion is set)`,
        requestBody: { required: true, ...json(one) },
        responses: { '200': { description: 'replaced', ...json(one) }, '400': failure('invalid object'), '404': failure('not found'), '409': failure('changed since metadata.resourceVersion (CONFLICT)'), ...COMMON_FAILURES },
      },
      delete: {
        tags: tag,
        summary: `Delete a ${k.kind}`,
        parameters: [query('resourceVersion', 'delete only if the object is still at this revision')],
        responses: { '200': { description: 'the deleted object', ...json(one) }, '404': failure('not found'), '409': failure('changed since resourceVersion (CONFLICT)'), ...COMMON_FAILURES },
      },
    },
    [`${object}/status`]: {
      parameters: [...scope, pathParam('name')],
      put: {
        tags: tag,
        summary: `Replace the status of a ${k.kind} (admin token only)`,
        requestBody: { required: true, ...json(one) },
        responses: { '200': { description: 'updated', ...json(one) }, '400': failure('invalid object (INVALID_INPUT, details.field)'), '404': failure('not found'), '409': failure('changed since metadata.resourceVersion'), ...COMMON_FAILURES },
      },
    },
  }
  if (k.namespaced) {
    paths[`${base}/${k.plural}`] = {
      get: { ...list, summary: `List or watch ${k.kind} objects of every namespace (a namespace token: its own)`, parameters: LIST_PARAMETERS },
      // Registered so that a POST without a namespace says where to send it, rather than 404.
      post: { tags: tag, summary: `Always refused: ${k.kind} objects are created under ${collection}`, responses: { '400': failure('namespaced kind (INVALID_INPUT)'), ...COMMON_FAILURES } },
    }
  }
  return paths
}

function servicePaths(): Record<string, Json> {
  const open = { security: [] }
  return {
    '/healthz': { get: { ...open, summary: 'The process is up', responses: { '200': { description: 'ok' } } } },
    '/readyz': { get: { ...open, summary: 'The store is reachable and migrated', responses: { '200': { description: 'ready' }, '503': failure('not ready (UNAVAILABLE)') } } },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...COMMON_FAILURES } } },
    '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', ...json({ type: 'object' }) }, '401': COMMON_FAILURES['401'] } } },
    '/': {
      get: {
        ...open,
        tags: ['dashboard'],
        summary: 'The web dashboard (dist/web, built by npm run build); its other files are served under / too. The page asks for a token and calls this API with it',
        responses: { '200': { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } }, '503': { description: 'the dashboard is not built: a page saying how to build it', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
    [WHOAMI_PATH]: {
      get: {
        tags: ['tokens'],
        summary: 'Who the token is: the admin, or a namespace token and its namespace (any valid token)',
        responses: { '200': { description: 'the caller', ...json({ type: 'object', properties: { admin: { type: 'boolean' }, namespace: { type: 'string' }, actor: { type: 'string' } }, required: ['admin', 'actor'] }) }, ...COMMON_FAILURES },
      },
    },
    [TOKENS_PATH]: {
      get: { tags: ['tokens'], summary: 'List tokens, without secrets (admin)', responses: { '200': { description: 'tokens', ...json({ type: 'object', properties: { items: { type: 'array', items: ref('TokenEntry') } } }) }, ...COMMON_FAILURES } },
      post: {
        tags: ['tokens'],
        summary: 'Create a namespace token (admin); the token is shown in this response only',
        requestBody: { required: true, ...json(ref('TokenRequest')) },
        responses: { '201': { description: 'created', ...json({ allOf: [ref('TokenEntry'), { type: 'object', properties: { token: { type: 'string' } }, required: ['token'] }] }) }, '400': failure('invalid request'), ...COMMON_FAILURES },
      },
    },
    [`${TOKENS_PATH}/{id}`]: {
      delete: { tags: ['tokens'], summary: 'Delete a namespace token (admin)', parameters: [pathParam('id')], responses: { '200': { description: 'the deleted token', ...json(ref('TokenEntry')) }, '404': failure('no such token'), ...COMMON_FAILURES } },
    },
    [AUDIT_PATH]: {
      get: {
        tags: ['audit'],
        summary: 'Read the audit log (a namespace token: its namespace), oldest first',
        parameters: [query('namespace', 'only this namespace'), query('actor', 'admin or namespace:<ns>'), query('kind', 'e.g. Workload or Token'), query('after', 'entries with id greater than this', { type: 'integer' }), query('limit', 'at most this many (default 100, up to 1000)', { type: 'integer' })],
        responses: { '200': { description: 'entries', ...json({ type: 'object', properties: { items: { type: 'array', items: ref('AuditEntry') } } }) }, ...COMMON_FAILURES },
      },
    },
  }
}

function schemas(): Record<string, Json> {
  const out: Record<string, Json> = { Status: STATUS_SCHEMA, AuditEntry: AUDIT_ENTRY_SCHEMA, TokenEntry: TOKEN_ENTRY_SCHEMA, TokenRequest: schemaOf(TokenRequest), LedgerEntry: LEDGER_ENTRY_SCHEMA, SampleBatch: { ...schemaOf(SampleBatch), description: 'a node agent batch: (agentId, seq) numbers it for exactly-once retries; every sample is of the batch node' }, UtilizationReport: UTILIZATION_REPORT_SCHEMA, ...REPORT_OPENAPI_SCHEMAS }
  for (const k of KINDS) {
    out[k.kind] = schemaOf(k.schema)
    out[`${k.kind}List`] = {
      type: 'object',
      properties: { apiVersion: { const: apiVersionOf(k) }, kind: { const: `${k.kind}List` }, metadata: { type: 'object', properties: { resourceVersion: { type: 'string' } } }, items: { type: 'array', items: ref(k.kind) } },
      required: ['apiVersion', 'kind', 'metadata', 'items'],
    }
  }
  return out
}

let cached: Json | undefined

/** The OpenAPI document (built once). */
export function openApiDocument(): Json {
  cached ??= {
    openapi: '3.1.0',
    info: { title: 'gpuplane API', version: '0.1.0', description: 'Kubernetes-style objects of resource.k8s.io/v1 and gpuplane.io/v1alpha1, with tokens, an audit log, the gateway usage ledger, GPU telemetry and usage reports' },
    security: [{ bearer: [] }],
    paths: Object.assign({}, servicePaths(), usageOpenApiPaths(), telemetryOpenApiPaths(), reportOpenApiPaths(), simReportOpenApiPaths(), ...KINDS.map(kindPaths)),
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: schemas() },
  }
  return cached
}
