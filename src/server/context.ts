// What the route modules of one server share, and the per-request fields its hooks set.
import type { Store } from '../store/types.ts'
import type { Principal } from './auth.ts'
import type { ServerMetrics } from './metrics.ts'
import type { WatchHub } from './watch.ts'

export interface ServerContext {
  /** The store; its writes wake this server's watches. */
  store: Store
  hub: WatchHub
  metrics: ServerMetrics
}

/** What a write is about, for the audit log (set from the path, then from the body once read). */
export interface AuditTarget {
  kind?: string
  namespace?: string
  name?: string
}

/** Route config: routes with `audit` are writes, recorded in the audit log whatever their result. */
export interface RouteAudit {
  action: string
  kind?: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request (set by the authentication hook; undefined on open paths). */
    principal?: Principal
    auditTarget?: AuditTarget
  }
  interface FastifyContextConfig {
    audit?: RouteAudit
    /** Paths anyone may call without a token. */
    open?: boolean
  }
}
