// Namespace quota as a scheduler plugin: what a workload takes is admitted to the ledger at reserve, released at unreserve.
//
// What counts: CPU and memory from the workload's requests; per allocated device one `gpus`, its
// memory (the share consumed for a multi-allocatable device, else its memory capacity) as
// `gpuMemory`, and one `model:<catalog key>` for the GPU model it belongs to. GPU amounts depend on
// the devices the DRA filter chose on each node, so the exact check happens at reserve, on the
// node chosen; pre-filter rejects early only what cannot fit on any node (CPU, memory, device count).
import { Quantity } from '../api/quantity.ts'
import type { AllocationResult, DeviceAttribute } from '../api/resource-v1.ts'
import { modelForProductName } from '../catalog/index.ts'
import { SUCCESS, unschedulable, type CycleContext, type Plugin } from './framework.ts'
import { allocations } from './plugins-default.ts'
import type { ResourceVector } from './quota.ts'
import { workloadKeyOf } from './workload-key.ts'

export const namespaceQuota: Plugin = {
  name: 'namespace-quota',
  preFilter(ctx) {
    const ledger = ctx.view.quota
    if (!ledger) return { code: 'Skip' }
    const ns = ctx.workload.metadata.namespace ?? 'default'
    if (!ledger.namespaces().includes(ns)) return SUCCESS
    const minimum: ResourceVector = { cpu: BigInt(ctx.cpuMilli), memory: BigInt(ctx.memoryBytes), gpus: BigInt(requestedDevices(ctx)) }
    const r = ledger.check(ns, minimum)
    return r.ok ? SUCCESS : unschedulable(`quota of namespace ${ns}: ${r.reason}`, true)
  },
  reserve(ctx, node) {
    const ledger = ctx.view.quota
    const ns = ctx.workload.metadata.namespace ?? 'default'
    if (!ledger || !ledger.namespaces().includes(ns)) return SUCCESS
    const request = usageOf(ctx, allocations(ctx).get(node.name) ?? [])
    const r = ledger.admit(ns, workloadKeyOf(ctx.workload), request, ctx.workload.spec.priority ?? 0)
    return r.ok ? SUCCESS : unschedulable(`quota of namespace ${ns}: ${r.reason}`)
  },
  unreserve(ctx) {
    ctx.view.quota?.release(workloadKeyOf(ctx.workload))
  },
}

/** Devices the claims ask for at least (All-mode requests count one). */
function requestedDevices(ctx: CycleContext): number {
  let n = 0
  for (const c of ctx.claims) for (const r of c.spec.devices?.requests ?? []) n += r.exactly ? (r.exactly.allocationMode === 'All' ? 1 : (r.exactly.count ?? 1)) : Math.min(...(r.firstAvailable ?? []).map((s) => (s.allocationMode === 'All' ? 1 : (s.count ?? 1))))
  return n
}

/** What the workload takes with these allocations, as a quota vector. */
export function usageOf(ctx: CycleContext, allocs: readonly AllocationResult[]): ResourceVector {
  const v: Record<string, bigint> = { cpu: BigInt(ctx.cpuMilli), memory: BigInt(ctx.memoryBytes), gpus: 0n, gpuMemory: 0n }
  for (const a of allocs) {
    for (const r of a.devices?.results ?? []) {
      if (r.adminAccess) continue
      const device = ctx.view.snapshot.device(`${r.driver}/${r.pool}/${r.device}`, `${r.driver}/${r.pool}`)?.device
      v.gpus += 1n
      const memory = r.consumedCapacity?.memory ?? device?.capacity?.memory?.value
      if (memory !== undefined) v.gpuMemory += Quantity.parse(memory).value()
      const product = (device?.attributes?.productName as DeviceAttribute | undefined)?.string
      const model = product ? modelForProductName(product)?.key : undefined
      if (model) v[`model:${model}`] = (v[`model:${model}`] ?? 0n) + 1n
    }
  }
  return v as ResourceVector
}
