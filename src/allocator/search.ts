// The depth-first search over claims, requests and candidate devices, with pruning that keeps it polynomial
// in the cases that make upstream's search explode (kubernetes/kubernetes#131730).
//
// The order in which devices are tried is upstream's (pools, slices, devices; combinations, not
// permutations, within one request), so the first solution found is the one upstream finds. The
// additions only cut branches that cannot succeed:
//  - count before descending: a request that needs k more devices is abandoned when fewer than k
//    candidates could still be added (not in use, counters left, constraints admit them);
//  - group by constrained value: while a matchAttribute constraint is still open, a device whose
//    value is shared by fewer than k remaining candidates is skipped;
//  - look ahead: when a device fixes a matchAttribute value, every later request of the claim that
//    the constraint covers must still have enough candidates with that value.
// All three rely on the same monotonicity upstream relies on: deeper in the search, devices only
// get used, counters only get consumed, and constraint sets only grow.
import { createHash } from 'node:crypto'
import type { ResourceClaim } from '../api/resource-v1.ts'
import { Quantity } from '../api/quantity.ts'
import { GpuplaneError } from '../common/errors.ts'
import { accumulate, consumption, fits, type CapacityMap } from './capacity.ts'
import { attributeKey, MatchAttributeConstraint } from './constraints.ts'
import { nodeMatches, taintBlocks } from './node-match.ts'
import type { Pool } from './pools.ts'
import { ALLOCATION_RESULTS_MAX_SIZE, type ClaimData, type RequestData, type RequestGroup } from './requests.ts'
import { firstFailingSelector } from './selectors.ts'
import type { DeviceRec, Snapshot } from './snapshot.ts'
import type { AllocationState } from './state.ts'
import type { AllocateOptions, Features, NodeInfo, Shortfall } from './types.ts'

/** A device that passed the static checks of one request, in search order. */
export interface Candidate {
  rec: DeviceRec
  pool: Pool
  /** The selector error upstream would raise on reaching this device. */
  error?: GpuplaneError
  /** A taint the request does not tolerate. */
  blocked: boolean
  /** What the device would consume (consumable capacity), when the feature is on. */
  consumed?: CapacityMap
}

export interface DeviceResult {
  rd: RequestData
  rec: DeviceRec
  shareID?: string
  consumed?: CapacityMap
}

const OK = 1
const FAIL = 0
/** Upstream's errAllocationResultMaxSizeExceeded: unwind to the nearest firstAvailable. */
const MAX = 2
type Outcome = typeof OK | typeof FAIL | typeof MAX

const ZERO = Quantity.parse('0')

export class Search {
  steps = 0
  readonly results: DeviceResult[][]
  private readonly allocating = new Map<string, Set<number>>()
  private readonly allocatingCapacity = new Map<string, CapacityMap>()
  /** In-flight counter consumption: pool -> set -> counter -> amount. */
  private readonly inflightCounters = new Map<string, Map<string, Map<string, Quantity>>>()
  /** In-flight uses of each device (to charge counters once per device). */
  private readonly inflightUse = new Map<string, number>()
  private readonly candidateCache = new Map<RequestData, Candidate[]>()
  private readonly allDevices = new Map<RequestData, Candidate[]>()
  private readonly negativePools = new Map<string, boolean>()
  private readonly limit: number
  private readonly pruning: boolean

  constructor(
    private readonly snapshot: Snapshot,
    private readonly claims: ClaimData[],
    private readonly pools: Pool[],
    private readonly state: AllocationState,
    private readonly features: Features,
    private readonly node: NodeInfo | undefined,
    private readonly options: AllocateOptions,
    limit: number,
  ) {
    this.results = claims.map(() => [])
    this.limit = limit
    this.pruning = options.pruning !== false
  }

  /**
   * After a failed run: for each counted request, how many of its devices are free now, and under a
   * matchAttribute constraint of its claim, how many share the best value. Says why, not only that.
   */
  shortfall(): Shortfall[] {
    const out: Shortfall[] = []
    for (const [c, claim] of this.claims.entries()) {
      for (const g of claim.groups) {
        const rd = g.exact
        if (!rd || rd.mode !== 'ExactCount') continue
        const cands = this.candidates(rd)
        const free = cands.filter((cand) => !cand.error && this.isViable(c, rd, cand))
        const products = new Map<string, number>()
        for (const cand of cands) {
          const p = cand.rec.device.attributes?.productName?.string
          if (p !== undefined) products.set(p, (products.get(p) ?? 0) + 1)
        }
        const entry: Shortfall = { claim: claim.label, request: rd.fullName, className: rd.className, need: rd.numDevices, devices: cands.length, free: free.length }
        const product = [...products].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0]
        if (product !== undefined) entry.product = product
        const match = this.openMatchConstraints(c, rd)[0]
        if (match) {
          const groups = new Map<string, number>()
          for (const cand of free) {
            const key = attributeKey(cand.rec, match.attribute)
            if (key !== undefined) groups.set(key, (groups.get(key) ?? 0) + 1)
          }
          entry.matchAttribute = match.attribute
          entry.bestGroup = Math.max(0, ...groups.values())
        }
        out.push(entry)
      }
    }
    return out
  }

  /** Runs the search; true when every claim got its devices. */
  run(): boolean {
    for (const c of this.claims) for (const g of c.groups) for (const rd of requestsOf(g)) if (rd.mode === 'All') this.allDevices.set(rd, this.enumerateAll(rd))
    return this.one(0, 0, 0, 0, false, 0) === OK
  }

  private one(c: number, q: number, s: number, d: number, inSub: boolean, start: number): Outcome {
    if (++this.steps > this.limit) {
      throw new GpuplaneError('SEARCH_LIMIT', `allocation search gave up after ${this.limit} steps without deciding; simplify the claims' constraints or raise the search limit`)
    }
    if (c >= this.claims.length) return OK
    const claim = this.claims[c]
    if (q >= claim.groups.length) {
      const r = this.one(c + 1, 0, 0, 0, false, 0)
      return r === MAX ? FAIL : r
    }
    const group = claim.groups[q]
    if (!inSub && group.subs) {
      let allExceeded = true
      for (let i = 0; i < group.subs.length; i++) {
        const r = this.one(c, q, i, 0, true, 0)
        if (r === MAX) continue
        allExceeded = false
        if (r === OK) {
          group.selected = i
          return OK
        }
      }
      return allExceeded ? MAX : FAIL
    }
    const rd = group.subs ? group.subs[s] : group.exact!
    const all = rd.mode === 'All' ? this.allDevices.get(rd)! : undefined
    const numDevices = all ? all.length : rd.numDevices
    if (all && all.length === 0) return FAIL
    if (d >= numDevices) return this.one(c, q + 1, 0, 0, false, 0)
    if (this.results[c].length + numDevices - d > ALLOCATION_RESULTS_MAX_SIZE) return MAX

    if (all) {
      const undo = this.allocateDevice(c, q, rd, all[d], true)
      if (!undo) return FAIL
      const r = this.one(c, q, s, d + 1, inSub, 0)
      if (r !== OK) undo()
      return r
    }

    const cands = this.candidates(rd)
    const need = numDevices - d
    const groups = this.pruning ? this.viableCount(c, rd, cands, start, need) : undefined
    if (groups === false) return FAIL
    for (let i = start; i < cands.length; i++) {
      const cand = cands[i]
      const viable = this.isViable(c, rd, cand)
      if (groups && viable) {
        // Leave the group counts as "viable candidates from position i on".
        let skip = false
        for (const [m, counts] of groups) {
          const key = attributeKey(cand.rec, m.attribute)!
          const n = counts.get(key) ?? 0
          if (n < need) skip = true
          counts.set(key, n - 1)
        }
        if (skip) continue
      }
      if (!this.usable(c, rd, cand)) continue
      const undo = this.allocateDevice(c, q, rd, cand, false)
      if (!undo) continue
      const r = this.one(c, q, s, d + 1, inSub, i + 1)
      if (r === OK) return OK
      undo()
      if (r === MAX) return MAX
    }
    return FAIL
  }

  /** The in-use checks upstream runs first, then the selector error if this device raised one. */
  private usable(c: number, rd: RequestData, cand: Candidate): boolean {
    const id = cand.rec.id
    if (rd.adminAccess ? this.allocatingFor(id, c) : this.inUse(cand.rec)) return false
    if (cand.error) throw this.raise(cand.error, c)
    return true
  }

  private raise(error: GpuplaneError, c: number): GpuplaneError {
    return new GpuplaneError(error.code, error.message.replace('%CLAIM%', this.claims[c].label))
  }

  /** Held whole by an earlier claim (even a multi-allocatable device, when allocated without a share), or by this search. */
  private inUse(rec: DeviceRec): boolean {
    if (this.state.allocated.has(rec.id)) return true
    if (this.multi(rec)) return false
    return this.state.shares.has(rec.id) || (this.allocating.get(rec.id)?.size ?? 0) > 0
  }

  private allocatingFor(id: string, c: number): boolean {
    return this.allocating.get(id)?.has(c) ?? false
  }

  private multi(rec: DeviceRec): boolean {
    return this.features.consumableCapacity && rec.multi
  }

  /**
   * Counts candidates from `start` that could still be added. Returns false when fewer than `need`
   * exist; otherwise, when a covering matchAttribute constraint is still open and need >= 2, the
   * per-value counts used to skip devices whose value group is too small.
   */
  private viableCount(c: number, rd: RequestData, cands: Candidate[], start: number, need: number): false | Map<MatchAttributeConstraint, Map<string, number>> | undefined {
    const open = need >= 2 ? this.openMatchConstraints(c, rd) : []
    let count = 0
    const groups = open.length ? new Map(open.map((m) => [m, new Map<string, number>()])) : undefined
    for (let i = start; i < cands.length; i++) {
      const cand = cands[i]
      if (cand.error) return undefined // reaching it may raise the error upstream raises: do not prune
      if (!this.isViable(c, rd, cand)) continue
      count++
      if (groups) {
        for (const [m, counts] of groups) {
          const key = attributeKey(cand.rec, m.attribute)!
          counts.set(key, (counts.get(key) ?? 0) + 1)
        }
      } else if (count >= need) {
        return undefined
      }
    }
    if (count < need) return false
    if (groups) for (const counts of groups.values()) if (Math.max(...counts.values()) < need) return false
    return groups
  }

  private openMatchConstraints(c: number, rd: RequestData): MatchAttributeConstraint[] {
    const out: MatchAttributeConstraint[] = []
    for (const k of this.claims[c].constraints) {
      if (k instanceof MatchAttributeConstraint && k.count === 0 && k.appliesTo(rd.parentName ?? rd.name, rd.parentName ? rd.name : undefined)) out.push(k)
    }
    return out
  }

  /** Cheap, monotonic necessary conditions for adding a candidate now or deeper in the search. */
  private isViable(c: number, rd: RequestData, cand: Candidate): boolean {
    const rec = cand.rec
    if (cand.blocked) return false
    if (rd.adminAccess ? this.allocatingFor(rec.id, c) : this.inUse(rec)) return false
    for (const k of this.claims[c].constraints) {
      if (k.appliesTo(rd.parentName ?? rd.name, rd.parentName ? rd.name : undefined) && !k.admits(attributeKey(rec, k.attribute))) return false
    }
    if (this.chargesCounters(rec) && !this.countersFit(cand)) return false
    if (cand.consumed && !fits(rec, cand.consumed, this.state.aggregatedCapacity.get(rec.id), this.allocatingCapacity.get(rec.id))) return false
    return true
  }

  /** Counters are charged once per device: when it is neither allocated already nor in this search. */
  private chargesCounters(rec: DeviceRec): boolean {
    return this.features.partitionableDevices && rec.consumes.length > 0 && !this.state.isAllocated(rec.id) && !this.inflightUse.get(rec.id)
  }

  /**
   * Candidates of a request: selectable devices in upstream's order (or by score). The list depends
   * only on the node's pools and the request's shape, so it is kept in the snapshot and shared by
   * every claim of that shape on that node; what changes with the allocation state is checked later.
   */
  private candidates(rd: RequestData): Candidate[] {
    let list = this.candidateCache.get(rd)
    if (list) return list
    const key = `${this.pools[0]?.view ?? ''}\u0001${requestShape(rd, this.features)}`
    list = this.snapshot.candidateCache.get(key) as Candidate[] | undefined
    if (!list) {
      list = []
      for (const pool of this.pools) {
        if (pool.incomplete || pool.invalid) continue
        for (const slice of pool.slices) {
          for (const rec of slice.devices) {
            const cand = this.candidate(rd, rec, pool, false)
            if (cand) list.push(cand)
          }
        }
      }
      this.snapshot.candidateCache.set(key, list)
    }
    const score = this.options.score
    if (score) {
      const scored = list.map((cand, i) => ({ cand, i, s: score({ driver: cand.rec.driver, pool: cand.rec.pool, device: cand.rec.name }, cand.rec.device.attributes ?? {}) }))
      scored.sort((a, b) => b.s - a.s || a.i - b.i)
      list = scored.map((x) => x.cand)
    }
    this.candidateCache.set(rd, list)
    return list
  }

  /** All-mode devices: every selectable device of every pool; incomplete or invalid pools make it an error. */
  private enumerateAll(rd: RequestData): Candidate[] {
    const out: Candidate[] = []
    const label = this.claims[rd.claimIndex].label
    for (const pool of this.pools) {
      if (pool.incomplete) throw new GpuplaneError('POOL_INCOMPLETE', `claim ${label}, request ${rd.fullName}: asks for all devices, but resource pool ${pool.key} is currently being updated (not all of its slices are published); retry later`)
      if (pool.invalid) throw new GpuplaneError('POOL_INVALID', `claim ${label}, request ${rd.fullName}: asks for all devices, but resource pool ${pool.key} is invalid: ${pool.invalidReason}`)
      for (const slice of pool.slices) {
        for (const rec of slice.devices) {
          const cand = this.candidate(rd, rec, pool, true)
          if (cand) out.push(cand)
        }
      }
    }
    return out
  }

  /** Static checks of one device for one request: selectors, per-device node selection, capacity shape. */
  private candidate(rd: RequestData, rec: DeviceRec, pool: Pool, eager: boolean): Candidate | undefined {
    const device = rec.device
    if (!this.features.deviceBinding && (device.bindingConditions?.length ?? 0) > 0) return undefined
    let error: GpuplaneError | undefined
    const [failed, r] = firstFailingSelector(rd.expressions, rec)
    if (r === false) return undefined
    if (r !== true) {
      const sel = rd.selectors[failed]
      // The claim is named when the error is raised: this candidate may be shared by claims of one shape.
      const where = sel.fromClass ? `class ${rd.className}` : 'claim %CLAIM%'
      // A selector that does not compile (possible for objects that skipped validation) keeps its code.
      error =
        r.code === 'SELECTOR_RUNTIME_ERROR'
          ? new GpuplaneError('SELECTOR_RUNTIME_ERROR', `${where}: selector #${sel.index} on device ${rec.id}: CEL runtime error: ${r.message}`)
          : new GpuplaneError(r.code, `${where}: selector #${sel.index}: CEL compile error: ${r.message}`)
      if (eager) throw this.raise(error, rd.claimIndex)
    }
    if (!error && rec.slice.perDeviceNodeSelection && !nodeMatches(this.node, device.nodeName, device.allNodes, device.nodeSelector)) return undefined
    const blocked = this.features.deviceTaints && (device.taints ?? []).some((t) => taintBlocks(t, rd.tolerations))
    let consumed: CapacityMap | undefined
    if (!error && this.features.consumableCapacity) {
      consumed = consumption(rec, rd.capacityRequests)
      if (!consumed) return undefined
      // All mode decides its device list up front, leaving out devices that are already full.
      if (eager && !fits(rec, consumed, this.state.aggregatedCapacity.get(rec.id), undefined)) return undefined
    }
    return { rec, pool, error, blocked, consumed }
  }

  /**
   * Tries to add one device for a request; on success returns the function that takes it back.
   * `must` (All mode): a violated constraint is an error, not a reason to try another device.
   */
  private allocateDevice(c: number, q: number, rd: RequestData, cand: Candidate, must: boolean): (() => void) | undefined {
    const rec = cand.rec
    const multi = this.multi(rec)
    if (!multi && rd.adminAccess && this.allocatingFor(rec.id, c)) return undefined
    if (!rd.adminAccess && this.inUse(rec)) return undefined
    if (!this.features.partitionableDevices && rec.consumes.length > 0) return undefined
    if (cand.blocked) return undefined
    if (cand.consumed && !fits(rec, cand.consumed, this.state.aggregatedCapacity.get(rec.id), this.allocatingCapacity.get(rec.id))) return undefined

    const chargeCounters = this.chargesCounters(rec)
    if (chargeCounters && !this.countersFit(cand)) return undefined

    const constraints = this.claims[c].constraints
    const request = rd.parentName ?? rd.name
    const sub = rd.parentName ? rd.name : undefined
    const added: Array<[typeof constraints[number], string]> = []
    const rollbackConstraints = () => {
      for (const [k, key] of added) k.remove(key)
    }
    let fixed: MatchAttributeConstraint[] | undefined
    for (const k of constraints) {
      if (!k.appliesTo(request, sub)) continue
      const key = attributeKey(rec, k.attribute)
      if (!k.admits(key)) {
        rollbackConstraints()
        if (must) {
          throw new GpuplaneError('CLAIM_UNSATISFIABLE', `claim ${this.claims[c].label}, request ${rd.fullName}: cannot add device ${rec.id} because a claim constraint would not be satisfied`)
        }
        return undefined
      }
      if (k instanceof MatchAttributeConstraint && k.count === 0) (fixed ??= []).push(k)
      k.add(key!)
      added.push([k, key!])
    }
    if (fixed && !must && this.pruning && !this.laterRequestsFeasible(c, q, fixed)) {
      rollbackConstraints()
      return undefined
    }

    if (chargeCounters) this.chargeCounters(rec, 1)
    this.inflightUse.set(rec.id, (this.inflightUse.get(rec.id) ?? 0) + 1)
    let shareID: string | undefined
    let consumed: CapacityMap | undefined
    if (multi) {
      consumed = cand.consumed ?? new Map()
      let acc = this.allocatingCapacity.get(rec.id)
      if (!acc) this.allocatingCapacity.set(rec.id, (acc = new Map()))
      accumulate(acc, consumed, 1)
      shareID = this.shareId(c, rd, rec)
    } else {
      let set = this.allocating.get(rec.id)
      if (!set) this.allocating.set(rec.id, (set = new Set()))
      set.add(c)
    }
    const results = this.results[c]
    results.push({ rd, rec, shareID, consumed })
    const length = results.length

    return () => {
      results.length = length - 1
      rollbackConstraints()
      if (multi) {
        const acc = this.allocatingCapacity.get(rec.id)!
        accumulate(acc, consumed!, -1)
        if (this.inflightUse.get(rec.id) === 1) this.allocatingCapacity.delete(rec.id)
      } else {
        this.allocating.get(rec.id)!.delete(c)
      }
      const uses = this.inflightUse.get(rec.id)! - 1
      if (uses > 0) this.inflightUse.set(rec.id, uses)
      else this.inflightUse.delete(rec.id)
      if (chargeCounters) this.chargeCounters(rec, -1)
    }
  }

  /** After `fixed` constraints got their value: can every later request of the claim they cover still be served? */
  private laterRequestsFeasible(c: number, q: number, fixed: MatchAttributeConstraint[]): boolean {
    const claim = this.claims[c]
    for (let later = q + 1; later < claim.groups.length; later++) {
      const group = claim.groups[later]
      const options = requestsOf(group)
      const feasible = options.some((rd) => {
        if (rd.mode === 'All') return true
        const relevant = fixed.filter((k) => k.appliesTo(group.name, rd.parentName ? rd.name : undefined))
        if (relevant.length === 0) return true
        let n = 0
        for (const cand of this.candidates(rd)) {
          if (cand.error) return true
          if (!this.isViable(c, rd, cand)) continue
          if (++n >= rd.numDevices) return true
        }
        return false
      })
      if (!feasible) return false
    }
    return true
  }

  /** Whether the device's counter consumption fits what its pool has left. */
  private countersFit(cand: Candidate): boolean {
    const pool = cand.pool
    if (this.poolHasNegativeCounter(pool)) return false
    const used = this.state.countersUsed.get(pool.key)
    const inflight = this.inflightCounters.get(pool.key)
    for (const c of cand.rec.consumes) {
      const set = pool.counterSets.get(c.counterSet)
      if (!set) return false
      for (const [name, amount] of c.counters) {
        let total = amount
        const u = used?.get(c.counterSet)?.get(name)
        if (u) total = total.add(u)
        const f = inflight?.get(c.counterSet)?.get(name)
        if (f) total = total.add(f)
        if (total.cmp(set.get(name) ?? ZERO) > 0) return false
      }
    }
    return true
  }

  /** Upstream refuses any counter consumption in a pool where an allocated set already overdraws a counter. */
  private poolHasNegativeCounter(pool: Pool): boolean {
    let v = this.negativePools.get(pool.key)
    if (v !== undefined) return v
    v = false
    const used = this.state.countersUsed.get(pool.key)
    if (used) {
      for (const [setName, counters] of used) {
        const totals = pool.counterSets.get(setName)
        if (!totals) continue
        for (const [name, q] of counters) if (q.cmp(totals.get(name) ?? ZERO) > 0) v = true
      }
    }
    this.negativePools.set(pool.key, v)
    return v
  }

  private chargeCounters(rec: DeviceRec, sign: 1 | -1): void {
    const key = `${rec.driver}/${rec.pool}`
    let pool = this.inflightCounters.get(key)
    if (!pool) this.inflightCounters.set(key, (pool = new Map()))
    for (const c of rec.consumes) {
      let set = pool.get(c.counterSet)
      if (!set) pool.set(c.counterSet, (set = new Map()))
      accumulate(set, new Map(c.counters), sign)
    }
  }

  /**
   * A share ID for a multi-allocatable device. Upstream draws a random UUID; gpuplane derives one
   * from the claim, request and device so that the same input always gives the same output.
   */
  private shareId(c: number, rd: RequestData, rec: DeviceRec): string {
    const claim: ResourceClaim = this.claims[c].claim
    const seed = `${claim.metadata.uid ?? this.claims[c].label}\u0000${rd.fullName}\u0000${rec.id}\u0000${this.results[c].length}`
    const h = createHash('sha256').update(seed).digest('hex')
    const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`
  }
}

export function requestsOf(group: RequestGroup): RequestData[] {
  return group.subs ?? [group.exact!]
}

/** Everything a request's static candidate list depends on besides the node's pools. */
function requestShape(rd: RequestData, f: Features): string {
  return JSON.stringify([rd.selectors.map((s) => [s.expression, s.fromClass]), rd.className, rd.tolerations ?? null, rd.capacityRequests ?? null, f.deviceBinding, f.deviceTaints, f.consumableCapacity])
}
