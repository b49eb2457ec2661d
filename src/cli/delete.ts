// `gpuplane delete KIND NAME... [-n NS]` and `gpuplane delete -f PATH...`: deletes objects on the server.
import type { Command } from 'commander'
import { GpuplaneError } from '../common/errors.ts'
import { locatedError, readFileObjects } from './apply.ts'
import { connect, RemoteError, withConnection, type ApiClient } from './client.ts'
import { DEFAULT_NAMESPACE, qualifiedName, resolveKind, type KindInfo } from './kinds.ts'

const DELETE_HELP = `
Either KIND and one or more NAMEs (KIND as "gpuplane get --help" lists them), or -f with the
files whose objects to delete (the same files "apply -f" reads). Deleting a Workload releases
its devices: the claims made for it are deleted, and claims it referenced are deallocated.

Output: one line per object, <kind>.<group> "<name>" deleted. An object that is not there is an
error (exit 3) unless --ignore-not-found; other objects are still deleted.

Examples:
  gpuplane delete workload train-1 -n research
  gpuplane delete -f examples/workloads-demo.yaml
`

interface Target {
  info: KindInfo
  namespace?: string
  name: string
  located: (e: unknown) => unknown
}

export function registerDelete(program: Command, out: (s: string) => void, err: (s: string) => void): void {
  const command = program
    .command('delete')
    .description('deletes objects on the server, by kind and name or as named in files')
    .argument('[KIND]', 'the kind (workloads, resourceclaims, ...)')
    .argument('[NAME...]', 'the objects to delete')
    .option('-f, --filename <PATH...>', 'delete the objects these files declare')
    .option('-n, --namespace <NS>', `the namespace of namespaced objects (default "${DEFAULT_NAMESPACE}")`)
    .option('--ignore-not-found', 'an object that is not there is not an error')
    .addHelpText('after', DELETE_HELP)
  withConnection(command).action(async (kind: string | undefined, names: string[], opts: { filename?: string[]; namespace?: string; ignoreNotFound?: boolean; server?: string; token?: string }) => {
    const targets = resolveTargets(kind, names, opts)
    const client = connect(opts)
    let exitCode = 0
    for (const t of targets) {
      try {
        if (await deleteOne(client, t, !!opts.ignoreNotFound)) out(`${qualifiedName(t.info)} "${t.name}" deleted\n`)
      } catch (e) {
        // The server is down: every other object would fail the same way.
        if (e instanceof GpuplaneError && e.code === 'UNAVAILABLE' && !(e instanceof RemoteError)) throw e
        const located = t.located(e)
        if (!(located instanceof GpuplaneError)) throw located
        err(`error: ${located.describe()}\n`)
        if (exitCode === 0) exitCode = located.exitCode
      }
    }
    program.setOptionValue('exitCode', exitCode)
  })
}

function resolveTargets(kind: string | undefined, names: string[], opts: { filename?: string[]; namespace?: string }): Target[] {
  if (opts.filename !== undefined) {
    if (kind !== undefined) throw new GpuplaneError('INVALID_INPUT', 'give either KIND NAME... or -f PATH, not both')
    return readFileObjects(opts.filename, opts.namespace).map((o) => ({ info: o.info, namespace: o.namespace, name: o.name, located: (e: unknown) => locatedError(e, o.location) }))
  }
  if (kind === undefined || names.length === 0) throw new GpuplaneError('INVALID_INPUT', 'name what to delete: KIND NAME... (e.g. delete workload train-1) or -f PATH')
  const info = resolveKind(kind)
  return names.map((name) => ({ info, namespace: info.namespaced ? (opts.namespace ?? DEFAULT_NAMESPACE) : undefined, name, located: (e: unknown) => e }))
}

/** Deletes one object; false when it was not there and that is allowed. */
async function deleteOne(client: ApiClient, t: Target, ignoreNotFound: boolean): Promise<boolean> {
  try {
    await client.delete(t.info, t.namespace, t.name)
    return true
  } catch (e) {
    if (ignoreNotFound && e instanceof RemoteError && e.code === 'NOT_FOUND') return false
    throw e
  }
}
