// The idle controller: classifies the workloads of namespaces with an idle policy, flags idle ones (Workload condition, metric, audit) and reclaims them after a notice and a grace period where the policy says so.
//
// Each pass (every intervalMs): for each Namespace with `spec.idle`, the workloads holding devices
// now (open allocation intervals) are classified from their own samples since they got their
// devices (src/telemetry/idle.ts; at most LOOKBACK_FACTOR × the policy's window back). Then:
//   idle            condition `Idle` (status True, reason LowUtilization, lastTransitionTime = idle
//                   since) on the Workload, and an audit entry `idle.flag` the first time;
//   reclaim policy  on top, condition `IdleReclaim` (reason ReclaimScheduled, lastTransitionTime =
//                   the notice) and an audit entry `idle.notice`; once the grace period has passed
//                   since the notice and it is still idle, the workload is preempted the way the
//                   scheduling controller preempts (src/server/controller-writes.ts): its claims
//                   released and its status set to Pending with a reason, in one commit, each write
//                   conditional on the resourceVersion read; audit entry `idle.reclaim` whose
//                   detail records the GPUs given back (chargeback's reclaimed GPU-hours);
//   busy again      both conditions removed (a notice withdrawn is audited `idle.withdrawn`);
//   unknown         (no samples, or none recent) nothing changes: a workload is never reclaimed on
//                   missing data.
// A reclaimed workload is Pending like any preempted one: the scheduler places it again when it
// fits (its new holding starts a new idle window). Reclaim by shrinking to a smaller slice is not
// implemented (the Namespace schema refuses `reclaim: shrink`). Idle reclaims do not count against
// the namespace's disruption budget: the namespace agreed to them in its policy.
import { Gauge, type Registry } from 'prom-client'
import { GpuplaneError } from '../common/errors.ts'
import { resolveIdlePolicy, type ResolvedIdlePolicy } from '../api/namespace-v1alpha1.ts'
import type { Store, StoredObject, Write } from '../store/types.ts'
import { classifyIdle, seriesOf, type IdleState } from '../telemetry/idle.ts'
import type { AllocationInterval, TelemetryStore } from '../telemetry/types.ts'
import { ParsedObjects, scheduledNode } from './controller-view.ts'
import { claimRelease, pendingWrite, type ConsumerRef } from './controller-writes.ts'
import { IntervalTracker } from './telemetry-intervals.ts'
import { Periodic } from './periodic.ts'

/** Default pause between passes: 30 s (policies count in minutes; samples come every ~10 s). */
export const DEFAULT_IDLE_INTERVAL_MS = 30_000
/** Samples are read back at most this many policy windows (plus the staleness allowance). */
const LOOKBACK_FACTOR = 2
/** The audit actor of the idle controller's entries. */
export const IDLE_ACTOR = 'system:idle-controller'
export const CONDITION_IDLE = 'Idle'
export const CONDITION_RECLAIM = 'IdleReclaim'

/** One workload of a namespace with an idle policy, as classified now. */
export interface IdleEntry {
  namespace: string
  workload: string
  gpuModels: string[]
  /** Σ share of the GPUs held. */
  gpus: number
  state: IdleState['state']
  /** Idle since (ISO), when idle. */
  since?: string
  idleSeconds?: number
  reason?: string
  policy: { smUtilBelow: number; forSeconds: number; action: string; gracePeriodSeconds: number }
  /** When the devices will be reclaimed (ISO), once a notice was given. */
  reclaimAt?: string
}

export interface IdleOptions {
  /** Longest gap between samples still counted as seen, and largest age of the newest (src/telemetry/idle.ts defaults). */
  maxGapMs?: number
  staleMs?: number
}

interface Condition {
  type: string
  status: string
  reason?: string
  message?: string
  lastTransitionTime?: string
}

const iso = (ms: number) => new Date(ms).toISOString()

/** The idle policies of the Namespaces that have one (Namespaces that do not decode are skipped: the scheduler reports them). */
async function idlePolicies(store: Store, parsed: ParsedObjects): Promise<Map<string, ResolvedIdlePolicy>> {
  const out = new Map<string, ResolvedIdlePolicy>()
  for (const o of (await store.list('Namespace')).items) {
    try {
      const idle = parsed.namespace(o).spec.idle
      if (idle) out.set(o.metadata.name, resolveIdlePolicy(idle))
    } catch {
      // invalid: no policy
    }
  }
  return out
}

/** Classifies every workload holding devices in a namespace with an idle policy (read-only). */
export async function assessIdle(store: Store, telemetry: TelemetryStore, now: number, options: IdleOptions & { namespace?: string; parsed?: ParsedObjects } = {}): Promise<Array<IdleEntry & { policyResolved: ResolvedIdlePolicy; holdingSince: number }>> {
  const policies = await idlePolicies(store, options.parsed ?? new ParsedObjects())
  const out: Array<IdleEntry & { policyResolved: ResolvedIdlePolicy; holdingSince: number }> = []
  for (const [namespace, policy] of [...policies].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (options.namespace !== undefined && namespace !== options.namespace) continue
    const open = (await telemetry.intervals({ from: now, to: now + 1, namespace })).filter((iv) => iv.to === undefined)
    const byWorkload = new Map<string, AllocationInterval[]>()
    for (const iv of open) byWorkload.set(iv.workload, [...(byWorkload.get(iv.workload) ?? []), iv])
    for (const [workload, ivs] of [...byWorkload].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const holdingSince = Math.max(...ivs.map((iv) => iv.from))
      const lookback = LOOKBACK_FACTOR * policy.forMs + (options.staleMs ?? 5 * 60_000)
      const samples = await telemetry.samples({ from: Math.max(holdingSince, now - lookback), to: now + 1, namespace, workload })
      const state = classifyIdle(seriesOf(samples), policy, { now, ...(options.maxGapMs !== undefined ? { maxGapMs: options.maxGapMs } : {}), ...(options.staleMs !== undefined ? { staleMs: options.staleMs } : {}) })
      out.push({
        namespace,
        workload,
        gpuModels: [...new Set(ivs.map((iv) => iv.gpuModel))].sort(),
        gpus: ivs.reduce((sum, iv) => sum + iv.share, 0),
        state: state.state,
        ...(state.state === 'idle' ? { since: iso(state.since), idleSeconds: Math.round(state.idleMs / 1000) } : {}),
        ...(state.state === 'unknown' ? { reason: state.reason } : {}),
        policy: { smUtilBelow: policy.smUtilBelow, forSeconds: policy.forMs / 1000, action: policy.action, gracePeriodSeconds: policy.gracePeriodMs / 1000 },
        policyResolved: policy,
        holdingSince,
      })
    }
  }
  return out
}

export interface IdleControllerOptions extends IdleOptions {
  intervalMs?: number
  now?: () => number
  /** Where gpuplane_idle_allocations is registered (the server's registry). */
  registry?: Registry
  logger?: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void }
}

export class IdleController {
  readonly gauge: Gauge<'namespace' | 'model'>
  private readonly parsed = new ParsedObjects()
  private readonly intervalMs: number
  private readonly now: () => number
  private readonly periodic: Periodic

  constructor(
    private readonly store: Store,
    private readonly telemetry: TelemetryStore,
    private readonly options: IdleControllerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? DEFAULT_IDLE_INTERVAL_MS
    this.now = options.now ?? Date.now
    this.periodic = new Periodic(this.intervalMs, () => this.evaluateOnce(), (err: unknown) => this.options.logger?.warn({ err }, 'idle pass failed; retrying'))
    this.gauge = new Gauge({ name: 'gpuplane_idle_allocations', help: 'Workloads whose allocation is idle under their namespace idle policy, by namespace and GPU model', labelNames: ['namespace', 'model'], registers: options.registry ? [options.registry] : [] })
  }

  /** Passes every intervalMs until stop(); timers are unref'd. */
  start(): void {
    this.periodic.start()
  }

  async stop(): Promise<void> {
    await this.periodic.stop()
  }

  /** One pass (see the header); returns the entries with what was done to each. */
  async evaluateOnce(): Promise<Array<IdleEntry & { action?: 'flag' | 'notice' | 'reclaim' | 'withdrawn' | 'cleared' }>> {
    const now = this.now()
    const entries = await assessIdle(this.store, this.telemetry, now, { ...this.options, parsed: this.parsed })
    this.gauge.reset()
    const out: Array<IdleEntry & { action?: 'flag' | 'notice' | 'reclaim' | 'withdrawn' | 'cleared' }> = []
    for (const e of entries) {
      const { policyResolved: policy, holdingSince: _, ...entry } = e
      if (e.state === 'idle') for (const model of e.gpuModels) this.gauge.inc({ namespace: e.namespace, model })
      try {
        const done = await this.act(e, policy, now)
        out.push({ ...entry, ...done })
      } catch (err) {
        if (!(err instanceof GpuplaneError) || !['CONFLICT', 'NOT_FOUND'].includes(err.code)) throw err
        out.push(entry) // the workload changed meanwhile: the next pass looks again
      }
    }
    return out
  }

  private async act(e: IdleEntry, policy: ResolvedIdlePolicy, now: number): Promise<{ action?: 'flag' | 'notice' | 'reclaim' | 'withdrawn' | 'cleared'; reclaimAt?: string }> {
    if (e.state === 'unknown') return {}
    const w = await this.store.get({ kind: 'Workload', namespace: e.namespace, name: e.workload })
    if (!w || scheduledNode(w) === undefined) return {}
    const conditions = ((w.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).slice()
    const idle = conditions.find((c) => c.type === CONDITION_IDLE)
    const notice = conditions.find((c) => c.type === CONDITION_RECLAIM)
    if (e.state === 'busy') {
      if (!idle && !notice) return {}
      await this.writeConditions(w, conditions.filter((c) => c.type !== CONDITION_IDLE && c.type !== CONDITION_RECLAIM))
      if (notice) await this.audit(now, 'idle.withdrawn', e, { reason: 'busy again before the grace period ended' })
      return { action: notice ? 'withdrawn' : 'cleared' }
    }
    const message = `SM utilization under ${policy.smUtilBelow}% of what it holds since ${e.since} (namespace policy: under ${policy.smUtilBelow}% for ${policy.forMs / 1000}s)`
    if (!idle) {
      conditions.push({ type: CONDITION_IDLE, status: 'True', reason: 'LowUtilization', message, lastTransitionTime: e.since })
      if (policy.action !== 'reclaim') {
        await this.writeConditions(w, conditions)
        await this.audit(now, 'idle.flag', e, { since: e.since })
        return { action: 'flag' }
      }
    }
    if (policy.action !== 'reclaim') return {}
    if (!notice) {
      const reclaimAt = iso(now + policy.gracePeriodMs)
      conditions.push({ type: CONDITION_RECLAIM, status: 'True', reason: 'ReclaimScheduled', message: `idle since ${e.since}: its devices will be reclaimed (${policy.reclaim}) at ${reclaimAt} unless it becomes busy`, lastTransitionTime: iso(now) })
      await this.writeConditions(w, conditions)
      await this.audit(now, 'idle.notice', e, { since: e.since, reclaimAt })
      return { action: 'notice', reclaimAt }
    }
    const reclaimAt = Date.parse(notice.lastTransitionTime ?? '') + policy.gracePeriodMs
    if (!(now >= reclaimAt)) return { reclaimAt: iso(reclaimAt) }
    await this.reclaim(w, e, now)
    return { action: 'reclaim', reclaimAt: iso(reclaimAt) }
  }

  /** Preempts the workload: claims released, status Pending with the reason, in one commit. */
  private async reclaim(w: StoredObject, e: IdleEntry, now: number): Promise<void> {
    const writes: Write[] = []
    for (const claim of (await this.store.list('ResourceClaim', { namespace: e.namespace })).items) {
      const reserved = ((claim.status as { reservedFor?: ConsumerRef[] } | undefined)?.reservedFor ?? []).some((r) => r.uid === w.metadata.uid)
      const release = reserved ? claimRelease(claim, w) : undefined
      if (release) writes.push(release)
    }
    writes.push(pendingWrite(w, `reclaimed: idle since ${e.since} under the namespace idle policy; waits to be placed again`, { reclaimedAt: iso(now) }))
    await this.store.commit(writes)
    await this.audit(now, 'idle.reclaim', e, { since: e.since, gpus: e.gpus, gpuModel: e.gpuModels[0], gpuModels: e.gpuModels })
    this.options.logger?.info({ workload: `${e.namespace}/${e.workload}`, gpus: e.gpus }, 'reclaimed an idle workload')
  }

  private async writeConditions(w: StoredObject, conditions: Condition[]): Promise<void> {
    const { conditions: _, ...rest } = (w.status ?? {}) as Record<string, unknown>
    const status = conditions.length === 0 ? rest : { ...rest, conditions }
    await this.store.updateStatus({ kind: 'Workload', namespace: w.metadata.namespace, name: w.metadata.name }, status, w.metadata.resourceVersion)
  }

  private async audit(now: number, action: string, e: IdleEntry, detail: Record<string, unknown>): Promise<void> {
    await this.store.appendAudit({ time: iso(now), actor: IDLE_ACTOR, action, kind: 'Workload', namespace: e.namespace, name: e.workload, result: 'ok', detail: JSON.stringify(detail) })
  }
}

/** The server's utilization loops: the allocation-interval tracker and the idle controller, on the app's store and telemetry; stop() ends both. */
export async function startUtilization(app: { store: Store; telemetry: TelemetryStore; metrics: { registry: Registry } }, options: { logger?: IdleControllerOptions['logger'] & { debug(obj: object, msg?: string): void }; idleIntervalMs?: number; trackerIntervalMs?: number } = {}): Promise<{ stop(): Promise<void> }> {
  const tracker = new IntervalTracker(app.store, app.telemetry, { ...(options.trackerIntervalMs !== undefined ? { intervalMs: options.trackerIntervalMs } : {}), ...(options.logger ? { logger: options.logger } : {}) })
  await tracker.start()
  const idle = new IdleController(app.store, app.telemetry, { registry: app.metrics.registry, ...(options.idleIntervalMs !== undefined ? { intervalMs: options.idleIntervalMs } : {}), ...(options.logger ? { logger: options.logger } : {}) })
  idle.start()
  return {
    async stop() {
      await idle.stop()
      await tracker.stop()
    },
  }
}
