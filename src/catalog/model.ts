// Typed GPU models of the catalog, and their construction from the validated data file.
//
// The typed model keeps every fact of the data; where the data leaves a value open or marks it
// doubtful (null memory, a note, a derived placement table, a document value that cannot hold),
// the object says so in `uncertain` instead of silently filling in a default.
import { ARCHITECTURE_PATTERN, type RawGpuModel, type RawMigProfile, type RawVgpuProfile } from './schema.ts'

/** A value the data does not establish firmly: which field, and why. */
export interface Uncertainty {
  field: string
  note: string
}

/** One legal position of a GPU instance on the memory-slice axis. */
export interface MigPlacement {
  start: number
  size: number
}

/** Engines of one GPU instance, as `nvidia-smi mig -lgip` lists them. */
export interface MigEngines {
  /** Streaming multiprocessors. */
  sm: number
  copyEngines: number
  nvdec: number
  /** Encoders; undefined where no source reported them. */
  nvenc?: number
  nvjpg: number
  ofa: number
}

export interface MigProfile {
  /** e.g. "1g.10gb", "1g.10gb+me". */
  name: string
  /** GPU-instance profile id as `nvidia-smi mig -lgip` prints it. */
  profileId: number
  /** GiB as nvidia-smi prints it (two decimals); null where no read was found. */
  memoryGiB: number | null
  /**
   * The same in MiB: the driver sizes instances in multiples of 64 MiB and nvidia-smi rounds to two
   * decimals of GiB, so MiB = round(GiB × 16) × 64 (19.62 → 20096, as the DRA driver publishes).
   */
  memoryMiB: number | null
  computeSlices: number
  memorySlices: number
  maxInstances: number
  placements: MigPlacement[]
  engines: MigEngines | null
  /** True when a real `nvidia-smi mig -lgip/-lgipp` read confirms this row. */
  hardwareVerified: boolean
  notes: string[]
  uncertain: Uncertainty[]
}

export interface MigGeometry {
  computeSlices: number
  memorySlices: number
  maxInstances: number
  profiles: MigProfile[]
}

export interface VgpuProfile {
  /** NVIDIA vGPU type name, e.g. "H100XM-10C". */
  name: string
  kind: 'time-sliced' | 'mig-backed'
  /** Framebuffer in MiB (the documents' GB × 1024). */
  framebufferMiB: number
  /** Maximum vGPUs of this type on one GPU in equal-size (homogeneous) mode, as documented. */
  maxPerGpuEqualSize: number
  /** Maximum in mixed-size (heterogeneous) mode; null where not documented. */
  maxPerGpuMixedSize: number | null
  /** How many of this type fit the GPU's framebuffer (time-sliced only; the largest type's framebuffer ÷ this one's). */
  framebufferLimit: number | null
  /** Backing MIG profile of a MIG-backed type. */
  migProfile: string | null
  slices: number | null
  notes: string[]
  uncertain: Uncertainty[]
}

export interface NvlinkDomainShape {
  /** nvswitch: all GPUs of a baseboard; bridge: NVLink bridge groups; nvlink-switch: rack-scale NVLink Switch; none: no GPU-GPU NVLink. */
  via: 'nvswitch' | 'nvlink-switch' | 'bridge' | 'none'
  gpusPerDomain: number
  formFactor: string
}

export interface NvlinkInfo {
  /** NVLink generation; null where the model has none. */
  generation: number | null
  gpuToGpuGBps: number
  links: number | null
  cpuToGpu: string | null
  notes: string | null
  verified: string
  /** The domain shapes the model comes in (form factors differ). */
  domains: NvlinkDomainShape[]
}

export interface Architecture {
  /** e.g. "Hopper", "Ada Lovelace" (what the DRA driver publishes as `architecture`). */
  name: string
  /** e.g. "GH100". */
  chip: string
  /** CUDA compute capability, e.g. "9.0". */
  computeCapability: string
  /** A CPU on the same module (Grace Hopper), else null. */
  companion: string | null
  /** The data's text, e.g. "Hopper (GH100, CC 9.0)". */
  text: string
}

export interface GpuModel {
  /** Catalog key, e.g. "H100-80GB". */
  key: string
  /** Names nvidia-smi prints for this model (matched by modelForProductName). */
  productNames: string[]
  /** Aliases as the sources wrote them (with their remarks). */
  aliases: string[]
  pciDeviceIds: string[]
  /** Memory in GiB (what the driver reports where known, else nominal). */
  memoryGiB: number
  /** Memory in MiB as nvidia-smi reports it; null where no read was recorded. */
  memoryMiB: number | null
  architecture: Architecture
  smCount: number | null
  /** SMs of the full-GPU MIG instance (can be fewer than smCount on A100). */
  smInMig7g: number | null
  nvlink: NvlinkInfo
  /** MIG geometry and profiles; null for models without MIG. */
  mig: MigGeometry | null
  vgpuProfiles: VgpuProfile[]
  /** Where each part of the data came from. */
  source: Record<string, string>
  uncertain: Uncertainty[]
}

export function buildModel(key: string, raw: RawGpuModel): GpuModel {
  const arch = ARCHITECTURE_PATTERN.exec(raw.architecture)!.groups!
  const hardwareVerified = raw.source.migProfilesHardware !== undefined
  const uncertain: Uncertainty[] = []
  if (raw.smCount === undefined) uncertain.push({ field: 'smCount', note: 'not recorded in the sources' })
  if (raw.memoryMiBReported === undefined) uncertain.push({ field: 'memoryMiB', note: `no nvidia-smi read recorded; memoryGiB ${raw.memoryGiB} is nominal` })
  if (/^not re-verified/.test(raw.nvlink.verified)) uncertain.push({ field: 'nvlink', note: raw.nvlink.verified })
  if (raw.nvlink.domains.length === 0) uncertain.push({ field: 'nvlink.domains', note: 'the sources do not describe the NVLink domain shape' })
  const vgpuProfiles = buildVgpuProfiles(raw.vgpuProfiles)
  const model: GpuModel = {
    key,
    productNames: raw.productNames,
    aliases: raw.aliases,
    pciDeviceIds: raw.pciDeviceIds ?? [],
    memoryGiB: raw.memoryGiB,
    memoryMiB: raw.memoryMiBReported ?? null,
    architecture: { name: arch.name, chip: arch.chip, computeCapability: arch.cc, companion: arch.companion ?? null, text: raw.architecture },
    smCount: raw.smCount ?? null,
    smInMig7g: raw.smInMig7g ?? null,
    nvlink: {
      generation: raw.nvlink.generation,
      gpuToGpuGBps: raw.nvlink.gpuToGpuGBps,
      links: raw.nvlink.links ?? null,
      cpuToGpu: raw.nvlink.cpuToGpu ?? null,
      notes: raw.nvlink.notes ?? null,
      verified: raw.nvlink.verified,
      domains: raw.nvlink.domains,
    },
    mig:
      raw.migCapable && raw.migSlices
        ? {
            computeSlices: raw.migSlices.compute,
            memorySlices: raw.migSlices.memory,
            maxInstances: raw.maxMigInstances!,
            profiles: raw.migProfiles.map((p) => buildMigProfile(p, hardwareVerified)),
          }
        : null,
    vgpuProfiles,
    source: raw.source,
    uncertain,
  }
  return model
}

function buildMigProfile(p: RawMigProfile, hardwareVerified: boolean): MigProfile {
  const notes: string[] = []
  const uncertain: Uncertainty[] = []
  if (p.memoryGiB === null) uncertain.push({ field: 'memoryGiB', note: 'no hardware read found; the nominal size in the name is not what the driver reports' })
  if (p.memoryNote) {
    notes.push(p.memoryNote)
    // A hardware read settles what this driver reports; the note then only records variation.
    if (!hardwareVerified) uncertain.push({ field: 'memoryGiB', note: p.memoryNote })
  }
  if (!p.engines) uncertain.push({ field: 'engines', note: 'SM and engine counts not observed' })
  if (p.engineNote) {
    notes.push(p.engineNote)
    uncertain.push({ field: 'engines', note: p.engineNote })
  }
  if (p.placementsSource) {
    notes.push(p.placementsSource)
    uncertain.push({ field: 'placements', note: p.placementsSource })
  }
  return {
    name: p.name,
    profileId: p.profileId,
    memoryGiB: p.memoryGiB,
    memoryMiB: p.memoryGiB === null ? null : Math.round(p.memoryGiB * 16) * 64,
    computeSlices: p.computeSlices,
    memorySlices: p.memorySlices,
    maxInstances: p.maxInstances,
    placements: p.placements.starts.map((start) => ({ start, size: p.placements.size })),
    engines: p.engines ? { ...p.engines } : null,
    hardwareVerified,
    notes,
    uncertain,
  }
}

function buildVgpuProfiles(raws: RawVgpuProfile[]): VgpuProfile[] {
  const timeSliced = raws.filter((v) => v.kind === 'time-sliced')
  const gpuFramebuffer = Math.max(0, ...timeSliced.map((v) => v.framebufferMB))
  return raws.map((v) => {
    const notes = [v.framebufferNote, v.note].filter((n): n is string => n !== undefined)
    const uncertain: Uncertainty[] = []
    if (v.note) uncertain.push({ field: 'maxPerGpuEqualSize', note: v.note })
    const framebufferLimit = v.kind === 'time-sliced' ? Math.floor(gpuFramebuffer / v.framebufferMB) : null
    if (v.kind === 'time-sliced' && v.maxPerGpuMixedSize === undefined) {
      uncertain.push({ field: 'maxPerGpuMixedSize', note: 'not documented for this model; mixed-size mode cannot be published' })
    }
    if (framebufferLimit !== null && v.maxPerGpuEqualSize > framebufferLimit) {
      uncertain.push({
        field: 'maxPerGpuEqualSize',
        note: `documented ${v.maxPerGpuEqualSize}, but ${v.maxPerGpuEqualSize} × ${v.framebufferMB} MiB exceeds the GPU's ${gpuFramebuffer} MiB vGPU framebuffer: at most ${framebufferLimit} fit`,
      })
    }
    if (framebufferLimit !== null && v.maxPerGpuMixedSize !== undefined && v.maxPerGpuMixedSize > framebufferLimit) {
      uncertain.push({ field: 'maxPerGpuMixedSize', note: `documented ${v.maxPerGpuMixedSize}, but at most ${framebufferLimit} fit the framebuffer` })
    }
    return {
      name: v.name,
      kind: v.kind,
      framebufferMiB: v.framebufferMB,
      maxPerGpuEqualSize: v.maxPerGpuEqualSize,
      maxPerGpuMixedSize: v.maxPerGpuMixedSize ?? null,
      framebufferLimit,
      migProfile: v.migProfile ?? null,
      slices: v.slices ?? null,
      notes,
      uncertain,
    }
  })
}
