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
    nodeIndex: new Map(input.nodes.map((n, i) => [n.name, i])),
    changes: { tick: 0, node: new Float64Array(input.nodes.length), shared: 0, released: 0 },
    claims: new Map((input.claims ?? []).map((c) => [key(c), c])),
    templates: new Map((input.templates ?? []).map((t) => [key(t), t])),
    ...(input.namespaces ? { quota: new QuotaLedger(input.namespaces), namespaceIsolation: new Map(input.namespaces.map((n) => [n.metadata.name ?? '', n.spec.isolation ?? 'shared'])) } : {}),
  }
}

/**
 * Records that something was reserved on (`released` false) or released from `node`. When some devices are shared
 * between nodes (network-attached pools), any change may change what every node can get, so it
 * counts for all of them.
 */
export function noteChange(view: ClusterView, node: string, released = false): void {
  const tick = ++view.changes.tick
  if (released) view.changes.released = tick
  const i = view.nodeIndex.get(node)
  if (i !== undefined) view.changes.node[i] = tick
  if (view.snapshot.slicesShared.length > 0 || i === undefined) view.changes.shared = tick
}

/**
 * A number that changes whenever what `node` can offer may have changed; equal generations mean
 * equal state for everything the scheduler keeps per node (devices, CPU and memory, tenancy).
 */
export function nodeGeneration(view: ClusterView, node: string): number {
  const i = view.nodeIndex.get(node)
  const own = i === undefined ? 0 : view.changes.node[i]
  return own > view.changes.shared ? own : view.changes.shared
}

/** Shapes whose per-node results each cache keeps, the most recently used first. */
const MAX_CACHED_SHAPES = 256

type ShapeCaches = Map<string, Map<string, { generation: number; value: unknown }>>
const NODE_CACHES = new WeakMap<ClusterView, Map<string, ShapeCaches>>()

/** Per-node results of one cache for one shape, valid while the node's generation is unchanged. */
export interface NodeCache<T> {
  get(node: string): T | undefined
  set(node: string, value: T): void
}

/**
 * A per-node cache named `name` for cycles of one shapeKey, kept with the view: what a node gave for
 * this shape is returned only while nothing changed on it (nodeGeneration). Bounded to the
 * MAX_CACHED_SHAPES shapes used last.
 */
export function nodeCache<T>(view: ClusterView, name: string, shape: string): NodeCache<T> {
  let named = NODE_CACHES.get(view)
  if (!named) NODE_CACHES.set(view, (named = new Map()))
  let shapes = named.get(name)
  if (!shapes) named.set(name, (shapes = new Map()))
  let byNode = shapes.get(shape)
  if (byNode !== undefined) shapes.delete(shape)
  else if (shapes.size >= MAX_CACHED_SHAPES) shapes.delete(shapes.keys().next().value!)
  shapes.set(shape, (byNode ??= new Map()))
  const entries = byNode
  return {
    get(node) {
      const e = entries.get(node)
      return e !== undefined && e.generation === nodeGeneration(view, node) ? (e.value as T) : undefined
    },
    set(node, value) {
      entries.set(node, { generation: nodeGeneration(view, node), value })
    },
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
