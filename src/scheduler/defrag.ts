// Defragmentation planner: the fewest moves of running workloads that make room for pending ones, and what each move gains.
//
// A move takes a running workload off its node and places it on another node, where it fits
// beside what is there: nothing is evicted. For each pending workload in queue order (priority
// first, then the order given; a gang at its first member, all its members together):
//   1. if it fits as the cluster is, it is placed there, with no move;
//   2. else it looks for the smallest set of one node's workloads that, moved elsewhere, lets it fit
//      on that node. Sets are tried by size, 1 first. Among the sets of one size, it prefers the
//      lowest top priority moved, then the most whole GPUs left free by the moves, then the node
//      first in name order, then the set first in the node's candidate order. The sets are ranked
//      before any fit check (GPUs freed are counted from the allocations) and tried best first, so
//      the first that works is the preferred one. A set works when the pending workload fits on
//      the node without it and each moved workload then fits on another node (one after the
//      other, each first on the node it was found to fit on alone, then fullest node first).
// Who may move: a workload that was running when the plan started and has not moved yet in it,
// whose priority is at most the pending one's, that is in no gang (a gang runs all or nothing,
// so moving one member would restart all of them: gang members never move), and whose
// namespace's disruption budget has a move left (each move counts as one disruption).
// A pending gang is placed only if at least minMember of its pending members can be; otherwise
// its moves and placements are undone.
//
// Bound (DEFAULT_DEFRAG_LIMITS): at most `maxMoves` (3) moves per pending workload, drawn from the
// `candidatesPerNode` (8) lowest-priority movable workloads of one node, so at most
// C(8,1)+C(8,2)+C(8,3) = 92 sets per node; and at most `fitChecks` (2000) fit checks (one workload
// against one node's filters) per pending workload, after which the workload is reported as not
// helped. Without a fit check (defrag-devices.ts counts), a node is skipped when its free devices
// plus those held by its `maxMoves` largest candidates are fewer than the pending workload asks
// for, and a set is skipped when its devices cannot add up (in all, and within one value of the
// attribute a matchAttribute constraint makes the devices share, e.g. one NVLink domain) or when
// it would exceed a disruption budget. After one fit check, a node is skipped when the workload
// does not fit even with all its candidates moved off. Measured on 300 nodes of 8 GPUs: a plan
// for three pending workloads takes 0.1 to 0.4 s, about half of it the scheduler's first try.
//
// Pure and deterministic: nodes in name order, candidates in a fixed order, no clock, no randomness.
// The scheduler it works on ends in the planned state.
import { combinations } from '../common/combinations.ts'
import type { AllocationResult, ResourceClaim } from '../api/resource-v1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { DeviceCounts, exclusiveDeviceIds, type Need } from './defrag-devices.ts'
import type { Decision, Scheduler } from './scheduler.ts'
import { workloadKeyOf } from './workload-key.ts'

/** A workload placed on a node with its devices, as Scheduler.placeOn reports it. */
export interface PlacedWorkload {
  workload: Workload
  node: string
  claims: ResourceClaim[]
  allocations: AllocationResult[]
}

export interface DefragLimits {
  /** Most workloads moved to make room for one pending workload. */
  maxMoves: number
  /** Movable workloads of one node that the search draws sets from (lowest priority first). */
  candidatesPerNode: number
  /** Fit checks (one workload against one node's filters) per pending workload. */
  fitChecks: number
}

export const DEFAULT_DEFRAG_LIMITS: Readonly<DefragLimits> = Object.freeze({ maxMoves: 3, candidatesPerNode: 8, fitChecks: 2000 })

export interface DefragOptions {
  /** Moves each namespace's disruption budget still allows; a namespace not listed has no limit. */
  movesLeft?: Readonly<Record<string, number>>
  limits?: Partial<DefragLimits>
}

/** One move of the plan and what it gains. */
export interface Move {
  workload: string
  priority: number
  from: string
  to: string
  /** The pending workload the move makes room for. */
  for: string
  /** Physical GPUs on `from` that this move leaves with no device in use. */
  gpusFreed: number
  /** NVLink domains on `from` that this move leaves entirely free. */
  nvlinkDomainsFreed: string[]
}

export interface DefragPlan {
  /** In the order they are to be done. */
  moves: Move[]
  /** Pending workloads the plan places, with the number of moves made for each (0: it fits as is). */
  placed: Array<{ workload: string; node: string; moves: number }>
  /** Pending workloads no move set helps: the scheduler's reason, then the planner's per node class. */
  unhelpable: Array<{ workload: string; reason: string }>
  /** Where every placed workload is after the plan, by `namespace/name`. */
  placements: Map<string, PlacedWorkload>
}

/**
 * Plans moves on `scheduler`, which must hold the `running` workloads (placed with placeOn) and
 * must not preempt (options.preemption false): a plan moves workloads, it never evicts them.
 */
export function planDefrag(scheduler: Scheduler, running: readonly PlacedWorkload[], pending: readonly Workload[], options: DefragOptions = {}): DefragPlan {
  if (scheduler.options.preemption !== false) {
    throw new GpuplaneError('INVALID_INPUT', 'the defrag planner needs a Scheduler built with preemption: false; a plan moves workloads, it does not evict them')
  }
  return new Planner(scheduler, running, options).plan(pending)
}

interface Option {
  node: string
  movers: PlacedWorkload[]
  top: number
  gpusFreed: number
  order: number
}

const priorityOf = (w: Workload): number => w.spec.priority ?? 0

class Planner {
  private readonly limits: DefragLimits
  private readonly current = new Map<string, PlacedWorkload>()
  private readonly runningKeys: Set<string>
  private readonly moved = new Set<string>()
  private readonly movesLeft: Map<string, number>
  /** Undo steps of everything done since the start, for trials and failed gangs. */
  private readonly journal: Array<() => void> = []
  private readonly counts: DeviceCounts
  private readonly nodeNames: string[]
  private readonly moves: Move[] = []
  private readonly placed: DefragPlan['placed'] = []
  private checks = 0
  /** Per pending workload: each movable workload's first other node that takes it (null: none). */
  private targets = new Map<string, string | null>()
  /** Per pending workload: free devices of each node before any trial (see targetOrder). */
  private freeAtStart = new Map<string, number>()
  /** Per pending workload: targetOrder's nodes for each number of devices needed. */
  private targetOrders = new Map<number, string[]>()
  /** Per pending workload: per node, undefined if it fits with all the node's candidates off, else why not. */
  private fitsWithAllOff = new Map<string, string | undefined>()

  constructor(
    private readonly scheduler: Scheduler,
    running: readonly PlacedWorkload[],
    options: DefragOptions,
  ) {
    this.counts = new DeviceCounts(scheduler.view)
    this.limits = { ...DEFAULT_DEFRAG_LIMITS, ...options.limits }
    for (const r of running) this.current.set(workloadKeyOf(r.workload), r)
    this.runningKeys = new Set(this.current.keys())
    this.movesLeft = new Map(Object.entries(options.movesLeft ?? {}))
    this.nodeNames = scheduler.view.nodes.map((n) => n.name).sort()
  }

  plan(pending: readonly Workload[]): DefragPlan {
    const unhelpable: DefragPlan['unhelpable'] = []
    for (const unit of queueUnits(pending)) {
      const mark = this.journal.length
      const failures = unit.members.flatMap((w) => {
        const r = this.makeRoom(w)
        return r.ok ? [] : [{ workload: workloadKeyOf(w), reason: r.reason }]
      })
      const fitted = unit.members.length - failures.length
      if (unit.gang && fitted < unit.gang.minMember) {
        this.rollback(mark)
        const why = new Map(failures.map((f) => [f.workload, f.reason]))
        for (const w of unit.members) {
          const own = why.get(workloadKeyOf(w))
          unhelpable.push({ workload: workloadKeyOf(w), reason: `gang ${unit.gang.group}: only ${fitted} of ${unit.gang.minMember} members can be placed, even with moves; none placed${own ? `; this member: ${own}` : ''}` })
        }
      } else unhelpable.push(...failures)
    }
    return { moves: [...this.moves], placed: [...this.placed], unhelpable, placements: new Map(this.current) }
  }

  /** Places one pending workload, as it is or after moves; or says why neither works. */
  private makeRoom(w: Workload): { ok: true } | { ok: false; reason: string } {
    const key = workloadKeyOf(w)
    const d = this.scheduler.scheduleOne(w)
    let reason = d.ok ? '' : d.reason
    if (d.ok && (d.preempted ?? []).length > 0) {
      // It fits only by reclaiming quota from borrowers: that evicts them, which a plan never does.
      this.scheduler.unschedule(key)
      for (const victim of d.preempted!) this.replace(this.current.get(victim)!)
      reason = `fits only by preempting ${d.preempted!.join(', ')}`
    } else if (d.ok) {
      this.put(w, d)
      this.record(this.placed, { workload: key, node: d.node, moves: 0 })
      return { ok: true }
    }
    this.checks = 0
    this.targets = new Map()
    this.fitsWithAllOff = new Map()
    this.targetOrders = new Map()
    this.freeAtStart = new Map(this.nodeNames.map((n) => [n, this.counts.free(n)]))
    const found = this.search(w)
    return found === true ? { ok: true } : { ok: false, reason: `${reason}; defrag: ${found}` }
  }

  /**
   * Best first: for k = 1, 2, ... maxMoves, every set of k candidates of a node that budgets and
   * device counts allow is ranked by the plan's preferences before any fit check, then tried in
   * that order; the first set that lets `w` fit and whose workloads all land elsewhere is done.
   * Otherwise says, per node, why it could not help.
   */
  private search(w: Workload): true | string {
    const need = this.counts.need(w)
    const candidates = this.candidatesByNode(w)
    const why = new Map<string, string>()
    const hopeless = new Set<string>()
    for (const node of this.nodeNames) {
      const c = candidates.get(node) ?? []
      const most = Math.min(this.limits.maxMoves, c.length)
      if (c.length === 0) why.set(node, 'no workload there may move (higher priority, gang members, or disruption budget spent)')
      // The largest candidates bound the total only: per attribute value, others may hold more.
      else if (!this.counts.enough(node, largest(c, most).flatMap((m) => exclusiveDeviceIds(m.allocations)), { devices: need.devices })) why.set(node, `too few devices even after moving ${most} workload${most === 1 ? '' : 's'}`)
      else {
        why.set(node, `no set of at most ${most} of its ${c.length} movable workload${c.length === 1 ? '' : 's'} makes room within the disruption budgets`)
        continue
      }
      hopeless.add(node)
    }
    let limited = false
    for (let k = 1; k <= this.limits.maxMoves && !limited; k++) {
      for (const o of this.rankedSets(k, candidates, hopeless, need)) {
        if (hopeless.has(o.node)) continue
        if (this.checks >= this.limits.fitChecks) {
          limited = true
          break
        }
        const all = candidates.get(o.node)!
        if (!this.fitsWithAllOff.has(o.node)) this.fitsWithAllOff.set(o.node, this.tryFit(w, o.node, all))
        const allOff = this.fitsWithAllOff.get(o.node)
        if (allOff !== undefined) {
          why.set(o.node, `does not fit even with ${all.length} workload${all.length === 1 ? '' : 's'} moved off: ${allOff}`)
          hopeless.add(o.node)
          continue
        }
        if (o.movers.some((m) => this.targetOf(m) === null)) {
          why.set(o.node, 'the workloads whose moving would make room fit on no other node')
          continue
        }
        if (this.tryFit(w, o.node, o.movers) !== undefined) continue
        if (this.commit(w, o)) return true
        why.set(o.node, 'the workloads to move do not all fit on other nodes together')
      }
    }
    const limit = limited ? `; search stopped at its limit of ${this.limits.fitChecks} fit checks` : ''
    return explain(why) + limit
  }

  /** The sets of k candidates worth a fit check, most preferred first: lowest top priority, most GPUs freed, node name, set order. */
  private rankedSets(k: number, candidates: Map<string, PlacedWorkload[]>, hopeless: Set<string>, need: Need): Option[] {
    const options: Option[] = []
    for (const node of this.nodeNames) {
      const cands = candidates.get(node) ?? []
      if (hopeless.has(node) || cands.length < k) continue
      let order = 0
      for (const set of combinations(cands.length, k)) {
        const movers = set.map((i) => cands[i]!)
        order++
        if (!this.withinBudgets(movers) || !this.counts.enough(node, movers.flatMap((m) => exclusiveDeviceIds(m.allocations)), need)) continue
        options.push({ node, movers, top: Math.max(...movers.map((m) => priorityOf(m.workload))), gpusFreed: this.counts.gpusFreedBy(node, movers.flatMap((m) => m.allocations)), order })
      }
    }
    return options.sort((a, b) => a.top - b.top || b.gpusFreed - a.gpusFreed || compare(a.node, b.node) || a.order - b.order)
  }

  /**
   * The workloads of each node that may move for `w`: at most candidatesPerNode, lowest priority
   * first, then most devices, then name.
   */
  private candidatesByNode(w: Workload): Map<string, PlacedWorkload[]> {
    const p = priorityOf(w)
    const byNode = new Map<string, PlacedWorkload[]>()
    for (const [key, r] of this.current) {
      if (!this.runningKeys.has(key) || this.moved.has(key) || r.workload.spec.gang || priorityOf(r.workload) > p) continue
      if ((this.movesLeft.get(r.workload.metadata.namespace ?? 'default') ?? Infinity) <= 0) continue
      let list = byNode.get(r.node)
      if (!list) byNode.set(r.node, (list = []))
      list.push(r)
    }
    for (const [node, list] of byNode) {
      list.sort((a, b) => priorityOf(a.workload) - priorityOf(b.workload) || exclusiveDevices(b) - exclusiveDevices(a) || compare(workloadKeyOf(a.workload), workloadKeyOf(b.workload)))
      byNode.set(node, list.slice(0, this.limits.candidatesPerNode))
    }
    return byNode
  }

  /** Undefined if `w` fits on `node` once `movers` are off it, else the filters' reason; the state is left as it was. */
  private tryFit(w: Workload, node: string, movers: readonly PlacedWorkload[]): string | undefined {
    const mark = this.journal.length
    for (const m of movers) this.take(m)
    this.checks++
    const d = this.scheduler.placeOn(w, node)
    if (d.ok) this.scheduler.unschedule(workloadKeyOf(w))
    this.rollback(mark)
    return d.ok ? undefined : d.reason
  }

  /** Does the option: movers off, the pending workload on, each mover onto another node; all or nothing. */
  private commit(w: Workload, o: Option): boolean {
    const mark = this.journal.length
    const key = workloadKeyOf(w)
    const gains: Array<Pick<Move, 'gpusFreed' | 'nvlinkDomainsFreed'>> = []
    for (const m of o.movers) {
      const before = this.counts.freeState(o.node)
      this.take(m)
      const after = this.counts.freeState(o.node)
      gains.push({ gpusFreed: after.gpus.size - before.gpus.size, nvlinkDomainsFreed: [...after.domains].filter((d) => !before.domains.has(d)).sort() })
    }
    const d = this.scheduler.placeOn(w, o.node)
    if (!d.ok) return this.rollback(mark)
    this.put(w, d)
    const moves: Move[] = []
    for (const [i, m] of o.movers.entries()) {
      const to = this.placeElsewhere(m, o.node)
      if (to === undefined) return this.rollback(mark)
      moves.push({ workload: workloadKeyOf(m.workload), priority: priorityOf(m.workload), from: m.node, to, for: key, ...gains[i]! })
    }
    for (const move of moves) {
      this.record(this.moves, move)
      this.spend(this.current.get(move.workload)!.workload.metadata.namespace ?? 'default')
      this.moved.add(move.workload)
      this.journal.push(() => this.moved.delete(move.workload))
    }
    this.record(this.placed, { workload: key, node: o.node, moves: moves.length })
    return true
  }

  /** Puts a workload taken off `from` on another node: its known target first, then the others best fit first. */
  private placeElsewhere(m: PlacedWorkload, from: string): string | undefined {
    const known = this.targets.get(workloadKeyOf(m.workload))
    for (const node of [...(known ? [known] : []), ...this.targetOrder(m)]) {
      if (node === from || node === m.node) continue
      this.checks++
      const d = this.scheduler.placeOn(m.workload, node)
      if (d.ok) {
        this.put(m.workload, d)
        return node
      }
    }
    return undefined
  }

  /** The first other node that takes `r` as the cluster is now, cached per pending workload. */
  private targetOf(r: PlacedWorkload): string | null {
    const key = workloadKeyOf(r.workload)
    if (!this.targets.has(key)) {
      const mark = this.journal.length
      this.take(r)
      const to = this.placeElsewhere(r, r.node)
      this.rollback(mark)
      this.targets.set(key, to ?? null)
    }
    return this.targets.get(key)!
  }

  /**
   * Nodes that might take `r`, fullest first (best fit), skipping those with too few free devices.
   * The counts are those before any trial: a trial frees devices only on the node it empties, which
   * is never a target, so on the targets the counts are never below what is free, and skipping
   * stays sound.
   */
  private targetOrder(r: PlacedWorkload): string[] {
    const need = this.counts.need(r.workload).devices
    let order = this.targetOrders.get(need)
    if (!order) {
      const free = this.freeAtStart
      order = this.nodeNames.filter((n) => free.get(n)! >= need).sort((a, b) => compareNumbers(free.get(a)!, free.get(b)!) || compare(a, b))
      this.targetOrders.set(need, order)
    }
    return order
  }

  /** Whether no namespace would lose more workloads to these moves than its disruption budget allows. */
  private withinBudgets(movers: readonly PlacedWorkload[]): boolean {
    const per = new Map<string, number>()
    for (const m of movers) {
      const ns = m.workload.metadata.namespace ?? 'default'
      per.set(ns, (per.get(ns) ?? 0) + 1)
    }
    return [...per].every(([ns, n]) => n <= (this.movesLeft.get(ns) ?? Infinity))
  }

  // Journaled changes: each pushes the step that undoes it.

  private take(r: PlacedWorkload): void {
    const key = workloadKeyOf(r.workload)
    this.scheduler.unschedule(key)
    this.current.delete(key)
    this.journal.push(() => this.replace(r))
  }

  /** Puts a workload back exactly where and how it was. */
  private replace(r: PlacedWorkload): void {
    const d = this.scheduler.placeOn(r.workload, r.node, r.allocations)
    if (!d.ok) throw new GpuplaneError('INTERNAL', `defrag: cannot put ${d.workload} back on ${r.node}: ${d.reason}`)
    this.current.set(workloadKeyOf(r.workload), r)
  }

  private put(w: Workload, d: Extract<Decision, { ok: true }>): void {
    const key = workloadKeyOf(w)
    this.current.set(key, { workload: w, node: d.node, claims: d.claims, allocations: d.allocations })
    this.journal.push(() => {
      this.scheduler.unschedule(key)
      this.current.delete(key)
    })
  }

  private record<T>(list: T[], item: T): void {
    list.push(item)
    this.journal.push(() => void list.pop())
  }

  private spend(ns: string): void {
    const left = this.movesLeft.get(ns)
    if (left === undefined) return
    this.movesLeft.set(ns, left - 1)
    this.journal.push(() => this.movesLeft.set(ns, left))
  }

  /** Undoes everything after `mark`; returns false, for the callers that give up. */
  private rollback(mark: number): false {
    while (this.journal.length > mark) this.journal.pop()!()
    return false
  }
}

/** Queue order: priority first, then the order given; a gang's pending members together at the first one's place. */
function queueUnits(pending: readonly Workload[]): Array<{ members: Workload[]; gang?: { group: string; minMember: number } }> {
  const ordered = pending.map((w, i) => ({ w, i })).sort((a, b) => priorityOf(b.w) - priorityOf(a.w) || a.i - b.i)
  const units: Array<{ members: Workload[]; gang?: { group: string; minMember: number } }> = []
  const gangs = new Map<string, { members: Workload[] }>()
  for (const { w } of ordered) {
    const gang = w.spec.gang
    if (!gang) {
      units.push({ members: [w] })
      continue
    }
    const id = `${w.metadata.namespace ?? 'default'}/${gang.group}`
    const unit = gangs.get(id)
    if (unit) unit.members.push(w)
    else {
      const created = { members: [w], gang }
      gangs.set(id, created)
      units.push(created)
    }
  }
  return units
}

/** The n workloads holding the most exclusive devices. */
function largest(list: readonly PlacedWorkload[], n: number): PlacedWorkload[] {
  return [...list].sort((a, b) => exclusiveDevices(b) - exclusiveDevices(a)).slice(0, n)
}

function exclusiveDevices(r: PlacedWorkload): number {
  return exclusiveDeviceIds(r.allocations).length
}

/** "3 nodes: ...; 1 node: ..." — most common reason first. */
function explain(outcome: Map<string, string>): string {
  if (outcome.size === 0) return 'no nodes'
  const counts = new Map<string, number>()
  for (const reason of outcome.values()) counts.set(reason, (counts.get(reason) ?? 0) + 1)
  return [...counts]
    .sort((a, b) => b[1] - a[1] || compare(a[0], b[0]))
    .map(([reason, n]) => `${n} node${n === 1 ? '' : 's'}: ${reason}`)
    .join('; ')
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Like compare, for numbers that may be Infinity (where subtraction gives NaN). */
function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0
}
