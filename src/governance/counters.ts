// The Counters interface: atomic all-or-nothing reservations against windowed limits, adjustments, reads and rebuilds; and the decision rule every implementation applies.
//
// A reservation names several counters (one per applicable limit and window) and increments all
// of them or none: every item with a limit must fit (value + amount <= limit), else nothing
// changes and the answer says which item failed and at what value. Implementations make the
// check-and-increment atomic: counters-memory.ts in one synchronous section of one process,
// src/store/redis/counters.ts in one Lua script (one round trip). Both apply decideReservation
// below, the Lua transcribing it; counters.contract.ts holds them to the same behaviour.
//
// Clamping (hard-clamp). With `options.clamp = {min, max}`, an item's amount depends on a number
// of units u (the completion tokens per completion, i.e. max_tokens), chosen by the counter:
//
//   amount(u) = item.amount + ceil(u * perUnit.num / perUnit.den)    (item.amount alone without perUnit)
//
// u is the largest value in [min, max] at which every item marked `clamps` fits; every other
// item with a limit must then fit at that u. When even `min` does not fit a clamping item, the
// reservation fails at that item. A token item has perUnit n/1 (n completions), a cost item
// (completion price in µ$ per million tokens times n) / 10^6, a request item none. Without a
// clamp, u is 0 and items carry their whole amount.
//
// Amounts are whole numbers below 2^53 (exact in JavaScript and in Lua's doubles); counters never
// go below 0; every key expires `ttlSeconds` after its last increment.
import { GpuplaneError } from '../common/errors.ts'

/** Largest perUnit denominator: 10^6, the tokens of a million-token price. Keeps u * rest below 2^53 in Lua. */
export const MAX_UNIT_DEN = 1_000_000
/** Largest clamp maximum (units): the largest Model maxTokens times the most completions, with room. */
export const MAX_CLAMP_UNITS = 2 ** 31

/** A rational rate: ceil(units * num / den) is added to an item's amount. */
export interface UnitRate {
  num: number
  den: number
}

/** One counter of a reservation. */
export interface ReserveItem {
  key: string
  /** Whole amount to add; with a clamp and a perUnit, the part that does not depend on the units. */
  amount: number
  /** Most the counter may hold after the increment; absent: counted without a check (soft limits). */
  limit?: number
  /** Seconds the counter lives after this increment (its window's end plus slack). */
  ttlSeconds: number
  /** With a clamp: how the amount grows with the units. */
  perUnit?: UnitRate
  /** With a clamp: this item's limit may lower the units (a hard-clamp limit). Needs a limit. */
  clamps?: boolean
}

/** The range of units a clamped reservation may take. */
export interface ClampRange {
  min: number
  max: number
}

export interface ReserveOptions {
  clamp?: ClampRange
}

/** Every item was incremented. */
export interface ReserveAdmitted {
  ok: true
  /** The units chosen: the clamp's value, or 0 without a clamp. */
  units: number
  /** What was added to each item, in item order. */
  amounts: number[]
  /** Each item's value after the increment. */
  values: number[]
}

/** Nothing was incremented: item `index` needed `needed` more but held `current`. */
export interface ReserveRefused {
  ok: false
  index: number
  needed: number
  current: number
  /** Each item's value, unchanged. */
  values: number[]
}

export type ReserveResult = ReserveAdmitted | ReserveRefused

/** A change to one counter: negative releases (never below 0), positive adds (creating the key with ttlSeconds if absent). */
export interface AdjustItem {
  key: string
  delta: number
  ttlSeconds: number
}

/** A counter value to restore, and how long it lives if the restore creates it. */
export interface CounterEntry {
  key: string
  value: number
  ttlSeconds: number
}

/**
 * Token, request and cost counters shared by every gateway replica that uses the same instance.
 * Implementations throw GpuplaneError UNAVAILABLE when their store cannot be reached (the gateway
 * then applies its outage policy, outage.ts) and INTERNAL for malformed items.
 */
export interface Counters {
  /** Atomically: increments every item, or none (see the file header for clamping). */
  reserve(items: readonly ReserveItem[], options?: ReserveOptions): Promise<ReserveResult>
  /** Applies each delta (a counter never goes below 0; an absent key is created only by a positive delta). Returns the values after. */
  adjust(items: readonly AdjustItem[]): Promise<number[]>
  /** Current values (0 for absent keys). */
  get(keys: readonly string[]): Promise<number[]>
  /** Raises each counter to at least its entry's value (restoring from the ledger never lowers a counter that saw more). */
  rebuild(entries: readonly CounterEntry[]): Promise<void>
  /** Releases connections; the instance is unusable after. */
  close(): Promise<void>
  /**
   * True for counters shared by replicas and kept outside this process (Redis): they can be lost
   * (a restart) and are then rebuilt from the usage ledger. Absent: in this process only.
   */
  readonly shared?: boolean
  /** Calls `listener` each time the counters are reachable again after being unavailable; returns a function that unsubscribes. */
  onRecovered?(listener: () => void): () => void
}

/** ceil(a / b) for whole a >= 0 and b >= 1, exact while a < 2^53. */
export function ceilDiv(a: number, b: number): number {
  let q = Math.floor(a / b)
  // A double quotient may be one off near integers; correct it with exact products.
  if (q * b > a) q -= 1
  else if ((q + 1) * b <= a) q += 1
  return q * b === a ? q : q + 1
}

/** An item's amount at `units` (the item's whole amount without a perUnit or at 0 units). */
export function amountAt(item: ReserveItem, units: number): number {
  if (item.perUnit === undefined || units === 0) return item.amount
  const { num, den } = item.perUnit
  const whole = Math.floor(num / den)
  return item.amount + units * whole + ceilDiv(units * (num - whole * den), den)
}

/**
 * The decision of a reservation given the items' current values: the units and amounts to add,
 * or the item that does not fit. Pure; implementations run it (or its Lua transcription) inside
 * their atomic section and apply the amounts of an admitted result.
 */
export function decideReservation(items: readonly ReserveItem[], values: readonly number[], options: ReserveOptions = {}): ReserveResult {
  // Module functions rather than closures: this runs in every in-process reservation.
  let units = 0
  const clamp = options.clamp
  if (clamp !== undefined) {
    const clamping = items.map((_, i) => i).filter((i) => items[i].clamps === true)
    const failsAtMin = clamping.find((i) => !fits(items[i], values[i], clamp.min))
    if (failsAtMin !== undefined) return refuse(items, values, failsAtMin, clamp.min)
    // Fitting is monotone in the units (amounts only grow with them): binary search the largest.
    let lo = clamp.min
    let hi = clamp.max
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2)
      if (clamping.every((i) => fits(items[i], values[i], mid))) lo = mid
      else hi = mid - 1
    }
    units = lo
  }
  const amounts: number[] = []
  const after: number[] = []
  for (let i = 0; i < items.length; i++) {
    if (!fits(items[i], values[i], units)) return refuse(items, values, i, units)
    amounts.push(amountAt(items[i], units))
    after.push(values[i] + amounts[i])
  }
  return { ok: true, units, amounts, values: after }
}

function fits(item: ReserveItem, value: number, units: number): boolean {
  return item.limit === undefined || value + amountAt(item, units) <= item.limit
}

function refuse(items: readonly ReserveItem[], values: readonly number[], i: number, units: number): ReserveRefused {
  return { ok: false, index: i, needed: amountAt(items[i], units), current: values[i], values: [...values] }
}

/**
 * Throws INTERNAL unless the items and options are well-formed: distinct keys, whole amounts and
 * limits in range, positive TTLs, rates with 1 <= den <= MAX_UNIT_DEN, a clamp with
 * 0 <= min <= max <= MAX_CLAMP_UNITS, and `clamps` only on items with a limit.
 */
export function checkReserveItems(items: readonly ReserveItem[], options: ReserveOptions = {}): void {
  // On every reservation's path: plain loops, no closures, no Set for the usual handful of items.
  const clamp = options.clamp
  if (clamp !== undefined && !(isWhole(clamp.min) && isWhole(clamp.max) && clamp.min <= clamp.max && clamp.max <= MAX_CLAMP_UNITS)) badReservation(`clamp ${JSON.stringify(clamp)}`)
  const seen = items.length > 16 ? new Set<string>() : undefined
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    if (seen === undefined) {
      for (let j = 0; j < i; j++) if (items[j].key === item.key) badReservation(`key ${item.key} appears twice`)
    } else if (seen.has(item.key)) badReservation(`key ${item.key} appears twice`)
    else seen.add(item.key)
    if (!isWhole(item.amount)) badReservation(`amount ${item.amount} of ${item.key}`)
    if (item.limit !== undefined && !isWhole(item.limit)) badReservation(`limit ${item.limit} of ${item.key}`)
    if (!isWhole(item.ttlSeconds) || item.ttlSeconds < 1) badReservation(`ttlSeconds ${item.ttlSeconds} of ${item.key}`)
    if (item.clamps === true && item.limit === undefined) badReservation(`${item.key} clamps without a limit`)
    if (item.perUnit !== undefined) {
      const { num, den } = item.perUnit
      if (!isWhole(num) || !isWhole(den) || den < 1 || den > MAX_UNIT_DEN) badReservation(`perUnit ${num}/${den} of ${item.key}`)
      if (clamp !== undefined && !Number.isSafeInteger(item.amount + amountAt({ ...item, amount: 0 }, clamp.max))) badReservation(`${item.key} exceeds 2^53 at ${clamp.max} units`)
    }
  }
}

function badReservation(what: string): never {
  throw new GpuplaneError('INTERNAL', `malformed counter reservation: ${what}`)
}

function isWhole(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
}

/** Throws INTERNAL unless adjustments have distinct keys, whole deltas and positive TTLs. */
export function checkAdjustItems(items: readonly AdjustItem[]): void {
  const seen = new Set<string>()
  for (const item of items) {
    if (seen.has(item.key)) throw new GpuplaneError('INTERNAL', `malformed counter adjustment: key ${item.key} appears twice`)
    seen.add(item.key)
    if (!Number.isSafeInteger(item.delta)) throw new GpuplaneError('INTERNAL', `malformed counter adjustment: delta ${item.delta} of ${item.key}`)
    if (!isWhole(item.ttlSeconds) || item.ttlSeconds < 1) throw new GpuplaneError('INTERNAL', `malformed counter adjustment: ttlSeconds ${item.ttlSeconds} of ${item.key}`)
  }
}
