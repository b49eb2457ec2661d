// The gateway's view of its shared counters: up, down (an outage: the outage policy decides) or rebuilding them from the ledger; and the epoch that tells a settlement whether its reservation may have been lost.
//
// States: `up` (reserve on the shared counters), `down` (a reservation threw UNAVAILABLE: every
// request goes through outage.ts degradedAdmission, fail-closed or on this replica's local
// counters), `rebuilding` (the counters answer again but may have lost their values: they are
// restored from the ledger before anything is reserved on them; requests stay degraded meanwhile).
// While down, the counters are probed every PROBE_MS, and a recovery event of the counters
// (Redis 'ready' after an error) probes at once; a working probe starts the rebuild. A rebuild that
// fails goes back to down. One log line when degraded mode starts and one when it ends.
//
// The epoch advances when a rebuild starts. A request admitted on the shared counters in an
// earlier epoch may have lost its reservation (Redis restarted empty), so at its end it adds its
// actual usage instead of releasing the difference (over-counting at worst until its window ends,
// never under). A request admitted locally during an outage adds its actual usage to the shared
// counters if they came back before it ended (else its ledger entry reaches them by the rebuild).
// Counters that are not shared (in this process) are always up.
import type { FastifyBaseLogger } from 'fastify'
import type { TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import type { Counters } from '../governance/counters.ts'
import { MemoryCounters } from '../governance/counters-memory.ts'
import type { LedgerEntry } from '../store/types.ts'
import type { GatewayMetrics } from './metrics.ts'
import { rebuildCountersFromLedger, type LedgerReader } from './rebuild-counters.ts'

/** How often the shared counters are probed while they are down (ms). */
export const PROBE_MS = 500

export type CounterState = 'up' | 'down' | 'rebuilding'

export interface CounterGuardOptions {
  counters: Counters
  /** The ledger to rebuild from; without one, counters that come back are trusted as they are. */
  ledger?: LedgerReader
  /** Entries not yet written to the ledger. */
  pending: () => readonly LedgerEntry[]
  policies: () => readonly TokenPolicy[]
  now: () => number
  log: FastifyBaseLogger
  metrics: GatewayMetrics
}

export class CounterGuard {
  state: CounterState = 'up'
  epoch = 0
  /** This replica's counters for the `local` outage mode. */
  readonly local: MemoryCounters
  private probeTimer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private unsubscribe: (() => void) | undefined
  private closed = false
  /** Whether the start of degraded mode was logged (its end is logged once, then). */
  private announced = false

  constructor(private readonly o: CounterGuardOptions) {
    this.local = new MemoryCounters(o.now)
    this.unsubscribe = o.counters.onRecovered?.(() => this.recovered())
  }

  get shared(): boolean {
    return this.o.counters.shared === true
  }

  /** At start: shared counters are rebuilt from the ledger before the first reservation (they may have been lost while no gateway ran). */
  async start(): Promise<void> {
    if (!this.shared || this.o.ledger === undefined) return
    this.o.log.info('restoring the shared token counters from the usage ledger')
    this.enter('rebuilding')
    await this.rebuild()
  }

  /** A reservation on the shared counters threw UNAVAILABLE. */
  failed(error: Error): void {
    if (this.state !== 'up') return
    this.enter('down', `shared token counters unavailable (${error.message}): degraded mode, the outage policy decides`)
  }

  /** The counters signalled that they are reachable again. */
  recovered(): void {
    if (this.closed) return
    if (this.state === 'up' && this.o.ledger !== undefined) {
      // Redis came back without a request having failed: its values may still be gone.
      this.enter('rebuilding', 'shared token counters reconnected: restoring them from the usage ledger')
      void this.rebuild()
      return
    }
    if (this.state === 'down') void this.probe()
  }

  async close(): Promise<void> {
    this.closed = true
    this.unsubscribe?.()
    clearTimeout(this.probeTimer)
    await this.running?.catch(() => {})
    await this.local.close()
  }

  /** Moves to `state`; `message` is logged when degraded mode starts, and when it ends if its start was. */
  private enter(state: CounterState, message?: string): void {
    this.state = state
    if (state === 'up') {
      clearTimeout(this.probeTimer)
      this.o.metrics.degraded.set(0)
      if (this.announced && message !== undefined) this.o.log.warn(message)
      this.announced = false
      return
    }
    this.o.metrics.degraded.set(1)
    if (!this.announced && message !== undefined) {
      this.o.log.warn(message)
      this.announced = true
    }
    if (state === 'down') this.scheduleProbe()
  }

  private scheduleProbe(): void {
    clearTimeout(this.probeTimer)
    if (this.closed) return
    this.probeTimer = setTimeout(() => void this.probe(), PROBE_MS)
    this.probeTimer.unref()
  }

  /** While down: one read of the counters; if it works, rebuild (or trust them without a ledger). */
  private async probe(): Promise<void> {
    if (this.state !== 'down' || this.running !== undefined || this.closed) return
    try {
      await this.o.counters.get(['gpuplane-probe'])
    } catch {
      this.scheduleProbe()
      return
    }
    if (this.state !== 'down') return
    if (this.o.ledger === undefined) {
      this.epoch++
      this.enter('up', 'shared token counters are back (no ledger to restore them from: they are used as they are); degraded mode ended')
      return
    }
    this.enter('rebuilding')
    await this.rebuild()
  }

  private async rebuild(): Promise<void> {
    if (this.running !== undefined) return this.running
    this.epoch++
    this.running = (async () => {
      try {
        // Reachable first: a rebuild with nothing to restore would not touch the counters.
        await this.o.counters.get(['gpuplane-probe'])
        const restored = await rebuildCountersFromLedger({ counters: this.o.counters, ledger: this.o.ledger as LedgerReader, policies: this.o.policies(), now: this.o.now(), pending: this.o.pending() })
        this.o.metrics.counterRebuilds.inc({ result: 'ok' })
        this.o.log.info({ counters: restored }, 'shared token counters restored from the usage ledger')
        this.enter('up', 'shared token counters are back and restored from the usage ledger; degraded mode ended')
      } catch (e) {
        this.o.metrics.counterRebuilds.inc({ result: 'failed' })
        if (!this.announced) this.o.log.error({ err: e }, 'could not restore the shared token counters from the usage ledger; staying degraded and retrying')
        this.enter('down', 'shared token counters not restored: degraded mode, the outage policy decides')
      } finally {
        this.running = undefined
      }
    })()
    return this.running
  }
}
