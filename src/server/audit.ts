// The audit log over HTTP: every write route's request is recorded with its result (refusals too), and GET auditlog reads it back.
//
//   GET /apis/gpuplane.io/v1alpha1/auditlog?namespace=&actor=&kind=&after=&limit=
//     → {"items":[AuditEntry...]}, oldest first; the admin sees all entries, a namespace token
//     those of its namespace.
// An entry names the actor (`admin`, `namespace:<ns>`, or `anonymous` for a request without a
// valid token; never the token), the action, kind, namespace, name, the HTTP status as result, and
// for failures `CODE: message` as detail. It is appended before the response is sent, so a client
// that got its answer finds the entry. The object routes append it with their write, in the same
// store transaction (commitAudited): a write is never kept without its entry, nor an entry of
// success without its write. Failures, and the other routes, are recorded by the onSend hook.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GPUPLANE_V1ALPHA1 } from '../api/decode-kind.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { AuditEntry, AuditQuery, StoredObject, Write } from '../store/types.ts'
import { authorizeRead, requestPrincipal } from './auth.ts'
import type { RouteAudit, ServerContext } from './context.ts'

export const AUDIT_PATH = `/apis/${GPUPLANE_V1ALPHA1}/auditlog`

/** Entries one query returns by default and at most. */
const DEFAULT_LIMIT = 100
const MAX_LIMIT = 1000

/**
 * Commits the writes of a write route's request with its audit entry, `status` (the HTTP status
 * the route answers when they succeed) as result, in one transaction; the onSend hook then records
 * nothing more. When the commit fails, nothing of it is kept and the hook records the failure.
 */
export async function commitAudited(ctx: ServerContext, request: FastifyRequest, writes: Write[], status: number): Promise<StoredObject[]> {
  const audit = request.routeOptions.config.audit
  const results = await ctx.store.commit(writes, audit === undefined ? {} : { audit: [auditEntry(request, audit, String(status))] })
  request.audited = true
  return results
}

/** Records the request in the audit log if its route is a write not recorded yet (an onSend hook: the status is known, the response not sent yet). */
export async function recordWrite(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const audit = request.routeOptions.config.audit
  if (audit === undefined || request.audited) return
  const entry = auditEntry(request, audit, String(reply.statusCode))
  try {
    await ctx.store.appendAudit(entry)
  } catch (e) {
    request.log.error({ err: e, audit: entry }, 'could not append to the audit log')
  }
}

/** The audit entry of a write route's request with `result`. */
function auditEntry(request: FastifyRequest, audit: RouteAudit, result: string): AuditEntry {
  const target = request.auditTarget ?? {}
  const entry: AuditEntry = {
    time: new Date().toISOString(),
    actor: request.principal?.actor ?? 'anonymous',
    action: audit.action,
    result,
  }
  const kind = target.kind ?? audit.kind
  if (kind !== undefined) entry.kind = kind
  if (target.namespace !== undefined) entry.namespace = target.namespace
  if (target.name !== undefined) entry.name = target.name
  if (request.failure !== undefined) entry.detail = request.failure
  return entry
}

export function registerAuditRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(AUDIT_PATH, async (req) => {
    const principal = requestPrincipal(req)
    const q = req.query as Record<string, string | undefined>
    const query: AuditQuery = { limit: integer(q.limit, 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT }
    const after = integer(q.after, 'after', 0, Number.MAX_SAFE_INTEGER)
    if (after !== undefined) query.after = after
    if (q.actor) query.actor = q.actor
    if (q.kind) query.kind = q.kind
    if (q.namespace) query.namespace = q.namespace
    if (!principal.admin) {
      authorizeRead(principal, true, query.namespace ?? principal.namespace, 'audit')
      query.namespace = principal.namespace
    }
    return { items: await ctx.store.queryAudit(query) }
  })
}

/** An integer query parameter within [min, max], or undefined when absent. */
function integer(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new GpuplaneError('INVALID_INPUT', `${name} must be a whole number from ${min} to ${max}, got "${value}"`, { path: name })
  return n
}
