// The plugin framework of the scheduler, in the style of kube-scheduler's: extension points, statuses, profiles.
//
// Extension points and their short-circuit rules (a plugin returns a Status; it never throws for an
// expected outcome):
//   queueSort   the first plugin that defines it orders the queue.
//   preFilter   in order, once per cycle. Unschedulable* stops the cycle; Skip disables the same
//               plugin's filter for this cycle; Error stops the cycle with an error.
//   filter      per node, in order; the first status that is not Success rejects the node and is
//               its reason. Nodes are filtered in name order, from a start that moves on each cycle,
//               until enough feasible nodes are found (percentageOfNodesToScore, as kube-scheduler);
//               a node's answer for a shapeKey is reused while its generation is unchanged. So a
//               filter must depend only on the shape and the node's state, and may be called again
//               on a node within a cycle (to rebuild its per-cycle data), giving the same answer.
//               Filters must also be monotone: reserving never turns a failing node into a passing
//               one (only a release can), so a failed node is skipped until the next release.
//   score       every plugin with a weight > 0 scores every feasible node (0..100); the weighted sum
//               decides, ties going to the node first in name order.
//   reserve     on the chosen node, in order; a failure unreserves the plugins already reserved
//               (in reverse order) and the next best node is tried.
//   permit      after reserve; Wait keeps the reservation until the gang completes; a rejection
//               unreserves like a reserve failure.
import type { ResourceClaim } from '../api/resource-v1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import type { ClusterView, SchedNode } from './types.ts'

export type StatusCode = 'Success' | 'Skip' | 'Wait' | 'Unschedulable' | 'UnschedulableAndUnresolvable' | 'Error'

export interface Status {
  code: StatusCode
  reason?: string
  plugin?: string
}

export const SUCCESS: Status = Object.freeze({ code: 'Success' })

export function unschedulable(reason: string, unresolvable = false): Status {
  return { code: unresolvable ? 'UnschedulableAndUnresolvable' : 'Unschedulable', reason }
}

/** Everything one scheduling cycle knows about the workload; plugins keep per-cycle data in `data`. */
export interface CycleContext {
  workload: Workload
  /** The workload's claims, resolved (references looked up, templates and inline specs instantiated). */
  claims: ResourceClaim[]
  cpuMilli: number
  memoryBytes: number
  view: ClusterView
  data: Map<string, unknown>
  /**
   * Attributes that the profile would like a claim's devices to share, most wanted first (e.g. an
   * NVLink domain, then a PCIe root). The DRA plugin tries each as an extra matchAttribute
   * constraint on claims of several devices and falls back to the claims as written.
   */
  preferredMatchAttributes: string[]
  /**
   * Equal for two cycles whose filter results, and whose cacheable scores, are equal on a node in
   * the same generation: the workload's namespace, isolation, CPU and memory, node selector,
   * tolerations and claims, and the profile. Plugins may key per-node caches on it together with
   * view.ts `nodeGeneration`.
   */
  shapeKey: string
  /**
   * Whether deviceScore is node-local (every weighted scoreDevice plugin has nodeLocalScore), so
   * that the devices chosen on a node may be reused for the same shapeKey and generation.
   */
  deviceScoreIsNodeLocal: boolean
  /** Device-level score the DRA plugin hands to the allocator as its candidate ordering. */
  deviceScore?: (node: SchedNode, device: { driver: string; pool: string; device: string }, attributes: Readonly<Record<string, unknown>>) => number
}

export interface Plugin {
  readonly name: string
  queueSort?(a: Workload, b: Workload): number
  preFilter?(ctx: CycleContext): Status
  filter?(ctx: CycleContext, node: SchedNode): Status
  /** 0..100, higher is better. */
  score?(ctx: CycleContext, node: SchedNode): number
  /**
   * score and scoreDevice depend only on the cycle's shapeKey and the node's own state, so they may
   * be reused while the node's generation is unchanged. Leave unset for scores that look at the
   * rest of the cluster or at history.
   */
  nodeLocalScore?: boolean
  /** Attributes this plugin would like multi-device claims to share, most wanted first. */
  preferredMatchAttributes?: readonly string[]
  /** Orders devices inside a node (higher first); combined over plugins with the profile's weights. */
  scoreDevice?(ctx: CycleContext, node: SchedNode, device: { driver: string; pool: string; device: string }, attributes: Readonly<Record<string, unknown>>): number
  reserve?(ctx: CycleContext, node: SchedNode): Status
  unreserve?(ctx: CycleContext, node: SchedNode): void
  permit?(ctx: CycleContext, node: SchedNode): Status
}

/** A named set of plugins and the weights of their scores. */
export interface Profile {
  name: string
  plugins: Plugin[]
  /** Weight per plugin name for score and scoreDevice; a plugin without a weight does not score. */
  weights: Record<string, number>
}
