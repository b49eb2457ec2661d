// Token routes (admin only): create a namespace token (shown once), list tokens without secrets, delete one.
//
//   POST   /apis/gpuplane.io/v1alpha1/tokens        {"namespace","description"?} → 201 {"id","token","namespace","description"?,"createdAt"}
//   GET    /apis/gpuplane.io/v1alpha1/tokens        → {"items":[{"id","namespace"|"admin","description"?,"createdAt"}]}
//   DELETE /apis/gpuplane.io/v1alpha1/tokens/{id}   → 200 the deleted token's entry
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { describeIssue, formatPath } from '../api/decode.ts'
import { GPUPLANE_V1ALPHA1 } from '../api/decode-kind.ts'
import { dnsLabelProblems } from '../api/names.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { TokenRecord } from '../store/types.ts'
import { ADMIN_TOKEN_ID, hashToken, newToken, newTokenId, requestPrincipal, requireAdmin } from './auth.ts'
import type { ServerContext } from './context.ts'

export const TOKENS_PATH = `/apis/${GPUPLANE_V1ALPHA1}/tokens`
/** Who the caller's token makes it: any valid token may ask (the dashboard shows admin-only controls by it). */
export const WHOAMI_PATH = `/apis/${GPUPLANE_V1ALPHA1}/whoami`

/** Longest token description kept (a note for humans, not data). */
const MAX_DESCRIPTION = 256

export const TokenRequest = z.strictObject({
  namespace: z.string().superRefine((ns, ctx) => {
    const problems = dnsLabelProblems(ns)
    if (problems.length > 0) ctx.addIssue({ code: 'custom', message: `"${ns}" ${problems.join('; ')}` })
  }),
  description: z.string().max(MAX_DESCRIPTION).optional(),
})

/** A token as listed: never its secret or hash. */
export interface TokenEntry {
  id: string
  namespace?: string
  admin?: true
  description?: string
  createdAt: string
}

function entryOf(t: TokenRecord): TokenEntry {
  const scope = 'admin' in t.scope ? { admin: true as const } : { namespace: t.scope.namespace }
  return { id: t.id, ...scope, ...(t.description !== undefined ? { description: t.description } : {}), createdAt: t.createdAt }
}

export function registerTokenRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const audit = (action: string) => ({ config: { audit: { action, kind: 'Token' } } })

  app.get(WHOAMI_PATH, async (req) => {
    const principal = requestPrincipal(req)
    return principal.admin ? { admin: true, actor: principal.actor } : { admin: false, namespace: principal.namespace, actor: principal.actor }
  })

  app.post(TOKENS_PATH, audit('token.create'), async (req, reply) => {
    const body = req.body as Record<string, unknown> | undefined
    if (typeof body?.namespace === 'string') req.auditTarget = { ...req.auditTarget, namespace: body.namespace }
    requireAdmin(requestPrincipal(req), 'creating tokens')
    const parsed = TokenRequest.safeParse(body ?? {})
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new GpuplaneError('INVALID_INPUT', describeIssue(issue), { path: formatPath(issue.path) })
    }
    const token = newToken()
    const record: TokenRecord = { id: newTokenId(), hash: hashToken(token), scope: { namespace: parsed.data.namespace }, createdAt: new Date().toISOString() }
    if (parsed.data.description !== undefined) record.description = parsed.data.description
    await ctx.store.saveToken(record)
    req.auditTarget = { ...req.auditTarget, name: record.id }
    return reply.code(201).send({ ...entryOf(record), token })
  })

  app.get(TOKENS_PATH, async (req) => {
    requireAdmin(requestPrincipal(req), 'listing tokens')
    return { items: (await ctx.store.listTokens()).map(entryOf) }
  })

  app.delete(`${TOKENS_PATH}/:id`, audit('token.delete'), async (req) => {
    const { id } = req.params as { id: string }
    requireAdmin(requestPrincipal(req), 'deleting tokens')
    if (id === ADMIN_TOKEN_ID) throw new GpuplaneError('INVALID_INPUT', 'the admin token cannot be deleted through the API; restart the server with --reset-admin-token (or GPUPLANE_ADMIN_TOKEN) to replace it')
    const found = (await ctx.store.listTokens()).find((t) => t.id === id)
    if (found === undefined || !(await ctx.store.deleteToken(id))) throw new GpuplaneError('NOT_FOUND', `token "${id}" not found; list tokens with GET ${TOKENS_PATH}`)
    if ('namespace' in found.scope) req.auditTarget = { ...req.auditTarget, namespace: found.scope.namespace }
    return entryOf(found)
  })
}
