// `gpuplane gateway`: serves the OpenAI-compatible gateway for the Models, Agents and TokenPolicies of a configuration file or of the store, on in-memory or Redis counters; also starts the gateway of `gpuplane server`.
import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { Option, type Command } from 'commander'
import type { FastifyBaseLogger } from 'fastify'
import pino from 'pino'
import { GpuplaneError } from '../common/errors.ts'
import { buildGateway, DEFAULT_GATEWAY_BODY_LIMIT } from '../gateway/app.ts'
import { loadGatewayConfig } from '../gateway/config.ts'
import { StoreRegistry } from '../gateway/registry-store.ts'
import type { GovernanceRegistry } from '../governance/access.ts'
import { LIMIT_CLASSES } from '../api/tokenpolicy-v1alpha1.ts'
import { OUTAGE_MODES, type OutagePolicy } from '../governance/outage.ts'
import type { Counters } from '../governance/counters.ts'
import { MemoryCounters } from '../governance/counters-memory.ts'
import { openStore } from '../store/index.ts'
import { RedisCounters } from '../store/redis/counters.ts'
import { redactUrl } from '../common/redact.ts'
import type { Store } from '../store/types.ts'

export const DEFAULT_GATEWAY_PORT = 7481

/** How often the configuration file is checked for changes (ms). */
const CONFIG_POLL_MS = 250
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const GATEWAY_HELP = `
Where the Models, Agents and TokenPolicies (gpuplane.io/v1alpha1) come from — one is required:
  --config FILE: YAML or JSON documents of those kinds; other kinds are ignored. The file is
    watched: a change (an agent disabled, a key hash removed) applies within a second; a file
    that does not decode is refused and the last good one kept.
  --db FILE | --postgres URL: the store of "gpuplane server" (objects made with "gpuplane apply"
    or the API). Its changes are read every 200 ms, so a change made through any server applies
    within a second on every gateway replica. Usage is recorded in the store's ledger.
  Both: the objects come from the file only, and the store keeps the ledger.
Agents list key hashes only: make a key with "gpuplane key create".

Counters: in this process by default (one replica); --redis URL shares them between replicas.
While Redis is unreachable, --outage says per limit class what to do: fail-closed (503; the
default for tokens and cost) or local (each replica enforces 1/--replicas of the limit on its own
counters; the default for requests), e.g. --outage requests=local,tokens=fail-closed. A gateway
started while Redis is unreachable starts so, degraded, and catches up when Redis answers.
Replicas for scale-out: the same --postgres URL and --redis URL on each.

Clients call it as an OpenAI API: base URL http://HOST:PORT/v1, the agent key as API key:
  POST /v1/chat/completions, /v1/completions, /v1/embeddings; GET /v1/models.

Examples:
  gpuplane gateway --config gateway.yaml --port 7481
  gpuplane gateway --postgres postgres://postgres@127.0.0.1/gpuplane --redis redis://127.0.0.1:6379
`

interface GatewayCommandOptions {
  config?: string
  db?: string
  postgres?: string
  port: string
  host: string
  redis?: string
  logLevel: string
  bodyLimit: string
  outage?: string
  replicas: string
}

/** The options `gpuplane gateway` and `gpuplane server` share for Redis outages. */
export function addOutageOptions(command: Command): Command {
  return command
    .option('--outage <CLASS=MODE,...>', `per limit class (${LIMIT_CLASSES.join(', ')}), what to do while Redis is unreachable: ${OUTAGE_MODES.join(' or ')}`)
    .option('--replicas <N>', 'gateway replicas sharing the limits (the local outage mode enforces 1/N of each)', '1')
}

/** `tokens=fail-closed,requests=local` as an OutagePolicy; INVALID_INPUT naming what is wrong. */
export function parseOutage(value: string | undefined): OutagePolicy | undefined {
  if (value === undefined) return undefined
  const policy: Record<string, string> = {}
  for (const part of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [cls, mode, ...rest] = part.split('=')
    if (!(LIMIT_CLASSES as readonly string[]).includes(cls) || !(OUTAGE_MODES as readonly string[]).includes(mode) || rest.length > 0) {
      throw new GpuplaneError('INVALID_INPUT', `--outage "${part}" is not CLASS=MODE with CLASS one of ${LIMIT_CLASSES.join(', ')} and MODE ${OUTAGE_MODES.join(' or ')} (e.g. requests=local)`)
    }
    policy[cls] = mode
  }
  return policy as OutagePolicy
}

export function registerGateway(program: Command, err: (s: string) => void): void {
  const command = program
    .command('gateway')
    .description('serves the OpenAI-compatible gateway: approved models, agent keys, token caps')
    .option('--config <FILE>', 'YAML/JSON file with the Models, Agents and TokenPolicies')
    .addOption(new Option('--db <FILE>', 'SQLite store of gpuplane server: the objects (without --config) and the ledger').conflicts('postgres'))
    .option('--postgres <URL>', 'PostgreSQL store of gpuplane server: the objects (without --config) and the ledger')
    .option('--port <N>', 'TCP port (0: any free port)', String(DEFAULT_GATEWAY_PORT))
    .option('--host <ADDRESS>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .option('--redis <URL>', 'Redis URL for counters shared by several replicas (default: in this process)')
    .addOption(new Option('--log-level <LEVEL>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--body-limit <BYTES>', 'largest request body accepted', String(DEFAULT_GATEWAY_BODY_LIMIT))
  addOutageOptions(command)
    .addHelpText('after', GATEWAY_HELP)
    .action((opts: GatewayCommandOptions) => runGateway(opts, err))
}

/** A gateway listening, with what it holds open. */
export interface RunningGateway {
  /** `http://host:port` (without /v1). */
  url: string
  /** Stops accepting, finishes requests in flight, stops following the objects, closes the counters. */
  close(): Promise<void>
}

export interface StartGatewayOptions {
  /** The governance objects now (read per request). */
  registry: () => GovernanceRegistry
  /** The store whose ledger records usage; none: no ledger. */
  store?: Store
  redis?: string
  port: number
  host: string
  bodyLimit?: number
  logger: FastifyBaseLogger
  /** Per limit class, what to do while Redis is unavailable (buildGateway's default when absent). */
  outage?: OutagePolicy
  /** Gateway replicas sharing the limits (the `local` outage mode enforces 1/replicas of each). */
  replicas?: number
  /** Called at close, after the app (e.g. stops a StoreRegistry). */
  onClose?: () => Promise<void>
}

/**
 * Builds the gateway on its counters and listens; UNAVAILABLE when the port is taken. A Redis that
 * cannot be reached at start is an outage like any other: the gateway starts degraded (the outage
 * policy decides, one log line) and rebuilds the counters when Redis answers.
 */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const counters: Counters =
    options.redis !== undefined
      ? await RedisCounters.connect(options.redis, { requireConnection: false, onError: (e) => options.logger.debug({ err: e }, 'Redis connection error') })
      : new MemoryCounters(Date.now)
  if (counters instanceof RedisCounters && !counters.connected) options.logger.warn(`Redis at ${redactUrl(options.redis!)} cannot be reached: starting degraded, the outage policy decides until it answers`)
  const app = buildGateway({ registry: options.registry, counters, bodyLimit: options.bodyLimit, logger: options.logger, ledger: options.store, outage: options.outage, replicas: options.replicas })
  let url: string
  try {
    url = await app.listen({ port: options.port, host: options.host })
  } catch (e) {
    await app.close().catch(() => {})
    await counters.close()
    await options.onClose?.()
    throw new GpuplaneError('UNAVAILABLE', `the gateway cannot listen on ${options.host}:${options.port} (${(e as Error).message}); pick another port or host`)
  }
  let closing: Promise<void> | undefined
  return {
    url,
    close() {
      closing ??= (async () => {
        await app.close()
        await options.onClose?.()
        await counters.close()
      })()
      return closing
    },
  }
}

/** The gateway of the objects in `store`, following its changes (`wait`: when to read them again; default every 200 ms). */
export async function startStoreGateway(options: Omit<StartGatewayOptions, 'registry' | 'onClose'> & { store: Store; wait?: () => Promise<void> }): Promise<RunningGateway> {
  const registry = await StoreRegistry.start(options.store, { wait: options.wait, onError: (e) => options.logger.warn({ err: e }, 'reading the governance objects failed; the last ones read stay in force') })
  return startGateway({ ...options, registry: () => registry.current(), onClose: () => registry.stop() })
}

/** Runs until SIGTERM or SIGINT, then closes the app (finishing requests in flight), the counters and the store. */
async function runGateway(opts: GatewayCommandOptions, err: (s: string) => void): Promise<void> {
  const port = wholeNumber(opts.port, '--port', 0, 65535)
  const bodyLimit = wholeNumber(opts.bodyLimit, '--body-limit', 1, Number.MAX_SAFE_INTEGER)
  const outage = { outage: parseOutage(opts.outage), replicas: wholeNumber(opts.replicas, '--replicas', 1, 10_000) }
  if (opts.config === undefined && opts.db === undefined && opts.postgres === undefined) {
    throw new GpuplaneError('INVALID_INPUT', 'name where the Models, Agents and TokenPolicies are: --config FILE, or the store of gpuplane server with --db FILE or --postgres URL')
  }
  const logger = pino({ level: opts.logLevel })
  const store = opts.postgres !== undefined ? await openStore({ postgres: opts.postgres }) : opts.db !== undefined ? await openStore({ sqlite: opts.db }) : undefined
  let gateway: RunningGateway
  let source: string
  try {
    if (opts.config !== undefined) {
      const file = watchConfig(opts.config, err)
      gateway = await startGateway({ registry: file.current, store, redis: opts.redis, port, host: opts.host, bodyLimit, logger, ...outage, onClose: async () => unwatchFile(file.path) })
      source = opts.config
    } else {
      gateway = await startStoreGateway({ store: store!, redis: opts.redis, port, host: opts.host, bodyLimit, logger, ...outage })
      source = opts.postgres !== undefined ? 'PostgreSQL' : `SQLite ${opts.db}`
    }
  } catch (e) {
    await store?.close().catch(() => {})
    throw e
  }
  err(`gpuplane gateway listening on ${gateway.url}/v1 (objects: ${source}; counters: ${opts.redis !== undefined ? 'Redis' : 'in memory'}; ledger: ${store ? 'the store' : 'none'})\n`)
  await new Promise<void>((resolve, reject) => {
    const onSignal = (signal: NodeJS.Signals) => {
      err(`${signal}: shutting down (finishing requests in flight)\n`)
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      gateway.close().then(() => store?.close()).then(() => resolve(), reject)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
  err('gpuplane gateway stopped\n')
}

/**
 * Reads the configuration file and polls it: a disabled agent or a removed key hash is refused
 * within a second of the change; a file that no longer reads or decodes keeps the last good one.
 */
function watchConfig(path: string, err: (s: string) => void): { path: string; current: () => GovernanceRegistry } {
  let registry = loadGatewayConfig(readConfig(path), path)
  for (const problem of registry.problems) err(`warning: ${problem}\n`)
  watchFile(path, { interval: CONFIG_POLL_MS, persistent: false }, () => {
    try {
      registry = loadGatewayConfig(readConfig(path), path)
      err(`reloaded ${path} (${registry.models.size} models, ${registry.agentsByKeyHash.size} agent keys)\n`)
      for (const problem of registry.problems) err(`warning: ${problem}\n`)
    } catch (e) {
      if (!(e instanceof GpuplaneError)) throw e
      err(`error: ${path} not reloaded, keeping the previous configuration: ${e.describe()}\n`)
    }
  })
  return { path, current: () => registry }
}

function readConfig(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    throw new GpuplaneError('INVALID_INPUT', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); pass an existing YAML/JSON file with --config`, { file })
  }
}

function wholeNumber(value: string, name: string, min: number, max: number): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new GpuplaneError('INVALID_INPUT', `${name} must be a whole number from ${min} to ${max}, got "${value}"`)
  return n
}
