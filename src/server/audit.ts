// The audit log over HTTP: every write route's request is recorded with its result (refusals too), and GET auditlog reads it back.
//
//   GET /apis/gpuplane.io/v1alpha1/auditlog?namespace=&actor=&kind=&after=&limit=
//     → {"items":[AuditEntry...]}, oldest first; the admin sees all entries, a namespace token
//     those of its namespace.
// An entry names the actor (`admin`, `namespace:<ns>`, or `anonymous` for a request without a
// valid token; never the token), the action, kind, namespace, name, the HTTP status as result, and
// for failures `CODE: message` as detail. It is appended before the response is sent, so a client
// that got its answer finds the entry.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GPUPLANE_V1ALPHA1 } from '../api/decode-kind.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { AuditEntry, AuditQuery } from '../store/types.ts'
import { authorizeRead, requestPrincipal } from './auth.ts'
import type { ServerContext } from './context.ts'

export const AUDIT_PATH = `/apis/${GPUPLANE_V1ALPHA1}/auditlog`

/** Entries one query returns by default and at most. */
const DEFAULT_LIMIT = 100
const MAX_LIMIT = 1000

/** Records the request in the audit log if its route is a write (an onSend hook: the status is known, the response not sent yet). */
export async function recordWrite(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const audit = request.routeOptions.config.audit
  if (audit === undefined) return
  const target = request.auditTarget ?? {}
  const entry: AuditEntry = {
    time: new Date().toISOString(),
    actor: request.principal?.actor ?? 'anonymous',
    action: audit.action,
    result: String(reply.statusCode),
  }
  const kind = target.kind ?? audit.kind
  if (kind !== undefined) entry.kind = kind
  if (target.namespace !== undefined) entry.namespace = target.namespace
  if (target.name !== undefined) entry.name = target.name
  if (request.failure !== undefined) entry.detail = request.failure
  try {
    await ctx.store.appendAudit(entry)
  } catch (e) {
    request.log.error({ err: e, audit: entry }, 'could not append to the audit log')
  }
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
