// `gpuplane apply -f PATH...`: creates each object of the files on the server, or replaces the one there (conditionally, at the resourceVersion read; a conflict is retried once).
import type { Command } from 'commander'
import { toPlain } from '../api/decode.ts'
import { fieldLocation } from '../api/decode-kind.ts'
import { GpuplaneError, type ErrorLocation } from '../common/errors.ts'
import type { StoredObject } from '../store/types.ts'
import { selectorCheck } from '../cel/index.ts'
import { connect, RemoteError, withConnection, type ApiClient } from './client.ts'
import { DEFAULT_NAMESPACE, kindOfObject, qualifiedName, type KindInfo } from './kinds.ts'
import { readObjects } from './read-objects.ts'

const APPLY_HELP = `
What it reads:
  Every YAML/JSON document under each PATH (folders recursively, files in name order; "-" is
  stdin), "kind: List" documents too, as "kubectl get -o yaml" writes them. DRA objects are
  checked here first (shape, rules, CEL selectors), the others by the server.

What it does, object by object in document order:
  - absent on the server: creates it ("created");
  - present with the same spec, labels and annotations: nothing ("unchanged");
  - else replaces its spec, labels and annotations ("configured"), at the resourceVersion just
    read; if someone changed it meanwhile (CONFLICT), reads it again and retries once.
  status is never applied: the server owns it (a Workload's placement, a claim's allocation).
  Fields the server assigns (uid, resourceVersion, creationTimestamp) are ignored, so the output
  of "gpuplane get -o yaml" applies back. Namespaced objects without metadata.namespace go to
  -n NS (default "${DEFAULT_NAMESPACE}"); an object naming another namespace than -n is an error.

Output: one line per object, "<kind>.<group>/<name> created|configured|unchanged".
  Objects that fail are reported on stderr ("error: <where>: <message> (<REASON>)") and the
  others still applied; the exit code is then the first failure's.

Examples:
  gpuplane apply -f examples/cluster-demo.yaml
  gpuplane apply -f examples/workloads-demo.yaml -n research
`

/** What apply did with one object. */
export type ApplyResult = 'created' | 'configured' | 'unchanged'

/** An object read for apply or delete -f: its kind, namespace, name, body and where it came from. */
export interface FileObject {
  info: KindInfo
  namespace?: string
  name: string
  body: Record<string, unknown>
  location: ErrorLocation
}

/** Metadata the store assigns; dropped from applied objects so that `get -o yaml` output applies back. */
const ASSIGNED_METADATA = ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields', 'deletionTimestamp', 'selfLink']

/**
 * The objects under the paths, in document order, each with its kind and namespace resolved
 * (`namespace`: -n, which fills in where an object names none). INVALID_INPUT or UNKNOWN_KIND
 * naming file, document and field at the first object the server could not take.
 */
export function readFileObjects(paths: readonly string[], namespace: string | undefined): FileObject[] {
  const { objects, foreign } = readObjects(paths, [selectorCheck])
  const all = [...objects.map((o) => ({ raw: toPlain(o.object), location: o.location, seq: o.seq })), ...foreign.map((f) => ({ raw: toPlain(f.raw), location: f.location, seq: f.seq }))]
  all.sort((a, b) => a.seq - b.seq)
  return all.map(({ raw, location }) => toFileObject(raw as Record<string, unknown>, location, namespace))
}

function toFileObject(raw: Record<string, unknown>, location: ErrorLocation, namespace: string | undefined): FileObject {
  let info: KindInfo
  try {
    info = kindOfObject(String(raw.apiVersion), String(raw.kind))
  } catch (e) {
    if (e instanceof GpuplaneError) throw new GpuplaneError(e.code, e.message, fieldLocation(location, 'kind'))
    throw e
  }
  const metadata = (typeof raw.metadata === 'object' && raw.metadata !== null ? raw.metadata : {}) as Record<string, unknown>
  const name = metadata.name
  if (typeof name !== 'string' || name === '') throw new GpuplaneError('INVALID_INPUT', 'metadata.name is required to apply an object', fieldLocation(location, 'metadata.name'))
  const own = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : undefined
  if (info.namespaced && own !== undefined && namespace !== undefined && own !== namespace) {
    throw new GpuplaneError('INVALID_INPUT', `the object is in namespace "${own}", not "${namespace}" given with -n: pass -n ${own} or remove one of them`, fieldLocation(location, 'metadata.namespace'))
  }
  const ns = info.namespaced ? (own ?? namespace ?? DEFAULT_NAMESPACE) : undefined
  const cleanMeta = Object.fromEntries(Object.entries(metadata).filter(([k]) => !ASSIGNED_METADATA.includes(k) && k !== 'namespace'))
  const { status: _status, ...rest } = raw
  const body = { ...rest, metadata: { ...cleanMeta, ...(ns !== undefined ? { namespace: ns } : {}) } }
  return { info, namespace: ns, name, body, location }
}

/** Creates or replaces one object; see APPLY_HELP. */
export async function applyOne(client: ApiClient, o: FileObject): Promise<ApplyResult> {
  let existing = await client.find(o.info, o.namespace, o.name)
  if (existing === undefined) {
    try {
      await client.create(o.info, o.namespace, o.body)
      return 'created'
    } catch (e) {
      // Created by someone else since we looked: replace theirs as if it had been there.
      if (!(e instanceof RemoteError && e.code === 'ALREADY_EXISTS')) throw e
      existing = await client.get(o.info, o.namespace, o.name)
    }
  }
  for (let attempt = 0; ; attempt++) {
    if (sameContent(existing, o.body)) return 'unchanged'
    const metadata = { ...(o.body.metadata as object), resourceVersion: existing.metadata.resourceVersion }
    try {
      await client.replace(o.info, o.namespace, o.name, { ...o.body, metadata })
      return 'configured'
    } catch (e) {
      if (!(e instanceof RemoteError && e.code === 'CONFLICT') || attempt > 0) throw e
      existing = await client.get(o.info, o.namespace, o.name)
    }
  }
}

/** Whether the object on the server already has the body's content (every field but metadata and status; labels and annotations). */
function sameContent(existing: StoredObject, body: Record<string, unknown>): boolean {
  const content = (o: Record<string, unknown>) => {
    const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = o
    const m = (metadata ?? {}) as { labels?: object; annotations?: object }
    return canonical({ ...rest, labels: m.labels ?? {}, annotations: m.annotations ?? {} })
  }
  return content(existing) === content(body)
}

/** JSON with keys sorted, so that key order does not count as a difference. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v))
}

/** The failure of one object, located in its file: the server's field path goes under the object's own. */
export function locatedError(e: unknown, location: ErrorLocation): unknown {
  if (!(e instanceof GpuplaneError)) return e
  const loc = e.location.path !== undefined ? fieldLocation(location, e.location.path) : location
  return e instanceof RemoteError ? new RemoteError(e.code, e.reason, e.status, e.message, loc) : new GpuplaneError(e.code, e.message, loc)
}

export function registerApply(program: Command, out: (s: string) => void, err: (s: string) => void): void {
  const command = program
    .command('apply')
    .description('creates or updates the objects in PATH on the server')
    .requiredOption('-f, --filename <PATH...>', 'files or folders with the objects ("-" for stdin)')
    .option('-n, --namespace <NS>', `namespace of namespaced objects that name none (default "${DEFAULT_NAMESPACE}")`)
    .addHelpText('after', APPLY_HELP)
  withConnection(command).action(async (opts: { filename: string[]; namespace?: string; server?: string; token?: string }) => {
    const objects = readFileObjects(opts.filename, opts.namespace)
    const client = connect(opts)
    let exitCode = 0
    for (const o of objects) {
      try {
        out(`${qualifiedName(o.info)}/${o.name} ${await applyOne(client, o)}\n`)
      } catch (e) {
        // The server is down: every other object would fail the same way.
        if (e instanceof GpuplaneError && e.code === 'UNAVAILABLE' && !(e instanceof RemoteError)) throw e
        const located = locatedError(e, o.location)
        if (!(located instanceof GpuplaneError)) throw located
        err(`error: ${located.describe()}\n`)
        if (exitCode === 0) exitCode = located.exitCode
      }
    }
    program.setOptionValue('exitCode', exitCode)
  })
}
