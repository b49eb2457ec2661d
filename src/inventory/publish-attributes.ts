// What every published device of a GPU says about it: model, mode, attributes as the NVIDIA DRA driver names them, quantities.
import { Quantity } from '../api/quantity.ts'
import type { DeviceAttribute } from '../api/resource-v1.ts'
import { isValidSemver } from '../api/semver.ts'
import { gpuModel, gpuModels, modelForProductName, type GpuModel, type MigProfile } from '../catalog/index.ts'
import { GpuplaneError } from '../common/errors.ts'
import { ATTR_HOST, ATTR_NUMA_NODE, ATTR_NVLINK_DOMAIN, ATTR_PCI_BUS_ID, ATTR_PCIE_ROOT, type GpuInfo, type HostInfo, type MigProfileRead, type PublishMode } from './types.ts'

/** gpuplane's attribute for a MIG device's first memory slice (with `profile` it names the placement). */
export const ATTR_MIG_PLACEMENT_START = 'gpuplane.io/migPlacementStart'

/** The `brand` the NVIDIA DRA driver publishes. */
export const BRAND = 'Nvidia'

/** A GPU with what publishing needs to know about it. */
export interface GpuContext {
  host: HostInfo
  gpu: GpuInfo
  model: GpuModel | undefined
  mode: PublishMode
}

/** The GPU's mode: its own, else the host's, else static MIG for a GPU in MIG mode, else whole. */
export function modeOf(host: HostInfo, gpu: GpuInfo): PublishMode {
  return gpu.mode ?? host.mode ?? (gpu.migEnabled ? 'mig-static' : 'whole')
}

/**
 * The catalog model: GpuInfo.model (key or alias) when set, else by product name (and memory).
 * When the GPU reported its own MIG table (nvidia-smi mig -lgip/-lgipp), that table replaces the
 * catalog's for this GPU: real hardware reads win over documents.
 */
export function resolveModel(host: HostInfo, gpu: GpuInfo): GpuModel | undefined {
  let model: GpuModel | undefined
  if (gpu.model !== undefined) {
    model = gpuModel(gpu.model)
    if (!model) {
      throw new GpuplaneError('INVALID_INPUT', `host ${host.node} GPU ${gpu.index}: model "${gpu.model}" is not in the GPU catalog; use one of ${gpuModels().map((m) => m.key).join(', ')}`)
    }
  } else {
    model = modelForProductName(gpu.productName, gpu.memoryMiB)
  }
  return model && gpu.migProfiles?.length ? withHardwareMig(model, gpu.migProfiles) : model
}

function withHardwareMig(model: GpuModel, reads: readonly MigProfileRead[]): GpuModel {
  const catalog = new Map((model.mig?.profiles ?? []).map((p) => [p.name, p]))
  const profiles: MigProfile[] = reads.map((r) => {
    const known = catalog.get(r.name)
    const computeSlices = known?.computeSlices ?? Number(/^(\d+)g/.exec(r.name)?.[1] ?? 1)
    return {
      name: r.name,
      profileId: r.profileId,
      memoryGiB: r.memoryGiB,
      memoryMiB: Math.round(r.memoryGiB * 16) * 64,
      computeSlices,
      memorySlices: r.placements[0]?.size ?? known?.memorySlices ?? 1,
      maxInstances: r.instancesTotal,
      placements: r.placements.map((p) => ({ ...p })),
      engines: { sm: r.multiprocessors, copyEngines: r.copyEngines ?? 0, nvdec: r.decoders ?? 0, nvenc: r.encoders, nvjpg: r.jpegEngines ?? 0, ofa: r.ofaEngines ?? 0 },
      hardwareVerified: true,
      notes: ['as reported by this GPU (nvidia-smi mig -lgip/-lgipp)'],
      uncertain: [],
    }
  })
  const memorySlices = Math.max(model.mig?.memorySlices ?? 0, ...profiles.flatMap((p) => p.placements.map((pl) => pl.start + pl.size)))
  const computeSlices = Math.max(model.mig?.computeSlices ?? 0, ...profiles.map((p) => p.computeSlices))
  return { ...model, mig: { computeSlices, memorySlices, maxInstances: model.mig?.maxInstances ?? computeSlices, profiles } }
}

/** The model, or an error saying which mode needs it and how to name one. */
export function requireModel(ctx: GpuContext): GpuModel {
  if (ctx.model) return ctx.model
  throw new GpuplaneError(
    'INVALID_INPUT',
    `host ${ctx.host.node} GPU ${ctx.gpu.index} ("${ctx.gpu.productName}"): mode ${ctx.mode} needs the GPU's catalog model, and the product name matches none; set the GPU's model to one of ${gpuModels().map((m) => m.key).join(', ')}`,
  )
}

/**
 * A driver or CUDA version as a semantic version, the way the NVIDIA DRA driver publishes it:
 * numeric parts without leading zeros, padded to three ("580.159.04" → "580.159.4", "13.0" →
 * "13.0.0"). Undefined for text that is not dotted numbers.
 */
export function normalizeVersion(text: string | undefined): string | undefined {
  if (text === undefined || !/^\d+(\.\d+){0,2}$/.test(text.trim())) return undefined
  const parts = text.trim().split('.').map((p) => String(Number(p)))
  while (parts.length < 3) parts.push('0')
  const version = parts.join('.')
  return isValidSemver(version) ? version : undefined
}

/** MiB as a BinarySI quantity string in canonical form ("81559Mi", "40Gi"). */
export function mib(n: number): string {
  return Quantity.fromBigInt(BigInt(n) * 1048576n, 'BinarySI').toString()
}

/** The GPU's memory in MiB: what the host reported, else the catalog's read, else its nominal GiB. */
export function gpuMemoryMiB(ctx: GpuContext): number | undefined {
  return ctx.gpu.memoryMiB ?? ctx.model?.memoryMiB ?? (ctx.model ? Math.round(ctx.model.memoryGiB * 1024) : undefined)
}

/** Attributes of the physical GPU, shared by the devices carved from it (MIG, vGPU). */
export function gpuAttributes(ctx: GpuContext): Record<string, DeviceAttribute> {
  const { host, gpu, model } = ctx
  const attrs: Record<string, DeviceAttribute> = { productName: { string: gpu.productName }, brand: { string: BRAND } }
  if (model) {
    attrs.architecture = { string: model.architecture.name }
    attrs.cudaComputeCapability = { version: normalizeVersion(model.architecture.computeCapability)! }
  }
  const driver = normalizeVersion(gpu.driverVersion)
  if (driver) attrs.driverVersion = { version: driver }
  const cuda = normalizeVersion(gpu.cudaDriverVersion)
  if (cuda) attrs.cudaDriverVersion = { version: cuda }
  if (gpu.pcieRoot) attrs[ATTR_PCIE_ROOT] = { string: gpu.pcieRoot }
  if (gpu.pciBusId) attrs[ATTR_PCI_BUS_ID] = { string: gpu.pciBusId }
  if (gpu.numaNode !== undefined) attrs[ATTR_NUMA_NODE] = { int: BigInt(gpu.numaNode) }
  if (gpu.nvlinkDomain) attrs[ATTR_NVLINK_DOMAIN] = { string: gpu.nvlinkDomain }
  attrs[ATTR_HOST] = { string: host.host ?? host.node }
  return attrs
}

/** Attributes of a whole-GPU device: the GPU's, its type and UUID. */
export function wholeGpuAttributes(ctx: GpuContext): Record<string, DeviceAttribute> {
  return { type: { string: 'gpu' }, uuid: { string: ctx.gpu.uuid }, ...gpuAttributes(ctx) }
}

/** A profile or type name as part of a device name: dots dropped, anything else outside [a-z0-9-] as '-' ("1g.10gb+me" → "1g10gb-me"). */
export function nameSlug(name: string): string {
  return name.toLowerCase().replace(/\./g, '').replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')
}
