// The scheduling controller of the server: follows the store, publishes Clusters, releases what deleted workloads held, and places pending Workloads.
//
// The view (controller-state.ts): a copy of the store and a Scheduler holding every placed
// workload, read at the store's allocation epoch and kept in line with the store's changes,
// rebuilt when the cluster changes or anything is not explained.
//
// Each round: publish what Cluster objects describe (controller-publish.ts); release what deleted
// or broken workloads held (controller-writes.ts garbageWrites); then schedule. Pending workloads
// (priority first, then fair share, then submission order) go through Scheduler.scheduleAll; the
// placements (a whole gang at once) are committed with `allocationEpoch`: the claims made for each
// created with status.allocation, the claims it names given status.allocation, its status
// `{phase: Scheduled, nodeName}`, and its preempted victims set back to Pending with their claims
// released. Placements without preemption go together, up to WRITES_PER_PLACEMENT_COMMIT writes
// per commit (all or none: a commit's fixed cost was most of a one-workload placement's); one
// that preempts is a commit of its own. CONFLICT (another replica allocated since the epoch) and
// any other sign of a stale view (a conditional write that failed) rebuild the view and retry, a
// bounded number of times with a growing, jittered pause. Workloads that do not fit get
// `{phase: Pending, reason}`, written only when the reason changes. The background loop decides
// for about SLICE_MS at a time (the API shares the event loop: a queue of hundreds would
// otherwise hold every request for the whole pass); what is left waits in order for the next
// pass, which starts at once. The passes of one such sweep skip the workloads an earlier pass of it
// found unschedulable (their reason is written), so that the sweep reaches the end of the queue
// rather than deciding its head again; the next sweep takes them again. reconcileOnce() decides
// the whole queue.
//
// Deleting a Workload frees its devices without finalizers: the controller sees it gone and
// deletes the claims made for it (and clears the allocation of claims it named) in its next round.
// In that window (one round, about intervalMs) the devices stay held, so nothing is ever allocated
// twice; a crash in the window is repaired at the next start, as the claims' owner is still gone.
// Decisions are deterministic for the same store content.
import { Registry } from 'prom-client'
import { GpuplaneError } from '../common/errors.ts'
import type { Profile } from '../scheduler/framework.ts'
import type { Decision } from '../scheduler/scheduler.ts'
import type { Store, StoredObject, Write } from '../store/types.ts'
import { controllerMetrics, type ControllerMetrics } from './controller-metrics.ts'
import { publishPlans } from './controller-publish.ts'
import { PlacementState } from './controller-state.ts'
import { scheduledNode, workloadEntries, type WorkloadEntry } from './controller-view.ts'
import { batches, dedupe, stale, units, type PlacementUnit } from './controller-batches.ts'
import { claimRelease, garbageWrites, pendingWith, pendingWrite, placementWrites, releaseWrites } from './controller-writes.ts'

/** pino's shape, which the server passes; anything with these four methods does. */
export interface ControllerLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface ControllerOptions {
  logger?: ControllerLogger
  /** Where to register the metrics (the server's registry, or its ServerMetrics); default a registry of its own. */
  metrics?: Registry | { registry: Registry }
  /** Pause between rounds (default DEFAULT_INTERVAL_MS). */
  intervalMs?: number
  /** How long a background pass decides before leaving the rest of the queue to the next pass (default SLICE_MS; 0: one workload or gang per pass). */
  sliceMs?: number
  /** Scheduling profile (default the scheduler's default profile). */
  profile?: Profile
  /** The clock of preemption times and disruption budgets (default the system clock). */
  now?: () => Date
}

export interface ReconcileResult {
  /** Workloads placed by this call. */
  scheduled: number
  /** Workloads pending after it. */
  pending: number
  /** Commits that lost to another writer and were retried. */
  conflicts: number
}

/** Default pause between rounds. */
export const DEFAULT_INTERVAL_MS = 100
/** Rounds of one reconcileOnce: conflicts and the writes a round must read back (publishing, releases) take one each. */
const MAX_ROUNDS = 8
/** First pause after a conflict; doubled each time, with jitter so that replicas do not retry in step. */
const BACKOFF_MS = 5
/** Longest pause after failures. */
const MAX_BACKOFF_MS = 5_000
/** Without changes, the queue is still looked at this often (disruption-budget windows pass). */
const IDLE_PASS_MS = 10_000
/** Longest run of scheduling decisions of a background pass before the rest waits for the next pass (the API shares the event loop). */
export const SLICE_MS = 20
/** Placements committed between two yields to the event loop (the API shares the process). */
const COMMITS_PER_YIELD = 1
/** Pending reasons written per commit. */
const REASONS_PER_COMMIT = 100

const SILENT: ControllerLogger = { debug() {}, info() {}, warn() {}, error() {} }

type RoundOutcome = { outcome: 'done' | 'again' | 'conflict'; scheduled: number }

export class Controller {
  readonly metrics: ControllerMetrics
  private readonly state: PlacementState
  private readonly log: ControllerLogger
  private readonly intervalMs: number
  private readonly sliceMs: number
  private readonly now: () => Date

  /** The allocation epoch the view is at: read before the changes, advanced by each commit of ours. */
  private epoch = 0
  private changedSincePass = true
  private lastPass = 0
  private pending = 0
  /** The last pass stopped at its time slice with workloads left undecided: the loop goes on without a pause. */
  private unfinished = false
  /** Workloads a pass of the unfinished sweep found unschedulable: left out until the sweep ends. */
  private readonly sweepFailed = new Set<string>()

  private stopped = true
  private loop?: Promise<void>
  private wakeLoop?: () => void
  /** reconcileOnce calls run one at a time. */
  private serial: Promise<unknown> = Promise.resolve()

  constructor(
    readonly store: Store,
    options: ControllerOptions = {},
  ) {
    this.log = options.logger ?? SILENT
    const registry = options.metrics === undefined ? new Registry() : 'registry' in options.metrics ? options.metrics.registry : options.metrics
    this.metrics = controllerMetrics(registry, () => (this.state.scheduler ? { snapshot: this.state.scheduler.view.snapshot, placed: this.state.tracked.values() } : undefined))
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS
    this.sliceMs = options.sliceMs ?? SLICE_MS
    this.now = options.now ?? (() => new Date())
    this.state = new PlacementState(
      store,
      options.profile,
      (msg) => this.log.warn({}, msg),
      (obj, msg) => this.log.debug(obj, msg),
    )
  }

  /** Full rebuilds of the view so far (for logs and tests). */
  get rebuilds(): number {
    return this.state.rebuilds
  }

  /** Reads the store and reconciles once (throws if it cannot), then every intervalMs until stop(). */
  async start(): Promise<void> {
    if (!this.stopped) return
    await this.reconcileOnce()
    this.stopped = false
    this.loop = this.run()
  }

  /** Ends the loop after the round in progress. */
  async stop(): Promise<void> {
    this.stopped = true
    this.wakeLoop?.()
    await this.loop
    this.loop = undefined
  }

  private async run(): Promise<void> {
    let failures = 0
    while (!this.stopped) {
      try {
        await this.serialized(() => this.reconcile(this.sliceMs))
        failures = 0
      } catch (e) {
        failures++
        this.log.error({ err: e }, 'controller round failed; retrying')
      }
      if (this.unfinished && failures === 0) await new Promise((resolve) => setImmediate(resolve))
      else await this.sleep(failures > 0 ? Math.min(MAX_BACKOFF_MS, this.intervalMs * 2 ** failures) : this.intervalMs)
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wakeLoop = done
    })
  }

  /**
   * One reconciliation: read the store's changes, publish Clusters, release what is left of
   * deleted workloads, schedule the pending ones; conflicts are re-read and retried (bounded).
   */
  reconcileOnce(): Promise<ReconcileResult> {
    return this.serialized(() => this.reconcile(undefined))
  }

  private serialized(f: () => Promise<ReconcileResult>): Promise<ReconcileResult> {
    const next = this.serial.then(f)
    this.serial = next.catch(() => undefined)
    return next
  }

  /** `sliceMs`: how long a scheduling pass may decide before leaving the rest for the next one (undefined: no limit). */
  private async reconcile(sliceMs: number | undefined): Promise<ReconcileResult> {
    let scheduled = 0
    let conflicts = 0
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const { epoch, changed } = await this.state.sync()
      this.epoch = epoch
      if (changed) this.changedSincePass = true
      const r = await this.round(sliceMs)
      scheduled += r.scheduled
      if (r.outcome === 'done') break
      if (r.outcome === 'conflict') {
        conflicts++
        this.changedSincePass = true
        await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS * 2 ** Math.min(round, 6) * (0.5 + Math.random())))
      }
    }
    this.metrics.queueDepth.set(this.pending)
    return { scheduled, pending: this.pending, conflicts }
  }

  private async round(sliceMs: number | undefined): Promise<RoundOutcome> {
    const published = await this.publish()
    if (published !== 'done') return { outcome: published, scheduled: 0 }
    if (await this.collect()) return { outcome: 'again', scheduled: 0 }
    return this.schedulePass(sliceMs)
  }

  /**
   * Commits what Clusters publish: 'again' after writing (read it back before scheduling on it),
   * 'conflict' when a commit lost to another writer. A plan the store refuses otherwise is logged
   * and skipped, so that it never holds up scheduling.
   */
  private async publish(): Promise<'done' | 'again' | 'conflict'> {
    if (!this.state.publishNeeded) return 'done'
    let wrote = false
    const plans = publishPlans(this.state.cache, this.state.parsed)
    if (plans.length === 0) this.state.publishNeeded = false
    for (const plan of plans) {
      try {
        await this.store.commit(plan.writes, { allocationEpoch: this.epoch })
        this.epoch++
        wrote = true
        this.log.info({ writes: plan.writes.length }, plan.what)
      } catch (e) {
        if (stale(e)) return 'conflict'
        if (!(e instanceof GpuplaneError)) throw e
        this.log.warn({ err: e }, `could not commit: ${plan.what}`)
      }
    }
    return wrote ? 'again' : 'done'
  }

  /**
   * Releases the claims of deleted workloads and of broken placements; true when something was
   * written. A write that fails because its object changed is left to the next round.
   */
  private async collect(): Promise<boolean> {
    const writes: Write[] = []
    for (const b of this.state.broken) {
      const w = this.state.cache.get('Workload', b.key)
      if (!w || scheduledNode(w) === undefined) continue
      const claims = [...this.state.cache.all('ResourceClaim').values()].flatMap((c) => claimRelease(c, w) ?? [])
      writes.push(...claims, pendingWrite(w, b.reason))
    }
    writes.push(...garbageWrites(this.state.cache))
    const unique = dedupe(writes)
    if (unique.length === 0) return false
    let written = unique.length
    try {
      await this.store.commit(unique)
    } catch (e) {
      if (!(e instanceof GpuplaneError)) throw e
      // One write of many failed: commit the others one by one.
      written = 0
      for (const w of unique) {
        try {
          await this.store.commit([w])
          written++
        } catch (err) {
          if (!(err instanceof GpuplaneError)) throw err
          if (!stale(err)) this.log.warn({ err }, 'releasing a claim or workload failed')
        }
      }
    }
    if (written > 0) this.log.info({ writes: written }, 'released claims of deleted or broken workloads')
    return written > 0
  }

  /** Schedules the queue and commits each placement; 'conflict' when a commit lost (the view is rebuilt). */
  private async schedulePass(sliceMs: number | undefined): Promise<RoundOutcome> {
    this.unfinished = false
    if (!this.changedSincePass && Date.now() - this.lastPass < IDLE_PASS_MS) return { outcome: 'done', scheduled: 0 }
    const started = performance.now()
    const { queue: all, problems } = this.queue()
    const queue = this.sweepFailed.size === 0 ? all : all.filter((e) => !this.sweepFailed.has(e.key))
    // The slice counts from the first decision, and is at least twice what the pass spent before
    // it (reading and ordering the queue, once per pass): a long queue gets longer slices, so that
    // this fixed cost stays a third of a pass at most.
    let until: number | undefined
    let sliceEnded = false
    const stopWhen = () => {
      if (sliceMs === undefined) return false
      if (sliceMs === 0) return (sliceEnded = true)
      const now = performance.now()
      until ??= now + Math.max(sliceMs, 2 * (now - started))
      return (sliceEnded = now > until)
    }
    const { decisions, withdrawn } = this.decide(queue, stopWhen)
    const byKey = new Map(queue.map((e) => [e.key, e]))
    let scheduled = 0
    let commits = 0
    for (const batch of batches(units(decisions, byKey))) {
      if (!(await this.commitPlacements(batch))) {
        const workloads = batch.flat().map((u) => u.entry.key)
        this.metrics.conflicts.inc()
        this.metrics.attempts.inc({ result: 'conflict' }, workloads.length)
        this.log.debug({ workloads }, 'placement commit lost to another writer; re-reading')
        this.undo(decisions)
        return { outcome: 'conflict', scheduled }
      }
      scheduled += batch.reduce((n, unit) => n + unit.length, 0)
      if (++commits % COMMITS_PER_YIELD === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    const failed = [...decisions, ...withdrawn].flatMap((d) => (d.ok ? [] : [d]))
    const unschedulable = failed.map((d) => ({ stored: byKey.get(d.workload)!.stored, reason: d.reason }))
    this.metrics.attempts.inc({ result: 'unschedulable' }, unschedulable.length)
    await this.writeReasons([...unschedulable, ...problems])
    this.pending = all.length + problems.length - scheduled
    // Undecided workloads left by the time slice: the next pass takes them (changedSincePass stays set).
    this.unfinished = sliceEnded
    if (this.unfinished) for (const d of failed) this.sweepFailed.add(d.workload)
    else this.sweepFailed.clear()
    this.changedSincePass = this.unfinished
    this.lastPass = Date.now()
    return { outcome: 'done', scheduled }
  }

  /**
   * Takes back what the view decided but did not commit, after a lost commit: the placements not
   * committed are unscheduled, the victims not committed are placed again where they run. What
   * cannot be put back so (their devices taken meanwhile) rebuilds the view.
   */
  private undo(decisions: readonly Decision[]): void {
    const { scheduler, tracked, cache, parsed } = this.state
    for (const d of decisions) if (d.ok && !tracked.has(d.workload)) scheduler.unschedule(d.workload)
    for (const [key, t] of tracked) {
      if (scheduler.placementOf(key) !== undefined) continue
      let back
      try {
        const stored = cache.get('Workload', key)
        back = stored && scheduler.placeOn(parsed.workload(stored), t.node, t.allocations)
      } catch {
        back = undefined
      }
      if (!back?.ok) {
        this.state.rebuildNeeded = true
        return
      }
    }
  }

  /**
   * The decisions for the queue. The scheduler keeps a preemption's victims evicted when the
   * preemptor is not placed after all (its gang fell through, or it did not fit once they were
   * out): committing that would preempt for nothing, again at every pass. So when placed workloads
   * are missing that no placement preempted, the view is rebuilt and the queue decided again
   * without the unplaced workloads of higher priority than them (`withdrawn`, they keep the
   * reason they got), until nothing is missing.
   */
  private decide(queue: readonly WorkloadEntry[], stopWhen?: () => boolean): { decisions: Decision[]; withdrawn: Decision[] } {
    const withdrawn: Decision[] = []
    const out = new Set<string>()
    for (;;) {
      this.refreshBudgets()
      const decisions = this.state.scheduler.scheduleAll(
        queue.filter((e) => !out.has(e.key)).map((e) => e.workload),
        { stopWhen },
      )
      const preempted = new Set(decisions.flatMap((d) => (d.ok ? (d.preempted ?? []) : [])))
      const lost = [...this.state.tracked.keys()].filter((k) => this.state.scheduler.placementOf(k) === undefined && !preempted.has(k))
      if (lost.length === 0) return { decisions, withdrawn }
      const failed = decisions.filter((d) => !d.ok)
      if (failed.length === 0) {
        // Not a preemption that fell through: place nothing on a view that lost track of the store.
        this.log.warn({ workloads: lost }, 'placed workloads went missing from the view; rebuilding it')
        this.state.rebuildNeeded = true
        return { decisions: [], withdrawn }
      }
      const lowest = Math.min(...lost.map((k) => this.state.priorityOf(k)))
      const culprits = failed.filter((d) => this.state.priorityOf(d.workload) > lowest)
      for (const d of culprits.length > 0 ? culprits : failed) {
        out.add(d.workload)
        withdrawn.push(d)
      }
      this.state.rebuild()
    }
  }

  /**
   * The pending workloads in submission order, and those that cannot be queued: invalid ones, and
   * those naming a claim another workload holds or names first.
   */
  private queue(): { queue: WorkloadEntry[]; problems: Array<{ stored: StoredObject; reason: string }> } {
    const { entries, invalid } = workloadEntries(this.state.cache, this.state.parsed, { unscheduledOnly: true })
    const holder = new Map<string, string>()
    for (const [key, t] of this.state.tracked) for (const k of t.claimKeys) holder.set(k, key)
    const queue: WorkloadEntry[] = []
    const problems: Array<{ stored: StoredObject; reason: string }> = []
    for (const e of entries) {
      if (this.state.tracked.has(e.key) || e.node !== undefined) continue
      const taken = e.claimKeys.find((k) => holder.has(k))
      if (taken !== undefined) {
        problems.push({ stored: e.stored, reason: `ResourceClaim ${taken} is in use by workload ${holder.get(taken)}; it waits until that one ends` })
        continue
      }
      e.workload.spec.resourceClaims?.forEach((c, i) => c.resourceClaimName && holder.set(e.claimKeys[i]!, e.key))
      queue.push(e)
    }
    for (const p of invalid) if (!p.scheduled) problems.push({ stored: this.state.cache.get('Workload', p.key)!, reason: p.reason })
    return { queue, problems }
  }

  /** Preemptions each namespace may still suffer: its budget less the workloads preempted within its window. */
  private refreshBudgets(): void {
    const left = this.state.scheduler.options.preemptionsLeft!
    const now = this.now().getTime()
    const spent = new Map<string, number[]>()
    for (const w of this.state.cache.all('Workload').values()) {
      const at = (w.status as { preemptedAt?: unknown } | undefined)?.preemptedAt
      if (typeof at !== 'string') continue
      const ns = w.metadata.namespace ?? 'default'
      spent.set(ns, [...(spent.get(ns) ?? []), Date.parse(at)])
    }
    for (const key of Object.keys(left)) delete left[key]
    for (const [name, o] of this.state.cache.all('Namespace')) {
      let budget
      try {
        budget = this.state.parsed.namespace(o).spec.disruptionBudget
      } catch {
        continue
      }
      if (!budget) continue
      const since = now - budget.windowSeconds * 1000
      left[name] = Math.max(0, budget.maxPreemptions - (spent.get(name) ?? []).filter((t) => t >= since).length)
    }
  }

  /**
   * Commits placement units (workloads, or gangs) with their victims in one commit, all or none;
   * false when it lost (stale view).
   */
  private async commitPlacements(batch: PlacementUnit[][]): Promise<boolean> {
    const writes: Write[] = []
    const unit = batch.flat()
    const planned = unit.map(({ entry, decision }) => {
      const p = placementWrites(this.state.cache, entry.stored, entry.workload, entry.claimKeys, decision)
      const offset = writes.length
      writes.push(...p.writes)
      return { entry, decision, offset, ...p }
    })
    const members = new Set(unit.map((u) => u.entry.key))
    const victims = new Map<string, string>()
    for (const { decision } of unit) for (const v of decision.preempted ?? []) if (!members.has(v)) victims.set(v, decision.workload)
    const preemptedAt = this.now().toISOString()
    for (const [v, by] of victims) {
      const t = this.state.tracked.get(v)
      const stored = this.state.cache.get('Workload', v)
      if (!t || !stored) return false
      writes.push(...releaseWrites(this.state.cache, stored, t.claimKeys, `preempted by ${by}`, { preemptedAt }))
    }
    let results: StoredObject[]
    try {
      results = await this.store.commit(writes, { allocationEpoch: this.epoch })
    } catch (e) {
      if (!stale(e)) throw e
      return false
    }
    this.epoch++
    for (const p of planned) {
      this.state.track(p.entry.key, results[p.offset + p.statusIndex]!, p.entry.workload, p.entry.claimKeys, p.decision.allocations)
      for (const [k, a] of p.allocations) this.state.accounted.set(k, a)
      this.metrics.allocations.inc({ namespace: p.entry.workload.metadata.namespace ?? 'default' })
      this.metrics.attempts.inc({ result: 'scheduled' })
    }
    for (const [v, by] of victims) {
      this.state.untrack(v)
      this.log.info({ workload: v, by }, 'preempted')
    }
    return true
  }

  /** Sets {phase: Pending, reason} where the status says otherwise; a write that went stale waits for the next pass. */
  private async writeReasons(list: Array<{ stored: StoredObject; reason: string }>): Promise<void> {
    const writes = list.filter((x) => !pendingWith(x.stored, x.reason)).map((x) => pendingWrite(x.stored, x.reason))
    for (let i = 0; i < writes.length; i += REASONS_PER_COMMIT) {
      const chunk = writes.slice(i, i + REASONS_PER_COMMIT)
      try {
        await this.store.commit(chunk)
      } catch (e) {
        if (!stale(e)) throw e
        for (const w of chunk) await this.store.commit([w]).catch((err: unknown) => void (stale(err) || this.log.warn({ err }, 'writing a pending reason failed')))
      }
    }
  }
}
