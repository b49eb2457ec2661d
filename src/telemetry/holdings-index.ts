// The holdings of src/telemetry/intervals.ts kept up to date change by change: what the server's interval tracker follows instead of re-reading every object.
//
// currentHoldings reads every claim, workload and slice; the tracker sees a few of them change per
// second among thousands, so this index keeps what each change can affect and re-derives only that:
//   claims     each claim's ClaimHolds (read once per change of the claim) and the holds it gives;
//   workloads  the Scheduled ones (key → uid), and which claims name each workload in reservedFor,
//              so that a workload placed, preempted or deleted re-derives just those claims;
//   slices     decoded once per change; a change rebuilds the device lookup (a Snapshot: a device's
//              share can depend on its pool's other slices) and re-derives every claim — slices
//              change when inventory is published, not per submission.
// flush() says which holding keys may have changed, so that the caller diffs only those.
// Equal to currentHoldings over the same objects at every flush (intervals.test.ts checks it by
// property): the holds of one key are summed over claims in the store's list order, as there.
import type { ResourceSlice } from '../api/resource-v1.ts'
import { addHolding, claimHoldings, claimHoldsOf, decodeSlice, deviceDescriber, holdingKey, objectKey, placementOf, sortedHoldings, type ClaimHolds, type Holding, type PlainObject } from './intervals.ts'

type Describe = ReturnType<typeof deviceDescriber>

/** One change as the store's watch reports it (the object after the change; as it was for DELETED). */
export interface ObjectChange {
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  object: PlainObject
}

export class HoldingsIndex {
  private readonly claims = new Map<string, ClaimHolds>()
  /** Workload key → keys of the claims whose reservedFor names it. */
  private readonly claimsOf = new Map<string, Set<string>>()
  /** Scheduled workloads: key → uid (null: none). */
  private readonly placed = new Map<string, string | null>()
  /** Slices by name, decoded (undefined: does not decode), with the resourceVersion decoded. */
  private slices = new Map<string, { resourceVersion: unknown; slice: ResourceSlice | undefined }>()
  private describe: Describe = deviceDescriber([])
  private slicesChanged = false
  private readonly dirtyClaims = new Set<string>()
  /** Claim key → the holds it gives now (only claims that give some). */
  private readonly holds = new Map<string, Holding[]>()
  /** Holding key → keys of the claims giving holds of it. */
  private readonly holders = new Map<string, Set<string>>()
  private readonly current = new Map<string, Holding>()

  /** Starts over from a full reading (slices decoded before and unchanged are not decoded again); flush() then returns every key. */
  reset(objects: { claims: readonly PlainObject[]; workloads: readonly PlainObject[]; slices: readonly PlainObject[] }): void {
    const before = this.slices
    this.slices = new Map()
    for (const s of objects.slices) {
      const known = before.get(s.metadata.name)
      const resourceVersion = s.metadata.resourceVersion
      this.slices.set(s.metadata.name, known !== undefined && resourceVersion !== undefined && known.resourceVersion === resourceVersion ? known : { resourceVersion, slice: decodeSlice(s) })
    }
    this.slicesChanged = true
    for (const key of this.holds.keys()) this.dirtyClaims.add(key)
    this.claims.clear()
    this.claimsOf.clear()
    this.placed.clear()
    for (const w of objects.workloads) this.setWorkload(w, false)
    for (const c of objects.claims) this.setClaim(c, false)
  }

  /** Applies one change of a ResourceClaim, Workload or ResourceSlice (other kinds are ignored). */
  apply(change: ObjectChange): void {
    const deleted = change.type === 'DELETED'
    switch (change.object.kind) {
      case 'ResourceClaim':
        return this.setClaim(change.object, deleted)
      case 'Workload':
        return this.setWorkload(change.object, deleted)
      case 'ResourceSlice':
        return this.setSlice(change.object, deleted)
    }
  }

  /** Re-derives what the changes since the last flush affect; returns the holding keys whose holding may have changed. */
  flush(): Set<string> {
    if (this.slicesChanged) {
      const names = [...this.slices.keys()].sort()
      this.describe = deviceDescriber(names.map((n) => this.slices.get(n)!.slice).filter((s): s is ResourceSlice => s !== undefined))
      this.slicesChanged = false
      for (const key of this.claims.keys()) this.dirtyClaims.add(key)
      for (const key of this.holds.keys()) this.dirtyClaims.add(key)
    }
    const touched = new Set<string>()
    for (const claimKey of this.dirtyClaims) this.rederive(claimKey, touched)
    this.dirtyClaims.clear()
    for (const key of touched) this.aggregate(key)
    return touched
  }

  /** The holding of this key after the last flush. */
  get(key: string): Holding | undefined {
    return this.current.get(key)
  }

  /** Every holding after the last flush, sorted by key (as currentHoldings returns them). */
  holdings(): Holding[] {
    return sortedHoldings(this.current)
  }

  keys(): IterableIterator<string> {
    return this.current.keys()
  }

  private setClaim(object: PlainObject, deleted: boolean): void {
    const key = objectKey(object.metadata.namespace ?? 'default', object.metadata.name)
    const before = this.claims.get(key)
    const after = deleted ? undefined : claimHoldsOf(object)
    if (before) {
      for (const h of before.holders) {
        const workload = objectKey(before.namespace, h.name)
        const set = this.claimsOf.get(workload)
        set?.delete(key)
        if (set?.size === 0) this.claimsOf.delete(workload)
      }
    }
    if (after) {
      this.claims.set(key, after)
      for (const h of after.holders) {
        const workload = objectKey(after.namespace, h.name)
        let set = this.claimsOf.get(workload)
        if (!set) this.claimsOf.set(workload, (set = new Set()))
        set.add(key)
      }
    } else this.claims.delete(key)
    this.dirtyClaims.add(key)
  }

  private setWorkload(object: PlainObject, deleted: boolean): void {
    const key = objectKey(object.metadata.namespace ?? 'default', object.metadata.name)
    const uid = deleted ? undefined : placementOf(object)
    if (this.placed.get(key) === uid && (uid !== undefined || !this.placed.has(key))) return
    if (uid === undefined) this.placed.delete(key)
    else this.placed.set(key, uid)
    for (const claimKey of this.claimsOf.get(key) ?? []) this.dirtyClaims.add(claimKey)
  }

  private setSlice(object: PlainObject, deleted: boolean): void {
    if (deleted) this.slices.delete(object.metadata.name)
    else this.slices.set(object.metadata.name, { resourceVersion: object.metadata.resourceVersion, slice: decodeSlice(object) })
    this.slicesChanged = true
  }

  /** Replaces a claim's holds, noting the keys they gave and give in `touched`. */
  private rederive(claimKey: string, touched: Set<string>): void {
    for (const h of this.holds.get(claimKey) ?? []) {
      const key = holdingKey(h)
      touched.add(key)
      this.holders.get(key)?.delete(claimKey)
    }
    const claim = this.claims.get(claimKey)
    const now = claim ? claimHoldings(claim, this.placed, this.describe) : []
    for (const h of now) {
      const key = holdingKey(h)
      touched.add(key)
      let set = this.holders.get(key)
      if (!set) this.holders.set(key, (set = new Set()))
      set.add(claimKey)
    }
    if (now.length > 0) this.holds.set(claimKey, now)
    else this.holds.delete(claimKey)
  }

  /** The holding of one key, summed over its claims in list order. */
  private aggregate(key: string): void {
    const claimKeys = this.holders.get(key)
    if (!claimKeys || claimKeys.size === 0) {
      this.holders.delete(key)
      this.current.delete(key)
      return
    }
    const out = new Map<string, Holding>()
    for (const claimKey of [...claimKeys].sort()) for (const h of this.holds.get(claimKey)!) if (holdingKey(h) === key) addHolding(out, h)
    this.current.set(key, out.get(key)!)
  }
}
