// The CLI's connection settings: the config file (`$XDG_CONFIG_HOME/gpuplane/config.yaml`), GPUPLANE_SERVER/GPUPLANE_TOKEN, flags; and `gpuplane login`, which writes the file.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Command } from 'commander'
import { parse, stringify } from 'yaml'
import { GpuplaneError } from '../common/errors.ts'

/** Where `gpuplane server` listens by default. */
export const DEFAULT_SERVER = 'http://127.0.0.1:7480'

/** What the config file holds. */
export interface CliConfig {
  server?: string
  token?: string
}

/** The server and token a command uses, and where each came from (for messages). */
export interface Connection {
  server: string
  token?: string
  serverFrom: 'flag' | 'env' | 'config' | 'default'
  tokenFrom?: 'flag' | 'env' | 'config'
}

/** Flags and environment variables that take precedence over the config file, in --help texts. */
export const CONNECTION_HELP = `
Connection (the first that is set wins):
  server: --server URL, then GPUPLANE_SERVER, then "server" in the config file, then ${DEFAULT_SERVER}
  token:  --token T, then GPUPLANE_TOKEN, then "token" in the config file
  The config file is $XDG_CONFIG_HOME/gpuplane/config.yaml (~/.config/gpuplane/config.yaml when
  XDG_CONFIG_HOME is not set); "gpuplane login --server URL --token T" writes it.
`

/** `$XDG_CONFIG_HOME/gpuplane/config.yaml`, or `~/.config/gpuplane/config.yaml`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config')
  return join(base, 'gpuplane', 'config.yaml')
}

/** The config file's settings; none when it does not exist. INVALID_INPUT naming the file when it is not a mapping of strings. */
export function readConfig(path: string): CliConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new GpuplaneError('INVALID_INPUT', `cannot read the config file: ${(e as Error).message}`, { file: path })
  }
  let value: unknown
  try {
    value = parse(text)
  } catch (e) {
    throw new GpuplaneError('INVALID_INPUT', `not valid YAML: ${(e as Error).message.split('\n')[0]}; fix it or write it again with gpuplane login`, { file: path })
  }
  if (value === null || value === undefined) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw new GpuplaneError('INVALID_INPUT', 'the config file must be a mapping with "server" and "token"; write it again with gpuplane login', { file: path })
  const config: CliConfig = {}
  for (const key of ['server', 'token'] as const) {
    const v = (value as Record<string, unknown>)[key]
    if (v === undefined || v === null) continue
    if (typeof v !== 'string') throw new GpuplaneError('INVALID_INPUT', `"${key}" must be a string`, { file: path, path: key })
    config[key] = v
  }
  return config
}

/** Writes the config file readable by its owner only (mode 0600), creating its folder. */
export function writeConfig(path: string, config: CliConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  writeFileSync(path, stringify(config), { mode: 0o600 })
  // writeFileSync's mode applies only when it creates the file.
  chmodSync(path, 0o600)
}

/** The server URL and token from flags, then environment, then config file, then the default server. */
export function resolveConnection(flags: { server?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Connection {
  const config = readConfig(configPath(env))
  const pick = <T extends string>(...candidates: Array<[string | undefined, T]>): [string, T] | undefined => candidates.find(([v]) => v !== undefined && v !== '') as [string, T] | undefined
  const server = pick([flags.server, 'flag' as const], [env.GPUPLANE_SERVER, 'env' as const], [config.server, 'config' as const]) ?? [DEFAULT_SERVER, 'default' as const]
  const token = pick([flags.token, 'flag' as const], [env.GPUPLANE_TOKEN, 'env' as const], [config.token, 'config' as const])
  return { server: normalizeServer(server[0]), serverFrom: server[1], ...(token ? { token: token[0], tokenFrom: token[1] } : {}) }
}

/** The URL without trailing slashes; INVALID_INPUT unless it is http(s). */
export function normalizeServer(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new GpuplaneError('INVALID_INPUT', `server "${url}" is not a URL; write it as ${DEFAULT_SERVER}`, { path: 'server' })
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new GpuplaneError('INVALID_INPUT', `server "${url}" must be an http:// or https:// URL`, { path: 'server' })
  return url.replace(/\/+$/, '')
}

export function registerLogin(program: Command, out: (s: string) => void): void {
  program
    .command('login')
    .description('saves the server URL and token in the config file that the server verbs read')
    .requiredOption('--server <URL>', `the gpuplane server, e.g. ${DEFAULT_SERVER}`)
    .requiredOption('--token <TOKEN>', 'the admin token or a namespace token (gpuplane token create)')
    .addHelpText('after', CONNECTION_HELP)
    .action((opts: { server: string; token: string }) => {
      const path = configPath()
      writeConfig(path, { server: normalizeServer(opts.server), token: opts.token })
      out(`saved server ${normalizeServer(opts.server)} and its token in ${path} (readable by you only)\n`)
    })
}
