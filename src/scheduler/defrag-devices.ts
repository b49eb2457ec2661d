// The device counting behind the defrag planner: what a node has free, what a workload needs at least, what moving workloads frees.
//
// Counts bound fits from above and never decide one: a node or a set of moves is skipped only when
// its devices cannot add up, and the scheduler's filters decide everything else. Only devices held
// exclusively are counted, so a node with shareable devices (allowMultipleAllocations), and every
// node of a cluster with devices shared between nodes, is never skipped (its free count is
// Infinity). Counting all devices not held, partitions blocked by shared counters included, only
// ever overcounts, which keeps the bound sound.
import type { AllocationResult, DeviceAttribute, DeviceRequest, ResourceClaim } from '../api/resource-v1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import { resolveClaims } from './scheduler.ts'
import type { ClusterView } from './types.ts'

/**
 * What a workload takes at least: exclusive devices in all, and for its claim with the most devices
 * under one matchAttribute constraint, that attribute and how many devices must share its value.
 */
export interface Need {
  devices: number
  group?: { attribute: string; count: number }
}

/** A node's devices: the physical GPU and NVLink domain of each, and whether counting them bounds a fit. */
interface NodeDevices {
  ids: string[]
  gpuOf: Map<string, string>
  domainOf: Map<string, string>
  countable: boolean
  /** Each device's value of an attribute (as JSON), for the devices that have it. */
  valueOf: (attribute: string) => Map<string, string>
}

/** Counts over a view's allocation state as it is at each call; what a node publishes is indexed once. */
export class DeviceCounts {
  private readonly devices = new Map<string, NodeDevices>()

  constructor(private readonly view: ClusterView) {}

  /** Devices of the node not held exclusively; Infinity where devices are shareable or shared between nodes. */
  free(node: string): number {
    const devs = this.nodeDevices(node)
    if (!devs.countable || this.view.snapshot.slicesShared.length > 0) return Infinity
    return devs.ids.filter((id) => !this.view.state.allocated.has(id)).length
  }

  /**
   * Whether the devices can add up: the node's free devices plus `held` (devices of the node that
   * workloads to be moved hold exclusively) reach `need`, and, for a claim whose devices must share
   * an attribute, within one value of it.
   */
  enough(node: string, held: readonly string[], need: Need): boolean {
    const free = this.free(node)
    if (free === Infinity) return true
    if (free + held.length < need.devices) return false
    if (!need.group) return true
    const devs = this.nodeDevices(node)
    const values = devs.valueOf(need.group.attribute)
    const perValue = new Map<string, number>()
    const add = (id: string) => {
      const v = values.get(id)
      if (v !== undefined) perValue.set(v, (perValue.get(v) ?? 0) + 1)
    }
    for (const id of devs.ids) if (!this.view.state.allocated.has(id)) add(id)
    for (const id of held) add(id)
    return [...perValue.values()].some((n) => n >= need.group!.count)
  }

  /** Physical GPUs of the node in use now that would have no device in use without `allocations` (counted, nothing moved). */
  gpusFreedBy(node: string, allocations: readonly AllocationResult[]): number {
    const held = new Map<string, number>()
    for (const r of allocations.flatMap((a) => a.devices?.results ?? [])) {
      if (r.adminAccess === true) continue
      const id = `${r.driver}/${r.pool}/${r.device}`
      held.set(id, (held.get(id) ?? 0) + 1)
    }
    const devs = this.nodeDevices(node)
    const { allocated, shares } = this.view.state
    const freed = new Set<string>()
    const staying = new Set<string>()
    for (const id of devs.ids) {
      const holders = allocated.has(id) ? 1 : (shares.get(id) ?? 0)
      if (holders === 0) continue
      ;((held.get(id) ?? 0) >= holders ? freed : staying).add(devs.gpuOf.get(id)!)
    }
    return [...freed].filter((g) => !staying.has(g)).length
  }

  /** Physical GPUs and NVLink domains of the node with no device in use. */
  freeState(node: string): { gpus: Set<string>; domains: Set<string> } {
    const devs = this.nodeDevices(node)
    const busyGpus = new Set<string>()
    const busyDomains = new Set<string>()
    for (const id of devs.ids) {
      if (!this.view.state.isAllocated(id)) continue
      busyGpus.add(devs.gpuOf.get(id)!)
      const domain = devs.domainOf.get(id)
      if (domain) busyDomains.add(domain)
    }
    return {
      gpus: new Set([...devs.gpuOf.values()].filter((g) => !busyGpus.has(g))),
      domains: new Set([...devs.domainOf.values()].filter((d) => !busyDomains.has(d))),
    }
  }

  /** What `w` takes at least (see Need); an unresolvable claim counts nothing. */
  need(w: Workload): Need {
    let claims: ResourceClaim[]
    try {
      claims = resolveClaims(w, this.view)
    } catch {
      return { devices: 0 }
    }
    const need: Need = { devices: 0 }
    for (const c of claims) {
      const requests = c.spec.devices?.requests ?? []
      need.devices += devicesOf(requests)
      for (const k of c.spec.devices?.constraints ?? []) {
        if (!k.matchAttribute) continue
        const count = devicesOf(k.requests ? requests.filter((r) => k.requests!.includes(r.name)) : requests)
        if (count > (need.group?.count ?? 1)) need.group = { attribute: k.matchAttribute, count }
      }
    }
    return need
  }

  private nodeDevices(node: string): NodeDevices {
    let devs = this.devices.get(node)
    if (!devs) {
      const records = (this.view.snapshot.slicesOnNode.get(node) ?? []).flatMap((s) => s.devices.map((d) => ({ driver: s.driver, id: d.id, device: d.device })))
      const byAttribute = new Map<string, Map<string, string>>()
      devs = {
        ids: records.map((r) => r.id),
        gpuOf: new Map(),
        domainOf: new Map(),
        countable: records.every((r) => !r.device.allowMultipleAllocations),
        valueOf(attribute) {
          let values = byAttribute.get(attribute)
          if (!values) {
            values = new Map()
            for (const r of records) {
              const v = attributeOf(r.device.attributes, r.driver, attribute)
              if (v !== undefined) values.set(r.id, JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)))
            }
            byAttribute.set(attribute, values)
          }
          return values
        },
      }
      for (const r of records) {
        const a = (r.device.attributes ?? {}) as Record<string, DeviceAttribute>
        devs.gpuOf.set(r.id, a.parentUUID?.string ?? a.uuid?.string ?? r.id)
        const domain = a['gpuplane.io/nvlinkDomain']?.string
        if (domain) devs.domainOf.set(r.id, domain)
      }
      this.devices.set(node, devs)
    }
    return devs
  }
}

/** Ids of the devices held exclusively under these allocations (no share, no admin access). */
export function exclusiveDeviceIds(allocations: readonly AllocationResult[]): string[] {
  return allocations.flatMap((a) => (a.devices?.results ?? []).filter((x) => x.adminAccess !== true && x.shareID === undefined).map((x) => `${x.driver}/${x.pool}/${x.device}`))
}

/** Devices the requests take at least: ExactCount counts; All, adminAccess and unknown counts take none for sure. */
function devicesOf(requests: readonly DeviceRequest[]): number {
  let n = 0
  for (const r of requests) {
    if (r.exactly) n += r.exactly.adminAccess || r.exactly.allocationMode === 'All' ? 0 : (r.exactly.count ?? 1)
    else n += Math.min(...(r.firstAvailable ?? []).map((s) => (s.allocationMode === 'All' ? 0 : (s.count ?? 1))))
  }
  return n
}

/** A device's attribute by its qualified name; the driver's own attributes may be written unqualified. */
function attributeOf(attributes: Record<string, DeviceAttribute> | undefined, driver: string, name: string): DeviceAttribute | undefined {
  const a = attributes ?? {}
  return a[name] ?? (name.startsWith(`${driver}/`) ? a[name.slice(driver.length + 1)] : undefined)
}
