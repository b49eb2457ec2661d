// What is already allocated: exclusively held devices, shares of multi-allocatable devices, consumed counters.
//
// Mirrors upstream's AllocatedState (AllocatedDevices, AllocatedSharedDeviceIDs, AggregatedCapacity).
// It is built from the allocated claims of a snapshot and updated by commit()/release(), so a caller
// (the CLI, the scheduler, a benchmark) can allocate many claims one after the other without
// rebuilding anything. Results with adminAccess never mark a device as in use.
import type { AllocationResult, DeviceRequestAllocationResult } from '../api/resource-v1.ts'
import { Quantity } from '../api/quantity.ts'
import { deviceId, poolKeyOf, type Snapshot } from './snapshot.ts'

export class AllocationState {
  /** Devices held exclusively. */
  readonly allocated = new Set<string>()
  /** Number of live shares per multi-allocatable device. */
  readonly shares = new Map<string, number>()
  /** Sum of consumedCapacity per shared device, keyed by fully qualified capacity name. */
  readonly aggregatedCapacity = new Map<string, Map<string, Quantity>>()
  /** Counters consumed by allocated devices: pool -> counter set -> counter -> amount. */
  readonly countersUsed = new Map<string, Map<string, Map<string, Quantity>>>()
  private readonly snapshot: Snapshot

  constructor(snapshot: Snapshot) {
    this.snapshot = snapshot
    for (const a of snapshot.allocations()) this.commit(a)
  }

  /** A fresh copy, so that what-if allocations do not disturb this state. */
  clone(): AllocationState {
    const c = Object.create(AllocationState.prototype) as AllocationState
    Object.assign(c, {
      snapshot: this.snapshot,
      allocated: new Set(this.allocated),
      shares: new Map(this.shares),
      aggregatedCapacity: new Map([...this.aggregatedCapacity].map(([k, v]) => [k, new Map(v)])),
      countersUsed: new Map([...this.countersUsed].map(([k, v]) => [k, new Map([...v].map(([s, m]) => [s, new Map(m)]))])),
    })
    return c
  }

  isAllocated(id: string): boolean {
    return this.allocated.has(id) || this.shares.has(id)
  }

  /** Records an allocation as in use. */
  commit(allocation: AllocationResult): void {
    for (const r of allocation.devices?.results ?? []) this.apply(r, +1)
  }

  /** Frees what commit() recorded for this allocation. */
  release(allocation: AllocationResult): void {
    for (const r of allocation.devices?.results ?? []) this.apply(r, -1)
  }

  private apply(r: DeviceRequestAllocationResult, sign: 1 | -1): void {
    if (r.adminAccess === true) return
    const id = deviceId(r.driver, r.pool, r.device)
    const wasAllocated = this.isAllocated(id)
    if (r.shareID !== undefined) {
      const n = (this.shares.get(id) ?? 0) + sign
      if (n > 0) this.shares.set(id, n)
      else this.shares.delete(id)
      const agg = this.aggregatedCapacity.get(id) ?? new Map<string, Quantity>()
      for (const [name, v] of Object.entries(r.consumedCapacity ?? {})) {
        const fqn = name.includes('/') ? name : `${r.driver}/${name}`
        const q = Quantity.parse(v)
        const prev = agg.get(fqn) ?? Quantity.parse('0')
        agg.set(fqn, sign > 0 ? prev.add(q) : prev.sub(q))
      }
      if (n > 0) this.aggregatedCapacity.set(id, agg)
      else this.aggregatedCapacity.delete(id)
    } else if (sign > 0) {
      this.allocated.add(id)
    } else {
      this.allocated.delete(id)
    }
    const isAllocated = this.isAllocated(id)
    if (wasAllocated !== isAllocated) this.chargeCounters(id, poolKeyOf(r.driver, r.pool), isAllocated ? 1 : -1)
  }

  /** Counters are charged once per device, however many shares it has. */
  private chargeCounters(id: string, poolKey: string, sign: 1 | -1): void {
    const rec = this.snapshot.device(id, poolKey)
    if (!rec || rec.consumes.length === 0) return
    let pool = this.countersUsed.get(poolKey)
    if (!pool) this.countersUsed.set(poolKey, (pool = new Map()))
    for (const c of rec.consumes) {
      let set = pool.get(c.counterSet)
      if (!set) pool.set(c.counterSet, (set = new Map()))
      for (const [name, q] of c.counters) {
        const prev = set.get(name)
        const next = prev === undefined ? (sign > 0 ? q : q.neg()) : sign > 0 ? prev.add(q) : prev.sub(q)
        set.set(name, next)
      }
    }
  }
}
