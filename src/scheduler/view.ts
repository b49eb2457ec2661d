// Building a ClusterView from objects: Nodes (v1), ResourceSlices, DeviceClasses, ResourceClaims and templates.
import { AllocationState, Snapshot } from '../allocator/index.ts'
import { Quantity } from '../api/quantity.ts'
import type { DeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice } from '../api/resource-v1.ts'
import type { Namespace } from '../api/namespace-v1alpha1.ts'
import { QuotaLedger } from './quota.ts'
import type { ClusterView, NodeTaint, SchedNode } from './types.ts'

export interface ViewInput {
  nodes: SchedNode[]
  slices: ResourceSlice[]
  classes: DeviceClass[]
  claims?: ResourceClaim[]
  templates?: ResourceClaimTemplate[]
  /** gpuplane Namespaces whose quotas apply. */
  namespaces?: Namespace[]
}

export function clusterView(input: ViewInput): ClusterView {
  const snapshot = new Snapshot({ slices: input.slices, classes: input.classes, claims: input.claims })
  const key = (o: { metadata: { namespace?: string; name?: string } }) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`
  return {
    nodes: input.nodes,
    snapshot,
    state: new AllocationState(snapshot),
    nodeUsage: new Map(),
    claims: new Map((input.claims ?? []).map((c) => [key(c), c])),
    templates: new Map((input.templates ?? []).map((t) => [key(t), t])),
    ...(input.namespaces ? { quota: new QuotaLedger(input.namespaces), namespaceIsolation: new Map(input.namespaces.map((n) => [n.metadata.name ?? '', n.spec.isolation ?? 'shared'])) } : {}),
  }
}

/** A v1 Node object (as `gpuplane inventory` prints it) as the scheduler sees it. */
export function schedNodeFromObject(raw: Record<string, unknown>): SchedNode {
  const meta = (raw.metadata ?? {}) as { name?: string; labels?: Record<string, string> }
  const spec = (raw.spec ?? {}) as { taints?: NodeTaint[] }
  const status = (raw.status ?? {}) as { allocatable?: Record<string, string>; capacity?: Record<string, string> }
  const resources = status.allocatable ?? status.capacity ?? {}
  const node: SchedNode = { name: meta.name ?? '', labels: meta.labels ?? {}, taints: spec.taints ?? [] }
  if (resources.cpu !== undefined) node.cpuMilli = Number(Quantity.parse(String(resources.cpu)).milliValue())
  if (resources.memory !== undefined) node.memoryBytes = Number(Quantity.parse(String(resources.memory)).value())
  return node
}
