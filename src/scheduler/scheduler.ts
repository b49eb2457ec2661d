// The scheduling cycle: resolve a workload's claims, filter and score nodes, reserve and permit; gangs all-or-nothing.
import { Quantity } from '../api/quantity.ts'
import type { AllocationResult, ResourceClaim } from '../api/resource-v1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { SUCCESS, type CycleContext, type Plugin, type Profile, type Status } from './framework.ts'
import { allocations, dynamicResources, nodeAffinity, resourcesFit } from './plugins-default.ts'
import { orderPending, type FairShareState, type PendingWorkload } from './fair-share.ts'
import { isolation, isolationVmDevices, vmDecision } from './plugins-isolation.ts'
import { gangKeyOf, gangPermit } from './plugins-gang.ts'
import { namespaceQuota, usageOf } from './plugins-quota.ts'
import type { QuotaLedger, ResourceVector } from './quota.ts'
import { fragmentation } from './plugins-fragmentation.ts'
import { binpack, spread, topology } from './plugins-score.ts'
import { workloadKeyOf as workloadKey } from './workload-key.ts'
import type { ClusterView, SchedNode } from './types.ts'
import { nodeCache, noteChange } from './view.ts'
import type { VmPlan } from './vm-plan.ts'

export type Decision =
  | {
      workload: string
      ok: true
      node: string
      claims: ResourceClaim[]
      allocations: AllocationResult[]
      preempted?: string[]
      /** The VM to create for a vm-per-workload workload. */
      vm?: VmPlan
      /** Reserved, but held until its gang is complete (why); see SchedulerOptions.gangWaitCycles. */
      waiting?: string
    }
  | { workload: string; ok: false; reason: string }

export interface SchedulerOptions {
  /** Preempt lower-priority workloads when nothing fits (default true). */
  preemption?: boolean
  /** Preemptions each namespace may still suffer (its disruption budget for the current window); absent = unlimited. */
  preemptionsLeft?: Record<string, number>
  /**
   * Scheduling cycles a gang member may hold its reservation waiting for the rest of its gang
   * before the whole gang is released (default DEFAULT_GANG_WAIT_CYCLES).
   */
  gangWaitCycles?: number
  /**
   * Percentage of the nodes to find feasible before scoring (kube-scheduler's
   * percentageOfNodesToScore): 0 or absent for its adaptive default, 100 to score every node.
   */
  percentageOfNodesToScore?: number
}

/** The default profile: every default plugin (VM device check and quota after DRA, which they read); binpack and topology score. */
export function defaultProfile(weights: Record<string, number> = { binpack: 1, topology: 1 }): Profile {
  return { name: 'default', plugins: [nodeAffinity, isolation, resourcesFit, dynamicResources, isolationVmDevices, namespaceQuota, gangPermit, binpack, spread, topology, fragmentation], weights }
}

export { workloadKeyOf as workloadKey } from './workload-key.ts'

/** Default bound on a gang member's wait for its gang, in scheduling cycles. */
export const DEFAULT_GANG_WAIT_CYCLES = 1000

/** Shapes whose per-node answers a scheduler keeps. */
const MAX_CACHED_SHAPES = 256

/** What the nodes answered one shape: by node position, the status and node-local score, valid for `generation`. */
interface ShapeCache {
  generation: Float64Array
  status: Array<Status | undefined>
  score: Float64Array
  /** next[i]: a node position >= i not known to fail (count: none); a failed node points past itself. */
  next: Int32Array
  /** The tick since which `next`'s skips hold (a release anywhere ends them). */
  skipsSince: number
}

/** The first position >= i that is not skipped, compressing the path on the way. */
function nextUnskipped(next: Int32Array, i: number): number {
  let root = i
  while (next[root] !== root) root = next[root]
  while (next[i] !== root) {
    const up = next[i]
    next[i] = root
    i = up
  }
  return root
}

interface Ranked {
  node: SchedNode
  score: number
}

/** Highest score first, ties to the node first in name order; sorts only when the best is refused. */
function* bestFirst(ranked: Ranked[]): Generator<Ranked> {
  if (ranked.length === 0) return
  const better = (a: Ranked, b: Ranked) => a.score > b.score || (a.score === b.score && a.node.name < b.node.name)
  let best = 0
  for (let i = 1; i < ranked.length; i++) if (better(ranked[i], ranked[best])) best = i
  yield ranked[best]
  const rest = ranked.filter((_, i) => i !== best).sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0))
  yield* rest
}

interface Placement {
  ctx: CycleContext
  node: SchedNode
  reserved: Plugin[]
  /** Set while a permit plugin says Wait (a gang not yet complete): since which cycle, and why. */
  waiting?: { since: number; reason: string }
  /** The workloads evicted to make room for this one (restored if its gang fails). */
  evicted?: Array<[string, Placement]>
}

/**
 * Places workloads on a ClusterView. Decisions are deterministic: nodes are considered in name order,
 * the queue in priority order then submission order, and the allocator's own order is upstream's.
 */
export class Scheduler {
  private readonly placements = new Map<string, Placement>()
  /** Keys of the placements on each node. */
  private readonly onNode = new Map<string, Set<string>>()
  /** How many placements there are of each priority. */
  private readonly priorities = new Map<number, number>()
  /** Keys of the placed members of each gang (`namespace/group`). */
  private readonly gangs = new Map<string, Set<string>>()
  /** Gangs with a member waiting for the rest (the only ones expireWaiting looks at). */
  private readonly waitingGangs = new Set<string>()
  /** Scheduling cycles run so far: the clock of gang waiting. */
  private cycles = 0
  /** Gang members whose wait ran out, not yet taken by takeExpired(). */
  private expired: Decision[] = []
  private readonly nodes: SchedNode[]
  /** Where the next cycle starts filtering (kube-scheduler's nextStartNodeIndex). */
  private nextStart = 0
  private readonly profileKey: string
  /** Position in view.nodes of each of this.nodes (for the view's change clock). */
  private readonly viewIndex: Int32Array
  private readonly shapes = new Map<string, ShapeCache>()
  private readonly reasons = new Map<string, string>()
  /** Weighted score plugins whose score is node-local, and the others. */
  private readonly localScorers: Plugin[]
  private readonly globalScorers: Plugin[]

  constructor(
    readonly view: ClusterView,
    readonly profile: Profile = defaultProfile(),
    readonly options: SchedulerOptions = {},
  ) {
    this.nodes = [...view.nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    this.viewIndex = Int32Array.from(this.nodes, (n) => view.nodeIndex.get(n.name)!)
    this.profileKey = JSON.stringify([profile.name, profile.plugins.map((p) => p.name), profile.weights])
    const scorers = profile.plugins.filter((p) => p.score && (profile.weights[p.name] ?? 0) > 0)
    this.localScorers = scorers.filter((p) => p.nodeLocalScore)
    this.globalScorers = scorers.filter((p) => !p.nodeLocalScore)
  }

  /**
   * Schedules a batch: highest priority first; within one priority, namespaces take turns by
   * weighted dominant share when quotas are known (lowest share next), else submission order.
   * Each gang is scheduled as a unit.
   *
   * `stopWhen`, asked before each workload or gang after the first: when it says true the batch
   * ends there, and only the workloads decided so far have a decision (the others keep their place
   * in the queue for a later batch). A server uses it to bound how long one batch holds its event
   * loop; a batch always decides something, so batches after it make progress.
   */
  scheduleAll(workloads: readonly Workload[], options: { stopWhen?: () => boolean } = {}): Decision[] {
    const order = this.queueOrder(workloads).map((w) => ({ w }))
    const decisions = new Map<string, Decision>()
    const done = new Set<string>()
    for (const { w } of order) {
      const key = workloadKey(w)
      if (done.has(key)) continue
      if (decisions.size > 0 && options.stopWhen?.() === true) break
      const gang = w.spec.gang
      if (!gang) {
        decisions.set(key, this.scheduleOne(w))
        done.add(key)
        continue
      }
      const members = order.map((o) => o.w).filter((m) => m.spec.gang?.group === gang.group && (m.metadata.namespace ?? 'default') === (w.metadata.namespace ?? 'default'))
      for (const [k, d] of this.scheduleGang(members, gang.minMember)) {
        decisions.set(k, d)
        done.add(k)
      }
    }
    return workloads.flatMap((w) => decisions.get(workloadKey(w)) ?? [])
  }

  private queueOrder(workloads: readonly Workload[]): Workload[] {
    const byPriority = new Map<number, Array<{ w: Workload; i: number }>>()
    workloads.forEach((w, i) => {
      const p = w.spec.priority ?? 0
      byPriority.set(p, [...(byPriority.get(p) ?? []), { w, i }])
    })
    const ledger = this.view.quota
    const out: Workload[] = []
    for (const p of [...byPriority.keys()].sort((a, b) => b - a)) {
      const group = byPriority.get(p)!
      if (!ledger) {
        out.push(...group.map((x) => x.w))
        continue
      }
      const pending: PendingWorkload[] = group.map(({ w, i }) => ({ name: w.metadata.name ?? '', namespace: w.metadata.namespace ?? 'default', priority: p, creationOrder: i, request: minimumRequest(w, this.view) }))
      const byKey = new Map(group.map(({ w }) => [workloadKey(w), w]))
      out.push(...orderPending(pending, fairShareState(ledger)).map((x) => byKey.get(`${x.namespace}/${x.name}`)!))
    }
    return out
  }

  /** All or nothing: if fewer than minMember members fit, every member's reservation is undone. */
  scheduleGang(members: readonly Workload[], minMember: number): Map<string, Decision> {
    const out = new Map<string, Decision>()
    for (const m of members) out.set(workloadKey(m), this.scheduleOne(m))
    const placed = [...out.values()].filter((d) => d.ok).length
    if (placed >= minMember) {
      // Complete: the gang permit let every member that waited for the others go.
      for (const [k, d] of out) {
        if (!d.ok || d.waiting === undefined) continue
        const { waiting: _, ...placed } = d
        out.set(k, placed)
      }
      return out
    }
    // Undo in reverse, so each member's evicted workloads come back to the room it took.
    for (const m of [...members].reverse()) {
      const k = workloadKey(m)
      const evicted = this.placements.get(k)?.evicted
      if (out.get(k)!.ok) this.unschedule(k)
      if (evicted) this.restoreEvicted([...evicted].reverse())
    }
    const group = members[0]?.spec.gang?.group
    for (const m of members) {
      const d = out.get(workloadKey(m))!
      const why = d.ok ? '' : `; this member: ${d.reason}`
      out.set(workloadKey(m), { workload: workloadKey(m), ok: false, reason: `gang ${group}: only ${placed} of ${minMember} members fit together, none placed${why}` })
    }
    return out
  }

  /**
   * Gang members that held a reservation waiting for their gang longer than gangWaitCycles, and were
   * released with their whole gang; each is reported once.
   */
  takeExpired(): Decision[] {
    const out = this.expired
    this.expired = []
    return out
  }

  /** Releases every gang with a member waiting more than gangWaitCycles cycles. */
  private expireWaiting(): void {
    const limit = this.options.gangWaitCycles ?? DEFAULT_GANG_WAIT_CYCLES
    for (const gang of [...this.waitingGangs]) {
      const keys = this.gangs.get(gang) ?? new Set<string>()
      const late = [...keys].map((k) => this.placements.get(k)!).find((p) => p.waiting && this.cycles - p.waiting.since > limit)
      if (!late) continue
      for (const k of [...keys]) {
        this.unschedule(k)
        this.expired.push({ workload: k, ok: false, reason: `gang ${gang}: incomplete after ${limit} scheduling cycles (${late.waiting!.reason}); every member released` })
      }
    }
  }

  /** One scheduling cycle for one workload. */
  scheduleOne(w: Workload): Decision {
    this.cycles++
    if (this.waitingGangs.size > 0) this.expireWaiting()
    // Workloads evicted for this one (quota reclaim, priority preemption): tentative until the
    // cycle succeeds, put back if it fails, and kept with the placement in case its gang fails.
    const evicted: Array<[string, Placement]> = []
    const d = this.cycle(w, evicted)
    if (!d.ok) this.restoreEvicted(evicted)
    else if (evicted.length > 0) {
      this.placements.get(d.workload)!.evicted = evicted
      return { ...d, preempted: evicted.map(([k]) => k) }
    }
    return d
  }

  private cycle(w: Workload, evicted: Array<[string, Placement]>): Decision {
    const key = workloadKey(w)
    const ctx = this.contextFor(w, key)
    if ('ok' in ctx) return ctx
    const skipped = new Set<string>()
    for (const p of this.profile.plugins) {
      if (!p.preFilter) continue
      let s = p.preFilter(ctx)
      if (s.code.startsWith('Unschedulable') && p === namespaceQuota) {
        // The namespace's own quota is lent out: take it back from the borrowers, then ask again.
        const r = this.reclaimQuota(ctx, minimumRequest(w, this.view))
        if (!r.ok) return { workload: key, ok: false, reason: `${p.name}: ${s.reason}; ${r.reason}` }
        evicted.push(...r.victims)
        s = p.preFilter(ctx)
      }
      if (s.code === 'Skip') skipped.add(p.name)
      else if (s.code !== 'Success') return { workload: key, ok: false, reason: `${p.name}: ${s.reason ?? s.code}` }
    }

    const filtered = new Set<string>()
    const seen = this.shapeCache(ctx.shapeKey)
    const feasible = this.findFeasible(ctx, skipped, seen, filtered)
    if (typeof feasible === 'string') return { workload: key, ok: false, reason: feasible }
    // Plugins keep per-node data of the cycle (the devices chosen); a node answered from the cache
    // is filtered again (cheaply: its plugins cache too) before anything needs that data.
    const prepare = (node: SchedNode) => {
      if (!filtered.has(node.name)) this.filter(ctx, node, skipped)
      filtered.add(node.name)
    }
    if (feasible.length === 0) {
      const { reasons, resolvable } = this.whyNot(ctx, skipped, seen)
      const preempted = this.options.preemption === false ? undefined : this.preempt(ctx, skipped, resolvable, evicted)
      if (!preempted) return { workload: key, ok: false, reason: explain(reasons, this.nodes.length) }
      const placement = this.reserve(ctx, preempted.node)
      if ('refused' in placement) return { workload: key, ok: false, reason: `after preempting ${preempted.victims.join(', ')}: ${placement.refused}` }
      this.remember(key, placement)
      return { workload: key, ok: true, node: preempted.node.name, claims: ctx.claims, allocations: allocations(ctx).get(preempted.node.name) ?? [], ...vmDecision(ctx, preempted.node), ...(placement.waiting ? { waiting: placement.waiting.reason } : {}) }
    }

    if (this.globalScorers.length > 0) {
      for (const f of feasible) {
        prepare(f.node)
        for (const p of this.globalScorers) f.score += this.profile.weights[p.name]! * p.score!(ctx, f.node)
      }
    }
    const refusals = new Map<string, number>()
    for (const { node } of bestFirst(feasible)) {
      prepare(node)
      let placement = this.reserve(ctx, node)
      if ('refused' in placement && placement.plugin === namespaceQuota && ctx.view.quota) {
        // What the chosen devices take (GPU memory, model) exceeds what is free of the namespace's
        // quota: reclaim what borrowers hold of it, then reserve again on the same node.
        const r = this.reclaimQuota(ctx, usageOf(ctx, allocations(ctx).get(node.name) ?? []))
        if (r.ok) {
          evicted.push(...r.victims)
          placement = this.reserve(ctx, node)
        }
      }
      if ('refused' in placement) {
        refusals.set(placement.refused, (refusals.get(placement.refused) ?? 0) + 1)
        continue
      }
      this.remember(key, placement)
      return { workload: key, ok: true, node: node.name, claims: ctx.claims, allocations: allocations(ctx).get(node.name) ?? [], ...vmDecision(ctx, node), ...(placement.waiting ? { waiting: placement.waiting.reason } : {}) }
    }
    return { workload: key, ok: false, reason: `reservation refused on ${explain(refusals, feasible.length)}` }
  }

  /**
   * Filters from where the last cycle stopped until enough feasible nodes are found (all of them
   * on clusters under 100 nodes). What a node gave this shape, its filter status and node-local
   * score, is reused while the node's generation is unchanged; and since filters are monotone (see
   * framework.ts), a node that failed stays failed until something is released somewhere, so it is
   * skipped without a look (seen.next) until then. Returns the feasible nodes with their
   * node-local scores, or the reason of a filter error.
   */
  private findFeasible(ctx: CycleContext, skipped: Set<string>, seen: ShapeCache, filtered: Set<string>): Ranked[] | string {
    const feasible: Ranked[] = []
    const count = this.nodes.length
    const wanted = feasibleNodesToFind(count, this.options.percentageOfNodesToScore ?? 0)
    const changes = this.view.changes
    if (seen.skipsSince < changes.released) {
      for (let i = 0; i <= count; i++) seen.next[i] = i
      seen.skipsSince = changes.tick
    }
    let stoppedAt = -1
    for (let pass = 0; pass < 2 && stoppedAt < 0; pass++) {
      const to = pass === 0 ? count : this.nextStart
      for (let i = nextUnskipped(seen.next, pass === 0 ? this.nextStart : 0); i < to && stoppedAt < 0; i = nextUnskipped(seen.next, i + 1)) {
        const own = changes.node[this.viewIndex[i]]
        const generation = own > changes.shared ? own : changes.shared
        let s = seen.generation[i] === generation ? seen.status[i] : undefined
        if (s === undefined) {
          const node = this.nodes[i]
          s = this.filter(ctx, node, skipped)
          if (s.code === 'Error') return `${s.plugin}: ${s.reason}`
          filtered.add(node.name)
          seen.score[i] = s.code === 'Success' ? this.localScore(ctx, node) : 0
          seen.status[i] = s
          seen.generation[i] = generation
        }
        if (s.code !== 'Success') seen.next[i] = i + 1
        else if (feasible.push({ node: this.nodes[i], score: seen.score[i] }) >= wanted) stoppedAt = i
      }
    }
    // The next cycle starts after the last node looked at (kube-scheduler's nextStartNodeIndex).
    if (stoppedAt >= 0) this.nextStart = (stoppedAt + 1) % count
    return feasible
  }

  /** When no node is feasible: each node's reason (as it is now), counted, and the nodes where preemption could help. */
  private whyNot(ctx: CycleContext, skipped: Set<string>, seen: ShapeCache): { reasons: Map<string, number>; resolvable: SchedNode[] } {
    const changes = this.view.changes
    const reasons = new Map<string, number>()
    const resolvable: SchedNode[] = []
    for (let i = 0; i < this.nodes.length; i++) {
      const own = changes.node[this.viewIndex[i]]
      const generation = own > changes.shared ? own : changes.shared
      if (seen.generation[i] !== generation) {
        // Skipped as known to fail: say why with the node as it is now.
        seen.status[i] = this.filter(ctx, this.nodes[i], skipped)
        seen.generation[i] = generation
      }
      const s = seen.status[i]!
      const why = s.reason ?? s.code
      reasons.set(why, (reasons.get(why) ?? 0) + 1)
      if (s.code === 'Unschedulable') resolvable.push(this.nodes[i])
    }
    return { reasons, resolvable }
  }

  /**
   * Preemption, as kube-scheduler does it but for DRA devices too: on each node where the workload
   * is merely unschedulable, remove every lower-priority workload, check it fits, then give back
   * (highest priority first) every victim it fits without. The node whose victims have the lowest
   * top priority, then are fewest, wins. Gang members are never victims (a gang is all or nothing),
   * and no namespace loses more workloads than its disruption budget allows. The chosen victims are
   * evicted and the workload's devices are found again on that node.
   */
  private preempt(ctx: CycleContext, skipped: Set<string>, nodes: SchedNode[], evicted: Array<[string, Placement]>): { node: SchedNode; victims: string[] } | undefined {
    const priority = ctx.workload.spec.priority ?? 0
    if (![...this.priorities.keys()].some((p) => p < priority)) return undefined
    let best: { node: SchedNode; victims: Array<[string, Placement]>; top: number } | undefined
    for (const node of nodes) {
      const lower = [...(this.onNode.get(node.name) ?? [])].map((k) => [k, this.placements.get(k)!] as [string, Placement]).filter(([, p]) => (p.ctx.workload.spec.priority ?? 0) < priority && !p.ctx.workload.spec.gang)
      if (lower.length === 0) continue
      for (const [, p] of lower) this.release(p)
      let victims: Array<[string, Placement]> = []
      if (this.filter(ctx, node, skipped).code === 'Success') {
        // Reprieve from the highest priority down; whoever the workload cannot fit beside stays a victim.
        const byPriority = [...lower].sort(([ka, a], [kb, b]) => (b.ctx.workload.spec.priority ?? 0) - (a.ctx.workload.spec.priority ?? 0) || (ka < kb ? -1 : 1))
        for (const entry of byPriority) {
          this.restore(entry[1])
          if (this.filter(ctx, node, skipped).code !== 'Success') {
            this.release(entry[1])
            victims.push(entry)
          }
        }
        for (const [, p] of victims) this.restore(p)
      } else {
        for (const [, p] of lower) this.restore(p)
        victims = []
      }
      if (victims.length === 0 || !this.withinBudget(victims)) continue
      const top = Math.max(...victims.map(([, p]) => p.ctx.workload.spec.priority ?? 0))
      if (!best || top < best.top || (top === best.top && victims.length < best.victims.length)) best = { node, victims, top }
    }
    if (!best) return undefined
    for (const [key, p] of best.victims) {
      this.release(p)
      this.forget(key)
      this.spendBudget(p)
      evicted.push([key, p])
    }
    if (this.filter(ctx, best.node, skipped).code !== 'Success') return undefined
    return { node: best.node, victims: best.victims.map(([key]) => key) }
  }

  /**
   * Quota reclaim: the namespace lent quota that it now needs, so the workloads borrowing it are
   * preempted, whatever their priority (borrowed capacity is preemptible), as the ledger chooses
   * them (lowest priorities, fewest, within disruption budgets). A victim in a gang takes its whole
   * gang with it, since a gang runs all or nothing; budgets count every member. The victims are
   * released at once; a cycle that fails afterwards puts them back (restoreEvicted).
   */
  private reclaimQuota(ctx: CycleContext, request: ResourceVector): { ok: true; victims: Array<[string, Placement]> } | { ok: false; reason: string } {
    const ledger = ctx.view.quota
    const ns = ctx.workload.metadata.namespace ?? 'default'
    if (!ledger || !ledger.namespaces().includes(ns)) return { ok: false, reason: 'no quota to reclaim' }
    const r = ledger.reclaimCandidates(ns, request, { preemptionsLeft: this.options.preemptionsLeft })
    if (!r.ok) return r
    if (r.victims.length === 0) return { ok: false, reason: 'nothing borrowed to reclaim' }
    const victims = new Map<string, Placement>()
    for (const v of r.victims) {
      const p = this.placements.get(v.id)
      if (!p) continue
      const gang = p.ctx.workload.spec.gang?.group
      const vns = p.ctx.workload.metadata.namespace ?? 'default'
      const members = gang === undefined ? [[v.id, p] as const] : [...this.placements].filter(([, q]) => q.ctx.workload.spec.gang?.group === gang && (q.ctx.workload.metadata.namespace ?? 'default') === vns)
      for (const [k, q] of members) victims.set(k, q)
    }
    if (victims.size === 0) return { ok: false, reason: 'the borrowers are not placed by this scheduler' }
    if (!this.withinBudget([...victims])) return { ok: false, reason: 'reclaiming would preempt whole gangs beyond their namespaces\' disruption budgets' }
    for (const [k, p] of victims) {
      this.release(p)
      this.forget(k)
      this.spendBudget(p)
    }
    return { ok: true, victims: [...victims] }
  }

  /** Puts back evicted workloads when what they were evicted for is not placed after all. */
  private restoreEvicted(victims: Array<[string, Placement]>): void {
    const left = this.options.preemptionsLeft
    for (const [k, p] of victims) {
      this.restore(p)
      this.remember(k, p)
      const ns = p.ctx.workload.metadata.namespace ?? 'default'
      if (left && left[ns] !== undefined) left[ns]++
    }
  }

  private spendBudget(p: Placement): void {
    const ns = p.ctx.workload.metadata.namespace ?? 'default'
    const left = this.options.preemptionsLeft
    if (left && left[ns] !== undefined) left[ns]--
  }

  private withinBudget(victims: Array<[string, Placement]>): boolean {
    const left = this.options.preemptionsLeft
    if (!left) return true
    const per = new Map<string, number>()
    for (const [, p] of victims) {
      const ns = p.ctx.workload.metadata.namespace ?? 'default'
      per.set(ns, (per.get(ns) ?? 0) + 1)
    }
    return [...per].every(([ns, n]) => left[ns] === undefined || n <= left[ns]!)
  }

  /** Takes a placement's reservations back without forgetting it (for what-if checks). */
  private release(p: Placement): void {
    noteChange(this.view, p.node.name, true)
    for (const plugin of [...p.reserved].reverse()) plugin.unreserve?.(p.ctx, p.node)
  }

  /** Re-applies a released placement's reservations exactly as they were. */
  private restore(p: Placement): void {
    noteChange(this.view, p.node.name)
    for (const plugin of p.reserved) plugin.reserve?.(p.ctx, p.node)
  }

  private remember(key: string, p: Placement): void {
    this.placements.set(key, p)
    const gang = gangKeyOf(p.ctx)
    if (gang !== undefined) {
      let keys = this.gangs.get(gang)
      if (!keys) this.gangs.set(gang, (keys = new Set()))
      keys.add(key)
      if (p.waiting) this.waitingGangs.add(gang)
      else {
        // The gang is complete: every member that waited for it may go.
        for (const k of keys) delete this.placements.get(k)!.waiting
        this.waitingGangs.delete(gang)
      }
    }
    const priority = p.ctx.workload.spec.priority ?? 0
    this.priorities.set(priority, (this.priorities.get(priority) ?? 0) + 1)
    let keys = this.onNode.get(p.node.name)
    if (!keys) this.onNode.set(p.node.name, (keys = new Set()))
    keys.add(key)
  }

  private forget(key: string): void {
    const p = this.placements.get(key)
    if (!p) return
    this.placements.delete(key)
    this.onNode.get(p.node.name)!.delete(key)
    const gang = gangKeyOf(p.ctx)
    if (gang !== undefined) {
      const keys = this.gangs.get(gang)!
      keys.delete(key)
      if (![...keys].some((k) => this.placements.get(k)!.waiting)) this.waitingGangs.delete(gang)
      if (keys.size === 0) this.gangs.delete(gang)
    }
    const priority = p.ctx.workload.spec.priority ?? 0
    const left = this.priorities.get(priority)! - 1
    if (left > 0) this.priorities.set(priority, left)
    else this.priorities.delete(priority)
  }

  /** Undoes a placement (the workload ended, was preempted, or its gang failed). */
  unschedule(key: string): boolean {
    const p = this.placements.get(key)
    if (!p) return false
    this.release(p)
    this.forget(key)
    return true
  }

  placementOf(key: string): string | undefined {
    return this.placements.get(key)?.node.name
  }

  private filter(ctx: CycleContext, node: SchedNode, skipped: Set<string>): Status {
    for (const p of this.profile.plugins) {
      if (!p.filter || skipped.has(p.name)) continue
      const s = p.filter(ctx, node)
      if (s.code !== 'Success') return { code: s.code, reason: this.intern(s.reason ?? s.code), plugin: p.name }
    }
    return SUCCESS
  }

  /**
   * One string object per distinct reason: thousands of nodes give the same reason, built afresh
   * each time, and counting them by a string that is the very same object is much cheaper.
   */
  private intern(reason: string): string {
    let r = this.reasons.get(reason)
    if (r === undefined) {
      if (this.reasons.size >= 4096) this.reasons.clear()
      this.reasons.set(reason, (r = reason))
    }
    return r
  }

  /** The filter statuses and node-local scores of one shape by node position (most recently used shapes kept). */
  private shapeCache(shape: string): ShapeCache {
    let c = this.shapes.get(shape)
    if (c !== undefined) {
      this.shapes.delete(shape)
    } else {
      if (this.shapes.size >= MAX_CACHED_SHAPES) this.shapes.delete(this.shapes.keys().next().value!)
      const n = this.nodes.length
      c = { generation: new Float64Array(n).fill(-1), status: new Array<Status | undefined>(n), score: new Float64Array(n), next: Int32Array.from({ length: n + 1 }, (_, i) => i), skipsSince: this.view.changes.tick }
    }
    this.shapes.set(shape, c)
    return c
  }

  /** The weighted sum of the node-local scores (the others are added per cycle). */
  private localScore(ctx: CycleContext, node: SchedNode): number {
    let total = 0
    for (const p of this.localScorers) total += this.profile.weights[p.name]! * p.score!(ctx, node)
    return total
  }

  /** Reserve then permit on one node; a refusal undoes what was reserved and says why. */
  private reserve(ctx: CycleContext, node: SchedNode): Placement | { refused: string; plugin: Plugin } {
    noteChange(this.view, node.name)
    const reserved: Plugin[] = []
    const refuse = (p: Plugin, s: Status) => {
      for (const r of [...reserved].reverse()) r.unreserve?.(ctx, node)
      return { refused: `${p.name}: ${s.reason ?? s.code}`, plugin: p }
    }
    for (const p of this.profile.plugins) {
      if (!p.reserve) continue
      const s = p.reserve(ctx, node)
      if (s.code !== 'Success') return refuse(p, s)
      reserved.push(p)
    }
    let waiting: Placement['waiting']
    for (const p of this.profile.plugins) {
      const s = p.permit?.(ctx, node)
      if (s && s.code === 'Wait') waiting ??= { since: this.cycles, reason: `${p.name}: ${s.reason ?? 'waiting'}` }
      else if (s && s.code !== 'Success') return refuse(p, s)
    }
    return { ctx, node, reserved, ...(waiting ? { waiting } : {}) }
  }

  /**
   * The cycle's context for a workload not yet placed (INVALID_INPUT if it is), or a refusal when
   * its claims cannot be resolved (a missing ResourceClaim or template).
   */
  private contextFor(w: Workload, key: string): CycleContext | Decision {
    if (this.placements.has(key)) throw new GpuplaneError('INVALID_INPUT', `workload ${key} is already placed`)
    try {
      return this.cycleContext(w)
    } catch (e) {
      if (e instanceof GpuplaneError) return { workload: key, ok: false, reason: e.message }
      throw e
    }
  }

  /** What filter results and node-local scores depend on besides the node (see CycleContext.shapeKey). */
  private shapeKey(ctx: CycleContext): string {
    const w = ctx.workload
    const claims = ctx.claims.map((c, i) => (w.spec.resourceClaims?.[i]?.resourceClaimName ? { ref: `${c.metadata.namespace}/${c.metadata.name}` } : c.spec))
    return JSON.stringify([this.profileKey, w.metadata.namespace ?? 'default', w.spec.isolation ?? null, ctx.cpuMilli, ctx.memoryBytes, w.spec.nodeSelector ?? null, w.spec.tolerations ?? null, claims], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  }

  private cycleContext(w: Workload): CycleContext {
    const ctx: CycleContext = {
      workload: w,
      claims: resolveClaims(w, this.view),
      cpuMilli: milli(w.spec.resources?.cpu),
      memoryBytes: Number(w.spec.resources?.memory !== undefined ? Quantity.parse(w.spec.resources.memory).value() : 0n),
      view: this.view,
      data: new Map(),
      preferredMatchAttributes: this.profile.plugins.filter((p) => (this.profile.weights[p.name] ?? 0) > 0).flatMap((p) => p.preferredMatchAttributes ?? []),
      shapeKey: '',
      deviceScoreIsNodeLocal: true,
    }
    ctx.shapeKey = this.shapeKey(ctx)
    const scorers = this.profile.plugins.filter((p) => p.scoreDevice && (this.profile.weights[p.name] ?? 0) > 0)
    ctx.deviceScoreIsNodeLocal = scorers.every((p) => p.nodeLocalScore === true)
    if (scorers.length > 0) {
      ctx.deviceScore = (node, device, attributes) => scorers.reduce((sum, p) => sum + this.profile.weights[p.name]! * p.scoreDevice!(ctx, node, device, attributes), 0)
    }
    return ctx
  }

  /**
   * Places `w` on node `nodeName` and nowhere else, without preemption. With `allocs` (one per
   * claim, in the order of spec.resourceClaims) it restores a workload that already runs there
   * holding those devices: no filter runs, and it is refused only when a device is not published
   * or is already held. Without `allocs`, the pre-filters and the node's filters run and the devices
   * the DRA filter finds are taken. Either way every plugin reserves it (devices, CPU and memory,
   * tenancy, quota), so unschedule() takes it off again.
   */
  placeOn(w: Workload, nodeName: string, allocs?: readonly AllocationResult[]): Decision {
    const key = workloadKey(w)
    if (this.placements.has(key)) throw new GpuplaneError('INVALID_INPUT', `workload ${key} is already placed`)
    const node = this.nodes.find((n) => n.name === nodeName)
    if (!node) return { workload: key, ok: false, reason: `node ${nodeName} is not in the cluster` }
    const ctx = this.contextFor(w, key)
    if ('ok' in ctx) return ctx
    if (allocs) {
      if (allocs.length !== ctx.claims.length) return { workload: key, ok: false, reason: `${allocs.length} allocations given for ${ctx.claims.length} claims` }
      for (const r of allocs.flatMap((a) => a.devices?.results ?? [])) {
        const id = `${r.driver}/${r.pool}/${r.device}`
        if (!this.view.snapshot.device(id, `${r.driver}/${r.pool}`)) return { workload: key, ok: false, reason: `device ${id} is not published by any ResourceSlice` }
        if (r.adminAccess !== true && r.shareID === undefined && this.view.state.isAllocated(id)) return { workload: key, ok: false, reason: `device ${id} is already allocated` }
      }
      allocations(ctx).set(node.name, [...allocs])
    } else {
      const skipped = new Set<string>()
      for (const p of this.profile.plugins) {
        const s = p.preFilter?.(ctx)
        if (s?.code === 'Skip') skipped.add(p.name)
        else if (s && s.code !== 'Success') return { workload: key, ok: false, reason: `${p.name}: ${s.reason ?? s.code}` }
      }
      const s = this.filter(ctx, node, skipped)
      if (s.code !== 'Success') return { workload: key, ok: false, reason: `${s.plugin}: ${s.reason ?? s.code}` }
    }
    const placement = this.reserve(ctx, node)
    if ('refused' in placement) return { workload: key, ok: false, reason: placement.refused }
    this.remember(key, placement)
    return { workload: key, ok: true, node: node.name, claims: ctx.claims, allocations: allocations(ctx).get(node.name) ?? [], ...vmDecision(ctx, node) }
  }
}

/**
 * How many feasible nodes a cycle looks for before it stops filtering, as kube-scheduler's
 * numFeasibleNodesToFind: every node under 100 nodes; else `percentage` of them (0: adaptive,
 * 50% less 1% per 125 nodes, at least 5%), and never fewer than 100.
 */
export function feasibleNodesToFind(nodes: number, percentage: number): number {
  const MIN_FEASIBLE_NODES = 100
  const MIN_PERCENTAGE = 5
  if (nodes < MIN_FEASIBLE_NODES || percentage >= 100) return nodes
  let pct = percentage
  if (pct <= 0) pct = Math.max(MIN_PERCENTAGE, 50 - Math.floor(nodes / 125))
  return Math.max(MIN_FEASIBLE_NODES, Math.floor((nodes * pct) / 100))
}

function milli(q: string | undefined): number {
  return q === undefined ? 0 : Number(Quantity.parse(q).milliValue())
}

/** Claims referenced by name, or instantiated from a template or an inline spec as `<workload>-<claim>`. */
export function resolveClaims(w: Workload, view: ClusterView): ResourceClaim[] {
  const ns = w.metadata.namespace ?? 'default'
  return (w.spec.resourceClaims ?? []).map((c) => {
    if (c.resourceClaimName) {
      const claim = view.claims.get(`${ns}/${c.resourceClaimName}`)
      if (!claim) throw new GpuplaneError('NOT_FOUND', `workload ${ns}/${w.metadata.name}: ResourceClaim ${c.resourceClaimName} does not exist in namespace ${ns}`)
      return claim
    }
    let spec = c.spec
    if (c.resourceClaimTemplateName) {
      const t = view.templates.get(`${ns}/${c.resourceClaimTemplateName}`)
      if (!t) throw new GpuplaneError('NOT_FOUND', `workload ${ns}/${w.metadata.name}: ResourceClaimTemplate ${c.resourceClaimTemplateName} does not exist in namespace ${ns}`)
      spec = t.spec.spec
    }
    if (!spec) throw new GpuplaneError('INVALID_INPUT', `workload ${ns}/${w.metadata.name}: claim ${c.name} needs resourceClaimName, resourceClaimTemplateName or spec`)
    const name = `${w.metadata.name}-${c.name}`
    return { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace: ns, uid: `${ns}/${name}` }, spec }
  })
}

/**
 * "3 nodes: insufficient NVIDIA H100 80GB HBM3 (need 8 in one NVLink domain, best has 6 free); 2
 * nodes: untolerated taint ..." — most common reason first. Reasons that differ only in "best has
 * N free" are one class of nodes, which reports the most any of them has.
 */
function explain(reasons: Map<string, number>, nodes: number): string {
  if (nodes === 0) return 'no nodes'
  const classes = new Map<string, { n: number; best: number }>()
  for (const [reason, n] of reasons) {
    const m = BEST_FREE.exec(reason)
    const key = m ? reason.replace(BEST_FREE, 'best has # free') : reason
    const c = classes.get(key) ?? { n: 0, best: -1 }
    c.n += n
    if (m) c.best = Math.max(c.best, Number(m[1]))
    classes.set(key, c)
  }
  return [...classes]
    .sort((a, b) => b[1].n - a[1].n || (a[0] < b[0] ? -1 : 1))
    .map(([key, { n, best }]) => `${n} node${n === 1 ? '' : 's'}: ${best >= 0 ? key.replace('best has # free', `best has ${best} free`) : key}`)
    .join('; ')
}

const BEST_FREE = /best has (\d+) free/

/** Capacity = every namespace's quota summed; usage and weights from the ledger. */
function fairShareState(ledger: QuotaLedger): FairShareState {
  const capacity: Record<string, bigint> = {}
  const usage: Record<string, ResourceVector> = {}
  const weights: Record<string, number> = {}
  for (const ns of ledger.namespaces()) {
    const q = ledger.namespace(ns)
    for (const [k, v] of Object.entries(q.quota)) capacity[k] = (capacity[k] ?? 0n) + (v as bigint)
    usage[ns] = ledger.usage(ns)
    weights[ns] = q.fairShareWeight
  }
  return { capacity: capacity as ResourceVector, usage, weights }
}

/** What a workload takes at least, before its devices are chosen: CPU, memory and device count. */
function minimumRequest(w: Workload, view: ClusterView): ResourceVector {
  let gpus = 0n
  try {
    for (const c of resolveClaims(w, view)) for (const r of c.spec.devices?.requests ?? []) gpus += BigInt(r.exactly?.count ?? 1)
  } catch {
    // An unresolvable claim fails in its own cycle; for ordering it counts as none.
  }
  const cpu = w.spec.resources?.cpu !== undefined ? Quantity.parse(w.spec.resources.cpu).milliValue() : 0n
  const memory = w.spec.resources?.memory !== undefined ? Quantity.parse(w.spec.resources.memory).value() : 0n
  return { gpus, cpu, memory }
}
