// `gpuplane get KIND [NAME]`: objects from the server as a kubectl-style table, YAML, JSON (a `kind: List`), names, and their changes with --watch.
import { Option, type Command } from 'commander'
import { stringify } from 'yaml'
import { GpuplaneError } from '../common/errors.ts'
import type { StoredObject } from '../store/types.ts'
import { connect, withConnection, type ApiClient } from './client.ts'
import { needsClaims, tableOf, workloadClaimKeys, type RowContext } from './columns.ts'
import { DEFAULT_NAMESPACE, KINDS, qualifiedName, resolveKind, shortNames, type KindInfo } from './kinds.ts'
import { columnWidths, formatRow, formatTable } from './table.ts'
import { runGetIdle } from './report.ts'

export type GetOutput = 'table' | 'wide' | 'yaml' | 'json' | 'name'

/** Spaces between table columns, as kubectl prints them. */
export const COLUMN_GAP = 3

const GET_HELP = `
Kinds (plural, singular, Kind name or short name; also <plural>.<group>):
${formatTable(['KIND', 'SCOPE', 'ALSO'], KINDS.map((k) => [k.plural, k.namespaced ? 'namespaced' : 'cluster-scoped', [k.kind.toLowerCase(), ...shortNames(k)].join(', ')]), COLUMN_GAP).trimEnd().replace(/^/gm, '  ')}

Namespaces:
  Namespaced kinds are read from -n NS (default "${DEFAULT_NAMESPACE}"), or from every namespace with -A
  (then the table starts with a NAMESPACE column). A namespace token sees its own namespace only.

Output:
  (default)  a table, columns aligned as kubectl aligns them; workloads show
             NAME PRIORITY PHASE NODE GPUS AGE REASON (GPUS: devices held, or asked for while pending)
  -o wide    the table with more columns (workloads: DEVICES; claims: DEVICES; nodes: HOST CPU MEMORY)
  -o yaml    the object, or a "kind: List" with the objects in items
  -o json    the same as JSON ("kind": "List", "items": [...]) for a list
  -o name    <kind>.<group>/<name>, one a line
  --watch    after the list, one line (or document) per change until interrupted (Ctrl-C)

Idle allocations (not a kind): "gpuplane get idle [-n NS | -A] [-o yaml|json]" lists the workloads
of namespaces with an idle policy (Namespace spec.idle) and whether each is busy, idle since when,
or unknown (no recent samples), with the time its devices will be reclaimed where the policy says so.

Examples:
  gpuplane get workloads -A
  gpuplane get wl train-1 -n research -o yaml
  gpuplane get nodes -l gpuplane.io/gpu-model=H100-80GB -o name
  gpuplane get workloads -n research --watch
`

interface GetOptions {
  namespace?: string
  allNamespaces?: boolean
  selector?: string
  output: GetOutput
  watch?: boolean
  server?: string
  token?: string
}

export function registerGet(program: Command, out: (s: string) => void, err: (s: string) => void): void {
  const command = program
    .command('get')
    .description('lists objects of a kind on the server, or shows one')
    .argument('<KIND>', 'the kind: workloads, nodes, resourceslices, resourceclaims, namespaces, ... (see below)')
    .argument('[NAME]', 'one object by name')
    .option('-n, --namespace <NS>', `the namespace of namespaced kinds (default "${DEFAULT_NAMESPACE}")`)
    .option('-A, --all-namespaces', 'every namespace')
    .option('-l, --selector <SELECTOR>', 'label selector, e.g. "team=a,tier in (gold,silver),!legacy"')
    .addOption(new Option('-o, --output <FORMAT>', 'output format').choices(['table', 'wide', 'yaml', 'json', 'name']).default('table'))
    .option('-w, --watch', 'keep printing changes after the list')
    .addHelpText('after', GET_HELP)
  withConnection(command).action(async (kind: string, name: string | undefined, opts: GetOptions) => {
    // Not a kind: idle allocations, computed by the server (src/cli/report.ts).
    if (kind === 'idle') return runGetIdle(opts, out, err)
    const info = resolveKind(kind)
    if (opts.allNamespaces && opts.namespace !== undefined) throw new GpuplaneError('INVALID_INPUT', 'give either -n NS or -A, not both')
    if (opts.allNamespaces && name !== undefined) throw new GpuplaneError('INVALID_INPUT', 'an object is read by name from one namespace: use -n NS instead of -A')
    const client = connect(opts)
    const scope = { info, namespace: info.namespaced && !opts.allNamespaces ? (opts.namespace ?? DEFAULT_NAMESPACE) : undefined, allNamespaces: info.namespaced && !!opts.allNamespaces }
    let objects: StoredObject[]
    let resourceVersion: string
    if (name !== undefined) {
      const object = await client.get(info, scope.namespace, name)
      objects = [object]
      resourceVersion = object.metadata.resourceVersion
    } else {
      const list = await client.list(info, { namespace: scope.namespace, labelSelector: opts.selector })
      objects = sortObjects(list.items)
      resourceVersion = list.metadata.resourceVersion
    }
    const printer = new Printer(client, scope, opts.output, out)
    // An empty list is said on stderr (as kubectl does); json and yaml print the empty List.
    if (name === undefined && objects.length === 0 && !opts.watch && opts.output !== 'json' && opts.output !== 'yaml') {
      err(`No resources found${scope.namespace !== undefined ? ` in ${scope.namespace} namespace` : ''}.\n`)
      return
    }
    await printer.initial(objects, name === undefined, resourceVersion)
    if (!opts.watch) return
    for await (const event of client.watch(info, { namespace: scope.namespace, labelSelector: opts.selector, resourceVersion })) {
      if (name !== undefined && event.object.metadata.name !== name) continue
      await printer.change(event.object, event.type)
    }
  })
}

/** Prints the first answer and then, for --watch, each changed object in the same format. */
class Printer {
  private widths: number[] = []

  constructor(
    private readonly client: ApiClient,
    private readonly scope: { info: KindInfo; namespace?: string; allNamespaces: boolean },
    private readonly output: GetOutput,
    private readonly out: (s: string) => void,
  ) {}

  async initial(objects: StoredObject[], asList: boolean, resourceVersion: string): Promise<void> {
    if (this.output === 'json' || this.output === 'yaml') {
      this.out(render(asList ? listObject(objects, resourceVersion) : objects[0], this.output))
      return
    }
    if (this.output === 'name') {
      for (const o of objects) this.out(`${qualifiedName(this.scope.info)}/${o.metadata.name}\n`)
      return
    }
    const { header, rows } = tableOf(this.scope.info, objects, { wide: this.output === 'wide', allNamespaces: this.scope.allNamespaces, ctx: await claimContext(this.client, objects, this.scope) })
    this.widths = columnWidths(header, rows)
    this.out(formatTable(header, rows, COLUMN_GAP))
  }

  async change(object: StoredObject, type: string): Promise<void> {
    if (this.output === 'json') this.out(JSON.stringify(object, null, 2) + '\n')
    else if (this.output === 'yaml') this.out(`---\n${stringify(object, { lineWidth: 0 })}`)
    else if (this.output === 'name') this.out(`${qualifiedName(this.scope.info)}/${object.metadata.name}\n`)
    else {
      const { header, rows } = tableOf(this.scope.info, [object], { wide: this.output === 'wide', allNamespaces: this.scope.allNamespaces, ctx: await claimContext(this.client, [object], this.scope) })
      if (this.widths.length === 0) {
        this.widths = columnWidths(header, rows)
        this.out(formatRow(header, this.widths, COLUMN_GAP) + '\n')
      }
      // A deleted object's last row, as kubectl --watch prints it; the phase column says nothing of the deletion.
      const row = type === 'DELETED' ? rows[0].map((c, i) => (header[i] === 'PHASE' ? 'Deleted' : c)) : rows[0]
      this.out(formatRow(row, this.widths, COLUMN_GAP) + '\n')
    }
  }
}

/** The claims the workload columns read (none for other kinds, or when every workload's status lists its allocations). */
async function claimContext(client: ApiClient, objects: readonly StoredObject[], scope: { info: KindInfo; namespace?: string }): Promise<RowContext> {
  const ctx = { claims: new Map<string, StoredObject>(), now: Date.now() }
  if (!needsClaims(scope.info)) return ctx
  const lacking = objects.filter((o) => {
    const s = (o.status ?? {}) as { nodeName?: unknown; allocations?: unknown }
    return typeof s.nodeName === 'string' && s.nodeName !== '' && !Array.isArray(s.allocations)
  })
  if (lacking.length === 0) return ctx
  const claimsKind = resolveKind('resourceclaims')
  if (lacking.length === 1) {
    for (const key of workloadClaimKeys(lacking[0])) {
      const [ns, name] = splitKey(key)
      const claim = await client.find(claimsKind, ns, name)
      if (claim) ctx.claims.set(key, claim)
    }
    return ctx
  }
  const list = await client.list(claimsKind, { namespace: scope.namespace })
  for (const c of list.items) ctx.claims.set(`${c.metadata.namespace ?? ''}/${c.metadata.name}`, c)
  return ctx
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/')
  return [key.slice(0, slash), key.slice(slash + 1)]
}

/** By namespace, then name: the order kubectl lists in. */
export function sortObjects(objects: StoredObject[]): StoredObject[] {
  return [...objects].sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name))
}

/** The `kind: List` that `-o json|yaml` prints for several objects (as `kubectl get -o json` does). */
export function listObject(items: StoredObject[], resourceVersion: string): { apiVersion: string; kind: 'List'; metadata: { resourceVersion: string }; items: StoredObject[] } {
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion }, items }
}

/** JSON (2-space indented) or YAML text of a value. */
export function render(value: unknown, output: 'json' | 'yaml'): string {
  return output === 'json' ? JSON.stringify(value, null, 2) + '\n' : stringify(value, { lineWidth: 0 })
}
