// The object routes of every kind: create, get, list (and watch), replace, status, delete, at Kubernetes-style paths.
//
// Per kind (KINDS in kinds.ts), under `/apis/{group}/{version}` (`/api/v1` for the core group):
//   cluster-scoped: GET|POST {plural}, GET|PUT|DELETE {plural}/{name}, PUT {plural}/{name}/status
//   namespaced:     GET {plural} (every namespace), GET|POST namespaces/{ns}/{plural},
//                   GET|PUT|DELETE namespaces/{ns}/{plural}/{name}, PUT .../{name}/status
// Lists take `labelSelector`, and `watch=true` (+ `resourceVersion`) for a stream (watch.ts).
// PUT with metadata.resourceVersion, and DELETE with ?resourceVersion=, are conditional.
// Only the admin token writes `status` (create, replace, the status subresource): namespace
// tokens' status fields are dropped, so a user cannot grant itself devices.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseLabelSelector } from '../api/labels.ts'
import { dnsLabelProblems, objectNameProblems } from '../api/names.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { NewObject, ObjectKey } from '../store/types.ts'
import { authorizeRead, authorizeWrite, requestPrincipal, requireAdmin } from './auth.ts'
import type { ServerContext } from './context.ts'
import { apiVersionOf, groupPath, KINDS, type KindInfo } from './kinds.ts'
import type { Body } from './validate.ts'
import { serveWatch } from './watch.ts'

/** Metadata fields the store assigns: dropped from what clients send. */
const ASSIGNED_METADATA = ['uid', 'resourceVersion', 'creationTimestamp', 'generation'] as const

/** Random suffix length of names made from metadata.generateName (as Kubernetes). */
const GENERATED_NAME_SUFFIX = 5

interface Params {
  namespace?: string
  name?: string
}

interface Query {
  labelSelector?: string
  watch?: string
  resourceVersion?: string
}

/** Registers the routes of every kind. */
export function registerResourceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  for (const k of KINDS) registerKind(app, ctx, k)
}

function registerKind(app: FastifyInstance, ctx: ServerContext, k: KindInfo): void {
  const base = groupPath(k)
  const write = (action: string) => ({ audit: { action, kind: k.kind } })
  const collection = k.namespaced ? `${base}/namespaces/:namespace/${k.plural}` : `${base}/${k.plural}`
  const object = `${collection}/:name`

  if (k.namespaced) {
    app.get(`${base}/${k.plural}`, (req, reply) => list(ctx, k, req, reply))
    app.post(`${base}/${k.plural}`, { config: write('create') }, async () => {
      throw new GpuplaneError('INVALID_INPUT', `${k.kind} objects are namespaced: POST them to ${base}/namespaces/{namespace}/${k.plural}`)
    })
  }
  app.get(collection, (req, reply) => list(ctx, k, req, reply))
  app.post(collection, { config: write('create') }, async (req, reply) => {
    const object = prepare(k, req, 'create')
    guardAdminHeld(k, req, undefined, object)
    const created = await ctx.store.create(object as NewObject)
    return reply.code(201).send(created)
  })
  app.get(object, async (req) => {
    const key = keyOf(k, req)
    authorizeRead(requestPrincipal(req), k.namespaced, key.namespace, k.kind)
    const found = await ctx.store.get(key)
    if (found === undefined) throw notFound(k, key)
    return found
  })
  app.put(object, { config: write('update') }, async (req) => {
    const next = prepare(k, req, 'update')
    const expect = (req.body as Body).metadata as Record<string, unknown>
    let rv = typeof expect.resourceVersion === 'string' && expect.resourceVersion !== '' ? expect.resourceVersion : undefined
    if (k.adminHeld !== undefined && !requestPrincipal(req).admin) {
      // Checked against the stored object, and the replace made conditional on it: an admin's
      // change in between makes this a conflict instead of being overwritten.
      const existing = await ctx.store.get(keyOf(k, req))
      guardAdminHeld(k, req, existing, next)
      rv ??= existing?.metadata.resourceVersion
    }
    return ctx.store.update(next as NewObject, rv)
  })
  app.put(`${object}/status`, { config: write('updateStatus') }, (req) => replaceStatus(ctx, k, req))
  app.delete(object, { config: write('delete') }, async (req) => {
    const key = keyOf(k, req)
    authorizeWrite(requestPrincipal(req), k.namespaced, key.namespace, k.kind)
    const given = (req.query as Query).resourceVersion
    let rv = given === undefined || given === '' ? undefined : given
    if (k.adminHeld !== undefined && !requestPrincipal(req).admin) {
      const existing = await ctx.store.get(key)
      guardAdminHeld(k, req, existing, undefined)
      rv ??= existing?.metadata.resourceVersion
    }
    return ctx.store.delete(key, rv)
  })
}

/** FORBIDDEN when a namespace token would create, change or delete an object the admin holds (KindInfo.adminHeld), or make one so. */
function guardAdminHeld(k: KindInfo, req: FastifyRequest, existing: Record<string, unknown> | undefined, next: Record<string, unknown> | undefined): void {
  const principal = requestPrincipal(req)
  if (k.adminHeld === undefined || principal.admin) return
  const name = (existing?.metadata as { name?: string } | undefined)?.name ?? (next?.metadata as { name?: string } | undefined)?.name ?? ''
  const held = existing === undefined ? undefined : k.adminHeld(existing)
  if (held !== undefined) {
    throw new GpuplaneError('FORBIDDEN', `${k.kind} "${name}" is ${held}, which only the admin token can undo; the token of namespace "${principal.namespace}" can neither change nor delete it`)
  }
  const made = next === undefined ? undefined : k.adminHeld(next)
  if (made !== undefined) {
    throw new GpuplaneError('FORBIDDEN', `only the admin token can make ${/^[AEIOU]/.test(k.kind) ? 'an' : 'a'} ${k.kind} ${made}; the token of namespace "${principal.namespace}" cannot`)
  }
}

/** Lists (or watches) a kind; namespace tokens see their namespace's objects of namespaced kinds. */
async function list(ctx: ServerContext, k: KindInfo, req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const principal = requestPrincipal(req)
  const query = req.query as Query
  let namespace = (req.params as Params).namespace
  if (k.namespaced && namespace !== undefined) authorizeRead(principal, true, namespace, k.kind)
  else if (k.namespaced && !principal.admin) namespace = principal.namespace
  const labelSelector = parseLabelSelector(query.labelSelector ?? '')
  if (query.watch === 'true' || query.watch === '1') {
    const lastEventId = req.headers['last-event-id']
    const rv = query.resourceVersion || (typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : undefined)
    return serveWatch(ctx.store, ctx.hub, ctx.metrics, req, reply, { kind: k.kind, namespace, labelSelector, resourceVersion: rv })
  }
  const result = await ctx.store.list(k.kind, { namespace, labelSelector })
  return { apiVersion: apiVersionOf(k), kind: `${k.kind}List`, metadata: { resourceVersion: result.resourceVersion }, items: result.items }
}

/**
 * The object a create or replace stores: the body checked against the path (kind, apiVersion,
 * name, namespace), authorized, stripped of store-assigned metadata (and of status for namespace
 * tokens), then validated.
 */
function prepare(k: KindInfo, req: FastifyRequest, action: 'create' | 'update'): Body {
  const principal = requestPrincipal(req)
  const params = req.params as Params
  const sentName = (req.body as { metadata?: { name?: unknown } } | undefined)?.metadata?.name
  if (typeof sentName === 'string' && params.name === undefined) req.auditTarget = { ...req.auditTarget, name: sentName }
  if (k.namespaced) checkNamespaceName(params.namespace ?? '')
  authorizeWrite(principal, k.namespaced, params.namespace, k.kind)
  const body = bodyOf(req)
  checkType(k, body)
  const metadata = { ...(body.metadata as Record<string, unknown>) }
  const name = objectName(metadata, params.name, action)
  req.auditTarget = { ...req.auditTarget, name }
  metadata.name = name
  delete metadata.generateName
  placeInNamespace(k, metadata, params.namespace)
  const object: Body = { ...body, metadata }
  if (!principal.admin) delete object.status
  if (action === 'create' && object.status === undefined && k.initialStatus) object.status = k.initialStatus()
  const validated = k.validate(object)
  const stored = { ...validated, metadata: { ...(validated.metadata as Record<string, unknown>) } }
  for (const field of ASSIGNED_METADATA) delete stored.metadata[field]
  return stored
}

/** PUT .../status: the admin sets an object's status (the whole object may be sent; only status is used). */
async function replaceStatus(ctx: ServerContext, k: KindInfo, req: FastifyRequest): Promise<unknown> {
  const key = keyOf(k, req)
  const principal = requestPrincipal(req)
  authorizeWrite(principal, k.namespaced, key.namespace, k.kind)
  requireAdmin(principal, `changing the status of ${k.kind} objects`)
  const body = bodyOf(req)
  if (body.kind !== undefined || body.apiVersion !== undefined) checkType(k, body)
  const metadata = (body.metadata ?? {}) as Record<string, unknown>
  if (typeof metadata !== 'object' || metadata === null) throw new GpuplaneError('INVALID_INPUT', 'metadata must be an object', { path: 'metadata' })
  if (metadata.name !== undefined && metadata.name !== key.name) {
    throw new GpuplaneError('INVALID_INPUT', `metadata.name "${String(metadata.name)}" does not match the name in the path ("${key.name}")`, { path: 'metadata.name' })
  }
  if (typeof body.status !== 'object' || body.status === null || Array.isArray(body.status)) {
    throw new GpuplaneError('INVALID_INPUT', 'send the object with its new status (an object) in "status"', { path: 'status' })
  }
  const existing = await ctx.store.get(key)
  if (existing === undefined) throw notFound(k, key)
  k.validate({ ...existing, status: body.status })
  const rv = metadata.resourceVersion
  return ctx.store.updateStatus(key, body.status, typeof rv === 'string' && rv !== '' ? rv : undefined)
}

function bodyOf(req: FastifyRequest): Body {
  const body = req.body
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GpuplaneError('INVALID_INPUT', 'send the object as the request body (JSON, Content-Type: application/json)')
  }
  return body as Body
}

function keyOf(k: KindInfo, req: FastifyRequest): ObjectKey {
  const params = req.params as Params
  return k.namespaced ? { kind: k.kind, namespace: params.namespace, name: params.name ?? '' } : { kind: k.kind, name: params.name ?? '' }
}

function notFound(k: KindInfo, key: ObjectKey): GpuplaneError {
  const where = key.namespace ? ` in namespace "${key.namespace}"` : ''
  return new GpuplaneError('NOT_FOUND', `${k.kind} "${key.name}" not found${where}`)
}

function checkNamespaceName(namespace: string): void {
  const problems = dnsLabelProblems(namespace)
  if (problems.length > 0) throw new GpuplaneError('INVALID_INPUT', `namespace "${namespace}" ${problems.join('; ')}`, { path: 'metadata.namespace' })
}

/** The body is an object of this kind, in a version this kind is read in. */
function checkType(k: KindInfo, body: Body): void {
  if (body.kind !== k.kind) {
    throw new GpuplaneError('INVALID_INPUT', `kind is ${JSON.stringify(body.kind ?? null)}, but this path takes ${k.kind} objects`, { path: 'kind' })
  }
  if (typeof body.apiVersion !== 'string' || !k.apiVersions.includes(body.apiVersion)) {
    throw new GpuplaneError('INVALID_INPUT', `apiVersion ${JSON.stringify(body.apiVersion ?? null)} is not served for ${k.kind}; use ${k.apiVersions.join(' or ')}`, { path: 'apiVersion' })
  }
  if (typeof body.metadata !== 'object' || body.metadata === null || Array.isArray(body.metadata)) {
    throw new GpuplaneError('INVALID_INPUT', 'metadata is required, with at least a name', { path: 'metadata' })
  }
}

/** The object's name: metadata.name (matching the path's on replace), or generateName + a random suffix on create. */
function objectName(metadata: Record<string, unknown>, pathName: string | undefined, action: 'create' | 'update'): string {
  let name = metadata.name
  if (action === 'update' && name !== pathName) {
    throw new GpuplaneError('INVALID_INPUT', `metadata.name ${JSON.stringify(name ?? null)} does not match the name in the path ("${pathName}")`, { path: 'metadata.name' })
  }
  if ((name === undefined || name === '') && typeof metadata.generateName === 'string' && metadata.generateName !== '') {
    const problems = objectNameProblems(metadata.generateName, true)
    if (problems.length > 0) throw new GpuplaneError('INVALID_INPUT', `"${metadata.generateName}" ${problems.join('; ')}`, { path: 'metadata.generateName' })
    name = metadata.generateName + randomSuffix()
  }
  if (typeof name !== 'string' || name === '') throw new GpuplaneError('INVALID_INPUT', 'metadata.name is required (or metadata.generateName)', { path: 'metadata.name' })
  const problems = objectNameProblems(name)
  if (problems.length > 0) throw new GpuplaneError('INVALID_INPUT', `"${name}" ${problems.join('; ')}`, { path: 'metadata.name' })
  return name
}

/** Fills metadata.namespace from the path, or refuses a different one (and any on cluster-scoped kinds). */
function placeInNamespace(k: KindInfo, metadata: Record<string, unknown>, namespace: string | undefined): void {
  if (!k.namespaced) {
    if (metadata.namespace !== undefined && metadata.namespace !== '') {
      throw new GpuplaneError('INVALID_INPUT', `${k.kind} objects are cluster-scoped; remove metadata.namespace`, { path: 'metadata.namespace' })
    }
    delete metadata.namespace
    return
  }
  if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
    throw new GpuplaneError('INVALID_INPUT', `metadata.namespace ${JSON.stringify(metadata.namespace)} does not match the namespace in the path ("${namespace}")`, { path: 'metadata.namespace' })
  }
  metadata.namespace = namespace
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'
  let out = ''
  for (let i = 0; i < GENERATED_NAME_SUFFIX; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)]
  return out
}
