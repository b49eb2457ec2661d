// The scheduler's view of a cluster: nodes with capacity, the DRA snapshot and what is in use.
import type { ResourceClaim, ResourceClaimTemplate } from '../api/resource-v1.ts'
import type { AllocationState, Snapshot } from '../allocator/index.ts'
import type { IsolationLevel } from '../api/workload-v1alpha1.ts'
import type { QuotaLedger } from './quota.ts'

export interface NodeTaint {
  key: string
  value?: string
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
}

/** A worker node: a host or a virtual machine carved from one. */
export interface SchedNode {
  name: string
  labels: Record<string, string>
  taints: NodeTaint[]
  /** Allocatable CPU in milli-CPU; undefined means not limited. */
  cpuMilli?: number
  /** Allocatable memory in bytes; undefined means not limited. */
  memoryBytes?: number
}

/** What the scheduler decides against. Mutated only through the scheduler's reserve/unreserve. */
export interface ClusterView {
  nodes: SchedNode[]
  snapshot: Snapshot
  state: AllocationState
  /** CPU and memory requested by the workloads placed on each node. */
  nodeUsage: Map<string, { cpuMilli: number; memoryBytes: number }>
  /** ResourceClaims by `namespace/name` (for workloads that reference one). */
  claims: Map<string, ResourceClaim>
  /** ResourceClaimTemplates by `namespace/name`. */
  templates: Map<string, ResourceClaimTemplate>
  /** Namespace quotas; without a ledger, or for a namespace it does not know, nothing is limited. */
  quota?: QuotaLedger
  /** Position of each node in `nodes`. */
  nodeIndex: Map<string, number>
  /**
   * A logical clock of changes, for per-node caches: `node[i]` holds the tick of the last
   * reservation or release on nodes[i], `shared` the tick of the last one while devices not local
   * to one node exist, `released` the tick of the last release anywhere. Advanced only by the
   * scheduler (see view.ts noteChange and nodeGeneration).
   */
  changes: { tick: number; node: Float64Array; shared: number; released: number }
  /** Isolation level of each gpuplane Namespace (absent: shared). */
  namespaceIsolation?: Map<string, IsolationLevel>
}
