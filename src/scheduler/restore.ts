// Restoring placements: a Scheduler holding the workloads that already run where they run (with their claims' devices), and the pending ones.
//
// Shared by `gpuplane schedule` / `gpuplane defrag` (objects read from files) and the server's
// controller (objects read from the store). A placed workload is a Workload with status.nodeName
// whose claims (one per spec.resourceClaims entry: the ResourceClaim it names, or the one made for
// it, `<workload>-<entry>`) carry status.allocation.
import type { Namespace } from '../api/namespace-v1alpha1.ts'
import type { AllocationResult, DeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice } from '../api/resource-v1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import type { ErrorLocation } from '../common/errors.ts'
import type { PlacedWorkload } from './defrag.ts'
import type { Profile } from './framework.ts'
import { Scheduler, type SchedulerOptions } from './scheduler.ts'
import type { ClusterView, SchedNode } from './types.ts'
import { clusterView } from './view.ts'

/** A Workload of the input, where it came from, and the keys of its claims (one per spec.resourceClaims entry). */
export interface InputWorkload {
  workload: Workload
  key: string
  location: ErrorLocation
  /** status.nodeName: where it runs; undefined when pending. */
  node?: string
  claimKeys: string[]
}

/** The cluster and the workload side: what placements are restored from. */
export interface PlacementInput {
  nodes: SchedNode[]
  slices: ResourceSlice[]
  classes: DeviceClass[]
  claims: ResourceClaim[]
  templates: ResourceClaimTemplate[]
  namespaces: Namespace[]
  workloads: InputWorkload[]
  /** The workload each claim belongs to (by `namespace/name` of both). */
  owner: Map<string, string>
}

/**
 * A placed workload that could not be restored: `elsewhere` when one of its claims holds a device
 * that no ResourceSlice publishes for its node (`claim` and `device` say which), `refused` when
 * the scheduler refused the placement (`reason`: unknown node, device held twice, ...).
 */
export type RestoreFailure =
  | { workload: InputWorkload; cause: 'elsewhere'; claim: string; device: string }
  | { workload: InputWorkload; cause: 'refused'; reason: string }

export interface Restored {
  scheduler: Scheduler
  /** The placed workloads restored, in input order. */
  running: PlacedWorkload[]
  /** The workloads without status.nodeName, in input order. */
  pending: Workload[]
  /** The placed workloads that could not be restored (they hold nothing in the scheduler). */
  failed: RestoreFailure[]
}

/** `namespace/name` of an object ('default' when it names no namespace). */
export function objectKey(o: { metadata: { namespace?: string; name?: string } }): string {
  return `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`
}

/**
 * A scheduler (with `profile`, default the default profile) holding the placed workloads where
 * they run (in input order), and the pending ones. The claims of placed workloads take their devices when their workload is restored, not before;
 * claims no workload owns keep their allocations in the view.
 */
export function restoreEach(input: PlacementInput, options: SchedulerOptions, profile?: Profile): Restored {
  const viewClaims = input.claims.map((c) => (input.owner.has(objectKey(c)) ? withoutAllocation(c) : c))
  const view = clusterView({ nodes: input.nodes, slices: input.slices, classes: input.classes, claims: viewClaims, templates: input.templates, ...(input.namespaces.length > 0 ? { namespaces: input.namespaces } : {}) })
  const scheduler = new Scheduler(view, profile, options)
  const allocationOf = new Map(input.claims.map((c) => [objectKey(c), c.status?.allocation]))
  const out: Restored = { scheduler, running: [], pending: [], failed: [] }
  const nodeNames = new Set(input.nodes.map((n) => n.name))
  for (const w of input.workloads) {
    if (w.node === undefined) {
      out.pending.push(w.workload)
      continue
    }
    const allocs = w.claimKeys.map((k) => allocationOf.get(k) as AllocationResult)
    // An unknown node is placeOn's to report.
    const away = nodeNames.has(w.node) ? deviceElsewhere(view, w, allocs) : undefined
    if (away) {
      out.failed.push({ workload: w, cause: 'elsewhere', ...away })
      continue
    }
    const d = scheduler.placeOn(w.workload, w.node, allocs)
    if (!d.ok) out.failed.push({ workload: w, cause: 'refused', reason: d.reason })
    else out.running.push({ workload: w.workload, node: d.node, claims: d.claims, allocations: d.allocations })
  }
  return out
}

/** The first device a placed workload holds that is published neither for its node nor for every node. */
function deviceElsewhere(view: ClusterView, w: InputWorkload, allocs: readonly AllocationResult[]): { claim: string; device: string } | undefined {
  const reachable = new Set([...(view.snapshot.slicesOnNode.get(w.node!) ?? []), ...view.snapshot.slicesShared].flatMap((s) => s.devices.map((d) => d.id)))
  for (let i = 0; i < allocs.length; i++) {
    const away = (allocs[i]?.devices?.results ?? []).find((r) => !reachable.has(`${r.driver}/${r.pool}/${r.device}`))
    if (away) return { claim: w.claimKeys[i]!, device: `${away.driver}/${away.pool}/${away.device}` }
  }
  return undefined
}

/** Moves (or preemptions) each namespace's disruption budget allows, less what `spent` says was used in the current window. */
export function disruptionBudgets(namespaces: readonly Namespace[], spent: Readonly<Record<string, number>> = {}): Record<string, number> {
  return Object.fromEntries(namespaces.flatMap((n) => (n.spec.disruptionBudget ? [[n.metadata.name ?? '', Math.max(0, n.spec.disruptionBudget.maxPreemptions - (spent[n.metadata.name ?? ''] ?? 0))]] : [])))
}

/** The claim with no status.allocation (and no status at all if that was all of it). */
export function withoutAllocation(c: ResourceClaim): ResourceClaim {
  const { allocation: _, ...rest } = c.status ?? {}
  const { status: __, ...claim } = c
  return Object.keys(rest).length > 0 ? { ...claim, status: rest } : claim
}
