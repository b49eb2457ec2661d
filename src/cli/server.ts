// `gpuplane server`: opens the store, makes the admin token, serves the HTTP API with the scheduling controller and the AI gateway on its own port, and shuts down gracefully on SIGTERM/SIGINT.
import { Option, type Command } from 'commander'
import pino from 'pino'
import { GpuplaneError } from '../common/errors.ts'
import { DEFAULT_BODY_LIMIT, buildServer } from '../server/app.ts'
import { ensureAdminToken, type AdminTokenResult } from '../server/auth.ts'
import { Controller } from '../server/controller.ts'
import { startUtilization } from '../server/idle-controller.ts'
import { usePrices } from '../server/report-routes.ts'
import { parseGpuPrices } from '../telemetry/chargeback.ts'
import { readFileSync } from 'node:fs'
import { loadDemo } from '../server/demo.ts'
import { loadGovernanceDemo } from '../server/demo-governance.ts'
import { startDemoTelemetry } from '../server/demo-telemetry.ts'
import { DEFAULT_RETENTION, type TelemetryRetention } from '../server/telemetry-routes.ts'
import { serve } from '../server/serve.ts'
import { notifyingStore, WatchHub } from '../server/watch.ts'
import { startEchoUpstream, type EchoUpstream } from '../gateway/echo-upstream.ts'
import { DEFAULT_REGISTRY_POLL_MS } from '../gateway/registry-store.ts'
import { openStore } from '../store/index.ts'
import type { Store } from '../store/types.ts'
import { redactUrl } from '../common/redact.ts'
import { parseDuration } from './duration.ts'
import { addOutageOptions, DEFAULT_GATEWAY_PORT, parseOutage, startStoreGateway, type RunningGateway } from './gateway.ts'

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
  /apis/gpuplane.io/v1alpha1/{clusters,namespaces,models} and .../namespaces/NS/{workloads,
  agents,tokenpolicies};
  lists take ?labelSelector= and ?watch=true (server-sent events);
  /apis/gpuplane.io/v1alpha1/tokens (admin), /apis/gpuplane.io/v1alpha1/auditlog;
  /apis/gpuplane.io/v1alpha1/reports/usage and .../idle ("gpuplane report usage", "gpuplane get
  idle"; GPU prices from --gpu-prices FILE, e.g. examples/gpu-prices.yaml);
  /apis/gpuplane.io/v1alpha1/usage (the gateway's usage ledger);
  POST /apis/gpuplane.io/v1alpha1/telemetry/samples ("gpuplane agent" pushes there, admin token)
  and GET .../telemetry/utilization (allocated vs used over time);
  /healthz, /readyz, /metrics (Prometheus), /openapi.json (every path and schema);
  /: the dashboard (no token to load it; it asks for one and calls the API with it). Its files
  are built by "npm run build" into dist/web ("npm start" builds first); without them, / says
  how to build them.
  Workloads created are scheduled by the controller in this process; a Cluster applied is
  published as Nodes and ResourceSlices. Models are cluster-scoped: every token reads them, only
  the admin writes them; a namespace token manages its own namespace's Agents and TokenPolicies.

AI gateway (OpenAI-compatible, base URL http://HOST:GATEWAY-PORT/v1, the agent key as API key):
  on --gateway-port (default ${DEFAULT_GATEWAY_PORT}; with --port 0 it also takes any free port unless given;
  --no-gateway: none). It serves the Models, Agents and TokenPolicies of the store: a change made
  through the API (an agent disabled, a key hash removed) applies to the next request, on every
  replica sharing the database within a second. Token counters are in this process unless
  --redis URL shares them between replicas (--outage and --replicas: what to do while Redis is
  unreachable, as for "gpuplane gateway"); usage is recorded in the store's ledger.
  "gpuplane gateway --postgres URL" runs more gateway replicas on the same objects.

Logs: JSON lines (pino) on stdout at --log-level. SIGTERM or SIGINT stops accepting requests,
finishes those in flight, stops the controller and closes the store; a second signal exits at once.

With --demo the gateway also has a demo: Models demo-echo (answered by an echo upstream inside
this process) and llama-3.1-8b, agents in namespaces research and inference, and hard-reject
and hard-clamp TokenPolicies (examples/governance-demo.yaml); the first start prints a key per
demo agent, once. A simulated node agent inside the process feeds demo utilization samples for
the allocated devices (some busy, some idle: demo data, not measured).

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
  gpuPrices?: string
  idleInterval: string
  /** Absent: DEFAULT_GATEWAY_PORT, or 0 when --port is 0. */
  gatewayPort?: string
  /** False with --no-gateway. */
  gateway: boolean
  redis?: string
  outage?: string
  replicas: string
  rawRetention: string
  minuteRetention: string
  simReports?: string
}

export function registerServer(program: Command, err: (s: string) => void): void {
  const command = program
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
    .option('--sim-reports <DIR>', 'a directory of "gpuplane sim --json" files the dashboard\'s Simulations view shows beside the shipped reports')
    .option('--gpu-prices <FILE>', 'prices per GPU-hour and model for "gpuplane report usage" (see examples/gpu-prices.yaml)')
    .option('--raw-retention <DURATION>', 'how long utilization samples are kept at full resolution before they are rolled up to minute rows', '24h')
    .option('--minute-retention <DURATION>', 'how long minute rows are kept before they are rolled up to hour rows (kept for good); longer than --raw-retention', '720h')
    .option('--idle-interval <SECONDS>', 'how often idle allocations are looked for (Namespace spec.idle policies)', '30')
    .option('--gateway-port <N>', `TCP port of the AI gateway (default ${DEFAULT_GATEWAY_PORT}; 0: any free port)`)
    .option('--no-gateway', 'do not serve the AI gateway')
    .option('--redis <URL>', "Redis URL for the gateway's token counters, shared by replicas (default: in this process)")
  addOutageOptions(command)
    .addHelpText('after', SERVER_HELP)
    .action((opts: ServerCommandOptions) => runServer(opts, err))
}

/** Runs until SIGTERM or SIGINT, then shuts down gracefully. */
async function runServer(opts: ServerCommandOptions, err: (s: string) => void): Promise<void> {
  const port = integerOption(opts.port, '--port', 0, 65535)
  const bodyLimit = integerOption(opts.bodyLimit, '--body-limit', 1, Number.MAX_SAFE_INTEGER)
  const gatewayPort = opts.gateway ? integerOption(opts.gatewayPort ?? String(port === 0 ? 0 : DEFAULT_GATEWAY_PORT), '--gateway-port', 0, 65535) : undefined
  if (!opts.gateway && (opts.gatewayPort !== undefined || opts.redis !== undefined || opts.outage !== undefined)) {
    throw new GpuplaneError('INVALID_INPUT', '--gateway-port, --redis and --outage configure the gateway, which --no-gateway turns off; drop one or the other')
  }
  const outage = parseOutage(opts.outage)
  const telemetryRetention = retentionOptions(opts)
  const replicas = integerOption(opts.replicas, '--replicas', 1, 10_000)
  const where = opts.postgres !== undefined ? { postgres: opts.postgres } : { sqlite: opts.db ?? DEFAULT_DB }
  const store = await openStore(where)
  const logger = pino({ level: opts.logLevel })
  // Writes of this process wake the gateway's registry at once; other replicas' writes arrive by polling.
  const hub = new WatchHub({ pollMs: DEFAULT_REGISTRY_POLL_MS })
  let serving
  let echo: EchoUpstream | undefined
  let gateway: RunningGateway | undefined
  try {
    const admin = await ensureAdminToken(store, { envToken: process.env.GPUPLANE_ADMIN_TOKEN, reset: opts.resetAdminToken })
    let demoNotice = ''
    if (opts.demo) {
      const demo = await loadDemo(store)
      err(demo.loaded ? `demo loaded: ${demo.objects} objects (the controller publishes the Cluster and schedules the workloads)\n` : 'demo already loaded (the demo Cluster exists); nothing added\n')
      echo = await startEchoUpstream()
      demoNotice = await governanceDemo(store, echo.url)
    }
    const app = buildServer({ store: notifyingStore(store, hub), logger, bodyLimit, telemetryRetention, ...(opts.simReports !== undefined ? { simReports: opts.simReports } : {}) })
    if (opts.demo) startDemoTelemetry(app)
    const controller = new Controller(app.store, { metrics: app.metrics.registry, logger })
    await controller.start()
    if (opts.gpuPrices !== undefined) usePrices(app, parseGpuPrices(readFileSync(opts.gpuPrices, 'utf8'), opts.gpuPrices))
    const utilization = await startUtilization(app, { logger, idleIntervalMs: integerOption(opts.idleInterval, '--idle-interval', 1, 86_400) * 1000 })
    if (gatewayPort !== undefined) gateway = await startStoreGateway({ store, wait: () => hub.wait(), redis: opts.redis, port: gatewayPort, host: opts.host, bodyLimit, logger, outage, replicas })
    const running = gateway
    const stopEcho = echo
    // Stopped after the API stops accepting and before the store closes: the gateway finishes its requests (and their ledger writes) first.
    const stopAll = { stop: async () => {
      await running?.close()
      await stopEcho?.close()
      await utilization.stop()
      await controller.stop()
    } }
    serving = await serve({ app, store, controller: stopAll, port, host: opts.host })
    const storeName = opts.postgres !== undefined ? `PostgreSQL ${redactUrl(opts.postgres)}` : `SQLite ${where.sqlite}`
    const gatewayLine = gateway ? `AI gateway on ${gateway.url}/v1 (counters: ${opts.redis !== undefined ? `Redis ${redactUrl(opts.redis)}` : 'in memory'})\n` : 'AI gateway: off (--no-gateway)\n'
    err(`gpuplane server listening on ${serving.url} (store: ${storeName})\n${gatewayLine}${adminTokenNotice(admin, serving.url)}${demoNotice.replaceAll('GATEWAY', gateway?.url ?? 'http://HOST:GATEWAY-PORT')}`)
  } catch (e) {
    await gateway?.close().catch(() => {})
    await echo?.close().catch(() => {})
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

/** Loads the governance demo; what to print about it (GATEWAY stands for the gateway's URL): the demo keys, once. */
async function governanceDemo(store: Store, echoURL: string): Promise<string> {
  const loaded = await loadGovernanceDemo(store, echoURL)
  if (!loaded.loaded) return 'governance demo already loaded (Model demo-echo exists); demo agent keys were printed at the first start\n'
  const lines = [`governance demo loaded: ${loaded.objects} objects (Models demo-echo and llama-3.1-8b, agents, token policies)`]
  for (const { agent, key } of loaded.keys) lines.push(`demo agent key of ${agent} (shown this once; only its hash is stored): ${key}`)
  const first = loaded.keys[0]
  if (first) {
    lines.push(`  try it: curl GATEWAY/v1/chat/completions -H "Authorization: Bearer ${first.key}" \\`)
    lines.push(`            -H 'content-type: application/json' -d '{"model":"demo-echo","messages":[{"role":"user","content":"hello"}]}'`)
  }
  return `${lines.join('\n')}\n`
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

/** The telemetry retention of --raw-retention and --minute-retention (the rollup runs every 5 minutes). */
function retentionOptions(opts: ServerCommandOptions): TelemetryRetention {
  const rawMs = parseDuration(opts.rawRetention, '--raw-retention')
  const minutesMs = parseDuration(opts.minuteRetention, '--minute-retention')
  if (minutesMs <= rawMs) throw new GpuplaneError('INVALID_INPUT', `--minute-retention (${opts.minuteRetention}) must be longer than --raw-retention (${opts.rawRetention}): minute rows are made from samples older than --raw-retention`)
  return { rawMs, minutesMs, everyMs: DEFAULT_RETENTION.everyMs }
}

function integerOption(value: string, name: string, min: number, max: number): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new GpuplaneError('INVALID_INPUT', `${name} must be a whole number from ${min} to ${max}, got "${value}"`)
  return n
}

