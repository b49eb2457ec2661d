// `gpuplane describe KIND NAME`: one object for humans: metadata, a spec summary, status, the devices allocated, and its events from the audit log.
import type { Command } from 'commander'
import { stringify } from 'yaml'
import { GpuplaneError } from '../common/errors.ts'
import type { AuditEntry, StoredObject } from '../store/types.ts'
import { connect, withConnection, type ApiClient } from './client.ts'
import { workloadClaimKeys } from './columns.ts'
import { COLUMN_GAP } from './get.ts'
import { apiVersionOf, DEFAULT_NAMESPACE, resolveKind, type KindInfo } from './kinds.ts'
import { formatAge, formatTable } from './table.ts'

/** Audit entries read per request (the server's largest page), and pages read at most, when looking for an object's events. */
const EVENT_PAGE = 1000
const EVENT_PAGES = 20
/** Events shown, the latest ones. */
const EVENTS_SHOWN = 20

type Loose = Record<string, unknown>

/** One allocated device, and the claim and request it was allocated for. */
export interface DeviceRow {
  claim: string
  request: string
  driver: string
  pool: string
  device: string
}

export function registerDescribe(program: Command, out: (s: string) => void): void {
  const command = program
    .command('describe')
    .description('shows one object: spec summary, status, devices allocated, events from the audit log')
    .argument('<KIND>', 'the kind (as "gpuplane get --help" lists them)')
    .argument('<NAME>', 'the object')
    .option('-n, --namespace <NS>', `the namespace of namespaced kinds (default "${DEFAULT_NAMESPACE}")`)
  withConnection(command).action(async (kind: string, name: string, opts: { namespace?: string; server?: string; token?: string }) => {
    const info = resolveKind(kind)
    const client = connect(opts)
    const namespace = info.namespaced ? (opts.namespace ?? DEFAULT_NAMESPACE) : undefined
    const object = await client.get(info, namespace, name)
    const devices = await devicesOf(client, info, object)
    const events = await eventsOf(client, info, object)
    out(describeObject(info, object, devices, events, Date.now()))
  })
}

/** The text describe prints. */
export function describeObject(info: KindInfo, o: StoredObject, devices: NodeDevices | DeviceRow[], events: AuditEntry[] | string, now: number): string {
  const m = o.metadata
  const lines: string[] = []
  const field = (label: string, value: string) => lines.push(`${`${label}:`.padEnd(20)}${value}`)
  field('Name', m.name)
  if (info.namespaced) field('Namespace', m.namespace ?? '')
  field('Kind', `${info.kind} (${apiVersionOf(info)})`)
  mapField(lines, 'Labels', m.labels)
  mapField(lines, 'Annotations', m.annotations)
  field('Created', `${m.creationTimestamp} (${formatAge(m.creationTimestamp, now)} ago)`)
  field('Resource Version', m.resourceVersion)
  field('UID', m.uid)
  lines.push('Spec:')
  lines.push(...(info.kind === 'Workload' ? workloadSpec((o.spec ?? {}) as Loose) : yamlLines(o.spec)))
  lines.push('Status:')
  lines.push(...(info.kind === 'Workload' ? workloadStatus((o.status ?? {}) as Loose) : yamlLines(withoutAllocation(o.status))))
  if (info.kind === 'Workload' || info.kind === 'ResourceClaim' || info.kind === 'Node') {
    const rows = Array.isArray(devices) ? devices : devices.allocated
    lines.push(`Devices:${Array.isArray(devices) ? '' : `            ${devices.published} published in ${devices.slices} ResourceSlice${devices.slices === 1 ? '' : 's'}, ${rows.length} allocated`}`)
    if (rows.length === 0) lines.push('  <none>')
    else lines.push(...indent(formatTable(['CLAIM', 'REQUEST', 'DRIVER', 'POOL', 'DEVICE'], rows.map((d) => [d.claim, d.request, d.driver, d.pool, d.device]), COLUMN_GAP)))
  }
  lines.push('Events:')
  if (typeof events === 'string') lines.push(`  <not available: ${events}>`)
  else if (events.length === 0) lines.push('  <none>')
  else lines.push(...indent(formatTable(['AGE', 'ACTOR', 'ACTION', 'RESULT', 'DETAIL'], events.map((e) => [formatAge(e.time, now), e.actor, e.action, e.result, e.detail ?? '']), COLUMN_GAP)))
  return lines.join('\n') + '\n'
}

function mapField(lines: string[], label: string, map: Record<string, string> | undefined): void {
  const entries = Object.entries(map ?? {})
  if (entries.length === 0) {
    lines.push(`${`${label}:`.padEnd(20)}<none>`)
    return
  }
  entries.forEach(([k, v], i) => lines.push(`${(i === 0 ? `${label}:` : '').padEnd(20)}${k}=${v}`))
}

function workloadSpec(spec: Loose): string[] {
  const lines = [`  Priority:          ${String(spec.priority ?? 0)}`]
  const resources = (spec.resources ?? {}) as Loose
  if (Object.keys(resources).length > 0) lines.push(`  Resources:         ${Object.entries(resources).map(([k, v]) => `${k}=${String(v)}`).join(', ')}`)
  if (spec.isolation !== undefined) lines.push(`  Isolation:         ${String(spec.isolation)}`)
  const gang = spec.gang as Loose | undefined
  if (gang) lines.push(`  Gang:              ${String(gang.group)} (at least ${String(gang.minMember)} together)`)
  const selector = (spec.nodeSelector ?? {}) as Loose
  if (Object.keys(selector).length > 0) lines.push(`  Node Selector:     ${Object.entries(selector).map(([k, v]) => `${k}=${String(v)}`).join(', ')}`)
  const claims = Array.isArray(spec.resourceClaims) ? (spec.resourceClaims as Loose[]) : []
  lines.push(`  Claims:${claims.length === 0 ? '            <none>' : ''}`)
  for (const c of claims) {
    if (c.resourceClaimName !== undefined) lines.push(`    ${String(c.name)}: the ResourceClaim ${String(c.resourceClaimName)}`)
    else if (c.resourceClaimTemplateName !== undefined) lines.push(`    ${String(c.name)}: from the ResourceClaimTemplate ${String(c.resourceClaimTemplateName)}`)
    else {
      lines.push(`    ${String(c.name)}:`)
      const devices = ((c.spec ?? {}) as Loose).devices as Loose | undefined
      for (const r of (devices?.requests ?? []) as Loose[]) lines.push(`      ${describeRequest(r)}`)
      for (const k of (devices?.constraints ?? []) as Loose[]) lines.push(`      constraint: ${Object.entries(k).map(([key, v]) => `${key} ${Array.isArray(v) ? v.join(',') : String(v)}`).join(', ')}`)
    }
  }
  return lines
}

/** `gpu: 8 x gpu.nvidia.com where <cel>` (firstAvailable: the alternatives joined by "or"). */
function describeRequest(r: Loose): string {
  const one = (e: Loose): string => {
    const count = e.allocationMode === 'All' ? 'all' : String(e.count ?? 1)
    const cel = ((e.selectors ?? []) as Loose[]).map((s) => String(((s.cel ?? {}) as Loose).expression ?? '')).filter((x) => x !== '')
    return `${count} x ${String(e.deviceClassName)}${cel.length > 0 ? ` where ${cel.join(' && ')}` : ''}`
  }
  const alternatives = Array.isArray(r.firstAvailable) ? (r.firstAvailable as Loose[]).map(one).join(' or ') : one((r.exactly ?? {}) as Loose)
  return `${String(r.name)}: ${alternatives}`
}

function workloadStatus(status: Loose): string[] {
  const lines = [`  Phase:             ${String(status.phase ?? 'Pending')}`]
  if (status.nodeName !== undefined) lines.push(`  Node:              ${String(status.nodeName)}`)
  if (status.reason !== undefined) lines.push(`  Reason:            ${String(status.reason)}`)
  const claims = Array.isArray(status.resourceClaimStatuses) ? (status.resourceClaimStatuses as Loose[]) : []
  if (claims.length > 0) lines.push(`  Claims:            ${claims.map((c) => `${String(c.name)}=${String(c.resourceClaimName)}`).join(', ')}`)
  const { phase: _p, nodeName: _n, reason: _r, allocations: _a, resourceClaimStatuses: _c, ...rest } = status
  if (Object.keys(rest).length > 0) lines.push(...yamlLines(rest))
  return lines
}

/** What a node publishes, and which of its devices claims hold. */
export interface NodeDevices {
  slices: number
  published: number
  /** Claims named `namespace/name`. */
  allocated: DeviceRow[]
}

/** The devices an object holds: a claim's allocation, the allocations of a workload's claims, or a node's devices held by claims. */
async function devicesOf(client: ApiClient, info: KindInfo, o: StoredObject): Promise<NodeDevices | DeviceRow[]> {
  if (info.kind === 'ResourceClaim') return allocationRows(o.metadata.name, ((o.status ?? {}) as Loose).allocation)
  if (info.kind === 'Node') return nodeDevices(client, o.metadata.name)
  if (info.kind !== 'Workload') return []
  const status = (o.status ?? {}) as Loose
  if (typeof status.nodeName !== 'string' || status.nodeName === '') return []
  const claims = resolveKind('resourceclaims')
  const rows: DeviceRow[] = []
  for (const key of workloadClaimKeys(o)) {
    const [ns, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)]
    const claim = await client.find(claims, ns, name)
    if (claim) rows.push(...allocationRows(name, ((claim.status ?? {}) as Loose).allocation))
  }
  return rows
}

/** The node's slices (spec.nodeName), and the claims (of every namespace the token sees) whose allocations use their devices. */
async function nodeDevices(client: ApiClient, node: string): Promise<NodeDevices> {
  const slices = (await client.list(resolveKind('resourceslices'))).items.filter((s) => ((s.spec ?? {}) as Loose).nodeName === node)
  const ids = new Set<string>()
  for (const slice of slices) {
    const spec = (slice.spec ?? {}) as { driver?: string; pool?: { name?: string }; devices?: Array<{ name?: string }> }
    for (const d of spec.devices ?? []) ids.add(`${spec.driver}/${spec.pool?.name}/${d.name}`)
  }
  const claims = (await client.list(resolveKind('resourceclaims'))).items
  const allocated = claims.flatMap((c) => allocationRows(`${c.metadata.namespace}/${c.metadata.name}`, ((c.status ?? {}) as Loose).allocation)).filter((r) => ids.has(`${r.driver}/${r.pool}/${r.device}`))
  return { slices: slices.length, published: ids.size, allocated }
}

function allocationRows(claim: string, allocation: unknown): DeviceRow[] {
  const results = (((allocation ?? {}) as Loose).devices as Loose | undefined)?.results
  return ((results ?? []) as Loose[]).map((r) => ({ claim, request: String(r.request ?? ''), driver: String(r.driver ?? ''), pool: String(r.pool ?? ''), device: String(r.device ?? '') }))
}

/**
 * The audit entries about this object, latest last (the log is read oldest first, page by page,
 * filtered by namespace and kind on the server); a sentence instead when the audit log cannot be
 * read.
 */
async function eventsOf(client: ApiClient, info: KindInfo, o: StoredObject): Promise<AuditEntry[] | string> {
  const found: AuditEntry[] = []
  try {
    let after: number | undefined
    for (let page = 0; page < EVENT_PAGES; page++) {
      const entries = await client.audit({ namespace: o.metadata.namespace, kind: info.kind, limit: EVENT_PAGE, after })
      found.push(...entries.filter((e) => e.name === o.metadata.name))
      if (entries.length < EVENT_PAGE || entries.at(-1)?.id === undefined) break
      after = entries.at(-1)?.id
    }
  } catch (e) {
    if (e instanceof GpuplaneError && e.code !== 'UNAVAILABLE') return e.message
    throw e
  }
  return found.slice(-EVENTS_SHOWN)
}

function withoutAllocation(status: unknown): unknown {
  if (status === undefined || status === null || typeof status !== 'object') return status
  const { allocation: _a, ...rest } = status as Loose
  return Object.keys(rest).length > 0 ? rest : undefined
}

function yamlLines(value: unknown): string[] {
  if (value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0)) return ['  <none>']
  return indent(stringify(value, { lineWidth: 0 }))
}

function indent(text: string): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`)
}
