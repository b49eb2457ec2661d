// Isolation between namespaces: shared nodes, nodes dedicated to one namespace at a time.
//
// A workload's level is its own `spec.isolation`, else its namespace's, else `shared`.
//   shared            any node, except a node that currently serves a dedicated namespace, or that
//                     an administrator dedicated (label gpuplane.io/dedicated-to) to another one.
//   dedicated-nodes   only nodes with no workload of another namespace; while it holds such a
//                     workload the node serves that namespace alone, whatever else arrives.
//   vm-per-workload   needs a virtual machine carved for the workload; planning those is not
//                     implemented yet, so such workloads are refused with that reason.
import type { IsolationLevel } from '../api/workload-v1alpha1.ts'
import { SUCCESS, unschedulable, type CycleContext, type Plugin } from './framework.ts'
import type { SchedNode } from './types.ts'

/** Label that dedicates a node to one namespace permanently. */
export const LABEL_DEDICATED_TO = 'gpuplane.io/dedicated-to'

interface Tenancy {
  /** Workloads per namespace on the node. */
  counts: Map<string, number>
  /** Namespaces on the node that hold it in dedicated-nodes mode. */
  dedicated: Map<string, number>
}

const TENANCY = new WeakMap<object, Map<string, Tenancy>>()

function tenancy(ctx: CycleContext, node: string): Tenancy {
  let byNode = TENANCY.get(ctx.view)
  if (!byNode) TENANCY.set(ctx.view, (byNode = new Map()))
  let t = byNode.get(node)
  if (!t) byNode.set(node, (t = { counts: new Map(), dedicated: new Map() }))
  return t
}

export function isolationOf(ctx: CycleContext): IsolationLevel {
  const ns = ctx.workload.metadata.namespace ?? 'default'
  return ctx.workload.spec.isolation ?? ctx.view.namespaceIsolation?.get(ns) ?? 'shared'
}

export const isolation: Plugin = {
  name: 'isolation',
  preFilter(ctx) {
    if (isolationOf(ctx) === 'vm-per-workload') {
      return unschedulable('isolation vm-per-workload needs a virtual machine carved for this workload; gpuplane does not plan those yet', true)
    }
    return SUCCESS
  },
  filter(ctx, node: SchedNode) {
    const ns = ctx.workload.metadata.namespace ?? 'default'
    const owner = node.labels[LABEL_DEDICATED_TO]
    if (owner !== undefined && owner !== ns) return unschedulable(`node dedicated to namespace ${owner}`, true)
    const t = tenancy(ctx, node.name)
    const holder = [...t.dedicated.keys()].find((other) => other !== ns)
    if (holder) return unschedulable(`node serves namespace ${holder} (dedicated-nodes)`)
    if (isolationOf(ctx) === 'dedicated-nodes') {
      const others = [...t.counts.keys()].filter((other) => other !== ns).sort()
      if (others.length > 0) return unschedulable(`dedicated-nodes: node already runs workloads of ${others.join(', ')}`)
    }
    return SUCCESS
  },
  reserve(ctx, node) {
    const ns = ctx.workload.metadata.namespace ?? 'default'
    const t = tenancy(ctx, node.name)
    t.counts.set(ns, (t.counts.get(ns) ?? 0) + 1)
    if (isolationOf(ctx) === 'dedicated-nodes') t.dedicated.set(ns, (t.dedicated.get(ns) ?? 0) + 1)
    return SUCCESS
  },
  unreserve(ctx, node) {
    const ns = ctx.workload.metadata.namespace ?? 'default'
    const t = tenancy(ctx, node.name)
    const drop = (m: Map<string, number>) => {
      const n = (m.get(ns) ?? 0) - 1
      if (n > 0) m.set(ns, n)
      else m.delete(ns)
    }
    drop(t.counts)
    if (isolationOf(ctx) === 'dedicated-nodes') drop(t.dedicated)
  },
}
