// Weighted dominant resource fairness (DRF) between the namespaces of a cohort, and the order in which their pending workloads are tried.
//
// A namespace's dominant share is the largest, over resources, of its usage divided by the
// cohort's capacity of that resource, divided by its weight. Pending workloads are ordered by
// progressive filling: the namespace with the lowest weighted dominant share goes next, its
// share is raised by that workload's request, and so on; so two equal namespaces alternate
// instead of one draining its whole queue first. Within a namespace: higher priority, then earlier
// creation, then name. All comparisons are exact (bigint fractions), so the order never depends
// on floating-point rounding, on the input order, or on anything but the inputs. Pure.
import { GpuplaneError } from '../common/errors.ts'
import { compareResourceNames, type QuotaLedger, type ResourceName, type ResourceVector } from './quota.ts'

/** A weighted dominant share: exactly num/den, with `value` as a float for display. */
export interface DominantShare {
  /** The resource with the largest share (undefined when the usage touches no counted resource). */
  resource?: ResourceName
  num: bigint
  den: bigint
  value: number
}

const ZERO_SHARE: DominantShare = { num: 0n, den: 1n, value: 0 }

/**
 * max over resources r with capacity[r] > 0 of usage[r] / capacity[r], divided by `weight`.
 * Resources without capacity (unlimited ones) do not count. `weight` is kept to 3 decimals, as
 * `spec.fairShareWeight` is; throws GpuplaneError INVALID_INPUT below 0.001 or when not finite.
 */
export function dominantShare(usage: ResourceVector, capacity: ResourceVector, weight = 1): DominantShare {
  const milli = weightMilli(weight)
  let best: DominantShare = ZERO_SHARE
  for (const r of (Object.keys(usage) as ResourceName[]).sort(compareResourceNames)) {
    const used = usage[r] ?? 0n
    const cap = capacity[r] ?? 0n
    if (used <= 0n || cap <= 0n) continue
    const num = used * 1000n
    const den = cap * milli
    if (num * best.den > best.num * den) best = { resource: r, num, den, value: 0 }
  }
  return best === ZERO_SHARE ? best : { ...best, value: Number((best.num * 10n ** 12n) / best.den) / 1e12 }
}

/** Orders shares exactly: negative when a < b. */
export function compareShares(a: DominantShare, b: DominantShare): number {
  const x = a.num * b.den
  const y = b.num * a.den
  return x < y ? -1 : x > y ? 1 : 0
}

function weightMilli(weight: number): bigint {
  const m = Math.round(weight * 1000)
  if (!Number.isFinite(weight) || m < 1) throw new GpuplaneError('INVALID_INPUT', `fair-share weight must be a finite number of at least 0.001, got ${weight}`)
  return BigInt(m)
}

/** A workload waiting for admission. */
export interface PendingWorkload {
  /** Unique within its namespace; the last tie-break. */
  name: string
  namespace: string
  /** Higher goes first within a namespace (and between namespaces of equal share). */
  priority: number
  /** Smaller was created earlier (a timestamp or a sequence number). */
  creationOrder: number
  request: ResourceVector
}

/** What fair sharing weighs: the cohort's capacity, and each namespace's usage and weight. */
export interface FairShareState {
  /** Capacity of each counted resource (for a cohort: the sum of its members' quotas). */
  capacity: ResourceVector
  /** Usage of each namespace; a namespace not listed uses nothing. */
  usage: Readonly<Record<string, ResourceVector>>
  /** Weight of each namespace; a namespace not listed weighs 1. */
  weights?: Readonly<Record<string, number>>
}

/**
 * The cohort's fair-share state from a quota ledger: capacity is the sum of the members' quotas
 * (resources some member leaves unlimited count with the others' quotas), usage and weights are
 * the members'.
 */
export function cohortFairShareState(ledger: QuotaLedger, cohort: string): FairShareState {
  const capacity: Partial<Record<ResourceName, bigint>> = {}
  const usage: Record<string, ResourceVector> = {}
  const weights: Record<string, number> = {}
  for (const ns of ledger.members(cohort)) {
    const cfg = ledger.namespace(ns)
    for (const [r, q] of Object.entries(cfg.quota) as Array<[ResourceName, bigint]>) capacity[r] = (capacity[r] ?? 0n) + q
    usage[ns] = ledger.usage(ns)
    weights[ns] = cfg.fairShareWeight
  }
  return { capacity, usage, weights }
}

/** Within a namespace: higher priority, then earlier creation, then name (then namespace, for a total order). */
export function comparePending(a: PendingWorkload, b: PendingWorkload): number {
  if (a.priority !== b.priority) return b.priority - a.priority
  if (a.creationOrder !== b.creationOrder) return a.creationOrder - b.creationOrder
  if (a.name !== b.name) return a.name < b.name ? -1 : 1
  return a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0
}

/**
 * Pending workloads in the order to try them: repeatedly the head of the namespace with the
 * lowest weighted dominant share (counting the workloads ordered before it as admitted), ties
 * broken by comparePending between the heads. Returns a new array; the input is not changed.
 */
export function orderPending(pending: readonly PendingWorkload[], state: FairShareState): PendingWorkload[] {
  const queues = new Map<string, PendingWorkload[]>()
  for (const w of pending) {
    const q = queues.get(w.namespace) ?? []
    q.push(w)
    queues.set(w.namespace, q)
  }
  const usage = new Map<string, Partial<Record<ResourceName, bigint>>>()
  const shares = new Map<string, DominantShare>()
  const weightOf = (ns: string) => state.weights?.[ns] ?? 1
  for (const [ns, q] of queues) {
    q.sort(comparePending).reverse() // heads at the end, for pop()
    usage.set(ns, { ...(state.usage[ns] ?? {}) })
    shares.set(ns, dominantShare(usage.get(ns) as ResourceVector, state.capacity, weightOf(ns)))
  }
  const out: PendingWorkload[] = []
  while (queues.size > 0) {
    let next: string | undefined
    for (const ns of queues.keys()) {
      if (next === undefined) next = ns
      else {
        const c = compareShares(shares.get(ns) as DominantShare, shares.get(next) as DominantShare) || comparePending(head(queues, ns), head(queues, next))
        if (c < 0) next = ns
      }
    }
    const ns = next as string
    const q = queues.get(ns) as PendingWorkload[]
    const w = q.pop() as PendingWorkload
    out.push(w)
    if (q.length === 0) queues.delete(ns)
    else {
      const u = usage.get(ns) as Partial<Record<ResourceName, bigint>>
      for (const [r, x] of Object.entries(w.request) as Array<[ResourceName, bigint]>) u[r] = (u[r] ?? 0n) + x
      shares.set(ns, dominantShare(u, state.capacity, weightOf(ns)))
    }
  }
  return out
}

function head(queues: Map<string, PendingWorkload[]>, ns: string): PendingWorkload {
  const q = queues.get(ns) as PendingWorkload[]
  return q[q.length - 1]
}
