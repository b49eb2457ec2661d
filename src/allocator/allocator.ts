// allocate(): DRA structured-parameters allocation of a set of claims for one node, as upstream writes status.allocation.
import type { NodeSelector, NodeSelectorRequirement } from '../api/meta.ts'
import type { AllocationResult, DeviceAllocationConfiguration, DeviceRequestAllocationResult, ResourceClaim } from '../api/resource-v1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { consumedForStatus } from './capacity.ts'
import { gatherPools } from './pools.ts'
import { prepareClaims, type ClaimData } from './requests.ts'
import { Search, type DeviceResult } from './search.ts'
import type { Snapshot } from './snapshot.ts'
import { AllocationState } from './state.ts'
import { DEFAULT_FEATURES, DEFAULT_SEARCH_LIMIT, type AllocateOptions, type AllocationOutcome } from './types.ts'

/**
 * Allocates devices for `claims` together (as for the claims of one pod) on `options.node`.
 * Pure: reads the snapshot and state, changes neither. Expected outcomes — claims that do not fit,
 * a missing class, an incomplete pool — are returned, not thrown.
 */
export function allocate(snapshot: Snapshot, state: AllocationState, claims: readonly ResourceClaim[], options: AllocateOptions = {}): AllocationOutcome {
  const features = { ...DEFAULT_FEATURES, ...options.features }
  let search: Search | undefined
  try {
    const pools = gatherPools(snapshot, options.node, features)
    const prepared = prepareClaims(snapshot, claims, features)
    search = new Search(snapshot, prepared, pools, state, features, options.node, options, options.searchLimit ?? DEFAULT_SEARCH_LIMIT)
    if (!search.run()) {
      const bad = pools.find((p) => p.invalid)
      if (bad) return { ok: false, code: 'POOL_INVALID', reason: `invalid resource pools were encountered (${bad.key}: ${bad.invalidReason})` }
      return { ok: false, code: 'CLAIM_UNSATISFIABLE', reason: unsatisfiableReason(prepared, options.node?.name), shortfall: search.shortfall() }
    }
    const allocations = prepared.map((c, i) => buildAllocation(c, search!.results[i], features.deviceBinding, options.node?.name))
    return { ok: true, allocations, steps: search.steps }
  } catch (e) {
    if (e instanceof GpuplaneError) return { ok: false, code: e.code, reason: e.message }
    throw e
  }
}

/**
 * Allocates claims one after the other, committing each success to `state`, as the CLI does for
 * the claims of a file. Returns one outcome per claim.
 */
export function allocateEach(snapshot: Snapshot, claims: readonly ResourceClaim[], options: AllocateOptions = {}, state = new AllocationState(snapshot)): AllocationOutcome[] {
  return claims.map((claim) => {
    const outcome = allocate(snapshot, state, [claim], options)
    if (outcome.ok) state.commit(outcome.allocations[0])
    return outcome
  })
}

function unsatisfiableReason(claims: ClaimData[], node: string | undefined): string {
  const where = node ? `node ${node}` : 'the devices available to all nodes'
  const names = claims.map((c) => c.label).join(', ')
  return `cannot allocate all devices of claim ${names} on ${where}: not enough free devices match the requests, selectors and constraints`
}

function buildAllocation(claim: ClaimData, results: DeviceResult[], bindingFeature: boolean, nodeName: string | undefined): AllocationResult {
  const out: DeviceRequestAllocationResult[] = results.map(({ rd, rec, shareID, consumed }) => {
    const r: DeviceRequestAllocationResult = { request: rd.fullName, driver: rec.driver, pool: rec.pool, device: rec.name }
    if (rd.adminAccess) r.adminAccess = true
    if (rd.tolerations && rd.tolerations.length > 0) r.tolerations = rd.tolerations
    if (bindingFeature && rec.device.bindingConditions?.length) r.bindingConditions = rec.device.bindingConditions
    if (bindingFeature && rec.device.bindingFailureConditions?.length) r.bindingFailureConditions = rec.device.bindingFailureConditions
    if (shareID) r.shareID = shareID
    if (consumed && consumed.size > 0) r.consumedCapacity = consumedForStatus(rec, consumed)
    return r
  })

  const config: DeviceAllocationConfiguration[] = []
  // Class configs first, each class once, listing every request that used the class.
  const classRanges = new Map<string, [number, number]>()
  for (const group of claim.groups) {
    const rd = group.subs ? group.subs[group.selected] : group.exact!
    const range = classRanges.get(rd.className)
    if (range) {
      for (let i = range[0]; i < range[1]; i++) config[i].requests!.push(rd.fullName)
      continue
    }
    const start = config.length
    for (const cfg of rd.deviceClass.spec.config ?? []) config.push({ source: 'FromClass', requests: [rd.fullName], opaque: cfg.opaque })
    classRanges.set(rd.className, [start, config.length])
  }
  // Then the claim's configs: those for all requests, and those naming a request or the chosen subrequest.
  for (const cfg of claim.claim.spec.devices?.config ?? []) {
    const names = cfg.requests ?? []
    if (names.length === 0) {
      config.push({ source: 'FromClaim', opaque: cfg.opaque })
      continue
    }
    claim.groups.forEach((group) => {
      if (names.includes(group.name)) {
        config.push({ source: 'FromClaim', requests: names, opaque: cfg.opaque })
      } else if (group.subs && names.includes(`${group.name}/${group.subs[group.selected].name}`)) {
        config.push({ source: 'FromClaim', requests: names, opaque: cfg.opaque })
      }
    })
  }
  // Kubernetes 1.36 keeps the request lists as built (later releases drop a list that names every
  // request) and copies a claim config once per request it names; both kept for parity.

  const allocation: AllocationResult = { devices: { results: out } }
  if (config.length > 0) allocation.devices!.config = config
  const nodeSelector = createNodeSelector(results, nodeName)
  if (nodeSelector) allocation.nodeSelector = nodeSelector
  return allocation
}

/**
 * Where the allocation can be used: pinned to the node when any device is node-local or binds to
 * its node; else the union of the slices' node selector requirements; else nowhere restricted.
 */
function createNodeSelector(results: DeviceResult[], nodeName: string | undefined): NodeSelector | undefined {
  const fields: NodeSelectorRequirement[] = []
  const exprs: NodeSelectorRequirement[] = []
  for (const { rec } of results) {
    const perDevice = rec.slice.perDeviceNodeSelection
    const name = perDevice ? rec.device.nodeName : rec.slice.slice.spec.nodeName
    const selector = perDevice ? rec.device.nodeSelector : rec.slice.slice.spec.nodeSelector
    if (name || rec.device.bindsToNode) {
      return { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName ?? name ?? ''] }] }] }
    }
    if (selector && selector.nodeSelectorTerms.length === 1) {
      const term = selector.nodeSelectorTerms[0]
      addNew(term.matchFields ?? [], fields)
      addNew(term.matchExpressions ?? [], exprs)
    } else if (selector && selector.nodeSelectorTerms.length > 1) {
      throw new GpuplaneError('INVALID_INPUT', `ResourceSlice ${rec.slice.name}: nodeSelector has ${selector.nodeSelectorTerms.length} terms; exactly one is allowed`)
    }
  }
  if (fields.length === 0 && exprs.length === 0) return undefined
  const term: { matchFields?: NodeSelectorRequirement[]; matchExpressions?: NodeSelectorRequirement[] } = {}
  if (exprs.length) term.matchExpressions = exprs
  if (fields.length) term.matchFields = fields
  return { nodeSelectorTerms: [term] }
}

function addNew(from: NodeSelectorRequirement[], to: NodeSelectorRequirement[]): void {
  for (const r of from) {
    const values = new Set(r.values ?? [])
    const present = to.some((t) => t.key === r.key && t.operator === r.operator && (t.values ?? []).length === values.size && (t.values ?? []).every((v) => values.has(v)))
    if (!present) to.push(r)
  }
}
