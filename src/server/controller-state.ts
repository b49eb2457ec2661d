// What the controller knows: its copy of the store and a Scheduler holding every placed workload, kept in line with the store.
//
// sync() reads the allocation epoch, then the changes since the last revision seen. Changes to
// the cluster (Nodes, ResourceSlices, DeviceClasses, gpuplane Namespaces) rebuild the view; the
// common changes are followed in place: a workload placed by another replica is restored with
// placeOn, one released (its claims gone or without allocation) is unscheduled, templates and
// claims are updated. Anything the view cannot explain (a claim allocation no placed workload
// accounts for, a placement that does not restore) rebuilds it from the copy, so the view is
// never behind the epoch it was read at.
import type { AllocationResult } from '../api/resource-v1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import type { Profile } from '../scheduler/framework.ts'
import { restoreEach, withoutAllocation, type RestoreFailure } from '../scheduler/restore.ts'
import type { Scheduler, SchedulerOptions } from '../scheduler/scheduler.ts'
import type { Store, StoredObject } from '../store/types.ts'
import { ObjectCache, type CacheChanges, type WatchedKind } from './controller-cache.ts'
import { canonical, claimKeysOf, scheduledNode, viewInput, ParsedObjects, type WorkloadProblem } from './controller-view.ts'
import { claimOwner } from './controller-writes.ts'

/** Changes to these kinds rebuild the view. */
const CLUSTER_KINDS: WatchedKind[] = ['Node', 'ResourceSlice', 'DeviceClass', 'Namespace']
/** Changes to these kinds may change what Clusters must publish. */
const PUBLISH_KINDS: WatchedKind[] = ['Cluster', 'Node', 'ResourceSlice', 'DeviceClass']

/** canonical() of parts of the cache's objects, computed once each: the cache never changes an object in place (a change is a new object). */
const canonicalTexts = new WeakMap<object, string>()

function canonicalOnce(value: unknown): string {
  if (typeof value !== 'object' || value === null) return canonical(value)
  let text = canonicalTexts.get(value)
  if (text === undefined) canonicalTexts.set(value, (text = canonical(value)))
  return text
}

/** A placed workload as the controller committed or restored it. */
export interface Tracked {
  uid: string
  resourceVersion: string
  node: string
  namespace: string
  claimKeys: string[]
  /** Canonical spec it was placed with. */
  spec: string
  allocations: AllocationResult[]
}

export class PlacementState {
  readonly cache: ObjectCache
  readonly parsed = new ParsedObjects()
  /** Built by the first sync(). */
  scheduler!: Scheduler
  /** Placed workloads by key. */
  tracked = new Map<string, Tracked>()
  /** Canonical status.allocation of every allocated claim the view counts as held, by claim key. */
  accounted = new Map<string, string>()
  /** Workloads Scheduled in the store that cannot be restored (their claims stay held): to release. */
  broken: WorkloadProblem[] = []
  /** Set when the view no longer matches the store; the next sync() rebuilds it. */
  rebuildNeeded = true
  /** Full rebuilds so far. */
  rebuilds = 0
  /**
   * Set when Clusters or what they publish changed since publishing was last found complete: only
   * then is the publish plan, which builds every Cluster's objects, computed again.
   */
  publishNeeded = true
  private loaded = false

  constructor(
    private readonly store: Store,
    private readonly profile: Profile | undefined,
    private readonly warn: (msg: string) => void,
    private readonly debug: (obj: object, msg: string) => void,
  ) {
    this.cache = new ObjectCache(store)
  }

  /**
   * Reads the store: returns the allocation epoch read before the changes (the view is at least
   * that recent) and whether anything changed (or the view was rebuilt).
   */
  async sync(): Promise<{ epoch: number; changed: boolean }> {
    const epoch = await this.store.allocationEpoch()
    const changes = this.loaded ? await this.cache.sync() : await this.cache.load()
    this.loaded = true
    if (!changes.incremental) this.rebuildNeeded = true
    if (!changes.incremental || PUBLISH_KINDS.some((k) => changes.touched.has(k))) this.publishNeeded = true
    if (!this.rebuildNeeded && changes.events > 0 && !this.follow(changes)) this.rebuildNeeded = true
    const rebuilt = this.rebuildNeeded
    if (rebuilt) this.rebuild()
    return { epoch, changed: rebuilt || changes.events > 0 }
  }

  /** Follows the changes in the view; false when they need a rebuild. */
  private follow(changes: CacheChanges): boolean {
    if (CLUSTER_KINDS.some((k) => changes.touched.has(k))) return false
    const view = this.scheduler.view
    for (const key of changes.touched.get('ResourceClaimTemplate')?.keys() ?? []) {
      const o = this.cache.get('ResourceClaimTemplate', key)
      try {
        if (o) view.templates.set(key, this.parsed.dra('ResourceClaimTemplate', o))
        else view.templates.delete(key)
      } catch {
        view.templates.delete(key)
      }
    }
    const claims = changes.touched.get('ResourceClaim') ?? new Map<string, StoredObject | undefined>()
    for (const [key, before] of claims) {
      const now = this.cache.get('ResourceClaim', key)
      // Created and deleted between two rounds: nothing to follow.
      if (now === undefined && before === undefined) continue
      // A claim a workload names is read by shape; a change of its spec invalidates cached answers.
      if (!claimOwner((now ?? before) as StoredObject) && canonical(before?.spec ?? null) !== canonical(now?.spec ?? null)) return false
      try {
        if (now) view.claims.set(key, withoutAllocation(this.parsed.dra('ResourceClaim', now)))
        else view.claims.delete(key)
      } catch {
        return false
      }
    }
    const keys = new Set(changes.touched.get('Workload')?.keys() ?? [])
    for (const [key, t] of this.tracked) if (t.claimKeys.some((k) => claims.has(k))) keys.add(key)
    for (const key of [...keys].sort()) if (!this.followWorkload(key)) return false
    for (const key of claims.keys()) if (this.allocationOf(key) !== this.accounted.get(key)) return false
    return true
  }

  /** Brings one workload's placement in the view in line with the store; false when only a rebuild can. */
  private followWorkload(key: string): boolean {
    const now = this.cache.get('Workload', key)
    const t = this.tracked.get(key)
    if (t) {
      const held = t.claimKeys.every((k) => this.allocationOf(k) === this.accounted.get(k))
      if (held && now && now.metadata.uid === t.uid && scheduledNode(now) === t.node) {
        // A new spec may name other claims or ask for more: restored afresh, or released if it no longer fits.
        if (canonicalOnce(now.spec) !== t.spec) return false
        t.resourceVersion = now.metadata.resourceVersion
        return true
      }
      // Deleted or released, but its claims still hold the devices: it stays placed until they are released.
      if (held) return true
      if (!t.claimKeys.every((k) => this.allocationOf(k) === undefined)) return false
      this.scheduler.unschedule(key)
      this.untrack(key)
    }
    const node = scheduledNode(now)
    if (!now || node === undefined) return true
    let w: Workload
    let allocs: AllocationResult[]
    const claimKeys: string[] = []
    try {
      w = this.parsed.workload(now)
      claimKeys.push(...claimKeysOf(w))
      if (claimKeys.some((k) => this.accounted.has(k) || this.allocationOf(k) === undefined)) return false
      allocs = claimKeys.map((k) => this.parsed.dra('ResourceClaim', this.cache.get('ResourceClaim', k)!).status!.allocation!)
    } catch {
      return false
    }
    const d = this.scheduler.placeOn(w, node, allocs)
    if (!d.ok) return false
    this.track(key, now, w, claimKeys, d.allocations)
    for (const k of claimKeys) this.accounted.set(k, this.allocationOf(k)!)
    return true
  }

  /** Canonical status.allocation of a claim in the cache. */
  allocationOf(claimKey: string): string | undefined {
    const a = (this.cache.get('ResourceClaim', claimKey)?.status as { allocation?: unknown } | undefined)?.allocation
    return a === undefined ? undefined : canonicalOnce(a)
  }

  /** Records a placement the view holds (restored, followed, or committed by this controller). */
  track(key: string, stored: StoredObject, w: Workload, claimKeys: string[], allocations: AllocationResult[]): void {
    this.tracked.set(key, {
      uid: stored.metadata.uid,
      resourceVersion: stored.metadata.resourceVersion,
      node: scheduledNode(stored)!,
      namespace: w.metadata.namespace ?? 'default',
      claimKeys,
      spec: canonical(stored.spec),
      allocations,
    })
  }

  untrack(key: string): void {
    for (const k of this.tracked.get(key)?.claimKeys ?? []) this.accounted.delete(k)
    this.tracked.delete(key)
  }

  /** A new view from the cache: every placed workload restored; those that cannot be are broken (their claims stay held). */
  rebuild(): void {
    const started = performance.now()
    const { input, broken } = viewInput(this.cache, this.parsed, this.warn)
    // Placed gang members run: one whose gang lost a member since must never be timed out of the view.
    const options: SchedulerOptions = { preemption: true, preemptionsLeft: {}, gangWaitCycles: Number.POSITIVE_INFINITY }
    let restored = restoreEach(input, options, this.profile)
    const failures: RestoreFailure[] = []
    while (restored.failed.length > 0) {
      // Restore again without them: their claims then count as held by nobody in particular.
      failures.push(...restored.failed)
      const out = new Set(failures.map((f) => f.workload.key))
      const again = { ...input, workloads: input.workloads.filter((w) => !out.has(w.key)), owner: new Map([...input.owner].filter(([, w]) => !out.has(w))) }
      restored = restoreEach(again, options, this.profile)
    }
    for (const f of failures) {
      const why = f.cause === 'elsewhere' ? `its ResourceClaim ${f.claim} holds device ${f.device}, which no ResourceSlice publishes for that node` : f.reason
      broken.push({ key: f.workload.key, reason: `released from node ${f.workload.node}: ${why}; it is scheduled again`, scheduled: true })
    }
    this.scheduler = restored.scheduler
    this.tracked = new Map()
    const placed = new Map(input.workloads.map((w) => [w.key, w]))
    for (const r of restored.running) {
      const w = placed.get(`${r.workload.metadata.namespace ?? 'default'}/${r.workload.metadata.name}`)!
      this.track(w.key, this.cache.get('Workload', w.key)!, r.workload, w.claimKeys, r.allocations)
    }
    this.accounted = new Map()
    for (const key of this.cache.all('ResourceClaim').keys()) {
      const a = this.allocationOf(key)
      if (a !== undefined) this.accounted.set(key, a)
    }
    this.broken = broken
    this.rebuildNeeded = false
    this.rebuilds++
    this.debug({ placed: this.tracked.size, broken: broken.length, ms: Math.round(performance.now() - started) }, 'controller view rebuilt')
  }

  /** spec.priority of a workload in the copy (0 when absent). */
  priorityOf(key: string): number {
    return (this.cache.get('Workload', key)?.spec as { priority?: number } | undefined)?.priority ?? 0
  }
}
