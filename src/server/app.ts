// The HTTP API server: a Fastify instance with the object routes of every kind, auth, audit, watches, metrics and the OpenAPI document.
//
// buildServer does no I/O of its own beyond what requests ask for: the caller opens and migrates
// the store, makes the admin token (auth.ts ensureAdminToken), listens, and closes (serve.ts).
// `app.close()` stops accepting, ends the watch streams, and waits for requests in flight.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { LATEST_SCHEMA_VERSION } from '../store/migrations.ts'
import type { Store } from '../store/types.ts'
import { GpuplaneError } from '../common/errors.ts'
import { recordWrite, registerAuditRoutes } from './audit.ts'
import { authenticate } from './auth.ts'
import { trackConnections } from './connections.ts'
import { registerDashboardRoutes } from './dashboard.ts'
import { registerSimReportRoutes } from './sim-reports.ts'
import type { ServerContext } from './context.ts'
import { groupCommits } from './group-commit.ts'
import { createMetrics, type ServerMetrics } from './metrics.ts'
import { openApiDocument } from './openapi.ts'
import { registerReportRoutes } from './report-routes.ts'
import { registerResourceRoutes } from './resources.ts'
import { installStatusHandlers, sendStatus, status } from './status.ts'
import { registerTokenRoutes } from './tokens.ts'
import { registerUsageRoutes } from './usage-routes.ts'
import { registerTelemetryRoutes } from './telemetry-routes.ts'
import { BODY_MEDIA_TYPES, parseBody } from './validate.ts'
import { notifyingStore, WatchHub, type WatchOptions } from './watch.ts'

/** Largest request body accepted by default: 4 MiB (a ResourceSlice of a big MIG node is ~100 KiB). */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024

export interface ServerOptions {
  store: Store
  /** A pino logger (Fastify's logger); default: no logs. */
  logger?: FastifyBaseLogger
  /** Largest request body in bytes (default DEFAULT_BODY_LIMIT); larger ones get 413 PAYLOAD_TOO_LARGE. */
  bodyLimit?: number
  /** Watch polling and heartbeat intervals. */
  watch?: WatchOptions
  /** Metrics registry to serve (default: a fresh one). */
  metrics?: ServerMetrics
  /** A directory of `gpuplane sim --json` files the dashboard's Simulations view lists beside the shipped reports (sim-reports.ts). */
  simReports?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The store wrapped so that its writes wake this server's watches: give it to in-process writers (the controller). */
    store: Store
    /** The metrics `/metrics` serves; register more on `metrics.registry`. */
    metrics: ServerMetrics
  }
}

/** Builds the API server (not listening yet; `app.inject` works at once, `app.listen` serves). */
export function buildServer(options: ServerOptions): FastifyInstance {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Requests arriving while closing get our own 503 Status (onRequest below), not Fastify's body.
    return503OnClosing: false,
    forceCloseConnections: false,
  }) as unknown as FastifyInstance
  const hub = new WatchHub(options.watch)
  // Writes of one event-loop turn commit together on SQLite (group-commit.ts); every write wakes the watches.
  const ctx: ServerContext = { store: notifyingStore(groupCommits(options.store), hub), hub, metrics: options.metrics ?? createMetrics() }
  app.decorate('store', ctx.store)
  app.decorate('metrics', ctx.metrics)

  installStatusHandlers(app)
  installBodyParsers(app)
  installHooks(app, ctx)
  registerServiceRoutes(app, ctx)
  registerResourceRoutes(app, ctx)
  registerTokenRoutes(app, ctx)
  registerAuditRoutes(app, ctx)
  registerUsageRoutes(app, ctx)
  registerTelemetryRoutes(app, ctx, options)
  registerReportRoutes(app, ctx)
  registerSimReportRoutes(app, { dir: options.simReports })
  registerDashboardRoutes(app)
  return app
}

/** Bodies are JSON or YAML objects; an empty body is none. */
function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(BODY_MEDIA_TYPES, { parseAs: 'string' }, (request, body, done) => {
    const text = String(body)
    if (text.trim() === '') return done(null, undefined)
    try {
      done(null, parseBody(text, request.headers['content-type']))
    } catch (e) {
      done(e as Error, undefined)
    }
  })
}

function installHooks(app: FastifyInstance, ctx: ServerContext): void {
  const connections = trackConnections(app.server)
  let closing = false
  // Who is asking, before the body is read: an unknown token costs no parsing.
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (closing) {
      reply.header('connection', 'close')
      throw new GpuplaneError('UNAVAILABLE', 'the server is shutting down; retry in a moment (or on another replica)')
    }
    const config = request.routeOptions.config
    const params = (request.params ?? {}) as { namespace?: string; name?: string }
    if (config.audit) request.auditTarget = { kind: config.audit.kind, namespace: params.namespace, name: params.name }
    if (config.open || request.routeOptions.url === undefined) return
    request.principal = await authenticate(ctx.store, request)
  })
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply) => {
    await recordWrite(ctx, request, reply)
  })
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    ctx.metrics.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })
  // Shutdown: refuse new requests, end the watch streams, close connections as their requests finish.
  app.addHook('preClose', async () => {
    closing = true
    ctx.hub.closeAll()
    connections.closeWhenIdle()
  })
}

function registerServiceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const open = { config: { open: true } }
  app.get('/healthz', open, async () => ({ status: 'ok' }))
  app.get('/readyz', open, async (_request, reply) => {
    let version: number
    try {
      version = await ctx.store.schemaVersion()
    } catch (e) {
      return sendStatus(reply, status('UNAVAILABLE', `the store is not reachable: ${(e as Error).message}`))
    }
    if (version < LATEST_SCHEMA_VERSION) return sendStatus(reply, status('UNAVAILABLE', `the store's schema is at version ${version}, this server needs ${LATEST_SCHEMA_VERSION}: the migrations have not been applied yet`))
    return { status: 'ready', schemaVersion: version }
  })
  app.get('/metrics', async (_request, reply) => {
    const text = await ctx.metrics.registry.metrics()
    return reply.type(ctx.metrics.registry.contentType).send(text)
  })
  app.get('/openapi.json', async () => openApiDocument())
}
