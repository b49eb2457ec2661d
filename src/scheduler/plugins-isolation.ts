// Isolation between namespaces: shared nodes, nodes dedicated to one namespace at a time, one virtual machine per workload.
//
// A workload's level is its own `spec.isolation`, else its namespace's, else `shared`.
//   shared            any node, except a node that currently serves a dedicated namespace, or that
//                     an administrator dedicated (label gpuplane.io/dedicated-to) to another one.
//   dedicated-nodes   only nodes with no workload of another namespace; while it holds such a
//                     workload the node serves that namespace alone, whatever else arrives.
//   vm-per-workload   only VM hosts (label gpuplane.io/vm-host: hypervisors published with
//                     `gpuplane inventory cluster --vm-hosts`), and only devices a VM can take:
//                     whole GPUs (passed through) and vGPUs, never MIG devices or shared GPUs. The
//                     workload gets a virtual machine of its own, carved from the host and sized to
//                     it (vm-plan.ts); that VM is the isolation boundary, so the VMs of several
//                     workloads, of any namespaces, may share a host.
// VM hosts take no other workloads: their GPUs are there to be carved into VMs. Shared and
// dedicated-nodes workloads run on worker nodes, VMs declared in the Cluster included.
//
// Two plugins: `isolation` filters nodes before the devices are chosen; `isolation-vm-devices`
// runs after dynamic-resources and refuses a node where the devices chosen for a vm-per-workload
// workload include one a VM cannot take.
import type { IsolationLevel } from '../api/workload-v1alpha1.ts'
import { deviceId, poolKeyOf } from '../allocator/snapshot.ts'
import { LABEL_VM_HOST } from '../inventory/types.ts'
import { SUCCESS, unschedulable, type CycleContext, type Plugin } from './framework.ts'
import { allocations } from './plugins-default.ts'
import type { SchedNode } from './types.ts'
import { vmDeviceProblem, vmPlan, type VmDevice, type VmPlan } from './vm-plan.ts'

export { LABEL_VM_HOST } from '../inventory/types.ts'

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

/** Whether the node is a hypervisor offered for virtual machines. */
export function isVmHost(node: SchedNode): boolean {
  return node.labels[LABEL_VM_HOST] === 'true'
}

export const isolation: Plugin = {
  name: 'isolation',
  preFilter(ctx) {
    if (isolationOf(ctx) === 'vm-per-workload' && ctx.claims.length === 0) {
      return unschedulable('vm-per-workload: the workload claims no devices, and a virtual machine is carved around GPUs it passes through or vGPUs; give it a GPU claim, or choose another isolation level', true)
    }
    return SUCCESS
  },
  filter(ctx, node: SchedNode) {
    const ns = ctx.workload.metadata.namespace ?? 'default'
    const level = isolationOf(ctx)
    if (level === 'vm-per-workload' && !isVmHost(node)) return unschedulable(`isolation vm-per-workload: node is not a VM host (label ${LABEL_VM_HOST}=true)`, true)
    if (level !== 'vm-per-workload' && isVmHost(node)) return unschedulable('node is a VM host: only vm-per-workload workloads get VMs carved from it', true)
    const owner = node.labels[LABEL_DEDICATED_TO]
    if (owner !== undefined && owner !== ns) return unschedulable(`node dedicated to namespace ${owner}`, true)
    const t = tenancy(ctx, node.name)
    const holder = [...t.dedicated.keys()].find((other) => other !== ns)
    if (holder) return unschedulable(`node serves namespace ${holder} (dedicated-nodes)`)
    if (level === 'dedicated-nodes') {
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

/**
 * After dynamic-resources: the devices chosen on a VM host for a vm-per-workload workload must all
 * be ones a VM can take (vm-plan.ts: vmDeviceProblem); otherwise the node is refused with the
 * first device's reason. Other workloads pass.
 */
export const isolationVmDevices: Plugin = {
  name: 'isolation-vm-devices',
  filter(ctx, node) {
    if (isolationOf(ctx) !== 'vm-per-workload') return SUCCESS
    for (const device of allocatedDevices(ctx, node)) {
      const problem = vmDeviceProblem(device)
      if (problem) return unschedulable(`isolation vm-per-workload: ${problem}`)
    }
    return SUCCESS
  },
}

/**
 * `{ vm }` with the VM planned for the workload placed on `node` (vm-plan.ts), for its decision;
 * `{}` for a workload that is not vm-per-workload. The node is a VM host, named after its host.
 */
export function vmDecision(ctx: CycleContext, node: SchedNode): { vm?: VmPlan } {
  if (isolationOf(ctx) !== 'vm-per-workload') return {}
  return { vm: vmPlan(ctx.workload, node.name, allocatedDevices(ctx, node)) }
}

/** The devices the DRA filter chose on the node in this cycle, as their slices publish them. */
function allocatedDevices(ctx: CycleContext, node: SchedNode): VmDevice[] {
  const { snapshot } = ctx.view
  return (allocations(ctx).get(node.name) ?? []).flatMap((a) =>
    (a.devices?.results ?? []).map((r) => {
      const rec = snapshot.device(deviceId(r.driver, r.pool, r.device), poolKeyOf(r.driver, r.pool))
      return { driver: r.driver, name: r.device, attributes: rec?.device.attributes ?? {}, allowMultipleAllocations: rec?.device.allowMultipleAllocations === true }
    }),
  )
}
