// API tokens: generation, hashing, the admin token at start, who a request is (bearer token → Principal) and what it may touch.
//
// Tokens are `gp_` + 32 random bytes in base64url. Only their sha256 (hex) is stored. A request's
// token is hashed, looked up by hash, and the hash found is compared with crypto.timingSafeEqual.
// The admin token has the fixed id `admin`: one at a time, replaced by GPUPLANE_ADMIN_TOKEN or by
// `gpuplane server --reset-admin-token`. A namespace token sees and changes only the namespaced
// objects of its namespace; cluster-scoped objects it may read, not write.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { GpuplaneError } from '../common/errors.ts'
import type { Store, TokenRecord } from '../store/types.ts'

/** The id of the admin token's record. */
export const ADMIN_TOKEN_ID = 'admin'

/** Who a request is. `actor` is what the audit log records: `admin` or `namespace:<ns>`. */
export type Principal = { admin: true; actor: 'admin' } | { admin: false; namespace: string; actor: string }

/** A new random token: `gp_` + 32 random bytes, base64url. */
export function newToken(): string {
  return `gp_${randomBytes(32).toString('base64url')}`
}

/** sha256 hex of a token: what the store keeps. */
export function hashToken(token: string): string {
  // The one-shot crypto.hash: every request hashes its token, and a Hash object per call cost more than the digest.
  return hash('sha256', token, 'hex')
}

/** A new token record id (not secret): `tok_` + 12 hex characters. */
export function newTokenId(): string {
  return `tok_${randomBytes(6).toString('hex')}`
}

export interface AdminTokenResult {
  /** The token in clear, when this call generated it (print it once; it is not kept). */
  generated?: string
  /** Where the admin token now comes from. */
  source: 'environment' | 'generated' | 'stored'
}

/**
 * Makes sure the store has an admin token. `envToken` (GPUPLANE_ADMIN_TOKEN) becomes the admin
 * token; else one stored earlier stays; else (or with `reset`) a new one is generated and
 * returned once. Replicas starting together on an empty database would each generate one (the
 * last saved wins), so replicas are given the same GPUPLANE_ADMIN_TOKEN.
 */
export async function ensureAdminToken(store: Store, options: { envToken?: string; reset?: boolean } = {}): Promise<AdminTokenResult> {
  const existing = (await store.listTokens()).find((t) => 'admin' in t.scope)
  const replace = async (token: string, description: string) => {
    if (existing) await store.deleteToken(existing.id)
    await store.saveToken({ id: ADMIN_TOKEN_ID, hash: hashToken(token), scope: { admin: true }, description, createdAt: new Date().toISOString() })
  }
  if (options.envToken !== undefined && options.envToken !== '') {
    if (existing?.hash !== hashToken(options.envToken)) await replace(options.envToken, 'from GPUPLANE_ADMIN_TOKEN')
    return { source: 'environment' }
  }
  if (existing && !options.reset) return { source: 'stored' }
  const token = newToken()
  await replace(token, 'generated at server start')
  return { generated: token, source: 'generated' }
}

/** The bearer token of a request, or undefined without an `Authorization: Bearer` header. */
function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/** Constant-time equality of two hex hashes. */
function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The Principal of a request's token; UNAUTHORIZED without a token or with an unknown one. */
export async function authenticate(store: Store, request: FastifyRequest): Promise<Principal> {
  const token = bearerToken(request)
  if (token === undefined) {
    throw new GpuplaneError('UNAUTHORIZED', 'this API needs a token: send "Authorization: Bearer <token>" (the admin token is printed at the server\'s first start; gpuplane token create makes namespace tokens)')
  }
  const hash = hashToken(token)
  const record = await store.findTokenByHash(hash)
  if (record === undefined || !sameHash(record.hash, hash)) {
    throw new GpuplaneError('UNAUTHORIZED', 'the token is not valid (unknown or deleted); ask an admin for a token, or restart the server with --reset-admin-token for a new admin token')
  }
  return principalOfRecord(record)
}

function principalOfRecord(record: TokenRecord): Principal {
  if ('admin' in record.scope) return { admin: true, actor: 'admin' }
  return { admin: false, namespace: record.scope.namespace, actor: `namespace:${record.scope.namespace}` }
}

/** The Principal the authentication hook set on a request (UNAUTHORIZED if none: an open path). */
export function requestPrincipal(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new GpuplaneError('UNAUTHORIZED', 'this API needs a token: send "Authorization: Bearer <token>"')
  return request.principal
}

/** FORBIDDEN unless the principal is the admin. */
export function requireAdmin(principal: Principal, what: string): void {
  if (!principal.admin) throw new GpuplaneError('FORBIDDEN', `${what} needs the admin token; the token of namespace "${principal.namespace}" cannot`)
}

/**
 * FORBIDDEN unless the principal may read objects of a kind in `namespace` (undefined: every
 * namespace; cluster-scoped kinds are readable by every token).
 */
export function authorizeRead(principal: Principal, namespaced: boolean, namespace: string | undefined, kind: string): void {
  if (principal.admin || !namespaced || namespace === principal.namespace) return
  throw new GpuplaneError('FORBIDDEN', `the token of namespace "${principal.namespace}" can read ${kind} objects of namespace "${principal.namespace}" only, not of "${namespace}"`)
}

/** FORBIDDEN unless the principal may change objects of a kind in `namespace`. */
export function authorizeWrite(principal: Principal, namespaced: boolean, namespace: string | undefined, kind: string): void {
  if (principal.admin) return
  if (!namespaced) throw new GpuplaneError('FORBIDDEN', `${kind} objects are cluster-scoped: only the admin token can change them; the token of namespace "${principal.namespace}" can read them`)
  if (namespace !== principal.namespace) {
    throw new GpuplaneError('FORBIDDEN', `the token of namespace "${principal.namespace}" can change objects of namespace "${principal.namespace}" only, not of "${namespace}"`)
  }
}
