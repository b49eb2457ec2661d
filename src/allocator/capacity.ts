// Consumable capacity (KEP-5075): how much of each capacity a request consumes and whether it still fits.
//
// Semantics of upstream's consumable_capacity.go (Kubernetes 1.36): a request names capacities
// (bare names mean the driver's domain); every capacity of the device is consumed — the request
// rounded up by the request policy, else the policy default, else the whole value. A device that
// lacks a requested capacity does not match. A consumption that violates the policy, or that
// together with what is allocated and being allocated exceeds the value, does not fit.
import { Quantity } from '../api/quantity.ts'
import { GpuplaneError } from '../common/errors.ts'
import { capacitiesOf, type DeviceRec, type ParsedCapacity } from './snapshot.ts'

export type CapacityMap = Map<string, Quantity>

/** Consumption per capacity (by fully qualified name), or undefined when the device cannot serve the request. */
export function consumption(rec: DeviceRec, requests: Record<string, string> | undefined): CapacityMap | undefined {
  const caps = capacitiesOf(rec)
  const resolved = new Map<string, Quantity>()
  for (const [name, value] of Object.entries(requests ?? {})) {
    const cap = resolveCapacity(caps, name, rec.driver)
    if (!cap) return undefined
    if (resolved.has(cap.fqn)) {
      throw new GpuplaneError('INVALID_INPUT', `capacity ${cap.fqn} is requested twice, once as "${name}"; name each capacity once`)
    }
    resolved.set(cap.fqn, Quantity.parse(value))
  }
  const out: CapacityMap = new Map()
  for (const cap of caps) {
    const consumed = consumedQuantity(resolved.get(cap.fqn), cap)
    if (consumed.sign() < 0) {
      throw new GpuplaneError('INVALID_INPUT', `capacity ${cap.key} of device ${rec.id} would be consumed by a negative amount (${consumed}); capacities must not be negative`)
    }
    if (violatesPolicy(consumed, cap)) return undefined
    out.set(cap.fqn, consumed)
  }
  return out
}

/** Whether `consumed` fits next to what is already allocated and what the search is allocating. */
export function fits(rec: DeviceRec, consumed: CapacityMap, allocated: CapacityMap | undefined, allocating: CapacityMap | undefined): boolean {
  for (const cap of capacitiesOf(rec)) {
    let total = consumed.get(cap.fqn)!
    const a = allocated?.get(cap.fqn)
    if (a) total = total.add(a)
    const b = allocating?.get(cap.fqn)
    if (b) total = total.add(b)
    if (total.cmp(cap.value) > 0) return false
  }
  return true
}

/** consumedCapacity as written in status: keyed by the device's own capacity names. */
export function consumedForStatus(rec: DeviceRec, consumed: CapacityMap): Record<string, string> {
  const out: Record<string, string> = {}
  for (const cap of capacitiesOf(rec)) out[cap.key] = consumed.get(cap.fqn)!.toString()
  return out
}

function resolveCapacity(caps: ParsedCapacity[], name: string, driver: string): ParsedCapacity | undefined {
  const fqn = name.includes('/') ? name : `${driver}/${name}`
  return caps.find((c) => c.fqn === fqn)
}

function consumedQuantity(requested: Quantity | undefined, cap: ParsedCapacity): Quantity {
  const policy = cap.policy
  if (requested === undefined) return policy?.default ?? cap.value
  if (!policy) return requested
  const range = policy.validRange
  if (range) {
    if (requested.cmp(range.min) < 0) return range.min
    if (!range.step) return requested
    // Upstream rounds in whole units (Quantity.Value(), which rounds up).
    const min = range.min.value()
    const step = range.step.value()
    const added = requested.value() - min
    let n = added / step
    if (added % step !== 0n) n += 1n
    return Quantity.fromBigInt(min + step * n, range.step.format)
  }
  if (policy.validValues) {
    for (const v of policy.validValues) if (requested.cmp(v) <= 0) return v
  }
  return requested
}

function violatesPolicy(consumed: Quantity, cap: ParsedCapacity): boolean {
  const policy = cap.policy
  if (!policy) return false
  if (policy.default && consumed.cmp(policy.default) === 0) return false
  const range = policy.validRange
  if (range) {
    if (range.max && consumed.cmp(range.max) > 0) return true
    if (range.step) {
      const step = range.step.value()
      if (step !== 0n && (consumed.value() - range.min.value()) % step !== 0n) return true
    }
    return false
  }
  if (policy.validValues && policy.validValues.length > 0) return !policy.validValues.some((v) => v.cmp(consumed) === 0)
  return false
}

/** Adds or subtracts one consumption into an accumulator map. */
export function accumulate(acc: CapacityMap, consumed: CapacityMap, sign: 1 | -1): void {
  for (const [k, v] of consumed) {
    const prev = acc.get(k)
    acc.set(k, prev === undefined ? (sign > 0 ? v : v.neg()) : sign > 0 ? prev.add(v) : prev.sub(v))
  }
}
