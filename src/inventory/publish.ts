// Publishing: a host's GPUs as ResourceSlices of one pool (per publishing mode), and the DeviceClasses that select them.
//
// Modes (HostInfo.mode, GpuInfo.mode; default whole, or mig-static for a GPU in MIG mode):
//   whole        one device `gpu-<index>` per GPU with capacities memory and multiprocessors.
//   mig-static   the MIG devices that exist (publish-mig.ts); the parent GPU is not offered.
//   mig-dynamic  the whole GPU and every legal MIG placement behind shared counters (publish-mig.ts).
//   vgpu         time-sliced vGPU instances behind shared counters (publish-vgpu.ts).
//   shared       one multi-allocatable device per GPU whose memory is handed out in steps.
// Slices are laid out by publish-layout.ts: pool = node name, nodeName on every slice, driver
// gpu.nvidia.com, names `<node>-gpu.nvidia.com-<n>`.
import { Quantity } from '../api/quantity.ts'
import type { Device, DeviceClass, ResourceSlice } from '../api/resource-v1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { gpuMemoryMiB, mib, modeOf, resolveModel, wholeGpuAttributes, type GpuContext } from './publish-attributes.ts'
import { layoutSlices, type GpuUnit, type SliceLayout } from './publish-layout.ts'
import { migDynamicUnit, migStaticUnit } from './publish-mig.ts'
import { vgpuUnit } from './publish-vgpu.ts'
import { GPU_DRIVER, type GpuInfo, type HostInfo } from './types.ts'

export { ATTR_MIG_PLACEMENT_START, normalizeVersion } from './publish-attributes.ts'
export { migCounterPlan, migDeviceName } from './publish-mig.ts'
export { vgpuDeviceName, vgpuPlan } from './publish-vgpu.ts'
export type { SliceLayout } from './publish-layout.ts'

export interface PublishOptions {
  /** 'split' (Kubernetes 1.35+, default) or 'combined' (the 1.34 layout: counters and devices in one slice). */
  layout?: SliceLayout
}

/** Default step of shared-mode memory requests. */
export const DEFAULT_SHARED_MEMORY_STEP = '1Gi'

/**
 * The ResourceSlices that describe `host` to the allocator, one pool named after the node.
 * Deterministic: the same host gives the same slices. Throws GpuplaneError INVALID_INPUT when a
 * GPU cannot be published in its mode (no catalog model for a MIG or vGPU mode, duplicate GPU
 * indexes, a GPU too large for the 1.34 layout, ...).
 */
export function publishHost(host: HostInfo, options: PublishOptions = {}): ResourceSlice[] {
  const indexes = new Set<number>()
  for (const gpu of host.gpus) {
    if (indexes.has(gpu.index)) throw new GpuplaneError('INVALID_INPUT', `host ${host.node}: GPU index ${gpu.index} appears twice; each GPU needs its own index`)
    indexes.add(gpu.index)
  }
  const units = [...host.gpus].sort((a, b) => a.index - b.index).map((gpu) => unitOf(contextOf(host, gpu)))
  return layoutSlices(host.node, units, options.layout ?? 'split')
}

function contextOf(host: HostInfo, gpu: GpuInfo): GpuContext {
  return { host, gpu, model: resolveModel(host, gpu), mode: modeOf(host, gpu) }
}

function unitOf(ctx: GpuContext): GpuUnit {
  switch (ctx.mode) {
    case 'whole':
      return { gpu: ctx.gpu.index, devices: [wholeDevice(ctx)], counterSets: [] }
    case 'mig-static':
      return migStaticUnit(ctx)
    case 'mig-dynamic':
      return migDynamicUnit(ctx)
    case 'vgpu':
      return vgpuUnit(ctx)
    case 'shared':
      return { gpu: ctx.gpu.index, devices: [sharedDevice(ctx)], counterSets: [] }
    default:
      throw new GpuplaneError('INVALID_INPUT', `host ${ctx.host.node} GPU ${ctx.gpu.index}: unknown publishing mode "${String(ctx.mode)}"; use whole, mig-static, mig-dynamic, vgpu or shared`)
  }
}

function wholeDevice(ctx: GpuContext): Device {
  const memory = gpuMemoryMiB(ctx)
  const capacity: NonNullable<Device['capacity']> = {}
  if (memory !== undefined) capacity.memory = { value: mib(memory) }
  if (ctx.model?.smCount) capacity.multiprocessors = { value: String(ctx.model.smCount) }
  return { name: `gpu-${ctx.gpu.index}`, attributes: wholeGpuAttributes(ctx), capacity }
}

/**
 * shared: the GPU as one device with allowMultipleAllocations; each allocation takes a share of
 * `memory`: at least one step, rounded up to whole steps, at most all whole steps of the GPU, and a
 * claim that names no amount gets one step. The allocator never hands out more than the capacity.
 * Only `memory` is published as capacity: any other capacity would be consumed in full by every
 * share that does not request it (KEP-5075), which would make the GPU unshareable.
 */
function sharedDevice(ctx: GpuContext): Device {
  const memory = gpuMemoryMiB(ctx)
  const where = `host ${ctx.host.node} GPU ${ctx.gpu.index}`
  if (memory === undefined) throw new GpuplaneError('INVALID_INPUT', `${where}: shared mode needs the GPU's memory; report memoryMiB or a catalog model`)
  const stepText = ctx.host.sharedMemoryStep ?? DEFAULT_SHARED_MEMORY_STEP
  const step = Quantity.tryParse(stepText)
  const total = BigInt(memory) * 1048576n
  if (!step || step.sign() <= 0) throw new GpuplaneError('INVALID_INPUT', `${where}: sharedMemoryStep "${stepText}" is not a positive quantity such as 1Gi`)
  const stepBytes = step.value()
  if (2n * stepBytes > total) throw new GpuplaneError('INVALID_INPUT', `${where}: sharedMemoryStep ${stepText} is more than half the GPU's ${mib(memory)}; choose a smaller step`)
  // validRange needs max = min + k·step (upstream validation); the capacity itself stays the GPU's memory.
  const max = Quantity.fromBigInt(stepBytes + ((total - stepBytes) / stepBytes) * stepBytes, 'BinarySI').toString()
  const stepQ = Quantity.fromBigInt(stepBytes, 'BinarySI').toString()
  return {
    name: `gpu-${ctx.gpu.index}`,
    attributes: wholeGpuAttributes(ctx),
    allowMultipleAllocations: true,
    capacity: { memory: { value: mib(memory), requestPolicy: { default: stepQ, validRange: { min: stepQ, max, step: stepQ } } } },
  }
}

/**
 * The DeviceClasses for what publishHost offers: gpu.nvidia.com (whole GPUs, shared ones
 * included, as the NVIDIA driver's class), mig.nvidia.com (MIG devices), vgpu.gpuplane.io and
 * shared.gpuplane.io (multi-allocatable GPUs).
 */
export function deviceClasses(): DeviceClass[] {
  const cls = (name: string, expression: string): DeviceClass => ({ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name }, spec: { selectors: [{ cel: { expression } }] } })
  const driver = `device.driver == '${GPU_DRIVER}'`
  const type = (t: string) => `${driver} && device.attributes['${GPU_DRIVER}'].type == '${t}'`
  return [
    cls('gpu.nvidia.com', type('gpu')),
    cls('mig.nvidia.com', type('mig')),
    cls('vgpu.gpuplane.io', type('vgpu')),
    cls('shared.gpuplane.io', `${driver} && device.allowMultipleAllocations`),
  ]
}
