// The table columns `gpuplane get` prints per kind (and `-o wide`'s extra ones), read from the objects as the server returns them.
import type { StoredObject } from '../store/types.ts'
import type { KindInfo } from './kinds.ts'
import { formatAge } from './table.ts'

/** What a column may look at besides the object: the claims of the listed workloads' namespaces, by `namespace/name`. */
export interface RowContext {
  claims: ReadonlyMap<string, StoredObject>
  now: number
}

interface Column {
  header: string
  value: (o: StoredObject, ctx: RowContext) => string
  /** Only with -o wide. */
  wide?: boolean
}

type Loose = Record<string, unknown>

const AGE: Column = { header: 'AGE', value: (o, ctx) => formatAge(o.metadata.creationTimestamp, ctx.now) }

/** Columns after NAME, per Kind; a kind not listed gets AGE only. */
const COLUMNS: Record<string, Column[]> = {
  Workload: [
    { header: 'PRIORITY', value: (o) => String(spec(o).priority ?? 0) },
    { header: 'PHASE', value: (o) => str(status(o).phase) || 'Pending' },
    { header: 'NODE', value: (o) => str(status(o).nodeName) || '-' },
    { header: 'GPUS', value: (o, ctx) => workloadDevices(o, ctx) },
    AGE,
    { header: 'REASON', value: (o) => oneLine(str(status(o).reason)) || '-' },
    { header: 'DEVICES', value: (o, ctx) => allocatedDevices(o, ctx).join(',') || '-', wide: true },
  ],
  Node: [
    { header: 'MODEL', value: (o) => label(o, 'gpuplane.io/gpu-model') || '-' },
    { header: 'GPUS', value: (o) => label(o, 'nvidia.com/gpu.count') || '0' },
    { header: 'CLUSTER', value: (o) => label(o, 'gpuplane.io/cluster') || '-' },
    AGE,
    { header: 'HOST', value: (o) => label(o, 'gpuplane.io/host') || '-', wide: true },
    { header: 'CPU', value: (o) => str(((status(o).capacity ?? {}) as Loose).cpu) || '-', wide: true },
    { header: 'MEMORY', value: (o) => str(((status(o).capacity ?? {}) as Loose).memory) || '-', wide: true },
  ],
  ResourceSlice: [
    { header: 'NODE', value: (o) => str(spec(o).nodeName) || (spec(o).allNodes ? '<all>' : '-') },
    { header: 'DRIVER', value: (o) => str(spec(o).driver) },
    { header: 'POOL', value: (o) => str(((spec(o).pool ?? {}) as Loose).name) },
    { header: 'DEVICES', value: (o) => String(arr(spec(o).devices).length) },
    AGE,
  ],
  ResourceClaim: [
    { header: 'STATE', value: (o) => claimState(o) },
    AGE,
    { header: 'DEVICES', value: (o) => claimDevices(o).join(',') || '-', wide: true },
  ],
  Namespace: [
    { header: 'GPU-QUOTA', value: (o) => str(((spec(o).quota ?? {}) as Loose).gpus) || '-' },
    { header: 'COHORT', value: (o) => str(spec(o).cohort) || '-' },
    { header: 'ISOLATION', value: (o) => str(spec(o).isolation) || 'shared' },
    AGE,
  ],
  // Governance: what a model costs and who may call it; an agent's keys (how many, never which) and kill switch; a policy's caps.
  Model: [
    { header: 'MODEL', value: (o) => str(((spec(o).upstream ?? {}) as Loose).model) },
    { header: 'UPSTREAM', value: (o) => str(((spec(o).upstream ?? {}) as Loose).baseURL) },
    { header: 'NAMESPACES', value: (o) => arr(spec(o).namespaces).join(',') || '<none>' },
    { header: 'PRICE', value: (o) => modelPrice(o) },
    AGE,
    { header: 'MAX-TOKENS', value: (o) => str(spec(o).maxTokens), wide: true },
  ],
  Agent: [
    { header: 'KEYS', value: (o) => String(arr(spec(o).keyHashes).length) },
    { header: 'MODELS', value: (o) => arr(spec(o).models).join(',') || '<none>' },
    { header: 'DISABLED', value: (o) => String(spec(o).disabled === true) },
    AGE,
  ],
  TokenPolicy: [
    { header: 'SELECTOR', value: (o) => policySelector(o) },
    { header: 'LIMITS', value: (o) => arr(spec(o).limits).map((l) => policyLimit(l as Loose)).join(',') },
    { header: 'MODE', value: (o) => str(spec(o).mode) || 'hard-reject' },
    AGE,
  ],
  Cluster: [{ header: 'HOSTS', value: (o) => String(arr(spec(o).hosts).reduce((n: number, h) => n + Number((h as Loose).replicas ?? 1), 0)) }, { header: 'VMS', value: (o) => String(arr(spec(o).virtualMachines).length) }, AGE],
}

/** The header and rows of a table of objects of one kind; NAMESPACE first when they come from every namespace. */
export function tableOf(info: KindInfo, objects: readonly StoredObject[], options: { wide: boolean; allNamespaces: boolean; ctx: RowContext }): { header: string[]; rows: string[][] } {
  const columns: Column[] = [
    ...(info.namespaced && options.allNamespaces ? [{ header: 'NAMESPACE', value: (o: StoredObject) => o.metadata.namespace ?? '' }] : []),
    { header: 'NAME', value: (o) => o.metadata.name },
    ...(COLUMNS[info.kind] ?? [AGE]).filter((c) => options.wide || !c.wide),
  ]
  return { header: columns.map((c) => c.header), rows: objects.map((o) => columns.map((c) => c.value(o, options.ctx))) }
}

/** Whether the table of this kind shows what the claims of workloads hold (then `get` fetches the claims). */
export function needsClaims(info: KindInfo): boolean {
  return info.kind === 'Workload'
}

/**
 * The keys (`namespace/name`) of a workload's claims: as status.resourceClaimStatuses names them
 * once placed, else the one an entry names or the one made for it (`<workload>-<entry>`).
 */
export function workloadClaimKeys(o: StoredObject): string[] {
  const ns = o.metadata.namespace ?? 'default'
  const placed = arr(status(o).resourceClaimStatuses).map((c) => str((c as Loose).resourceClaimName)).filter((n) => n !== '')
  if (placed.length > 0) return placed.map((n) => `${ns}/${n}`)
  return arr(spec(o).resourceClaims).map((c) => {
    const entry = c as Loose
    return `${ns}/${str(entry.resourceClaimName) || `${o.metadata.name}-${str(entry.name)}`}`
  })
}

/** The devices of a claim's allocation, as `pool/device`. */
export function claimDevices(claim: StoredObject): string[] {
  const allocation = (status(claim).allocation ?? {}) as Loose
  return resultsOf(allocation).map((r) => `${str(r.pool)}/${str(r.device)}`)
}

/** `allocated,reserved`, `allocated` or `pending`, as kubectl writes a claim's state. */
function claimState(o: StoredObject): string {
  const s = status(o)
  if (s.allocation === undefined) return 'pending'
  return arr(s.reservedFor).length > 0 ? 'allocated,reserved' : 'allocated'
}

/**
 * The devices a placed workload holds: from status.allocations when the server wrote them there,
 * else from its claims' allocations.
 */
function allocatedDevices(o: StoredObject, ctx: RowContext): string[] {
  const own = arr(status(o).allocations)
  if (own.length > 0) return own.flatMap((a) => resultsOf(a as Loose).map((r) => `${str(r.pool)}/${str(r.device)}`))
  if (!str(status(o).nodeName)) return []
  return workloadClaimKeys(o).flatMap((k) => {
    const claim = ctx.claims.get(k)
    return claim ? claimDevices(claim) : []
  })
}

/** GPUS: the devices held when placed, else the devices asked for by its inline claim specs (`-` when not known here). */
function workloadDevices(o: StoredObject, ctx: RowContext): string {
  if (str(status(o).nodeName)) return String(allocatedDevices(o, ctx).length)
  let total = 0
  for (const c of arr(spec(o).resourceClaims)) {
    const claimSpec = (c as Loose).spec as Loose | undefined
    if (claimSpec === undefined) return '-'
    for (const r of arr(((claimSpec.devices ?? {}) as Loose).requests)) {
      const req = r as Loose
      const exactly = (req.exactly ?? arr(req.firstAvailable)[0]) as Loose | undefined
      if (exactly === undefined || exactly.allocationMode === 'All') return '-'
      total += Number(exactly.count ?? 1)
    }
  }
  return String(total)
}

/** `$in/$out` per million tokens, e.g. `$0.1/$0.2`. */
function modelPrice(o: StoredObject): string {
  const pricing = (spec(o).pricing ?? {}) as Loose
  return `$${str(pricing.inputPerMTok)}/$${str(pricing.outputPerMTok)}`
}

/** `agent=x,model=y`, or `<namespace>` for a policy that covers the whole namespace. */
function policySelector(o: StoredObject): string {
  const selector = (spec(o).selector ?? {}) as Loose
  const parts = ['agent', 'model'].filter((k) => selector[k] !== undefined).map((k) => `${k}=${str(selector[k])}`)
  return parts.join(',') || '<namespace>'
}

/** One limit as `200000tok/day`, `600req/minute`, `$5/day` (several classes joined by +). */
function policyLimit(l: Loose): string {
  const parts: string[] = []
  if (l.tokens !== undefined) parts.push(`${str(l.tokens)}tok`)
  if (l.requests !== undefined) parts.push(`${str(l.requests)}req`)
  if (l.cost !== undefined) parts.push(`$${str(l.cost)}`)
  return `${parts.join('+')}/${str(l.window)}`
}

function resultsOf(allocation: Loose): Loose[] {
  return arr(((allocation.devices ?? {}) as Loose).results) as Loose[]
}

function spec(o: StoredObject): Loose {
  return (o.spec ?? {}) as Loose
}

function status(o: StoredObject): Loose {
  return (o.status ?? {}) as Loose
}

function label(o: StoredObject, key: string): string {
  return o.metadata.labels?.[key] ?? ''
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v)
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ')
}
