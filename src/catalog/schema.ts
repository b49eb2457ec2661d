// The shape of src/catalog/data/gpu-catalog.json, checked with zod when the catalog loads.
//
// Every field of the data file is named here (strict objects), so a typo or a new fact that the
// typed model would drop is an error at load time rather than a silent loss. Consistency rules
// that span fields (placements inside the memory-slice axis, placementsText agreeing with
// placements, one full-GPU profile per MIG table) are checked in superRefine.
import { z } from 'zod'

/** "Hopper (GH100, CC 9.0)" or "Hopper (GH100, CC 9.0) + Grace CPU (aarch64)". */
export const ARCHITECTURE_PATTERN = /^(?<name>[A-Z][A-Za-z ]*?) \((?<chip>[A-Z]{2}\d{3}), CC (?<cc>\d+\.\d+)\)(?: \+ (?<companion>.+))?$/

const Count = z.number().int().nonnegative()
const Positive = z.number().int().positive()

export const RawEngines = z.strictObject({
  sm: Positive,
  copyEngines: Count,
  nvdec: Count,
  /** Encoders; only where a hardware read reported them (the documents left them out). */
  nvenc: Count.optional(),
  nvjpg: Count,
  ofa: Count,
})
export type RawEngines = z.infer<typeof RawEngines>

export const RawMigProfile = z.strictObject({
  name: z.string().regex(/^\d+g\.\d+gb(\+me)?$/, 'a MIG profile name such as "1g.10gb" or "1g.10gb+me"'),
  profileId: Count,
  /** GiB as nvidia-smi prints it (two decimals); null where no hardware read was found. */
  memoryGiB: z.number().positive().nullable(),
  computeSlices: Positive,
  memorySlices: Positive,
  maxInstances: Positive,
  placements: z.strictObject({ starts: z.array(Count).min(1), size: Positive }),
  placementsText: z.string(),
  engines: RawEngines.optional(),
  memoryNote: z.string().optional(),
  engineNote: z.string().optional(),
  placementsSource: z.string().optional(),
})
export type RawMigProfile = z.infer<typeof RawMigProfile>

export const RawVgpuProfile = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['time-sliced', 'mig-backed']),
  /** MiB in fact: the documents list GB and the collector multiplied by 1024 (see framebufferNote). */
  framebufferMB: Positive,
  maxPerGpuEqualSize: Positive,
  maxPerGpuMixedSize: Positive.optional(),
  migProfile: z.string().optional(),
  slices: Positive.optional(),
  framebufferNote: z.string().optional(),
  note: z.string().optional(),
})
export type RawVgpuProfile = z.infer<typeof RawVgpuProfile>

export const RawNvlinkDomain = z.strictObject({
  via: z.enum(['nvswitch', 'nvlink-switch', 'bridge', 'none']),
  gpusPerDomain: Positive,
  formFactor: z.string(),
})

export const RawNvlink = z.strictObject({
  generation: Positive.nullable(),
  gpuToGpuGBps: z.number().nonnegative(),
  links: Positive.optional(),
  cpuToGpu: z.string().optional(),
  notes: z.string().optional(),
  verified: z.string(),
  domains: z.array(RawNvlinkDomain),
})

export const RawGpuModel = z
  .strictObject({
    productNames: z.array(z.string().min(1)).min(1),
    aliases: z.array(z.string().min(1)),
    pciDeviceIds: z.array(z.string().regex(/^0x[0-9A-F]{8}$/, 'a PCI device id such as "0x233010DE"')).optional(),
    memoryGiB: z.number().positive(),
    memoryMiBReported: Positive.optional(),
    architecture: z.string().regex(ARCHITECTURE_PATTERN, 'an architecture such as "Hopper (GH100, CC 9.0)"'),
    smCount: Positive.optional(),
    smInMig7g: Positive.optional(),
    migCapable: z.boolean(),
    migSlices: z.strictObject({ compute: Positive, memory: Positive }).optional(),
    maxMigInstances: Positive.optional(),
    migProfiles: z.array(RawMigProfile),
    vgpuProfiles: z.array(RawVgpuProfile),
    nvlink: RawNvlink,
    source: z.record(z.string(), z.string()),
  })
  .superRefine((m, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message })
    if (!m.migCapable) {
      if (m.migProfiles.length > 0) issue(['migProfiles'], 'a model that is not MIG-capable must not list MIG profiles')
      return
    }
    if (!m.migSlices) return issue(['migSlices'], 'a MIG-capable model needs migSlices {compute, memory}')
    if (m.maxMigInstances === undefined) issue(['maxMigInstances'], 'a MIG-capable model needs maxMigInstances')
    if (m.migProfiles.length === 0) issue(['migProfiles'], 'a MIG-capable model needs its MIG profiles')
    const slices = m.migSlices
    m.migProfiles.forEach((p, i) => {
      const at = (...rest: PropertyKey[]) => ['migProfiles', i, ...rest]
      if (p.placements.size !== p.memorySlices) issue(at('placements', 'size'), `placement size ${p.placements.size} differs from memorySlices ${p.memorySlices}`)
      if (p.computeSlices > slices.compute) issue(at('computeSlices'), `${p.computeSlices} compute slices exceed the GPU's ${slices.compute}`)
      p.placements.starts.forEach((s, j) => {
        if (s + p.placements.size > slices.memory) issue(at('placements', 'starts', j), `placement ${s}:${p.placements.size} runs past memory slice ${slices.memory - 1}`)
      })
      const text = `{${p.placements.starts.join(',')}}:${p.placements.size}`
      if (p.placementsText !== text) issue(at('placementsText'), `"${p.placementsText}" does not match placements (${text})`)
    })
    const names = new Set<string>()
    m.migProfiles.forEach((p, i) => {
      if (names.has(p.name)) issue(['migProfiles', i, 'name'], `duplicate MIG profile ${p.name}`)
      names.add(p.name)
    })
    if (!m.migProfiles.some((p) => p.memorySlices === slices.memory && p.computeSlices === slices.compute)) {
      issue(['migProfiles'], 'no profile spans the whole GPU (all memory and compute slices)')
    }
  })
export type RawGpuModel = z.infer<typeof RawGpuModel>

export const RawMeta = z.looseObject({ description: z.string(), confidence: z.string(), collected: z.string() })
