// The controller's Prometheus metrics: allocations, scheduling attempts and conflicts, queue depth, GPUs allocated and published.
//
// GPUs are counted as physical GPUs: a published GPU is one `uuid` (whole and shared devices) or
// `parentUUID` (MIG partitions, vGPUs) among the devices of the ResourceSlices. An allocated device
// counts as the part of its GPU it takes: 1 for a whole GPU, its memory over the GPU's for a MIG
// partition or a vGPU, the memory consumed over the device's for a share of a shared GPU; so a GPU
// cut in seven 1g.10gb partitions, all allocated, counts about 1, not 7.
import { Counter, Gauge, type Registry } from 'prom-client'
import { Quantity } from '../api/quantity.ts'
import type { AllocationResult, DeviceAttribute } from '../api/resource-v1.ts'
import { modelForProductName } from '../catalog/index.ts'
import type { Snapshot } from '../allocator/index.ts'

export interface ControllerMetrics {
  /** Workloads placed (committed), by namespace. */
  allocations: Counter<'namespace'>
  /** Scheduling decisions by result: scheduled, unschedulable, conflict (the commit lost to another writer). */
  attempts: Counter<'result'>
  /** Commits refused because another replica allocated first (then re-read and retried). */
  conflicts: Counter
  /** Pending workloads. */
  queueDepth: Gauge
  /** Physical GPUs published, by model. */
  gpusTotal: Gauge<'model'>
  /** GPUs allocated (fractions for partitions and shares), by model and namespace. */
  gpusAllocated: Gauge<'model' | 'namespace'>
}

/**
 * The controller's metrics, registered in `registry` (the server's, so `/metrics` serves them).
 * The GPU gauges are computed when scraped, from what `gpus()` returns then (nothing: left as
 * they are), so that scheduling never pays for them.
 */
export function controllerMetrics(registry: Registry, gpus?: () => { snapshot: Snapshot; placed: Iterable<PlacedAllocations> } | undefined): ControllerMetrics {
  const registers = [registry]
  const metrics: ControllerMetrics = {
    allocations: new Counter({ name: 'gpuplane_allocations_total', help: 'Workloads placed by the controller (committed), by namespace', labelNames: ['namespace'], registers }),
    attempts: new Counter({ name: 'gpuplane_scheduling_attempts_total', help: 'Scheduling decisions by result: scheduled, unschedulable, conflict', labelNames: ['result'], registers }),
    conflicts: new Counter({ name: 'gpuplane_scheduling_conflicts_total', help: 'Allocation commits refused because another writer allocated first; each is re-read and retried', registers }),
    queueDepth: new Gauge({ name: 'gpuplane_queue_depth', help: 'Workloads pending', registers }),
    gpusTotal: new Gauge({
      name: 'gpuplane_gpus_total',
      help: 'Physical GPUs published in ResourceSlices, by model',
      labelNames: ['model'],
      registers,
      // Sets both GPU gauges; gpusAllocated is registered after this one, so it is read after.
      collect() {
        const now = gpus?.()
        if (now) updateGpuGauges(metrics, now.snapshot, now.placed)
      },
    }),
    gpusAllocated: new Gauge({ name: 'gpuplane_gpus_allocated', help: 'GPUs allocated to workloads, by model and namespace (partitions and shares count as the part of their GPU they take)', labelNames: ['model', 'namespace'], registers }),
  }
  return metrics
}

/** A placed workload's namespace and allocations, for the GPU gauges. */
export interface PlacedAllocations {
  namespace: string
  allocations: readonly AllocationResult[]
}

/** Sets the GPU gauges from what the slices publish and what the placed workloads hold. */
export function updateGpuGauges(metrics: ControllerMetrics, snapshot: Snapshot, placed: Iterable<PlacedAllocations>): void {
  const models = new Map<string, string>()
  for (const s of snapshot.slices) {
    for (const d of s.devices) {
      const gpu = gpuOf(d.device.attributes)
      if (gpu) models.set(gpu.uuid, gpu.model)
    }
  }
  const total = new Map<string, number>()
  for (const model of models.values()) total.set(model, (total.get(model) ?? 0) + 1)
  metrics.gpusTotal.reset()
  for (const [model, n] of total) metrics.gpusTotal.set({ model }, n)

  const allocated = new Map<string, { model: string; namespace: string; n: number }>()
  for (const p of placed) {
    for (const a of p.allocations) {
      for (const r of a.devices?.results ?? []) {
        const rec = snapshot.device(`${r.driver}/${r.pool}/${r.device}`, `${r.driver}/${r.pool}`)
        const gpu = rec ? gpuOf(rec.device.attributes) : undefined
        if (!rec || !gpu) continue
        const key = `${gpu.model}\u0000${p.namespace}`
        const entry = allocated.get(key) ?? { model: gpu.model, namespace: p.namespace, n: 0 }
        entry.n += partOfGpu(rec.device.attributes, rec.device.capacity?.memory?.value, r.consumedCapacity?.memory, gpu.model)
        allocated.set(key, entry)
      }
    }
  }
  metrics.gpusAllocated.reset()
  for (const { model, namespace, n } of allocated.values()) metrics.gpusAllocated.set({ model, namespace }, Math.round(n * 1000) / 1000)
}

type Attributes = Record<string, DeviceAttribute> | undefined

/** The physical GPU a device belongs to and its model (the catalog key, else the product name). */
function gpuOf(attributes: Attributes): { uuid: string; model: string } | undefined {
  const uuid = attributes?.parentUUID?.string ?? attributes?.uuid?.string
  const product = attributes?.productName?.string
  if (uuid === undefined || product === undefined) return undefined
  return { uuid, model: modelForProductName(product)?.key ?? product }
}

/** The part of its GPU an allocated device takes (see the file comment). */
function partOfGpu(attributes: Attributes, deviceMemory: string | undefined, consumed: string | undefined, model: string): number {
  const bytes = (q: string | undefined) => (q === undefined ? undefined : Number(Quantity.parse(q).value()))
  const own = bytes(deviceMemory)
  if (consumed !== undefined && own) return Math.min(1, bytes(consumed)! / own)
  if (attributes?.type?.string === 'gpu') return 1
  const gpuGiB = modelForProductName(attributes?.productName?.string ?? '')?.memoryGiB
  if (own === undefined || !gpuGiB) return 1
  return Math.min(1, own / (gpuGiB * 2 ** 30))
}
