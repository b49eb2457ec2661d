// The writes of the controller's decisions: a placement with its claims, a release (preemption, eviction), garbage after deletions, pending reasons.
//
// Every write is conditional on the resourceVersion the decision was made from, so a decision
// never overwrites a change it did not see; the placement commits also carry the allocation epoch.
// Claims made for a workload (`<workload>-<entry>`) exist only while it is placed: they are created
// with status.allocation when it is placed and deleted when it is released. A claim the workload
// names (resourceClaimName) gets status.allocation and status.reservedFor, and loses both.
import { toPlain } from '../api/decode.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import type { Decision } from '../scheduler/scheduler.ts'
import type { StoredObject, Write } from '../store/types.ts'
import type { ObjectCache } from './controller-cache.ts'
import { canonical, LABEL_WORKLOAD, scheduledNode } from './controller-view.ts'

export type Placed = Extract<Decision, { ok: true }>

/** How a claim names the workload that holds it (DRA's ResourceClaimConsumerReference). */
export interface ConsumerRef {
  apiGroup: 'gpuplane.io'
  resource: 'workloads'
  name: string
  uid: string
}

interface OwnerReference {
  apiVersion?: string
  kind?: string
  name?: string
  uid?: string
}

function consumerOf(w: StoredObject): ConsumerRef {
  return { apiGroup: 'gpuplane.io', resource: 'workloads', name: w.metadata.name, uid: w.metadata.uid }
}

/** The Workload a claim was made for (its ownerReference), if it was made for one. */
export function claimOwner(claim: StoredObject): OwnerReference | undefined {
  const refs = (claim.metadata.ownerReferences ?? []) as OwnerReference[]
  return refs.find((r) => r.kind === 'Workload' && r.apiVersion?.startsWith('gpuplane.io/'))
}

function claimStatus(claim: StoredObject): Record<string, unknown> {
  return (claim.status ?? {}) as Record<string, unknown>
}

/** A workload's status, keeping when it was last preempted (disruption budgets count it). */
function workloadStatus(w: StoredObject, status: Record<string, unknown>): Record<string, unknown> {
  const preemptedAt = (w.status as { preemptedAt?: unknown } | undefined)?.preemptedAt
  return preemptedAt !== undefined && status.preemptedAt === undefined ? { ...status, preemptedAt } : status
}

/** A placement: the claims made (or given) with their allocations, then the workload's status. */
export interface PlacementWrites {
  writes: Write[]
  /** Index in `writes` of the workload's status write (its result carries the new resourceVersion). */
  statusIndex: number
  /** Canonical allocation of each claim key, as the store will hold it. */
  allocations: Map<string, string>
}

export function placementWrites(cache: ObjectCache, stored: StoredObject, workload: Workload, claimKeys: readonly string[], d: Placed): PlacementWrites {
  const ns = workload.metadata.namespace ?? 'default'
  const consumer = consumerOf(stored)
  const writes: Write[] = []
  const allocations = new Map<string, string>()
  ;(workload.spec.resourceClaims ?? []).forEach((entry, i) => {
    const key = claimKeys[i]!
    const allocation = toPlain(d.allocations[i])
    allocations.set(key, canonical(allocation))
    const existing = cache.get('ResourceClaim', key)
    if (entry.resourceClaimName) {
      const { allocation: _, reservedFor: __, ...rest } = existing ? claimStatus(existing) : {}
      writes.push({ op: 'updateStatus', key: { kind: 'ResourceClaim', namespace: ns, name: entry.resourceClaimName }, status: { ...rest, allocation, reservedFor: [consumer] }, expectResourceVersion: existing?.metadata.resourceVersion })
      return
    }
    // A claim of that name still there is garbage of an earlier workload of the same name.
    if (existing) writes.push({ op: 'delete', key: { kind: 'ResourceClaim', namespace: ns, name: existing.metadata.name }, expectResourceVersion: existing.metadata.resourceVersion })
    const name = `${workload.metadata.name}-${entry.name}`
    writes.push({
      op: 'create',
      object: {
        apiVersion: 'resource.k8s.io/v1',
        kind: 'ResourceClaim',
        metadata: {
          name,
          namespace: ns,
          labels: { [LABEL_WORKLOAD]: workload.metadata.name ?? '' },
          ownerReferences: [{ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', name: stored.metadata.name, uid: stored.metadata.uid, controller: true }],
        },
        spec: toPlain(d.claims[i]!.spec),
        status: { allocation, reservedFor: [consumer] },
      },
    })
  })
  const status = workloadStatus(stored, {
    phase: 'Scheduled',
    nodeName: d.node,
    resourceClaimStatuses: (workload.spec.resourceClaims ?? []).map((entry, i) => ({ name: entry.name, resourceClaimName: claimKeys[i]!.slice(ns.length + 1) })),
  })
  writes.push({ op: 'updateStatus', key: { kind: 'Workload', namespace: ns, name: stored.metadata.name }, status, expectResourceVersion: stored.metadata.resourceVersion })
  return { writes, statusIndex: writes.length - 1, allocations }
}

/** Releasing a claim the workload `w` holds: deleted if made for it, else its allocation and reservation cleared. */
export function claimRelease(claim: StoredObject, w: StoredObject): Write | undefined {
  const key = { kind: 'ResourceClaim', namespace: claim.metadata.namespace, name: claim.metadata.name }
  const owner = claimOwner(claim)
  if (owner) return owner.uid === w.metadata.uid ? { op: 'delete', key, expectResourceVersion: claim.metadata.resourceVersion } : undefined
  const { allocation, reservedFor, ...rest } = claimStatus(claim)
  const mine = ((reservedFor ?? []) as ConsumerRef[]).some((r) => r.resource === 'workloads' && r.uid === w.metadata.uid)
  if (allocation === undefined || !mine) return undefined
  return { op: 'updateStatus', key, status: rest, expectResourceVersion: claim.metadata.resourceVersion }
}

/** Setting a placed workload back to Pending with `reason`, releasing its claims. */
export function releaseWrites(cache: ObjectCache, w: StoredObject, claimKeys: readonly string[], reason: string, extra: Record<string, unknown> = {}): Write[] {
  const writes: Write[] = []
  for (const k of claimKeys) {
    const claim = cache.get('ResourceClaim', k)
    const release = claim && claimRelease(claim, w)
    if (release) writes.push(release)
  }
  writes.push(pendingWrite(w, reason, extra))
  return writes
}

/** The workload's status set to Pending with `reason`. */
export function pendingWrite(w: StoredObject, reason: string, extra: Record<string, unknown> = {}): Write {
  const status = workloadStatus(w, { phase: 'Pending', reason, ...extra })
  return { op: 'updateStatus', key: { kind: 'Workload', namespace: w.metadata.namespace, name: w.metadata.name }, status, expectResourceVersion: w.metadata.resourceVersion }
}

/** Whether the workload's status already says Pending with this reason (then nothing is written). */
export function pendingWith(w: StoredObject, reason: string): boolean {
  const status = w.status as { phase?: unknown; reason?: unknown } | undefined
  return status?.phase === 'Pending' && status.reason === reason
}

/**
 * Claims left behind by workloads that are gone (deleted, or recreated with another uid) or no
 * longer placed: claims made for them are deleted, claims they named lose their allocation. This is
 * how deleting a Workload frees its devices; until these writes commit, the devices stay held.
 */
export function garbageWrites(cache: ObjectCache): Write[] {
  const writes: Write[] = []
  const placed = (ns: string | undefined, name: string, uid: string) => {
    const w = cache.get('Workload', `${ns}/${name}`)
    return w !== undefined && w.metadata.uid === uid && scheduledNode(w) !== undefined
  }
  for (const claim of cache.all('ResourceClaim').values()) {
    const ns = claim.metadata.namespace
    const key = { kind: 'ResourceClaim', namespace: ns, name: claim.metadata.name }
    const owner = claimOwner(claim)
    if (owner) {
      if (!placed(ns, owner.name ?? '', owner.uid ?? '')) writes.push({ op: 'delete', key, expectResourceVersion: claim.metadata.resourceVersion })
      continue
    }
    const { allocation, reservedFor, ...rest } = claimStatus(claim)
    const consumers = ((reservedFor ?? []) as ConsumerRef[]).filter((r) => r.resource === 'workloads')
    if (allocation !== undefined && consumers.length > 0 && !consumers.some((r) => placed(ns, r.name, r.uid))) {
      writes.push({ op: 'updateStatus', key, status: rest, expectResourceVersion: claim.metadata.resourceVersion })
    }
  }
  return writes
}
