// The pre-pass of allocation: each request and subrequest of each claim resolved to its class, mode and size.
import type { DeviceClass, DeviceToleration, ResourceClaim } from '../api/resource-v1.ts'
import { ALLOCATION_RESULTS_MAX_SIZE } from '../api/limits.ts'
import { GpuplaneError } from '../common/errors.ts'
import { Constraint, DistinctAttributeConstraint, MatchAttributeConstraint } from './constraints.ts'
import type { Snapshot } from './snapshot.ts'
import type { Features } from './types.ts'

export { ALLOCATION_RESULTS_MAX_SIZE }

/** One request, or one subrequest of a `firstAvailable` request, ready for the search. */
export interface RequestData {
  claimIndex: number
  /** Name of the request, or of the subrequest. */
  name: string
  /** Name of the parent request when this is a subrequest. */
  parentName?: string
  /** `request` or `request/subrequest`, as results name it. */
  fullName: string
  className: string
  deviceClass: DeviceClass
  /** Class selectors first, then the request's own, as upstream evaluates them. */
  selectors: Array<{ expression: string; fromClass: boolean; index: number }>
  /** The expressions of `selectors`, in the same order. */
  expressions: string[]
  mode: 'ExactCount' | 'All'
  numDevices: number
  adminAccess: boolean
  tolerations?: DeviceToleration[]
  capacityRequests?: Record<string, string>
}

/** A request of a claim: either exact, or a list of alternatives of which the first that works wins. */
export interface RequestGroup {
  name: string
  exact?: RequestData
  subs?: RequestData[]
  /** Index of the subrequest the search settled on. */
  selected: number
}

export interface ClaimData {
  claim: ResourceClaim
  label: string
  groups: RequestGroup[]
  constraints: Constraint[]
}

export function claimLabel(claim: ResourceClaim): string {
  const ns = claim.metadata.namespace
  return ns ? `${ns}/${claim.metadata.name ?? ''}` : (claim.metadata.name ?? '')
}

/** Resolves every claim's requests; throws GpuplaneError for the errors upstream reports before searching. */
export function prepareClaims(snapshot: Snapshot, claims: readonly ResourceClaim[], features: Features): ClaimData[] {
  return claims.map((claim, claimIndex) => {
    const label = claimLabel(claim)
    const groups: RequestGroup[] = []
    let minDevices = 0
    for (const request of claim.spec.devices?.requests ?? []) {
      if (request.firstAvailable && request.firstAvailable.length > 0) {
        if (!features.prioritizedList) {
          throw new GpuplaneError('INVALID_INPUT', `claim ${label}, request ${request.name}: has subrequests (firstAvailable), but the DRAPrioritizedList feature is disabled`)
        }
        const subs = request.firstAvailable.map((sub) => {
          if (!features.consumableCapacity && sub.capacity) {
            throw new GpuplaneError('INVALID_INPUT', `claim ${label}, subrequest ${sub.name}: has capacity requests, but the DRAConsumableCapacity feature is disabled`)
          }
          return requestData(snapshot, features, claimIndex, label, sub.name, request.name, { ...sub, adminAccess: undefined })
        })
        groups.push({ name: request.name, subs, selected: 0 })
        minDevices += Math.min(...subs.map((s) => s.numDevices))
      } else if (request.exactly) {
        if (!features.consumableCapacity && request.exactly.capacity) {
          throw new GpuplaneError('INVALID_INPUT', `claim ${label}, request ${request.name}: has capacity requests, but the DRAConsumableCapacity feature is disabled`)
        }
        const exact = requestData(snapshot, features, claimIndex, label, request.name, undefined, request.exactly)
        groups.push({ name: request.name, exact, selected: 0 })
        minDevices += exact.numDevices
      } else {
        throw new GpuplaneError('INVALID_INPUT', `claim ${label}, request ${request.name}: neither exactly nor firstAvailable is set; set one of them`)
      }
    }
    if (minDevices > ALLOCATION_RESULTS_MAX_SIZE) {
      throw new GpuplaneError('TOO_MANY_RESULTS', `claim ${label}: number of requested devices ${minDevices} exceeds the claim limit of ${ALLOCATION_RESULTS_MAX_SIZE}`)
    }
    const constraints = (claim.spec.devices?.constraints ?? []).map((c, i) => {
      if (c.matchAttribute) return new MatchAttributeConstraint(c.matchAttribute, c.requests)
      if (c.distinctAttribute) return new DistinctAttributeConstraint(c.distinctAttribute, c.requests)
      throw new GpuplaneError('INVALID_INPUT', `claim ${label}, constraint #${i}: set matchAttribute or distinctAttribute`)
    })
    return { claim, label, groups, constraints }
  })
}

interface RequestFields {
  deviceClassName: string
  selectors?: Array<{ cel?: { expression: string } }>
  allocationMode?: string
  count?: number
  adminAccess?: boolean
  tolerations?: DeviceToleration[]
  capacity?: { requests?: Record<string, string> }
}

function requestData(snapshot: Snapshot, features: Features, claimIndex: number, label: string, name: string, parentName: string | undefined, r: RequestFields): RequestData {
  const shownName = parentName ? `${parentName}/${name}` : name
  const own = (r.selectors ?? []).map((s, index) => {
    if (!s.cel) throw new GpuplaneError('INVALID_INPUT', `claim ${label}, request ${shownName}, selector #${index}: CEL expression empty; set selectors[${index}].cel.expression`)
    return { expression: s.cel.expression, fromClass: false, index }
  })
  if (!features.adminAccess && r.adminAccess !== undefined) {
    throw new GpuplaneError('INVALID_INPUT', `claim ${label}, request ${shownName}: admin access is requested, but the DRAAdminAccess feature is disabled`)
  }
  if (!r.deviceClassName) throw new GpuplaneError('INVALID_INPUT', `claim ${label}, request ${shownName}: deviceClassName is missing`)
  const deviceClass = snapshot.classes.get(r.deviceClassName)
  if (!deviceClass) {
    throw new GpuplaneError('CLASS_NOT_FOUND', `claim ${label}, request ${shownName}: device class ${r.deviceClassName} does not exist; create it or name an existing class`)
  }
  const classSelectors = (deviceClass.spec.selectors ?? []).map((s, index) => {
    if (!s.cel) throw new GpuplaneError('INVALID_INPUT', `class ${r.deviceClassName}, selector #${index}: CEL expression empty`)
    return { expression: s.cel.expression, fromClass: true, index }
  })
  const mode = r.allocationMode ?? 'ExactCount'
  if (mode !== 'ExactCount' && mode !== 'All') {
    throw new GpuplaneError('INVALID_INPUT', `claim ${label}, request ${shownName}: unsupported allocationMode ${mode}; use ExactCount or All`)
  }
  return {
    claimIndex,
    name,
    parentName,
    fullName: shownName,
    className: r.deviceClassName,
    deviceClass,
    selectors: [...classSelectors, ...own],
    expressions: [...classSelectors, ...own].map((s) => s.expression),
    mode,
    numDevices: mode === 'All' ? 0 : (r.count ?? 1),
    adminAccess: r.adminAccess === true,
    tolerations: r.tolerations,
    capacityRequests: r.capacity?.requests,
  }
}
