// Default filter plugins: CPU/memory fit, node selector and taints, and DRA (which delegates to the allocator).
import { allocate, type Shortfall } from '../allocator/index.ts'
import type { AllocationResult, ResourceClaim } from '../api/resource-v1.ts'
import { SUCCESS, unschedulable, type CycleContext, type Plugin } from './framework.ts'
import type { SchedNode } from './types.ts'
import { nodeCache, type NodeCache } from './view.ts'

/** CPU and memory requests against what the node has left. */
export const resourcesFit: Plugin = {
  name: 'resources-fit',
  filter(ctx, node) {
    const used = ctx.view.nodeUsage.get(node.name) ?? { cpuMilli: 0, memoryBytes: 0 }
    if (node.cpuMilli !== undefined && used.cpuMilli + ctx.cpuMilli > node.cpuMilli) {
      return unschedulable(`insufficient cpu (need ${ctx.cpuMilli}m, ${node.cpuMilli - used.cpuMilli}m free)`)
    }
    if (node.memoryBytes !== undefined && used.memoryBytes + ctx.memoryBytes > node.memoryBytes) {
      return unschedulable(`insufficient memory (need ${gib(ctx.memoryBytes)}, ${gib(node.memoryBytes - used.memoryBytes)} free)`)
    }
    return SUCCESS
  },
  reserve(ctx, node) {
    const used = ctx.view.nodeUsage.get(node.name) ?? { cpuMilli: 0, memoryBytes: 0 }
    ctx.view.nodeUsage.set(node.name, { cpuMilli: used.cpuMilli + ctx.cpuMilli, memoryBytes: used.memoryBytes + ctx.memoryBytes })
    return SUCCESS
  },
  unreserve(ctx, node) {
    const used = ctx.view.nodeUsage.get(node.name)!
    ctx.view.nodeUsage.set(node.name, { cpuMilli: used.cpuMilli - ctx.cpuMilli, memoryBytes: used.memoryBytes - ctx.memoryBytes })
  },
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)}Gi`
}

/** Node selector labels must match; NoSchedule and NoExecute taints must be tolerated. */
export const nodeAffinity: Plugin = {
  name: 'node-affinity',
  filter(ctx, node) {
    for (const [k, v] of Object.entries(ctx.workload.spec.nodeSelector ?? {})) {
      if (node.labels[k] !== v) return unschedulable(`node label ${k}=${v} missing`, true)
    }
    for (const taint of node.taints) {
      if (taint.effect === 'PreferNoSchedule') continue
      const tolerated = (ctx.workload.spec.tolerations ?? []).some(
        (t) => (!t.key || t.key === taint.key) && (!t.effect || t.effect === taint.effect) && (t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '')),
      )
      if (!tolerated) return unschedulable(`untolerated taint ${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`, true)
    }
    return SUCCESS
  },
}

const DRA_KEY = 'dra/allocations'
const DRA_CACHE_KEY = 'dra/cache'

/**
 * DRA: the allocator decides, per node, which devices the workload's claims get; the profile's
 * device scores become the allocator's candidate ordering. Reserve records the allocation in the
 * cluster's allocation state, so no later cycle can hand out the same devices.
 */
export const dynamicResources: Plugin = {
  name: 'dynamic-resources',
  preFilter(ctx) {
    return ctx.claims.length === 0 ? { code: 'Skip' } : SUCCESS
  },
  filter(ctx, node) {
    // The allocator's answer for this shape is reused while nothing changed on the node; except an
    // allocation with share IDs, which are unique to the claim they were made for, and a choice
    // made by device scores that look beyond the node.
    let cache = ctx.data.get(DRA_CACHE_KEY) as NodeCache<ReturnType<typeof allocate>> | undefined
    if (!cache) ctx.data.set(DRA_CACHE_KEY, (cache = nodeCache(ctx.view, 'dynamic-resources', ctx.shapeKey)))
    let outcome = cache.get(node.name)
    if (outcome === undefined) {
      outcome = allocateOn(ctx, node)
      const reusable = !outcome.ok || (ctx.deviceScoreIsNodeLocal && !outcome.allocations.some((a) => a.devices?.results?.some((r) => r.shareID !== undefined)))
      if (reusable) cache.set(node.name, outcome)
    }
    if (!outcome.ok) {
      return outcome.code === 'CLAIM_UNSATISFIABLE' ? unschedulable(deviceReason(ctx, outcome.shortfall ?? [])) : { code: 'Error', reason: `${outcome.code}: ${outcome.reason}` }
    }
    allocations(ctx).set(node.name, outcome.allocations)
    return SUCCESS
  },
  reserve(ctx, node) {
    for (const a of allocations(ctx).get(node.name) ?? []) ctx.view.state.commit(a)
    return SUCCESS
  },
  unreserve(ctx, node) {
    for (const a of allocations(ctx).get(node.name) ?? []) ctx.view.state.release(a)
  },
}

/** The allocator on one node, with the profile's preferred topology first and its device scores. */
function allocateOn(ctx: CycleContext, node: SchedNode): ReturnType<typeof allocate> {
  const { snapshot, state } = ctx.view
  const score = ctx.deviceScore
  const options = { node: { name: node.name, labels: node.labels }, score: score && ((d: Parameters<NonNullable<typeof score>>[1], attrs: Readonly<Record<string, unknown>>) => score(node, d, attrs)) }
  // Preferred topology first: the same claims with one more matchAttribute, then as written.
  let outcome: ReturnType<typeof allocate> | undefined
  for (const attribute of ctx.preferredMatchAttributes) {
    const preferred = withPreferredConstraint(ctx.claims, attribute)
    if (!preferred) continue
    const o = allocate(snapshot, state, preferred, options)
    if (o.ok) {
      outcome = o
      break
    }
  }
  return outcome ?? allocate(snapshot, state, ctx.claims, options)
}

/** The allocations the DRA filter found for each node in this cycle. */
export function allocations(ctx: CycleContext): Map<string, AllocationResult[]> {
  let m = ctx.data.get(DRA_KEY) as Map<string, AllocationResult[]> | undefined
  if (!m) ctx.data.set(DRA_KEY, (m = new Map()))
  return m
}

/** Attributes the reasons name in words. */
const ATTRIBUTE_WORDS: Record<string, string> = {
  'gpuplane.io/nvlinkDomain': 'NVLink domain',
  'resource.kubernetes.io/pcieRoot': 'PCIe root',
  'resource.kubernetes.io/numaNode': 'NUMA node',
}

/**
 * Why the claims do not fit this node, from the allocator's shortfall: the first request that lacks
 * devices, e.g. "insufficient NVIDIA H100 80GB HBM3 (need 8 in one NVLink domain, best has 6 free)"
 * (the scheduler's explanation merges nodes that differ only in that number); else (each request
 * would fit alone) what the claims ask for together.
 */
function deviceReason(ctx: CycleContext, shortfall: readonly Shortfall[]): string {
  for (const s of shortfall) {
    const what = s.product ?? s.className
    if (s.devices === 0) return `no ${s.className} device matches (need ${s.need})`
    if (s.matchAttribute !== undefined && s.bestGroup !== undefined && s.bestGroup < s.need) {
      return `insufficient ${what} (need ${s.need} in one ${ATTRIBUTE_WORDS[s.matchAttribute] ?? s.matchAttribute}, best has ${s.bestGroup} free)`
    }
    if (s.free < s.need) return `insufficient ${what} (need ${s.need}, best has ${s.free} free)`
  }
  const parts = ctx.claims.flatMap((c) =>
    (c.spec.devices?.requests ?? []).map((r) => {
      const e = r.exactly ?? r.firstAvailable?.[0]
      const n = e?.allocationMode === 'All' ? 'all' : String(e?.count ?? 1)
      return `${n} × ${e?.deviceClassName ?? '?'}`
    }),
  )
  const constrained = ctx.claims.some((c) => (c.spec.devices?.constraints?.length ?? 0) > 0)
  return `insufficient devices (need ${parts.join(' + ')}${constrained ? ' under the claims\' constraints' : ''} together)`
}

/**
 * The claims with `matchAttribute: attribute` added to each claim that asks for more than one device
 * and does not constrain that attribute already; undefined when no claim would change.
 */
function withPreferredConstraint(claims: ResourceClaim[], attribute: string): ResourceClaim[] | undefined {
  let changed = false
  const out = claims.map((c) => {
    const devices = c.spec.devices
    const requests = devices?.requests ?? []
    const count = requests.reduce((n, r) => n + (r.exactly ? (r.exactly.allocationMode === 'All' ? 2 : (r.exactly.count ?? 1)) : 1), 0)
    if (count < 2 || requests.some((r) => !r.exactly) || devices?.constraints?.some((k) => k.matchAttribute === attribute)) return c
    changed = true
    return { ...c, spec: { ...c.spec, devices: { ...devices, constraints: [...(devices?.constraints ?? []), { matchAttribute: attribute }] } } }
  })
  return changed ? out : undefined
}
