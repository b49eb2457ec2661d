// `gpuplane token create|list|delete`: namespace tokens on the server (admin only); and `gpuplane audit`: the audit log.
import { Option, type Command } from 'commander'
import { GpuplaneError } from '../common/errors.ts'
import { connect, withConnection, type TokenInfo } from './client.ts'
import { COLUMN_GAP } from './get.ts'
import { resolveKind } from './kinds.ts'
import { formatAge, formatTable } from './table.ts'

const TOKEN_HELP = `
Tokens let a team use the server for its namespace only: a namespace token sees and changes the
namespaced objects of its namespace (workloads, claims), reads the cluster-scoped ones (nodes,
slices, classes) and nothing else. Only the admin token can create, list and delete tokens.

  gpuplane token create --namespace research --description "CI of team research"
  gpuplane token list
  gpuplane token delete <ID>

"token create" prints the token on stdout and nothing else (so that TOKEN=$(gpuplane token
create ...) works); the server keeps only its hash, so store it at once: it is never shown again.
`

const AUDIT_HELP = `
Every write to the server (and every refused one, and token creation) is in the audit log: who
(admin or namespace:<ns>), what, when, and the result. The admin sees all of it, a namespace
token its namespace's entries.

Examples:
  gpuplane audit -n research --kind workloads --limit 20
  gpuplane audit --actor namespace:research -o json
`

export function registerToken(program: Command, out: (s: string) => void, err: (s: string) => void): void {
  const token = program.command('token').description('creates, lists and deletes namespace tokens (admin only)').addHelpText('after', TOKEN_HELP)
  withConnection(
    token
      .command('create')
      .description('creates a token bound to a namespace and prints it once')
      .requiredOption('--namespace <NS>', 'the namespace the token may use')
      .option('--description <TEXT>', 'what the token is for (shown by token list)'),
  ).action(async (opts: { namespace: string; description?: string; server?: string; token?: string }) => {
    const created = await connect(opts).createToken(opts.namespace, opts.description)
    out(`${created.token}\n`)
    err(`created token ${created.id} for namespace ${created.namespace}. Store it now: the server keeps only its hash and cannot show it again. Use it with --token, GPUPLANE_TOKEN or "gpuplane login".\n`)
  })
  withConnection(
    token
      .command('list')
      .description('lists the tokens (never their secrets)')
      .addOption(new Option('-o, --output <FORMAT>', 'output format').choices(['table', 'json']).default('table')),
  ).action(async (opts: { output: 'table' | 'json'; server?: string; token?: string }) => {
    const tokens = await connect(opts).listTokens()
    if (opts.output === 'json') out(JSON.stringify({ items: tokens }, null, 2) + '\n')
    else out(formatTable(['ID', 'NAMESPACE', 'DESCRIPTION', 'AGE'], tokens.map((t) => [t.id, scopeOf(t), t.description ?? '', formatAge(t.createdAt)]), COLUMN_GAP))
  })
  withConnection(token.command('delete').description('deletes a token: requests with it fail from now on').argument('<ID>', 'the token id (token list shows them)')).action(async (id: string, opts: { server?: string; token?: string }) => {
    await connect(opts).deleteToken(id)
    out(`token ${id} deleted\n`)
  })
}

export function registerAudit(program: Command, out: (s: string) => void): void {
  const command = program
    .command('audit')
    .description('shows the audit log: who did what, when, with which result')
    .option('-n, --namespace <NS>', 'entries about this namespace only')
    .option('--kind <KIND>', 'entries about this kind only (any name "get" accepts)')
    .option('--actor <ACTOR>', 'entries of this actor only: admin or namespace:<ns>')
    .option('--after <ID>', 'entries after this id (to page on)')
    .option('--limit <N>', 'at most N entries', '100')
    .addOption(new Option('-o, --output <FORMAT>', 'output format').choices(['table', 'json']).default('table'))
    .addHelpText('after', AUDIT_HELP)
  withConnection(command).action(async (opts: { namespace?: string; kind?: string; actor?: string; after?: string; limit: string; output: 'table' | 'json'; server?: string; token?: string }) => {
    const limit = positiveInt(opts.limit, '--limit')
    const after = opts.after === undefined ? undefined : positiveInt(opts.after, '--after')
    const entries = await connect(opts).audit({ namespace: opts.namespace, kind: opts.kind === undefined ? undefined : resolveKind(opts.kind).kind, actor: opts.actor, after, limit })
    if (opts.output === 'json') {
      out(JSON.stringify({ items: entries }, null, 2) + '\n')
      return
    }
    const rows = entries.map((e) => [String(e.id ?? ''), e.time, e.actor, e.action, e.kind ?? '', e.namespace ?? '', e.name ?? '', e.result, e.detail ?? ''])
    out(formatTable(['ID', 'TIME', 'ACTOR', 'ACTION', 'KIND', 'NAMESPACE', 'NAME', 'RESULT', 'DETAIL'], rows, COLUMN_GAP))
  })
}

function scopeOf(t: TokenInfo): string {
  return t.admin ? '<admin>' : (t.namespace ?? '')
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new GpuplaneError('INVALID_INPUT', `${flag} must be a whole number, not "${value}"`, { path: flag })
  return n
}
