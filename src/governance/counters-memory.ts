// In-process Counters for a single gateway replica (and for the degraded `local` outage mode): a map of values with expiry, atomic by running each operation synchronously.
//
// Every operation reads, decides and writes without awaiting in between, so in one Node.js
// process no other operation can interleave with it: a reservation is atomic under any number of
// concurrent requests. It is not shared between processes; replicas share Redis counters instead.
// The clock is passed in (milliseconds since the epoch): this layer does not read one itself.
import { checkAdjustItems, checkReserveItems, decideReservation, type AdjustItem, type CounterEntry, type Counters, type ReserveItem, type ReserveOptions, type ReserveResult } from './counters.ts'

/** Writes between two sweeps of expired keys: keys of past windows are dropped without a timer. */
const SWEEP_EVERY_WRITES = 4096

interface Entry {
  value: number
  /** Milliseconds since the epoch. */
  expiresAt: number
}

export class MemoryCounters implements Counters {
  private readonly entries = new Map<string, Entry>()
  private writesSinceSweep = 0

  /** `now` returns the current time in milliseconds since the epoch (the gateway passes Date.now). */
  constructor(private readonly now: () => number) {}

  async reserve(items: readonly ReserveItem[], options: ReserveOptions = {}): Promise<ReserveResult> {
    checkReserveItems(items, options)
    const now = this.now()
    const result = decideReservation(items, items.map((item) => this.value(item.key, now)), options)
    if (result.ok) {
      items.forEach((item, i) => {
        if (result.amounts[i] > 0) this.entries.set(item.key, { value: result.values[i], expiresAt: now + item.ttlSeconds * 1000 })
      })
      this.wrote(now, items.length)
    }
    return result
  }

  async adjust(items: readonly AdjustItem[]): Promise<number[]> {
    checkAdjustItems(items)
    const now = this.now()
    const out = items.map((item) => {
      const entry = this.live(item.key, now)
      if (entry !== undefined) {
        entry.value = Math.max(0, entry.value + item.delta)
        return entry.value
      }
      if (item.delta <= 0) return 0
      this.entries.set(item.key, { value: item.delta, expiresAt: now + item.ttlSeconds * 1000 })
      return item.delta
    })
    this.wrote(now, items.length)
    return out
  }

  async get(keys: readonly string[]): Promise<number[]> {
    const now = this.now()
    return keys.map((key) => this.value(key, now))
  }

  async rebuild(entries: readonly CounterEntry[]): Promise<void> {
    const now = this.now()
    for (const { key, value, ttlSeconds } of entries) {
      const entry = this.live(key, now)
      if (entry !== undefined) entry.value = Math.max(entry.value, value)
      else if (value > 0) this.entries.set(key, { value, expiresAt: now + ttlSeconds * 1000 })
    }
    this.wrote(now, entries.length)
  }

  async close(): Promise<void> {
    this.entries.clear()
  }

  private value(key: string, now: number): number {
    return this.live(key, now)?.value ?? 0
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined || entry.expiresAt > now) return entry
    this.entries.delete(key)
    return undefined
  }

  private wrote(now: number, count: number): void {
    this.writesSinceSweep += count
    if (this.writesSinceSweep < SWEEP_EVERY_WRITES) return
    this.writesSinceSweep = 0
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key)
  }
}
