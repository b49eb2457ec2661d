// Public types of the allocator: feature gates, the node being allocated for, options and outcomes.
import type { AllocationResult } from '../api/resource-v1.ts'
import type { ErrorCode } from '../common/errors.ts'

/** DRA feature gates that change allocation semantics. Defaults are those of Kubernetes 1.36. */
export interface Features {
  /** DRAAdminAccess (GA in 1.36). */
  adminAccess: boolean
  /** DRAPrioritizedList (GA in 1.36): `firstAvailable`. */
  prioritizedList: boolean
  /** DRAPartitionableDevices (beta, on in 1.36): shared counters, per-device node selection. */
  partitionableDevices: boolean
  /** DRADeviceTaints (beta, on in 1.36). */
  deviceTaints: boolean
  /** DRAConsumableCapacity (beta, on in 1.36): multi-allocatable devices, capacity requests. */
  consumableCapacity: boolean
  /** DRADeviceBindingConditions (beta, on in 1.36). */
  deviceBinding: boolean
}

export const DEFAULT_FEATURES: Readonly<Features> = Object.freeze({
  adminAccess: true,
  prioritizedList: true,
  partitionableDevices: true,
  deviceTaints: true,
  consumableCapacity: true,
  deviceBinding: true,
})

/** The node an allocation is computed for: its name and labels (for node selectors). */
export interface NodeInfo {
  name: string
  labels?: Record<string, string>
}

/** Identifies a device the way upstream does: driver, pool and device name. */
export interface DeviceRef {
  driver: string
  pool: string
  device: string
}

export interface AllocateOptions {
  /** The node to allocate for; without one only slices for all nodes / node selectors without labels match. */
  node?: NodeInfo
  features?: Partial<Features>
  /**
   * Candidate ordering: devices with a higher score are tried first; ties keep upstream's
   * lexicographic pool/slice/device order. Without it the order is upstream's, deterministic.
   */
  score?: (device: DeviceRef, attributes: Readonly<Record<string, unknown>>) => number
  /** Maximum search steps for one allocate call before giving up with SEARCH_LIMIT. */
  searchLimit?: number
  /**
   * gpuplane's pruning (counting, value groups, look-ahead); on by default. Off, the search is
   * upstream's plain depth-first search: same results, used as the baseline in benchmarks and tests.
   */
  pruning?: boolean
}

export interface AllocationFailure {
  ok: false
  /** CLAIM_UNSATISFIABLE when the claims just do not fit; other codes for errors upstream reports. */
  code: ErrorCode
  reason: string
  /** Index of the claim the error is about, when it is about one. */
  claimIndex?: number
  /** For CLAIM_UNSATISFIABLE: per counted request, what the node has of it. */
  shortfall?: Shortfall[]
}

export interface AllocationSuccess {
  ok: true
  /** One allocation per claim, in the order the claims were given, as upstream writes `status.allocation`. */
  allocations: AllocationResult[]
  /** Search steps used (upstream's allocateOne invocations). */
  steps: number
}

export type AllocationOutcome = AllocationSuccess | AllocationFailure

/** Default bound on search steps per allocate call (each step is one candidate placement tried). */
export const DEFAULT_SEARCH_LIMIT = 1_000_000

/** What one request of a claim lacks on a node (see Search.shortfall). */
export interface Shortfall {
  claim: string
  request: string
  className: string
  need: number
  /** Devices of the node that the request's class and selectors select. */
  devices: number
  /** Of those, the ones that could be allocated now. */
  free: number
  /** The most common productName among the selected devices. */
  product?: string
  /** A matchAttribute constraint of the claim that covers the request, and the most free devices sharing one value of it. */
  matchAttribute?: string
  bestGroup?: number
}
