// `gpuplane gateway`: serves the OpenAI-compatible gateway for the Models, Agents and TokenPolicies of a configuration file, on in-memory or Redis counters.
import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { Option, type Command } from 'commander'
import pino from 'pino'
import { GpuplaneError } from '../common/errors.ts'
import { buildGateway, DEFAULT_GATEWAY_BODY_LIMIT } from '../gateway/app.ts'
import { loadGatewayConfig } from '../gateway/config.ts'
import type { Counters } from '../governance/counters.ts'
import { MemoryCounters } from '../governance/counters-memory.ts'
import { RedisCounters } from '../store/redis/counters.ts'

export const DEFAULT_GATEWAY_PORT = 7481

/** How often the configuration file is checked for changes (ms). */
const CONFIG_POLL_MS = 250
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const GATEWAY_HELP = `
Configuration (--config FILE): YAML or JSON documents of kind Model, Agent and TokenPolicy
(gpuplane.io/v1alpha1); other kinds are ignored. Agents list key hashes only: make a key with
"gpuplane key create". The file is watched: a change (an agent disabled, a key hash removed)
applies within a second; a file that does not decode is refused and the last good one kept.

Counters: in this process by default (one replica); --redis URL shares them between replicas.

Clients call it as an OpenAI API: base URL http://HOST:PORT/v1, the agent key as API key:
  POST /v1/chat/completions, /v1/completions, /v1/embeddings; GET /v1/models.

Example:
  gpuplane gateway --config gateway.yaml --port 7481
`

interface GatewayCommandOptions {
  config: string
  port: string
  host: string
  redis?: string
  logLevel: string
  bodyLimit: string
}

export function registerGateway(program: Command, err: (s: string) => void): void {
  program
    .command('gateway')
    .description('serves the OpenAI-compatible gateway: approved models, agent keys, token caps')
    .requiredOption('--config <FILE>', 'YAML/JSON file with the Models, Agents and TokenPolicies')
    .option('--port <N>', 'TCP port (0: any free port)', String(DEFAULT_GATEWAY_PORT))
    .option('--host <ADDRESS>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .option('--redis <URL>', 'Redis URL for counters shared by several replicas (default: in this process)')
    .addOption(new Option('--log-level <LEVEL>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--body-limit <BYTES>', 'largest request body accepted', String(DEFAULT_GATEWAY_BODY_LIMIT))
    .addHelpText('after', GATEWAY_HELP)
    .action((opts: GatewayCommandOptions) => runGateway(opts, err))
}

/** Runs until SIGTERM or SIGINT, then closes the app (finishing requests in flight) and the counters. */
async function runGateway(opts: GatewayCommandOptions, err: (s: string) => void): Promise<void> {
  const port = wholeNumber(opts.port, '--port', 0, 65535)
  const bodyLimit = wholeNumber(opts.bodyLimit, '--body-limit', 1, Number.MAX_SAFE_INTEGER)
  let registry = loadGatewayConfig(readConfig(opts.config), opts.config)
  for (const problem of registry.problems) err(`warning: ${problem}\n`)
  // The file is polled: a disabled agent or a removed key hash is refused within a second of
  // the change; a file that no longer reads or decodes keeps the last good configuration.
  watchFile(opts.config, { interval: CONFIG_POLL_MS, persistent: false }, () => {
    try {
      registry = loadGatewayConfig(readConfig(opts.config), opts.config)
      err(`reloaded ${opts.config} (${registry.models.size} models, ${registry.agentsByKeyHash.size} agent keys)\n`)
      for (const problem of registry.problems) err(`warning: ${problem}\n`)
    } catch (e) {
      if (!(e instanceof GpuplaneError)) throw e
      err(`error: ${opts.config} not reloaded, keeping the previous configuration: ${e.describe()}\n`)
    }
  })
  const counters: Counters = opts.redis !== undefined ? await RedisCounters.connect(opts.redis) : new MemoryCounters(Date.now)
  const app = buildGateway({ registry: () => registry, counters, bodyLimit, logger: pino({ level: opts.logLevel }) })
  let url: string
  try {
    url = await app.listen({ port, host: opts.host })
  } catch (e) {
    await counters.close()
    throw new GpuplaneError('UNAVAILABLE', `cannot listen on ${opts.host}:${port} (${(e as Error).message}); pick another --port or --host`)
  }
  err(`gpuplane gateway listening on ${url}/v1 (${registry.models.size} models, ${registry.agentsByKeyHash.size} agent keys; counters: ${opts.redis !== undefined ? 'Redis' : 'in memory'})\n`)
  await new Promise<void>((resolve, reject) => {
    const onSignal = (signal: NodeJS.Signals) => {
      err(`${signal}: shutting down (finishing requests in flight)\n`)
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      unwatchFile(opts.config)
      app.close().then(() => counters.close()).then(resolve, reject)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
  err('gpuplane gateway stopped\n')
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
