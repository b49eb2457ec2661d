// Gang permit: a gang member's reservation waits until minMember members of its gang hold reservations.
//
// kube-scheduler's coscheduling idea as a permit plugin: reserve counts the member, permit answers
// Wait while fewer than minMember members are reserved, and Success once the gang is complete (the
// scheduler then lets every waiting member of the gang go). Members that wait too long, or a gang
// that cannot complete, are unreserved by the scheduler: devices are never held half-placed.
import { SUCCESS, type CycleContext, type Plugin, type Status } from './framework.ts'
import type { ClusterView } from './types.ts'
import { workloadKeyOf } from './workload-key.ts'

const RESERVED = new WeakMap<ClusterView, Map<string, Set<string>>>()

/** `namespace/group` of the workload's gang, or undefined for a workload outside gangs. */
export function gangKeyOf(ctx: CycleContext): string | undefined {
  const g = ctx.workload.spec.gang
  return g ? `${ctx.workload.metadata.namespace ?? 'default'}/${g.group}` : undefined
}

function members(view: ClusterView, gang: string): Set<string> {
  let byGang = RESERVED.get(view)
  if (!byGang) RESERVED.set(view, (byGang = new Map()))
  let set = byGang.get(gang)
  if (!set) byGang.set(gang, (set = new Set()))
  return set
}

export const gangPermit: Plugin = {
  name: 'gang-permit',
  reserve(ctx) {
    const gang = gangKeyOf(ctx)
    if (gang) members(ctx.view, gang).add(workloadKeyOf(ctx.workload))
    return SUCCESS
  },
  unreserve(ctx) {
    const gang = gangKeyOf(ctx)
    if (gang) members(ctx.view, gang).delete(workloadKeyOf(ctx.workload))
  },
  permit(ctx): Status {
    const gang = gangKeyOf(ctx)
    if (!gang) return SUCCESS
    const min = ctx.workload.spec.gang!.minMember
    const n = members(ctx.view, gang).size
    return n >= min ? SUCCESS : { code: 'Wait', reason: `gang ${ctx.workload.spec.gang!.group}: ${n} of ${min} members reserved` }
  },
}
