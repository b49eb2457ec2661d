// The allocator's immutable view of a cluster: slices indexed by node and pool, classes, and what is allocated.
import type { AllocationResult, Device, DeviceClass, ResourceClaim, ResourceSlice } from '../api/resource-v1.ts'
import { Quantity } from '../api/quantity.ts'
import type { GpuplaneError } from '../common/errors.ts'

export interface ParsedCapacity {
  /** The key exactly as the device publishes it (bare id or domain/id). */
  key: string
  /** Fully qualified name (bare ids get the driver's domain). */
  fqn: string
  value: Quantity
  policy?: {
    default?: Quantity
    validValues?: Quantity[]
    validRange?: { min: Quantity; max?: Quantity; step?: Quantity }
  }
}

export interface CounterConsumption {
  counterSet: string
  counters: Array<[name: string, value: Quantity]>
}

export interface SliceRec {
  slice: ResourceSlice
  name: string
  driver: string
  pool: string
  poolKey: string
  generation: number
  sliceCount: number
  devices: DeviceRec[]
  perDeviceNodeSelection: boolean
}

/** One device with everything the search needs, computed once per snapshot. */
export interface DeviceRec {
  /** `driver/pool/device`, upstream's DeviceID. */
  id: string
  driver: string
  pool: string
  name: string
  device: Device
  slice: SliceRec
  multi: boolean
  consumes: CounterConsumption[]
  /** Parsed capacities, lazily. */
  capacity?: ParsedCapacity[]
  /** Selector results by expression (memoised across allocate calls), created on first use. */
  matches?: Map<string, boolean | GpuplaneError>
}

export function deviceId(driver: string, pool: string, device: string): string {
  return `${driver}/${pool}/${device}`
}

export function poolKeyOf(driver: string, pool: string): string {
  return `${driver}/${pool}`
}

/** Parses a device's capacities once; keys without a domain get the driver's domain in `fqn`. */
export function capacitiesOf(rec: DeviceRec): ParsedCapacity[] {
  if (rec.capacity) return rec.capacity
  const out: ParsedCapacity[] = []
  const explicit = new Set<string>()
  const entries = Object.entries(rec.device.capacity ?? {})
  // An entry qualified with the driver's own domain wins over a bare one for the same id.
  for (const [key] of entries) if (key.startsWith(rec.driver + '/')) explicit.add(key)
  for (const [key, cap] of entries) {
    const fqn = key.includes('/') ? key : `${rec.driver}/${key}`
    if (!key.includes('/') && explicit.has(fqn)) continue
    const p = cap.requestPolicy
    out.push({
      key,
      fqn,
      value: Quantity.parse(cap.value),
      policy: p && {
        default: p.default !== undefined ? Quantity.parse(p.default) : undefined,
        validValues: p.validValues?.map((v) => Quantity.parse(v)),
        validRange: p.validRange && {
          min: Quantity.parse(p.validRange.min),
          max: p.validRange.max !== undefined ? Quantity.parse(p.validRange.max) : undefined,
          step: p.validRange.step !== undefined ? Quantity.parse(p.validRange.step) : undefined,
        },
      },
    })
  }
  rec.capacity = out
  return out
}

/**
 * Immutable input of allocation. Build it once per cluster state; allocate() and the
 * AllocationState built from it can then be used for many claims.
 */
export class Snapshot {
  readonly slices: SliceRec[]
  readonly classes: Map<string, DeviceClass>
  /** Slices by nodeName; slices without nodeName (allNodes, nodeSelector, per-device) in `shared`. */
  readonly slicesOnNode = new Map<string, SliceRec[]>()
  readonly slicesShared: SliceRec[] = []
  /** Every slice of each pool, all generations, for the incomplete-pool check and counter accounting. */
  readonly slicesByPool = new Map<string, SliceRec[]>()
  /** Claims that are already allocated (status.allocation set), in input order. */
  readonly allocatedClaims: ResourceClaim[]
  /** Per-node pool lists, computed on first use (see pools.ts). */
  readonly poolCache = new Map<string, unknown>()
  /** Static candidate lists per node and request shape, computed on first use (see search.ts). */
  readonly candidateCache = new Map<string, unknown>()

  constructor(input: { slices?: ResourceSlice[]; classes?: DeviceClass[]; claims?: ResourceClaim[] }) {
    this.slices = (input.slices ?? []).map(toSliceRec)
    this.classes = new Map((input.classes ?? []).map((c) => [c.metadata.name ?? '', c]))
    this.allocatedClaims = (input.claims ?? []).filter((c) => c.status?.allocation !== undefined)
    for (const s of this.slices) {
      const nodeName = s.slice.spec.nodeName
      if (nodeName) {
        let list = this.slicesOnNode.get(nodeName)
        if (!list) this.slicesOnNode.set(nodeName, (list = []))
        list.push(s)
      } else {
        this.slicesShared.push(s)
      }
      let byPool = this.slicesByPool.get(s.poolKey)
      if (!byPool) this.slicesByPool.set(s.poolKey, (byPool = []))
      byPool.push(s)
    }
  }

  private readonly deviceIndex = new Map<string, Map<string, DeviceRec>>()

  /** A device by id at the newest generation of its pool (`driver/pool`); indexed per pool on first use. */
  device(id: string, poolKey: string): DeviceRec | undefined {
    let index = this.deviceIndex.get(poolKey)
    if (!index) {
      index = new Map()
      const slices = this.slicesByPool.get(poolKey) ?? []
      let gen = -Infinity
      for (const s of slices) if (s.generation > gen) gen = s.generation
      for (const s of slices) if (s.generation === gen) for (const d of s.devices) index.set(d.id, d)
      this.deviceIndex.set(poolKey, index)
    }
    return index.get(id)
  }

  /** The allocations of already-allocated claims. */
  allocations(): AllocationResult[] {
    return this.allocatedClaims.map((c) => c.status!.allocation!)
  }
}

function toSliceRec(slice: ResourceSlice): SliceRec {
  const spec = slice.spec
  const rec: SliceRec = {
    slice,
    name: slice.metadata.name ?? '',
    driver: spec.driver,
    pool: spec.pool.name,
    poolKey: poolKeyOf(spec.driver, spec.pool.name),
    generation: spec.pool.generation,
    sliceCount: spec.pool.resourceSliceCount,
    devices: [],
    perDeviceNodeSelection: spec.perDeviceNodeSelection === true,
  }
  rec.devices = (spec.devices ?? []).map((device) => ({
    id: deviceId(spec.driver, spec.pool.name, device.name),
    driver: spec.driver,
    pool: spec.pool.name,
    name: device.name,
    device,
    slice: rec,
    multi: device.allowMultipleAllocations === true,
    consumes: parseConsumption(device.consumesCounters),
  }))
  return rec
}

const NO_CONSUMPTION: CounterConsumption[] = []
/** Parsed per array object: generated or cached slices often share one consumption list among devices. */
const consumptionCache = new WeakMap<object, CounterConsumption[]>()

function parseConsumption(list: Device['consumesCounters']): CounterConsumption[] {
  if (!list || list.length === 0) return NO_CONSUMPTION
  let parsed = consumptionCache.get(list)
  if (!parsed) {
    parsed = list.map((c) => ({
      counterSet: c.counterSet,
      counters: Object.entries(c.counters).map(([name, v]) => [name, Quantity.parse(v.value)] as [string, Quantity]),
    }))
    consumptionCache.set(list, parsed)
  }
  return parsed
}
