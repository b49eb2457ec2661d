// `gpuplane allocate`: offline DRA allocation of the claims in files against the slices and classes there.
import { stringify } from 'yaml'
import type { Decoded, Foreign } from '../api/decode.ts'
import { toPlain } from '../api/decode.ts'
import type { DeviceClass, DraObject, ResourceClaim, ResourceClaimTemplate, ResourceSlice } from '../api/resource-v1.ts'
import { allocate, AllocationState, Snapshot, type AllocationOutcome, type NodeInfo } from '../allocator/index.ts'
import { selectorCheck } from '../cel/index.ts'
import { GpuplaneError, type ErrorCode } from '../common/errors.ts'
import { readObjects } from './read-objects.ts'

export interface AllocateCommandOptions {
  files: string[]
  output: 'yaml' | 'json'
  node?: string
}

export interface Unallocatable {
  namespace: string
  name: string
  reason: string
  code: ErrorCode
}

export interface AllocateReport {
  allocated: ResourceClaim[]
  unallocatable: Unallocatable[]
}

/** A unit of allocation: one claim, or the claims of one pod, which must land on the same node together. */
interface WorkItem {
  claims: ResourceClaim[]
}

export function runAllocate(opts: AllocateCommandOptions): AllocateReport {
  const { objects, foreign } = readObjects(opts.files, [selectorCheck])
  const slices = ofKind<ResourceSlice>(objects, 'ResourceSlice')
  const classes = ofKind<DeviceClass>(objects, 'DeviceClass')
  const claims = ofKind<ResourceClaim>(objects, 'ResourceClaim')
  const snapshot = new Snapshot({ slices, classes, claims })
  const state = new AllocationState(snapshot)
  const nodes = candidateNodes(opts.node, foreign, slices)

  const report: AllocateReport = { allocated: [], unallocatable: [] }
  for (const item of workItems(objects, foreign)) {
    const outcome = allocateOnSomeNode(snapshot, state, item.claims, nodes)
    if (outcome.ok) {
      outcome.allocations.forEach((allocation, i) => {
        state.commit(allocation)
        const claim = item.claims[i]
        report.allocated.push({ ...claim, status: { ...claim.status, allocation } })
      })
    } else {
      for (const claim of item.claims) {
        report.unallocatable.push({ namespace: claim.metadata.namespace ?? 'default', name: claim.metadata.name ?? '', reason: outcome.reason, code: outcome.code })
      }
    }
  }
  return report
}

/** First node (in order) where the claims fit; failing that, the most telling failure. */
function allocateOnSomeNode(snapshot: Snapshot, state: AllocationState, claims: ResourceClaim[], nodes: Array<NodeInfo | undefined>): AllocationOutcome {
  let failure: AllocationOutcome | undefined
  for (const node of nodes) {
    const outcome = allocate(snapshot, state, claims, { node })
    if (outcome.ok) return outcome
    // An error says more than "does not fit here"; keep the first one.
    if (!failure || (failure.ok === false && failure.code === 'CLAIM_UNSATISFIABLE' && outcome.code !== 'CLAIM_UNSATISFIABLE')) failure = outcome
  }
  if (failure && !failure.ok && failure.code === 'CLAIM_UNSATISFIABLE' && nodes.length > 1) {
    return { ...failure, reason: `${failure.reason.replace(/ on node \S+:/, ':')} (tried ${nodes.length} nodes)` }
  }
  return failure ?? { ok: false, code: 'CLAIM_UNSATISFIABLE', reason: 'no nodes to allocate on' }
}

/** --node; else Node objects in the input; else every node that slices name; else no node at all. */
function candidateNodes(nodeName: string | undefined, foreign: Foreign[], slices: ResourceSlice[]): Array<NodeInfo | undefined> {
  const nodeObjects = foreign.filter((f) => f.kind === 'Node' && f.apiVersion === 'v1').map((f) => {
    const meta = (f.raw.metadata ?? {}) as { name?: string; labels?: Record<string, string> }
    return { name: meta.name ?? '', labels: meta.labels ?? {} }
  })
  if (nodeName) return [nodeObjects.find((n) => n.name === nodeName) ?? { name: nodeName, labels: {} }]
  if (nodeObjects.length > 0) return nodeObjects
  const names = [...new Set(slices.map((s) => s.spec.nodeName).filter((n): n is string => !!n))].sort()
  return names.length > 0 ? names.map((name) => ({ name, labels: {} })) : [undefined]
}

/**
 * What to allocate, in document order: each unallocated claim; each pod's claims together (claims it
 * names, and one claim per template it references, named <pod>-<entry>); each template no pod
 * references, as one claim named after the template.
 */
function workItems(objects: Decoded[], foreign: Foreign[]): WorkItem[] {
  type Positioned = { seq: number; item: WorkItem }
  const claimsByName = new Map<string, ResourceClaim>()
  const templatesByName = new Map<string, ResourceClaimTemplate>()
  for (const { object } of objects) {
    if (object.kind === 'ResourceClaim') claimsByName.set(key(object.metadata.namespace, object.metadata.name), object)
    if (object.kind === 'ResourceClaimTemplate') templatesByName.set(key(object.metadata.namespace, object.metadata.name), object)
  }
  const usedByPods = new Set<string>()
  const items: Positioned[] = []
  for (const f of foreign) {
    if (f.kind !== 'Pod' || f.apiVersion !== 'v1') continue
    const meta = (f.raw.metadata ?? {}) as { name?: string; namespace?: string }
    const spec = (f.raw.spec ?? {}) as { resourceClaims?: Array<{ name: string; resourceClaimName?: string; resourceClaimTemplateName?: string }> }
    const claims: ResourceClaim[] = []
    for (const ref of spec.resourceClaims ?? []) {
      if (ref.resourceClaimName) {
        const k = key(meta.namespace, ref.resourceClaimName)
        const claim = claimsByName.get(k)
        if (!claim) throw new GpuplaneError('INVALID_INPUT', `pod ${meta.name} references ResourceClaim ${ref.resourceClaimName}, which is not in the input; add it or remove the reference`, f.location)
        if (!usedByPods.has(k) && !claim.status?.allocation) claims.push(claim)
        usedByPods.add(k)
      } else if (ref.resourceClaimTemplateName) {
        const k = key(meta.namespace, ref.resourceClaimTemplateName)
        const template = templatesByName.get(k)
        if (!template) throw new GpuplaneError('INVALID_INPUT', `pod ${meta.name} references ResourceClaimTemplate ${ref.resourceClaimTemplateName}, which is not in the input; add it or remove the reference`, f.location)
        usedByPods.add(k)
        claims.push(fromTemplate(template, `${meta.name}-${ref.name}`, meta.namespace))
      }
    }
    if (claims.length > 0) items.push({ seq: f.seq, item: { claims } })
  }
  for (const { object, seq } of objects) {
    if (object.kind !== 'ResourceClaim' && object.kind !== 'ResourceClaimTemplate') continue
    const k = key(object.metadata.namespace, object.metadata.name)
    if (usedByPods.has(k)) continue
    if (object.kind === 'ResourceClaim' && object.status?.allocation) continue
    const claim = object.kind === 'ResourceClaim' ? object : fromTemplate(object, object.metadata.name ?? '', object.metadata.namespace)
    items.push({ seq, item: { claims: [claim] } })
  }
  return items.sort((a, b) => a.seq - b.seq).map((p) => p.item)
}

function fromTemplate(t: ResourceClaimTemplate, name: string, namespace: string | undefined): ResourceClaim {
  const metadata: ResourceClaim['metadata'] = { name, namespace: namespace ?? t.metadata.namespace }
  if (t.spec.metadata?.labels) metadata.labels = t.spec.metadata.labels
  if (t.spec.metadata?.annotations) metadata.annotations = t.spec.metadata.annotations
  return { apiVersion: t.apiVersion, kind: 'ResourceClaim', metadata, spec: t.spec.spec }
}

function key(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? 'default'}/${name ?? ''}`
}

function ofKind<T extends DraObject>(objects: Decoded[], kind: T['kind']): T[] {
  return objects.filter((o) => o.object.kind === kind).map((o) => o.object as T)
}

/** Renders the report: YAML prints the allocated claims as documents; JSON prints the whole report. */
export function renderReport(report: AllocateReport, output: 'yaml' | 'json'): string {
  if (output === 'json') return stringifyJson(report) + '\n'
  if (report.allocated.length === 0) return ''
  return report.allocated.map((c) => stringify(toPlain(c), { lineWidth: 0 })).join('---\n')
}

/** JSON with int64 values (bigints) written as exact numbers. */
export function stringifyJson(value: unknown): string {
  const marks: string[] = []
  const json = JSON.stringify(
    toPlain(value),
    (_k, v) => {
      if (typeof v === 'bigint') {
        marks.push(v.toString())
        return `\u0000bigint${marks.length - 1}\u0000`
      }
      return v
    },
    2,
  )
  return json.replace(/"\u0000bigint(\d+)\u0000"/g, (_m, i) => marks[Number(i)])
}
