// The kinds the server serves, as the CLI names them: API group, version, plural, scope, and the short names `get`, `describe` and `delete` accept.
import { GpuplaneError } from '../common/errors.ts'
import { apiVersionOf, groupPath, KINDS as SERVED_KINDS, type KindInfo } from '../server/kinds.ts'

export { apiVersionOf, type KindInfo }

/** Names the command line accepts for a kind besides its plural, its singular and its Kind name, as kubectl's short names. */
const SHORT_NAMES: Record<string, string[]> = {
  Node: ['no'],
  ResourceSlice: ['slices', 'slice'],
  DeviceClass: ['classes', 'class', 'dc'],
  ResourceClaim: ['claims', 'claim', 'rc'],
  ResourceClaimTemplate: ['claimtemplates', 'claimtemplate', 'rct'],
  Namespace: ['ns'],
  Workload: ['wl'],
  Model: ['mo'],
  Agent: ['ag'],
  TokenPolicy: ['tp', 'policies', 'policy'],
}

/** The kinds the server serves (src/server/kinds.ts); a kind added there is known here too. */
export const KINDS = SERVED_KINDS

/** A kind's short names (none for kinds without). */
export function shortNames(info: KindInfo): string[] {
  return SHORT_NAMES[info.kind] ?? []
}

/** The namespace of namespaced objects that name none, and of the verbs without -n. */
export const DEFAULT_NAMESPACE = 'default'

/** How kubectl names a resource type in messages and `-o name`: `workload.gpuplane.io`, `node`. */
export function qualifiedName(info: KindInfo): string {
  return info.group === '' ? info.kind.toLowerCase() : `${info.kind.toLowerCase()}.${info.group}`
}

/**
 * The kind a command-line name stands for: plural, singular, Kind, short name (case-insensitive),
 * optionally qualified by its group (`workloads.gpuplane.io`). UNKNOWN_KIND lists the names.
 */
export function resolveKind(name: string): KindInfo {
  const lower = name.toLowerCase()
  const dot = lower.indexOf('.')
  const [base, group] = dot < 0 ? [lower, undefined] : [lower.slice(0, dot), lower.slice(dot + 1)]
  const found = KINDS.find((k) => (group === undefined || k.group === group) && namesOf(k).includes(base))
  if (found) return found
  throw new GpuplaneError('UNKNOWN_KIND', `unknown resource type "${name}"; use one of: ${KINDS.map((k) => [k.plural, ...shortNames(k)].join('|')).join(', ')}`)
}

/** The kind of an object read from a file, by apiVersion and kind; UNKNOWN_KIND when the server does not serve it. */
export function kindOfObject(apiVersion: string, kind: string): KindInfo {
  const slash = apiVersion.indexOf('/')
  const group = slash < 0 ? '' : apiVersion.slice(0, slash)
  const found = KINDS.find((k) => k.kind === kind && k.group === group)
  if (found) return found
  const sameKind = KINDS.find((k) => k.kind === kind)
  const hint = sameKind ? `; the server serves ${kind} as apiVersion ${apiVersionOf(sameKind)}` : `; the server serves ${KINDS.map((k) => k.kind).join(', ')}`
  throw new GpuplaneError('UNKNOWN_KIND', `kind ${kind} of apiVersion ${apiVersion} is not served by gpuplane${hint}`, { path: 'kind' })
}

/** The collection path: `/apis/{group}/{version}[/namespaces/{ns}]/{plural}` (`/api/v1/...` for core); no namespace: every namespace. */
export function collectionPath(info: KindInfo, namespace?: string): string {
  const root = groupPath(info)
  const ns = info.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : ''
  return `${root}${ns}/${info.plural}`
}

/** The path of one object. */
export function objectPath(info: KindInfo, namespace: string | undefined, name: string): string {
  return `${collectionPath(info, info.namespaced ? (namespace ?? DEFAULT_NAMESPACE) : undefined)}/${encodeURIComponent(name)}`
}

function namesOf(k: KindInfo): string[] {
  return [k.plural, k.kind.toLowerCase(), ...shortNames(k)]
}
