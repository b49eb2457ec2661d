// The `device` variable of DRA selectors: one device converted once into the values CEL sees.
//
// Upstream (dynamic-resource-allocation/cel/compile.go, DeviceMatches) rebuilds these maps for
// every evaluation; here the allocator builds a view once per device and reuses it for every
// selector, so an evaluation allocates nothing for its input.
import type { Device } from '../api/resource-v1.ts'
import { Quantity } from '../api/quantity.ts'
import { Semver } from '../api/semver.ts'

/** A value of `device.attributes[domain][id]`. */
export type CelAttributeValue = bigint | boolean | string | Semver

/** What a selector can be evaluated on: the API Device plus the driver of its ResourceSlice. */
export interface DeviceInput {
  driver: string
  attributes?: Device['attributes']
  capacity?: Device['capacity']
  allowMultipleAllocations?: boolean
}

/**
 * Marks the two outer maps (`device.attributes`, `device.capacity`): looking up a domain they lack
 * yields an empty map instead of an error, as upstream's mapper with a default value does.
 */
export const DOMAIN_MAP: unique symbol = Symbol('gpuplane.cel.domainMap')

type DomainMap<V> = Map<string, Map<string, V>> & { [DOMAIN_MAP]?: true }

/** The value an unknown domain resolves to. Shared; nothing ever writes to it. */
export const EMPTY_DOMAIN: ReadonlyMap<string, never> = new Map<string, never>()

/** True for the outer attribute and capacity maps of a view. */
export function isDomainMap(v: unknown): v is Map<string, Map<string, unknown>> {
  return v instanceof Map && (v as DomainMap<unknown>)[DOMAIN_MAP] === true
}

/**
 * The CEL value of `device` (type `kubernetes.DRADevice`). Field names are the CEL field names;
 * anything else on the object is invisible to expressions because the type declares its fields.
 */
export class CelDeviceView {
  readonly driver: string
  readonly attributes: Map<string, Map<string, CelAttributeValue>>
  readonly capacity: Map<string, Map<string, Quantity>>
  readonly allowMultipleAllocations: boolean
  /**
   * Why this device cannot be handed to CEL (a version attribute that is not semver, an attribute
   * without a value). Upstream fails every evaluation on such a device; so does matches().
   */
  readonly problem: string | undefined
  /** The activation passed to cel-js, built once. */
  readonly activation: { readonly device: CelDeviceView }

  constructor(device: DeviceInput, driver: string = device.driver) {
    const problems: string[] = []
    this.driver = driver
    this.attributes = convertAttributes(device.attributes, driver, problems)
    this.capacity = convertCapacity(device.capacity, driver, problems)
    this.allowMultipleAllocations = device.allowMultipleAllocations === true
    this.problem = problems.length > 0 ? problems.join('; ') : undefined
    this.activation = { device: this }
  }
}

/** A device as celDeviceView takes it: the API Device (driver passed separately) or a DeviceInput. */
export type DeviceFields = Omit<DeviceInput, 'driver'> & { driver?: string }

const viewCache = new WeakMap<object, CelDeviceView>()

/**
 * The CEL view of a device. Cached per input object (and driver): callers hand in immutable
 * snapshot objects, so a device evaluated against many selectors is converted once.
 */
export function celDeviceView(device: DeviceFields, driver?: string): CelDeviceView {
  const d = driver ?? device.driver
  if (typeof d !== 'string') throw new TypeError('celDeviceView: the driver of the device is required')
  const cached = viewCache.get(device)
  if (cached !== undefined && cached.driver === d) return cached
  const view = new CelDeviceView(device as DeviceInput, d)
  viewCache.set(device, view)
  return view
}

/** Splits a qualified name into domain and id; a bare id belongs to the driver's domain. */
export function splitQualifiedName(name: string, driver: string): [domain: string, id: string] {
  const i = name.indexOf('/')
  return i < 0 ? [driver, name] : [name.slice(0, i), name.slice(i + 1)]
}

function markDomains<V>(m: Map<string, Map<string, V>>): Map<string, Map<string, V>> {
  ;(m as DomainMap<V>)[DOMAIN_MAP] = true
  return m
}

/**
 * Groups qualified names by domain. When a bare id and the same id qualified with the driver's
 * domain are both present, the qualified one wins (the allocator's rule for capacities too).
 */
function groupByDomain<In, V>(
  entries: Record<string, In> | undefined,
  driver: string,
  convert: (name: string, value: In) => V | undefined,
): Map<string, Map<string, V>> {
  const out = new Map<string, Map<string, V>>()
  if (!entries) return markDomains(out)
  for (const name of Object.keys(entries)) {
    const [domain, id] = splitQualifiedName(name, driver)
    const value = convert(name, entries[name])
    if (value === undefined) continue
    let inner = out.get(domain)
    if (inner === undefined) out.set(domain, (inner = new Map()))
    if (!name.includes('/') && inner.has(id)) continue
    inner.set(id, value)
  }
  return markDomains(out)
}

type AttributeIn = NonNullable<Device['attributes']>[string]

function convertAttributes(
  attrs: Device['attributes'],
  driver: string,
  problems: string[],
): Map<string, Map<string, CelAttributeValue>> {
  return groupByDomain(attrs, driver, (name, a: AttributeIn) => {
    if (a.int !== undefined) return typeof a.int === 'bigint' ? a.int : BigInt(a.int as unknown as number)
    if (a.bool !== undefined) return a.bool
    if (a.string !== undefined) return a.string
    if (a.version !== undefined) {
      try {
        return Semver.parse(a.version)
      } catch (e) {
        problems.push(`attribute ${name}: parse semantic version: ${(e as Error).message}`)
        return undefined
      }
    }
    problems.push(`attribute ${name}: unsupported attribute value`)
    return undefined
  })
}

type CapacityIn = NonNullable<Device['capacity']>[string]

function convertCapacity(
  caps: Device['capacity'],
  driver: string,
  problems: string[],
): Map<string, Map<string, Quantity>> {
  return groupByDomain(caps, driver, (name, c: CapacityIn) => {
    const raw = c.value as unknown
    if (raw instanceof Quantity) return raw
    const q = Quantity.tryParse(String(raw))
    if (q === undefined) problems.push(`capacity ${name}: invalid quantity ${JSON.stringify(String(raw))}`)
    return q
  })
}
