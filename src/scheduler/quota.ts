// Namespace quota ledger: what each namespace uses of its own quota, borrows from its cohort and lends to it, and which borrowers to preempt when a lender takes its quota back.
//
// Contract (per resource; a resource the namespace's quota does not name is unlimited for it, and
// it neither borrows nor lends that resource):
// - own(n) + lent(n) <= quota(n): a namespace's quota covers its own use and what it lent;
// - usage(n) = own(n) + borrowed(n), so usage never exceeds quota plus what was borrowed;
// - lent(n) <= lendingLimit(n), borrowed(n) <= borrowingLimit(n), and only within one cohort;
// - hence a cohort's total usage never exceeds the sum of its members' quotas;
// - normal form: a namespace borrows a resource only while its own quota of it is used up.
//   A request takes own quota first and borrows the rest; a release gives back borrowed parts
//   of the namespace's workloads (highest priority, then oldest, first) as its own quota frees.
// These are Kueue's nominalQuota / borrowingLimit / lendingLimit in a flat cohort, per namespace.
// Unlike Kueue, which pools a cohort's unused quota, each borrowed part is attributed to a lender
// and a workload, so a lender that wants its quota back preempts exactly its own borrowers.
// Pure: no clock, no I/O; the caller orders events. Amounts are exact bigints.
import { GpuplaneError } from '../common/errors.ts'
import { DEFAULT_FAIR_SHARE_WEIGHT, type Namespace } from '../api/namespace-v1alpha1.ts'
import { chooseVictims } from './quota-reclaim.ts'
import { cleanRequest, compareResourceNames, formatAmount, plainAmount, resourceNames, toResourceVector, type ResourceName, type ResourceVector } from './quota-vector.ts'
// Part of this module's API, defined beside the code that uses them: importers keep importing them from here.
export { MAX_EXACT_RECLAIM_CANDIDATES } from './quota-reclaim.ts'
export { compareResourceNames, formatAmount, formatResources, resourceNames, toResourceVector, type ResourceName, type ResourceVector } from './quota-vector.ts'

/** How a namespace is set up in the ledger (from its Namespace object). */
export interface NamespaceQuota {
  name: string
  cohort?: string
  /** Own quota of each limited resource; resources not listed are unlimited. */
  quota: ResourceVector
  /** Most it may borrow of each listed resource (a limited resource not listed: no limit). */
  borrowingLimit: ResourceVector
  /** Most it may lend of each listed resource (a limited resource not listed: all its quota). */
  lendingLimit: ResourceVector
  fairShareWeight: number
}

/** A workload the ledger holds, as recorded at admission (borrowed parts as they are now). */
export interface AdmittedWorkload {
  id: string
  namespace: string
  request: ResourceVector
  priority: number
  /** Admission order, from 0; later admissions have larger numbers. */
  seq: number
  /** The part of the request covered by other namespaces' quota, now. */
  borrowed: ResourceVector
  /** That part by lending namespace. */
  borrowedFrom: Readonly<Record<string, ResourceVector>>
}

export type CheckResult =
  | { ok: true; borrowed: ResourceVector; borrowedFrom: Readonly<Record<string, ResourceVector>> }
  | { ok: false; reason: string; resource: ResourceName }

export type ReclaimResult = { ok: true; victims: AdmittedWorkload[] } | { ok: false; reason: string }

export interface ReclaimOptions {
  /** Preemptions each namespace's disruption budget still allows now; a namespace not listed has no limit. */
  preemptionsLeft?: Readonly<Record<string, number>>
}

type Amounts = Map<ResourceName, bigint>

interface NsState {
  cfg: NamespaceQuota
  own: Amounts
  borrowed: Amounts
  lent: Amounts
  /** Ids of the namespace's workloads, in admission order. */
  workloads: Set<string>
}

interface WorkloadState {
  id: string
  namespace: string
  request: ResourceVector
  priority: number
  seq: number
  /** lender -> resource -> amount. */
  from: Map<string, Amounts>
}

const get = (m: Amounts, r: ResourceName): bigint => m.get(r) ?? 0n
const bump = (m: Amounts, r: ResourceName, d: bigint) => m.set(r, get(m, r) + d)
const min = (a: bigint, b: bigint) => (a < b ? a : b)
const toVector = (m: Amounts): ResourceVector => Object.fromEntries([...m].filter(([, v]) => v !== 0n).sort(([a], [b]) => compareResourceNames(a, b)))

/** The namespaces' quotas and the workloads admitted against them. */
export class QuotaLedger {
  private states = new Map<string, NsState>()
  private records = new Map<string, WorkloadState>()
  private nextSeq = 0

  /** Throws GpuplaneError INVALID_INPUT when two namespaces share a name or one has no name. */
  constructor(namespaces: readonly Namespace[]) {
    for (const ns of namespaces) {
      const name = ns.metadata.name
      if (name === undefined) throw new GpuplaneError('INVALID_INPUT', 'a Namespace needs metadata.name', { path: 'metadata.name' })
      if (this.states.has(name)) throw new GpuplaneError('INVALID_INPUT', `Namespace "${name}" is given twice; pass each once`, { path: 'metadata.name' })
      const s = ns.spec
      const cfg: NamespaceQuota = {
        name,
        cohort: s.cohort,
        quota: toResourceVector(s.quota),
        borrowingLimit: toResourceVector(s.borrowingLimit),
        lendingLimit: toResourceVector(s.lendingLimit),
        fairShareWeight: s.fairShareWeight ?? DEFAULT_FAIR_SHARE_WEIGHT,
      }
      this.states.set(name, { cfg, own: new Map(), borrowed: new Map(), lent: new Map(), workloads: new Set() })
    }
  }

  /** An independent copy, for trying events out. */
  clone(): QuotaLedger {
    const c = new QuotaLedger([])
    for (const [n, s] of this.states) c.states.set(n, { cfg: s.cfg, own: new Map(s.own), borrowed: new Map(s.borrowed), lent: new Map(s.lent), workloads: new Set(s.workloads) })
    for (const [id, w] of this.records) c.records.set(id, { ...w, from: new Map([...w.from].map(([l, a]) => [l, new Map(a)])) })
    c.nextSeq = this.nextSeq
    return c
  }

  /** Names of all namespaces, sorted. */
  namespaces(): string[] {
    return [...this.states.keys()].sort()
  }

  /** How a namespace is set up. Throws GpuplaneError NOT_FOUND for an unknown namespace. */
  namespace(ns: string): NamespaceQuota {
    return this.state(ns).cfg
  }

  /** Names of a cohort's members, sorted. */
  members(cohort: string): string[] {
    return this.namespaces().filter((n) => this.states.get(n)?.cfg.cohort === cohort)
  }

  /** Everything the namespace's workloads use (own quota plus borrowed). */
  usage(ns: string): ResourceVector {
    const s = this.state(ns)
    const total = new Map(s.own)
    for (const [r, v] of s.borrowed) bump(total, r, v)
    return toVector(total)
  }

  /** What the namespace's workloads use of other namespaces' quota. */
  borrowedBy(ns: string): ResourceVector {
    return toVector(this.state(ns).borrowed)
  }

  /** What other namespaces' workloads use of this namespace's quota. */
  lentBy(ns: string): ResourceVector {
    return toVector(this.state(ns).lent)
  }

  /**
   * The most of each limited resource the namespace could be granted now: its free quota plus
   * what the cohort can lend it within its borrowingLimit. Unlimited resources are left out.
   */
  available(ns: string): ResourceVector {
    const s = this.state(ns)
    const out: Partial<Record<ResourceName, bigint>> = {}
    for (const r of (Object.keys(s.cfg.quota) as ResourceName[]).sort(compareResourceNames)) {
      let borrowable = s.cfg.cohort === undefined ? 0n : this.lenders(ns).reduce((sum, l) => sum + this.lendable(l, r), 0n)
      const limit = s.cfg.borrowingLimit[r]
      if (limit !== undefined) borrowable = min(borrowable, limit - get(s.borrowed, r))
      out[r] = this.free(s, r) + (borrowable > 0n ? borrowable : 0n)
    }
    return out
  }

  /** The workload with this id, or undefined. */
  workload(id: string): AdmittedWorkload | undefined {
    const w = this.records.get(id)
    return w && snapshot(w)
  }

  /** All workloads, in admission order. */
  workloads(): AdmittedWorkload[] {
    return [...this.records.values()].sort((a, b) => a.seq - b.seq).map(snapshot)
  }

  /**
   * Whether `request` fits the namespace now: within its free quota, or with the rest borrowed
   * from cohort members' unused quota (within their lendingLimit and its borrowingLimit). When it
   * fits, says what would be borrowed and from whom. Throws only for an unknown namespace or a
   * malformed request.
   */
  check(ns: string, request: ResourceVector): CheckResult {
    const plan = this.plan(ns, cleanRequest(request))
    if (!plan.ok) return plan
    return { ok: true, borrowed: sumParts(plan.from), borrowedFrom: fromRecord(plan.from) }
  }

  /**
   * Admits a workload if it fits (as `check` says), recording its usage and what it borrowed
   * from whom; a workload that does not fit is not recorded. Throws GpuplaneError
   * ALLOCATION_CONFLICT when the id is already admitted.
   */
  admit(ns: string, workloadId: string, request: ResourceVector, priority = 0): CheckResult {
    if (this.records.has(workloadId)) throw new GpuplaneError('ALLOCATION_CONFLICT', `workload "${workloadId}" is already admitted; release it first`)
    if (!Number.isFinite(priority)) throw new GpuplaneError('INVALID_INPUT', `priority of workload "${workloadId}" must be a finite number, got ${priority}`)
    const req = cleanRequest(request)
    const plan = this.plan(ns, req)
    if (!plan.ok) return plan
    const s = this.state(ns)
    for (const [r, q] of Object.entries(req) as Array<[ResourceName, bigint]>) bump(s.own, r, q)
    for (const [lender, parts] of plan.from) {
      const l = this.state(lender)
      for (const [r, x] of parts) {
        bump(s.own, r, -x)
        bump(s.borrowed, r, x)
        bump(l.lent, r, x)
      }
    }
    const record: WorkloadState = { id: workloadId, namespace: ns, request: req, priority, seq: this.nextSeq++, from: plan.from }
    this.records.set(workloadId, record)
    s.workloads.add(workloadId)
    return { ok: true, borrowed: sumParts(plan.from), borrowedFrom: fromRecord(plan.from) }
  }

  /**
   * Releases a workload: its own quota and what it borrowed go back, and borrowed parts of the
   * namespaces whose quota freed move onto that quota. Returns the workload as it was, or
   * undefined for an unknown id (releasing twice is harmless).
   */
  release(workloadId: string): AdmittedWorkload | undefined {
    const w = this.records.get(workloadId)
    if (w === undefined) return undefined
    const before = snapshot(w)
    const s = this.state(w.namespace)
    for (const [r, q] of Object.entries(w.request) as Array<[ResourceName, bigint]>) bump(s.own, r, -q)
    for (const [lender, parts] of w.from) {
      const l = this.state(lender)
      for (const [r, x] of parts) {
        bump(s.own, r, x)
        bump(s.borrowed, r, -x)
        bump(l.lent, r, -x)
      }
    }
    this.records.delete(workloadId)
    s.workloads.delete(workloadId)
    this.repay(new Set([w.namespace, ...w.from.keys()]))
    return before
  }

  /**
   * When `request` of namespace `ns` does not fit, which workloads of other namespaces that
   * borrow from `ns` to preempt so that it does. Chooses, in order: the lowest highest victim
   * priority, then the fewest victims, then the lowest priorities, then the newest; never more
   * than each namespace's `preemptionsLeft`. Every victim is needed (dropping any one, the
   * request no longer fits). Victims come lowest priority first. `ok: true` with no victims
   * when the request fits already.
   */
  reclaimCandidates(ns: string, requested: ResourceVector, options: ReclaimOptions = {}): ReclaimResult {
    const request = cleanRequest(requested)
    const first = this.plan(ns, request)
    if (first.ok) return { ok: true, victims: [] }
    const s = this.state(ns)
    const short = resourceNames(request).filter((r) => s.cfg.quota[r] !== undefined && (request[r] as bigint) > this.free(s, r))
    const candidates = [...this.records.values()]
      .filter((w) => w.namespace !== ns && short.some((r) => get(w.from.get(ns) ?? new Map(), r) > 0n))
      .sort((a, b) => a.priority - b.priority || b.seq - a.seq || (a.id < b.id ? -1 : 1))
    if (candidates.length === 0) return { ok: false, reason: `${first.reason}; no other namespace borrows that from "${ns}", so preempting cannot help` }
    const planAfter = (set: readonly WorkloadState[]) => {
      const trial = this.clone()
      for (const w of set) trial.release(w.id)
      return trial.plan(ns, request)
    }
    const fits = (set: readonly WorkloadState[]) => planAfter(set).ok
    const all = planAfter(candidates)
    if (!all.ok) return { ok: false, reason: `even preempting all ${candidates.length} workloads that borrow from "${ns}": ${all.reason}` }
    const victims = chooseVictims(candidates, fits, options.preemptionsLeft ?? {})
    if (victims !== undefined) return { ok: true, victims: victims.map(snapshot) }
    return { ok: false, reason: `${first.reason}; preempting borrowers of "${ns}" would help, but their namespaces' disruption budgets allow too few preemptions now` }
  }

  private state(ns: string): NsState {
    const s = this.states.get(ns)
    if (s === undefined) throw new GpuplaneError('NOT_FOUND', `namespace "${ns}" is not known to the quota ledger; apply a gpuplane.io/v1alpha1 Namespace named ${ns} first`)
    return s
  }

  /** Unused own quota of a limited resource (what neither its workloads nor borrowers use). */
  private free(s: NsState, r: ResourceName): bigint {
    const q = s.cfg.quota[r] as bigint
    const f = q - get(s.own, r) - get(s.lent, r)
    return f > 0n ? f : 0n
  }

  /** What namespace `l` can lend of `r` now: its free quota, within its lendingLimit. */
  private lendable(l: string, r: ResourceName): bigint {
    const s = this.state(l)
    if (s.cfg.quota[r] === undefined) return 0n
    let x = this.free(s, r)
    const limit = s.cfg.lendingLimit[r]
    if (limit !== undefined) x = min(x, limit - get(s.lent, r))
    return x > 0n ? x : 0n
  }

  private lenders(ns: string): string[] {
    const cohort = this.state(ns).cfg.cohort
    return cohort === undefined ? [] : this.members(cohort).filter((n) => n !== ns)
  }

  /** Where each part of a request would come from, or why it does not fit. */
  private plan(ns: string, request: ResourceVector): { ok: true; from: Map<string, Amounts> } | { ok: false; reason: string; resource: ResourceName } {
    const s = this.state(ns)
    const need: Amounts = new Map()
    for (const r of resourceNames(request)) {
      if (s.cfg.quota[r] === undefined) continue
      const q = request[r] as bigint
      const free = this.free(s, r)
      if (q > free) need.set(r, q - free)
    }
    const from = new Map<string, Amounts>()
    if (need.size === 0) return { ok: true, from }
    const whose = `namespace "${ns}"`
    for (const [r, x] of need) {
      const q = request[r] as bigint
      const has = `${whose} needs ${formatAmount(r, q)} and has ${formatAmount(r, q - x)} of its quota of ${plainAmount(r, s.cfg.quota[r] as bigint)} free`
      if (s.cfg.cohort === undefined) return { ok: false, resource: r, reason: `${has}; it is in no cohort, so it cannot borrow` }
      const limit = s.cfg.borrowingLimit[r]
      if (limit !== undefined && get(s.borrowed, r) + x > limit) {
        return { ok: false, resource: r, reason: `${has}; borrowing ${formatAmount(r, x)} more would pass its borrowingLimit of ${formatAmount(r, limit)} (${formatAmount(r, get(s.borrowed, r))} borrowed now)` }
      }
      const total = this.lenders(ns).reduce((sum, l) => sum + this.lendable(l, r), 0n)
      if (total < x) return { ok: false, resource: r, reason: `${has}; cohort "${s.cfg.cohort}" can lend it only ${formatAmount(r, total)} now` }
    }
    // One lender where one suffices; otherwise, per resource, the lenders with most to lend first.
    const names = [...need.keys()]
    const lenders = this.lenders(ns)
      .map((l) => ({ l, amounts: names.map((r) => this.lendable(l, r)) }))
      .sort((a, b) => compareDesc(a.amounts, b.amounts) || (a.l < b.l ? -1 : 1))
    const single = lenders.find((c) => c.amounts.every((v, i) => v >= (need.get(names[i]) as bigint)))
    for (const [i, r] of names.entries()) {
      let rest = need.get(r) as bigint
      for (const c of single ? [single] : lenders) {
        const x = min(rest, c.amounts[i])
        if (x <= 0n) continue
        if (!from.has(c.l)) from.set(c.l, new Map())
        ;(from.get(c.l) as Amounts).set(r, x)
        rest -= x
        if (rest === 0n) break
      }
    }
    return { ok: true, from }
  }

  /**
   * Restores the normal form after quota freed in `dirty`: a namespace that borrows while its own
   * quota has room moves borrowed parts onto it (its highest-priority, oldest workloads first),
   * which frees the lenders' quota in turn. Ends: every move lowers the total borrowed.
   */
  private repay(dirty: Set<string>): void {
    while (dirty.size > 0) {
      const ns = [...dirty].sort()[0]
      dirty.delete(ns)
      const s = this.state(ns)
      const mine = [...s.workloads].map((id) => this.records.get(id) as WorkloadState).sort((a, b) => b.priority - a.priority || a.seq - b.seq)
      for (const r of [...s.borrowed.keys()].sort(compareResourceNames)) {
        let room = min(this.free(s, r), get(s.borrowed, r))
        for (const w of mine) {
          for (const lender of [...w.from.keys()].sort()) {
            if (room === 0n) break
            const parts = w.from.get(lender) as Amounts
            const x = min(room, get(parts, r))
            if (x === 0n) continue
            parts.set(r, get(parts, r) - x)
            if (get(parts, r) === 0n) parts.delete(r)
            if (parts.size === 0) w.from.delete(lender)
            bump(s.own, r, x)
            bump(s.borrowed, r, -x)
            bump(this.state(lender).lent, r, -x)
            room -= x
            dirty.add(lender)
          }
        }
      }
    }
  }
}

function compareDesc(a: bigint[], b: bigint[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] > b[i] ? -1 : 1
  return 0
}

function sumParts(from: Map<string, Amounts>): ResourceVector {
  const total: Amounts = new Map()
  for (const parts of from.values()) for (const [r, x] of parts) bump(total, r, x)
  return toVector(total)
}

function fromRecord(from: Map<string, Amounts>): Record<string, ResourceVector> {
  return Object.fromEntries([...from].sort(([a], [b]) => (a < b ? -1 : 1)).map(([l, parts]) => [l, toVector(parts)]))
}

function snapshot(w: WorkloadState): AdmittedWorkload {
  return { id: w.id, namespace: w.namespace, request: { ...w.request }, priority: w.priority, seq: w.seq, borrowed: sumParts(w.from), borrowedFrom: fromRecord(w.from) }
}
