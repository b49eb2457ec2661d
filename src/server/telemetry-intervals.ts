// The allocation-interval tracker: follows the store's claims, workloads and slices and records who holds which device when (TelemetryStore.openInterval / closeInterval).
//
// Each pass reads the store's changes to ResourceClaims, Workloads and ResourceSlices since the last
// revision seen (changesSince) and applies them to a HoldingsIndex (src/telemetry/holdings-index.ts),
// which re-derives only the holdings those changes touch; the touched holdings that appeared are
// opened at the pass's time, those gone are closed at it, all of one pass in one TelemetryStore
// transaction (applyIntervals). So an interval's ends are at most one pass (intervalMs) late. The
// objects are listed only at start and when the store's history no longer reaches the revision
// seen (GONE). At start the open intervals of the telemetry store are read back, so a restart
// closes what ended while the server was down at the restart (the store cannot say when).
// Every replica may run one: opening is idempotent and closing a closed interval is a no-op.
//
// Why incremental: listing and decoding every object each second cost the server ~1 ms of CPU per
// workload submitted under bench/server.ts (a fifth of its CPU); a change now costs what it touches.
import { GpuplaneError } from '../common/errors.ts'
import type { Store } from '../store/types.ts'
import { HoldingsIndex } from '../telemetry/holdings-index.ts'
import { holdingKey, intervalOf, sameHolding, type Holding } from '../telemetry/intervals.ts'
import type { TelemetryStore } from '../telemetry/types.ts'
import { Periodic } from './periodic.ts'

/** Kinds whose changes can change who holds what. */
const WATCHED = ['ResourceClaim', 'Workload', 'ResourceSlice']
/**
 * Changes read per changesSince call (a pass reads pages until the history is exhausted, letting
 * the event loop run between two: the API shares it, and an embedded store reads synchronously).
 */
const PAGE = 250
/** Default pause between passes: 1 s (an interval's ends are at most this late). */
export const DEFAULT_TRACKER_INTERVAL_MS = 1000

export interface TrackerLogger {
  warn(obj: object, msg?: string): void
  debug(obj: object, msg?: string): void
}

export interface IntervalTrackerOptions {
  intervalMs?: number
  now?: () => number
  logger?: TrackerLogger
}

export class IntervalTracker {
  private readonly intervalMs: number
  private readonly now: () => number
  private readonly log?: TrackerLogger
  /** Holdings open in the telemetry store, by key. */
  private held = new Map<string, Holding>()
  /** Who holds what now, as far as the changes applied say. */
  private readonly index = new HoldingsIndex()
  /** Holding keys to diff against `held` (touched since the last write that succeeded). */
  private readonly pending = new Set<string>()
  /** The store revision up to which changes were applied; undefined: list first. */
  private revision?: string
  private readonly periodic: Periodic
  private started = false

  constructor(
    private readonly store: Store,
    private readonly telemetry: TelemetryStore,
    options: IntervalTrackerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? DEFAULT_TRACKER_INTERVAL_MS
    this.now = options.now ?? Date.now
    this.log = options.logger
    this.periodic = new Periodic(this.intervalMs, () => this.syncOnce(), (err: unknown) => this.log?.warn({ err }, 'allocation interval pass failed; retrying'))
  }

  /** Reads the open intervals back, syncs once (throws if it cannot), then every intervalMs until stop(). */
  async start(): Promise<void> {
    if (this.started) return
    const now = this.now()
    const open = (await this.telemetry.intervals({ from: now, to: now + 1 })).filter((iv) => iv.to === undefined)
    this.held = new Map(open.map(({ from: _, to: __, ...h }) => [holdingKey(h), h]))
    this.revision = undefined // list: every held key is diffed
    await this.syncOnce()
    this.started = true
    this.periodic.start()
  }

  /** Stops the passes (waits for the one in progress). */
  async stop(): Promise<void> {
    this.started = false
    await this.periodic.stop()
  }

  /** One pass: applies the changes of claims, workloads and slices and records the intervals that opened and closed. Returns how many. */
  async syncOnce(): Promise<{ opened: number; closed: number }> {
    const revision = await this.store.revision()
    if (this.revision === undefined || !(await this.follow(this.revision, revision))) await this.relist(revision)
    for (const key of this.index.flush()) this.pending.add(key)
    if (this.pending.size === 0) return { opened: 0, closed: 0 }
    const { open, close } = this.differences()
    const now = this.now()
    const opening = open.map((h) => intervalOf(h, now))
    if (this.telemetry.applyIntervals) await this.telemetry.applyIntervals({ open: opening, close: close.map((h) => ({ key: h, to: now })) })
    else {
      for (const h of close) await this.telemetry.closeInterval(h, now)
      for (const iv of opening) await this.telemetry.openInterval(iv)
    }
    for (const h of close) this.held.delete(holdingKey(h))
    for (const h of open) this.held.set(holdingKey(h), h)
    // Written: forget the keys (a failed write keeps them for the next pass).
    this.pending.clear()
    if (open.length + close.length > 0) this.log?.debug({ opened: open.length, closed: close.length }, 'allocation intervals recorded')
    return { opened: open.length, closed: close.length }
  }

  /** Lists the watched kinds and starts the index over; every held and current key is diffed. The lists may be newer than `revision`: the next pass applies those changes again, which converges to the same state. */
  private async relist(revision: string): Promise<void> {
    const [claims, workloads, slices] = await Promise.all(WATCHED.map((k) => this.store.list(k)))
    this.index.reset({ claims: claims!.items, workloads: workloads!.items, slices: slices!.items })
    for (const key of this.held.keys()) this.pending.add(key)
    for (const key of this.index.flush()) this.pending.add(key)
    this.revision = revision
  }

  /** Applies the changes after `from` to the index (false: history compacted, relist); `revision` moves to the last change read, or to `head` (read before) when that is later. */
  private async follow(from: string, head: string): Promise<boolean> {
    let at = from
    for (;;) {
      let page
      try {
        page = await this.store.changesSince(at, { kinds: WATCHED, limit: PAGE })
      } catch (e) {
        if (e instanceof GpuplaneError && e.code === 'GONE') {
          this.log?.debug({ from: at }, 'allocation interval tracker: store history compacted past the revision seen; listing again')
          return false
        }
        throw e
      }
      for (const change of page) this.index.apply(change)
      if (page.length > 0) at = page[page.length - 1]!.object.metadata.resourceVersion
      if (page.length < PAGE) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    // Nothing after `at` up to when the last page was read; `head` was read before it.
    this.revision = BigInt(at) >= BigInt(head) ? at : head
    return true
  }

  /** What the pending keys need: the held intervals to close and the holdings to open (sorted by key). */
  private differences(): { open: Holding[]; close: Holding[] } {
    const open: Holding[] = []
    const close: Holding[] = []
    for (const key of [...this.pending].sort()) {
      const before = this.held.get(key)
      const now = this.index.get(key)
      if (before && (!now || !sameHolding(before, now))) close.push(before)
      if (now && (!before || !sameHolding(before, now))) open.push({ ...now })
    }
    return { open, close }
  }
}
