// How a gateway request ends: its counters settled (reconciled, or re-added after a counter outage) and its usage ledger entry written; refusals recorded too.
import type { FastifyBaseLogger } from 'fastify'
import type { Reservation } from '../governance/admission.ts'
import type { Counters } from '../governance/counters.ts'
import type { OutagePolicy } from '../governance/outage.ts'
import { reconcile, usageCostMicro, type Usage } from '../governance/reconcile.ts'
import type { LedgerEntry, LedgerOutcome } from '../store/types.ts'
import type { CounterGuard } from './counter-guard.ts'
import type { LedgerWriter } from './ledger-writer.ts'
import type { GatewayMetrics } from './metrics.ts'

/** What the gateway keeps about one request from admission to its ledger entry. */
export interface RequestInfo {
  /** Unique request id: the ledger's idempotency key. */
  id: string
  /** Admission time (ms since the epoch): the windows of its counters. */
  time: number
  namespace: string
  agent: string
  model: string
  endpoint: string
  /** performance.now() when the request arrived. */
  startedAt: number
}

/** Where an admitted request's reservation was made: the shared counters in `epoch`, or this replica's local ones during an outage. */
export interface ReservationSite {
  local: boolean
  epoch: number
}

/** The gateway's parts that admission and settlement share. */
export interface GatewayRuntime {
  /** The shared counters (or the only ones, in this process). */
  counters: Counters
  guard: CounterGuard
  ledger?: LedgerWriter
  outage: OutagePolicy
  /** Replicas sharing the limits (the `local` outage mode enforces 1/replicas of each). */
  replicas: number
  metrics: GatewayMetrics
  now: () => number
  log: FastifyBaseLogger
  /** Admitted requests not yet settled (close waits for them before the last ledger flush). */
  inflight: InflightTracker
}

/** Counts admitted requests until they settle; idle() resolves when none is left. */
export class InflightTracker {
  private count = 0
  private waiters: Array<() => void> = []

  begin(): void {
    this.count++
  }

  end(): void {
    this.count--
    if (this.count === 0) for (const w of this.waiters.splice(0)) w()
  }

  /** Resolves when no request is in flight, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      timer.unref()
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

/**
 * Settles an admitted request once: counters adjusted to its actual usage (see counter-guard.ts for
 * what changes after an outage), then its ledger entry buffered. Never throws: a counter that cannot
 * be adjusted keeps the reservation until its window ends (logged).
 */
export async function settle(rt: GatewayRuntime, info: RequestInfo, reservation: Reservation, site: ReservationSite, usage: Usage, outcome: LedgerOutcome, status: number): Promise<void> {
  const now = rt.now()
  try {
    const result = reconcile(reservation, usage, now)
    if (result.boundExceeded) rt.log.warn({ usage, promptBound: reservation.promptBound, maxTokens: reservation.maxTokens }, 'upstream reported more tokens than the reservation bound: check the Model templateOverhead')
    const sameEpoch = site.epoch === rt.guard.epoch
    if (site.local) {
      await adjust(rt, rt.guard.local, result.adjustments)
      // The shared counters came back while it ran, after their rebuild read the ledger: add it there too.
      if (!sameEpoch && rt.guard.state !== 'down') await adjust(rt, rt.counters, addActual(reservation, usage, now))
    } else {
      await adjust(rt, rt.counters, sameEpoch ? result.adjustments : addActual(reservation, usage, now))
    }
  } finally {
    rt.ledger?.add(ledgerEntry(info, reservation, usage, outcome, status))
    rt.inflight.end()
  }
}

/** One admitted request's settlement, done once: later calls resolve at once (every path of the proxy settles, some twice). */
export class Settlement {
  private done = false

  constructor(
    private readonly rt: GatewayRuntime,
    private readonly info: RequestInfo,
    readonly reservation: Reservation,
    private readonly site: ReservationSite,
  ) {}

  get settled(): boolean {
    return this.done
  }

  /** settle() below, the first time; `status` is what the client got (499: it left first). */
  settle(usage: Usage, outcome: LedgerOutcome, status: number): Promise<void> {
    if (this.done) return Promise.resolve()
    this.done = true
    return settle(this.rt, this.info, this.reservation, this.site, usage, outcome, status)
  }
}

/** Buffers the ledger entry of a refused request (429 or fail-closed 503): it counts nothing. */
export function recordRefusal(rt: GatewayRuntime, info: RequestInfo, status: number, reason: string): void {
  rt.ledger?.add({ ...base(info), outcome: 'refused', promptTokens: 0, completionTokens: 0, costMicro: 0, requests: 0, status, reason })
}

function ledgerEntry(info: RequestInfo, reservation: Reservation, usage: Usage, outcome: LedgerOutcome, status: number): LedgerEntry {
  return {
    ...base(info),
    outcome,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    costMicro: usageCostMicro(reservation, usage),
    requests: usage.requests ?? 1,
    status,
    reservedTokens: reservation.promptBound + reservation.maxTokens * reservation.completions,
  }
}

function base(info: RequestInfo): Pick<LedgerEntry, 'id' | 'time' | 'namespace' | 'agent' | 'model' | 'endpoint' | 'latencyMs'> {
  return { id: info.id, time: info.time, namespace: info.namespace, agent: info.agent, model: info.model, endpoint: info.endpoint, latencyMs: Math.max(0, Math.round(performance.now() - info.startedAt)) }
}

/** Adjustments that add the actual usage whole (the reservation is not, or may not be, in the counters). */
function addActual(reservation: Reservation, usage: Usage, now: number) {
  return reconcile({ ...reservation, reserved: reservation.reserved.map(() => 0) }, usage, now).adjustments
}

async function adjust(rt: GatewayRuntime, counters: Counters, adjustments: ReturnType<typeof addActual>): Promise<void> {
  if (adjustments.length === 0) return
  try {
    await counters.adjust(adjustments)
  } catch (e) {
    rt.log.error({ err: e, adjustments }, 'could not reconcile counters after a request; they keep the reservation until their window ends')
  }
}
