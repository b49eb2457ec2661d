// `gpuplane server`: opens the store, makes the admin token, serves the HTTP API with the scheduling controller, and shuts down gracefully on SIGTERM/SIGINT.
import { Option, type Command } from 'commander'
import pino from 'pino'
import { GpuplaneError } from '../common/errors.ts'
import { DEFAULT_BODY_LIMIT, buildServer } from '../server/app.ts'
import { ensureAdminToken, type AdminTokenResult } from '../server/auth.ts'
import { Controller } from '../server/controller.ts'
import { loadDemo } from '../server/demo.ts'
import { serve } from '../server/serve.ts'
import { openStore } from '../store/index.ts'

export const DEFAULT_PORT = 7480
export const DEFAULT_DB = './gpuplane.db'
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const SERVER_HELP = `
Store:
  --db FILE (default ${DEFAULT_DB}): one SQLite file, created on first start; nothing else to run.
  --postgres URL: PostgreSQL (postgres://user[:password]@host[:port]/database), for several
  server replicas sharing one database. Schema migrations are applied at start either way.

Admin token:
  GPUPLANE_ADMIN_TOKEN set: that is the admin token. Otherwise the first start generates one and
  prints it once on stderr; only its hash is stored, so later starts cannot print it again.
  Lost it? Restart with --reset-admin-token: a new one is printed and the old one stops working.
  The admin creates namespace tokens with "gpuplane token create --namespace NS". Several
  replicas on one PostgreSQL: set the same GPUPLANE_ADMIN_TOKEN on each.

What it serves (every path but /healthz and /readyz needs "Authorization: Bearer <token>"):
  /api/v1/nodes, /apis/resource.k8s.io/v1/{resourceslices,deviceclasses}, and per namespace
  /apis/resource.k8s.io/v1/namespaces/NS/{resourceclaims,resourceclaimtemplates};
  /apis/gpuplane.io/v1alpha1/{clusters,namespaces} and .../namespaces/NS/workloads;
  lists take ?labelSelector= and ?watch=true (server-sent events);
  /apis/gpuplane.io/v1alpha1/tokens (admin), /apis/gpuplane.io/v1alpha1/auditlog;
  /healthz, /readyz, /metrics (Prometheus), /openapi.json (every path and schema).
  Workloads created are scheduled by the controller in this process; a Cluster applied is
  published as Nodes and ResourceSlices.

Logs: JSON lines (pino) on stdout at --log-level. SIGTERM or SIGINT stops accepting requests,
finishes those in flight, stops the controller and closes the store; a second signal exits at once.

Examples:
  gpuplane server --demo
  GPUPLANE_ADMIN_TOKEN=secret gpuplane server --postgres postgres://postgres@127.0.0.1/gpuplane --host 0.0.0.0
`

interface ServerCommandOptions {
  db?: string
  postgres?: string
  port: string
  host: string
  demo?: boolean
  logLevel: string
  resetAdminToken?: boolean
  bodyLimit: string
}

export function registerServer(program: Command, err: (s: string) => void): void {
  program
    .command('server')
    .description('runs the HTTP API with the scheduling controller, on SQLite (default) or PostgreSQL')
    .addOption(new Option('--db <FILE>', `SQLite database file (default ${DEFAULT_DB})`).conflicts('postgres'))
    .option('--postgres <URL>', 'PostgreSQL URL, for several replicas sharing one database')
    .option('--port <N>', 'TCP port (0: any free port)', String(DEFAULT_PORT))
    .option('--host <ADDRESS>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .option('--demo', 'load the demo cluster, namespaces and workloads (examples/cluster-demo.yaml) at start')
    .addOption(new Option('--log-level <LEVEL>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--reset-admin-token', 'replace the admin token by a new one, printed once')
    .option('--body-limit <BYTES>', 'largest request body accepted', String(DEFAULT_BODY_LIMIT))
    .addHelpText('after', SERVER_HELP)
    .action((opts: ServerCommandOptions) => runServer(opts, err))
}

/** Runs until SIGTERM or SIGINT, then shuts down gracefully. */
async function runServer(opts: ServerCommandOptions, err: (s: string) => void): Promise<void> {
  const port = integerOption(opts.port, '--port', 0, 65535)
  const bodyLimit = integerOption(opts.bodyLimit, '--body-limit', 1, Number.MAX_SAFE_INTEGER)
  const where = opts.postgres !== undefined ? { postgres: opts.postgres } : { sqlite: opts.db ?? DEFAULT_DB }
  const store = await openStore(where)
  const logger = pino({ level: opts.logLevel })
  let serving
  try {
    const admin = await ensureAdminToken(store, { envToken: process.env.GPUPLANE_ADMIN_TOKEN, reset: opts.resetAdminToken })
    if (opts.demo) {
      const demo = await loadDemo(store)
      err(demo.loaded ? `demo loaded: ${demo.objects} objects (the controller publishes the Cluster and schedules the workloads)\n` : 'demo already loaded (the demo Cluster exists); nothing added\n')
    }
    const app = buildServer({ store, logger, bodyLimit })
    const controller = new Controller(app.store, { metrics: app.metrics.registry, logger })
    await controller.start()
    serving = await serve({ app, store, controller, port, host: opts.host })
    const storeName = opts.postgres !== undefined ? `PostgreSQL ${redactUrl(opts.postgres)}` : `SQLite ${where.sqlite}`
    err(`gpuplane server listening on ${serving.url} (store: ${storeName})\n${adminTokenNotice(admin, serving.url)}`)
  } catch (e) {
    await store.close().catch(() => {})
    throw e
  }
  const running = serving
  await new Promise<void>((resolve, reject) => {
    const onSignal = (signal: NodeJS.Signals) => {
      err(`${signal}: shutting down (finishing requests in flight)\n`)
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      running.shutdown().then(resolve, reject)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
  err('gpuplane server stopped\n')
}

/** What to tell about the admin token: the token itself only when it was just generated. */
function adminTokenNotice(admin: AdminTokenResult, url: string): string {
  if (admin.generated !== undefined) {
    return [
      `admin token (shown this once; only its hash is stored): ${admin.generated}`,
      `  use it: export GPUPLANE_SERVER=${url} GPUPLANE_TOKEN=${admin.generated}`,
      '',
    ].join('\n')
  }
  if (admin.source === 'environment') return 'admin token: GPUPLANE_ADMIN_TOKEN\n'
  return 'admin token: the one printed at the first start (lost it? restart with --reset-admin-token)\n'
}

function integerOption(value: string, name: string, min: number, max: number): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new GpuplaneError('INVALID_INPUT', `${name} must be a whole number from ${min} to ${max}, got "${value}"`)
  return n
}

/** A PostgreSQL URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(invalid URL)'
  }
}
