// DeviceClass, ResourceClaim and ResourceClaimTemplate validation: requests, constraints, config and allocation status.
import * as L from './limits.ts'
import { dnsLabelProblems, dnsSubdomainProblems, extendedResourceNameProblems, isNormalizedUuid } from './names.ts'
import type {
  AllocationResult,
  DeviceClaimConfiguration,
  DeviceClass,
  DeviceConstraint,
  DeviceRequest,
  DeviceRequestAllocationResult,
  DeviceSubRequest,
  ExactDeviceRequest,
  ResourceClaim,
  ResourceClaimSpec,
  ResourceClaimTemplate,
} from './resource-v1.ts'
import {
  add,
  addProblems,
  checkBindingConditions,
  checkConfigList,
  checkDriverName,
  checkLabelsAndAnnotations,
  checkNodeSelector,
  checkObjectMeta,
  checkPoolName,
  checkQualifiedName,
  checkRequiredDnsLabel,
  checkSelectors,
  checkToleration,
  checkTolerations,
  checkUnique,
  child,
  index,
  key,
  show,
  withinLimit,
  type Errs,
  type FieldError,
} from './validate-common.ts'

// ------------------------------------------------------------------ DeviceClass

export function validateDeviceClass(deviceClass: DeviceClass): FieldError[] {
  const errs: Errs = []
  checkObjectMeta(errs, deviceClass.metadata, { namespaced: false, kind: 'DeviceClass' })
  const spec = deviceClass.spec
  checkSelectors(errs, 'spec.selectors', spec.selectors)
  checkConfigList(errs, 'spec.config', spec.config, L.DEVICE_CONFIG_MAX_SIZE, 'DeviceConfigMaxSize')
  if (spec.extendedResourceName !== undefined) {
    const name = spec.extendedResourceName
    addProblems(errs, 'spec.extendedResourceName', name, extendedResourceNameProblems(name).map((p) => `is not a valid extended resource name: ${p}`))
  }
  return errs
}

// ------------------------------------------------------------------ ResourceClaim and ResourceClaimTemplate

export function validateResourceClaim(claim: ResourceClaim): FieldError[] {
  const errs: Errs = []
  checkObjectMeta(errs, claim.metadata, { namespaced: true, kind: 'ResourceClaim' })
  const names = checkClaimSpec(errs, 'spec', claim.spec)
  if (claim.status) checkClaimStatus(errs, 'status', claim.status, names)
  return errs
}

export function validateResourceClaimTemplate(template: ResourceClaimTemplate): FieldError[] {
  const errs: Errs = []
  checkObjectMeta(errs, template.metadata, { namespaced: true, kind: 'ResourceClaimTemplate' })
  const meta = template.spec.metadata
  if (meta) {
    for (const field of Object.keys(meta)) {
      if (field !== 'labels' && field !== 'annotations') {
        add(errs, child('spec.metadata', field), 'cannot be set in a ResourceClaimTemplate: only labels and annotations are copied to the generated claims')
      }
    }
    checkLabelsAndAnnotations(errs, 'spec.metadata', meta.labels, meta.annotations)
  }
  checkClaimSpec(errs, 'spec.spec', template.spec.spec)
  return errs
}

/** Request names of a claim: for each request, the names of its subrequests (null without firstAvailable). */
type RequestNames = Map<string, Set<string> | null>

function requestNamesOf(spec: ResourceClaimSpec): RequestNames {
  const names: RequestNames = new Map()
  for (const r of spec.devices?.requests ?? []) {
    names.set(r.name, r.firstAvailable?.length ? new Set(r.firstAvailable.map((s) => s.name)) : null)
  }
  return names
}

function checkClaimSpec(errs: Errs, path: string, spec: ResourceClaimSpec): RequestNames {
  const names = requestNamesOf(spec)
  const devices = spec.devices
  if (!devices) return names
  const devPath = child(path, 'devices')
  const requestsPath = child(devPath, 'requests')
  const requests = devices.requests ?? []
  if (withinLimit(errs, requestsPath, requests.length, L.DEVICE_REQUESTS_MAX_SIZE, 'DeviceRequestsMaxSize', 'requests')) {
    requests.forEach((r, i) => checkRequest(errs, index(requestsPath, i), r))
    checkUnique(errs, requestsPath, requests, (r) => r.name, 'request name')
  }
  const constraintsPath = child(devPath, 'constraints')
  const constraints = devices.constraints ?? []
  if (withinLimit(errs, constraintsPath, constraints.length, L.DEVICE_CONSTRAINTS_MAX_SIZE, 'DeviceConstraintsMaxSize', 'constraints')) {
    constraints.forEach((c, i) => checkConstraint(errs, index(constraintsPath, i), c, names))
  }
  checkConfigList(errs, child(devPath, 'config'), devices.config, L.DEVICE_CONFIG_MAX_SIZE, 'DeviceConfigMaxSize', (c: DeviceClaimConfiguration, p) =>
    checkRequestRefs(errs, child(p, 'requests'), c.requests, names),
  )
  return names
}

function checkRequest(errs: Errs, path: string, request: DeviceRequest): void {
  checkRequiredDnsLabel(errs, child(path, 'name'), request.name, 'request name')
  const subrequests = request.firstAvailable ?? []
  const hasExactly = request.exactly !== undefined
  const hasFirst = subrequests.length > 0
  if (hasExactly && hasFirst) {
    add(errs, path, 'exactly one of exactly or firstAvailable may be set, found both')
  } else if (!hasExactly && !hasFirst) {
    add(errs, path, 'exactly one of exactly or firstAvailable is required (firstAvailable needs at least one subrequest)')
  } else if (request.exactly) {
    checkExactRequest(errs, child(path, 'exactly'), request.exactly)
  } else {
    const subPath = child(path, 'firstAvailable')
    const max = L.FIRST_AVAILABLE_DEVICE_REQUEST_MAX_SIZE
    if (withinLimit(errs, subPath, subrequests.length, max, 'FirstAvailableDeviceRequestMaxSize', 'subrequests')) {
      subrequests.forEach((s, i) => checkSubRequest(errs, index(subPath, i), s))
      checkUnique(errs, subPath, subrequests, (s) => s.name, 'subrequest name')
    }
  }
}

function checkExactRequest(errs: Errs, path: string, r: ExactDeviceRequest): void {
  checkRequestCommon(errs, path, r)
}

function checkSubRequest(errs: Errs, path: string, r: DeviceSubRequest): void {
  checkRequiredDnsLabel(errs, child(path, 'name'), r.name, 'subrequest name')
  checkRequestCommon(errs, path, r)
}

/** The fields ExactDeviceRequest and DeviceSubRequest share. */
function checkRequestCommon(errs: Errs, path: string, r: ExactDeviceRequest | DeviceSubRequest): void {
  if (r.deviceClassName === '') add(errs, child(path, 'deviceClassName'), "deviceClassName is required: the name of a DeviceClass, e.g. 'gpu.nvidia.com'")
  else addProblems(errs, child(path, 'deviceClassName'), r.deviceClassName, dnsSubdomainProblems(r.deviceClassName))
  checkSelectors(errs, child(path, 'selectors'), r.selectors)
  checkAllocationMode(errs, path, r.allocationMode, r.count)
  checkTolerations(errs, child(path, 'tolerations'), r.tolerations)
  for (const name of Object.keys(r.capacity?.requests ?? {})) {
    // Not checked upstream; a malformed name could never match a device's capacity.
    checkQualifiedName(errs, key(child(path, 'capacity.requests'), name), name, 'capacity name')
  }
}

/**
 * allocationMode defaults to ExactCount and count to 1; count is an int64 with omitempty upstream,
 * so an explicit 0 means "unset".
 */
function checkAllocationMode(errs: Errs, path: string, mode: string | undefined, count: number | undefined): void {
  const effective = mode || 'ExactCount'
  const n = count ?? 0
  if (effective === 'ExactCount') {
    if (n < 0) add(errs, child(path, 'count'), `must be greater than zero (the number of devices), is ${n}`)
  } else if (effective === 'All') {
    if (n !== 0) add(errs, child(path, 'count'), `must not be set when allocationMode is All, is ${n}`)
  } else {
    add(errs, child(path, 'allocationMode'), `unsupported allocationMode ${show(mode)}: supported values are ExactCount (the default) and All`)
  }
}

function checkConstraint(errs: Errs, path: string, c: DeviceConstraint, names: RequestNames): void {
  checkRequestRefs(errs, child(path, 'requests'), c.requests, names)
  if (c.matchAttribute !== undefined && c.distinctAttribute !== undefined) {
    add(errs, path, 'exactly one of matchAttribute or distinctAttribute may be set, found both')
  } else if (c.matchAttribute !== undefined) {
    checkQualifiedName(errs, child(path, 'matchAttribute'), c.matchAttribute, 'attribute name', true)
  } else if (c.distinctAttribute !== undefined) {
    checkQualifiedName(errs, child(path, 'distinctAttribute'), c.distinctAttribute, 'attribute name', true)
  } else {
    add(errs, path, 'exactly one of matchAttribute or distinctAttribute is required')
  }
}

/** References to requests from constraints, config and results: "<request>" or "<request>/<subrequest>". */
function checkRequestRefs(errs: Errs, path: string, refs: readonly string[] | undefined, names: RequestNames): void {
  if (!refs || !withinLimit(errs, path, refs.length, L.DEVICE_REQUESTS_MAX_SIZE, 'DeviceRequestsMaxSize', 'request references')) return
  refs.forEach((ref, i) => checkRequestRef(errs, index(path, i), ref, names))
  checkUnique(errs, path, refs, (r) => r, 'request reference')
}

function checkRequestRef(errs: Errs, path: string, ref: string, names: RequestNames): void {
  const segments = ref.split('/')
  if (segments.length > 2) {
    add(errs, path, `${show(ref)} must be the name of a request in the claim, or a request and a subrequest separated by one '/'`)
    return
  }
  for (const s of segments) addProblems(errs, path, s, dnsLabelProblems(s))
  const [request, sub] = segments
  const subs = names.get(request)
  if (subs === undefined) {
    const known = [...names.keys()]
    add(errs, path, `${show(ref)} does not name a request of this claim${known.length ? ` (requests: ${known.join(', ')})` : ' (it has no requests)'}`)
  } else if (sub !== undefined && !subs?.has(sub)) {
    const known = subs ? [...subs].map((s) => `${request}/${s}`).join(', ') : undefined
    add(errs, path, `${show(ref)} does not name a subrequest of request ${show(request)}${known ? ` (subrequests: ${known})` : ' (it has no firstAvailable subrequests)'}`)
  }
}

// ------------------------------------------------------------------ ResourceClaim status

type ClaimStatus = NonNullable<ResourceClaim['status']>

function checkClaimStatus(errs: Errs, path: string, status: ClaimStatus, names: RequestNames): void {
  const reservedPath = child(path, 'reservedFor')
  const reserved = status.reservedFor ?? []
  const maxReserved = L.RESOURCE_CLAIM_RESERVED_FOR_MAX_SIZE
  if (withinLimit(errs, reservedPath, reserved.length, maxReserved, 'ResourceClaimReservedForMaxSize', 'reservedFor entries')) {
    reserved.forEach((ref, i) => {
      for (const f of ['resource', 'name', 'uid'] as const) {
        if (ref[f] === '') add(errs, child(index(reservedPath, i), f), `${f} is required in a reservedFor entry`)
      }
    })
    checkUnique(errs, reservedPath, reserved, (r) => r.uid, 'consumer uid')
  }
  if (reserved.length > 0 && !status.allocation) {
    add(errs, reservedPath, 'may only be set when status.allocation is set: a claim is reserved for consumers after it is allocated')
  }
  if (status.allocation) checkAllocation(errs, child(path, 'allocation'), status.allocation, names)
}

function checkAllocation(errs: Errs, path: string, allocation: AllocationResult, names: RequestNames): void {
  const resultsPath = child(path, 'devices.results')
  const results = allocation.devices?.results ?? []
  if (withinLimit(errs, resultsPath, results.length, L.ALLOCATION_RESULTS_MAX_SIZE, 'AllocationResultsMaxSize', 'results')) {
    results.forEach((r, i) => checkResult(errs, index(resultsPath, i), r, names))
  }
  checkConfigList(errs, child(path, 'devices.config'), allocation.devices?.config, L.ALLOCATION_CONFIG_MAX_SIZE, 'DeviceConfigMaxSize * 2', (c, p) =>
    checkRequestRefs(errs, child(p, 'requests'), c.requests, names),
  )
  if (allocation.nodeSelector) checkNodeSelector(errs, child(path, 'nodeSelector'), allocation.nodeSelector)
}

function checkResult(errs: Errs, path: string, r: DeviceRequestAllocationResult, names: RequestNames): void {
  checkRequestRef(errs, child(path, 'request'), r.request, names)
  checkDriverName(errs, child(path, 'driver'), r.driver)
  checkPoolName(errs, child(path, 'pool'), r.pool)
  checkRequiredDnsLabel(errs, child(path, 'device'), r.device, 'device name')
  checkBindingConditions(errs, path, r.bindingConditions, r.bindingFailureConditions)
  ;(r.tolerations ?? []).forEach((t, i) => checkToleration(errs, index(child(path, 'tolerations'), i), t))
  if (r.shareID !== undefined && !isNormalizedUuid(r.shareID)) {
    add(errs, child(path, 'shareID'), `${show(r.shareID)} must be a UUID in RFC 4122 normalized form: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx with lowercase hexadecimal digits`)
  }
}
