// Places the MIG devices of `nvidia-smi -q -x` (GPU instance id, compute instance id, engines,
// memory) using the `nvidia-smi mig` listings, which alone know profile names and placements.
//
// With `mig -lgi` the join is exact: GPU instance id -> profile, profile id, placement.
// Without it, the profile is matched from `mig -lgip` by memory and shared engine counts (the
// multiprocessor count breaks ties only: a compute instance smaller than its GPU instance reports
// its own, smaller count), and a placement is only taken when it is forced: the profile has a
// single legal start in `mig -lgipp` and the GPU holds one instance of it (e.g. 7g, 4g). Anything
// else throws: guessing a placement could let two claims book the same memory slices.

import type { MigDeviceInfo } from './types.ts'
import { invalidInput } from './nvidia-smi-common.ts'
import type { MigGpuInstance, MigInstanceTable, MigPlacementTable, MigProfile, MigProfileTable } from './nvidia-smi-mig.ts'

/** A <mig_device> of `nvidia-smi -q -x`, as listed; gpu is the parent's nvidia-smi index. */
export interface XmlMigDevice {
  gpu: number
  index?: number
  gpuInstanceId: number
  computeInstanceId: number
  uuid?: string
  multiprocessors?: number
  copyEngines?: number
  encoders?: number
  decoders?: number
  jpegEngines?: number
  ofaEngines?: number
  memoryMiB?: number
}

/** The parsed `nvidia-smi mig` listings that can place MIG devices. */
export interface MigListings {
  instances?: MigInstanceTable
  profiles?: MigProfileTable
  placements?: MigPlacementTable
}

const SOURCE = 'nvidia-smi -q -x with nvidia-smi mig listings'
const ENGINES = ['copyEngines', 'decoders', 'encoders', 'jpegEngines', 'ofaEngines'] as const

/** Resolves every XML MIG device; returns them per nvidia-smi GPU index, with notes on what they leave out. */
export function resolveMigDevices(raw: XmlMigDevice[], listings: MigListings): { devices: Map<number, MigDeviceInfo[]>; warnings: string[] } {
  const devices = new Map<number, MigDeviceInfo[]>()
  const warnings: string[] = []
  for (const gpu of new Set(raw.map((d) => d.gpu))) {
    const onGpu = raw.filter((d) => d.gpu === gpu)
    devices.set(gpu, onGpu.map((d) => resolveOne(d, onGpu, listings)))
    warnings.push(...gpuWarnings(gpu, onGpu, listings.instances?.get(gpu) ?? []))
  }
  // GPU instances on GPUs without any MIG device (all lack compute instances) still hold slices.
  for (const [gpu, instances] of listings.instances ?? []) {
    if (!devices.has(gpu)) warnings.push(...gpuWarnings(gpu, [], instances))
  }
  return { devices, warnings }
}

function resolveOne(dev: XmlMigDevice, onGpu: XmlMigDevice[], listings: MigListings): MigDeviceInfo {
  const where = `GPU ${dev.gpu}, GPU instance ${dev.gpuInstanceId}, compute instance ${dev.computeInstanceId}`
  let gi: MigGpuInstance
  if (listings.instances) {
    const found = listings.instances.get(dev.gpu)?.find((g) => g.gpuInstanceId === dev.gpuInstanceId)
    if (!found) throw invalidInput(SOURCE, `${where}: no such GPU instance in \`nvidia-smi mig -lgi\`; read both listings at the same time on the same host`)
    gi = found
  } else {
    gi = inferInstance(dev, onGpu, listings, where)
  }
  const info: MigDeviceInfo = {
    profile: gi.profile,
    profileId: gi.profileId,
    gpuInstanceId: dev.gpuInstanceId,
    computeInstanceId: dev.computeInstanceId,
    placement: { ...gi.placement },
  }
  if (dev.uuid !== undefined) info.uuid = dev.uuid
  if (dev.memoryMiB !== undefined) info.memoryMiB = dev.memoryMiB
  if (dev.multiprocessors !== undefined) info.multiprocessors = dev.multiprocessors
  return info
}

function inferInstance(dev: XmlMigDevice, onGpu: XmlMigDevice[], listings: MigListings, where: string): MigGpuInstance {
  const hint = 'give `nvidia-smi mig -lgi` output, which lists each GPU instance with its profile and placement'
  const profiles = listings.profiles?.get(dev.gpu)
  if (!profiles) throw invalidInput(SOURCE, `${where}: \`nvidia-smi -q -x\` gives neither profile nor placement of MIG devices; ${hint}`)
  const profile = matchProfile(dev, profiles, where, hint)
  const options = listings.placements?.get(dev.gpu)?.get(profile.id)
  const sameProfile = new Set(onGpu.filter((d) => matchesQuietly(d, profiles) === profile).map((d) => d.gpuInstanceId))
  if (!options || options.starts.length !== 1 || sameProfile.size !== 1) {
    throw invalidInput(SOURCE, `${where}: profile ${profile.name} matched, but its placement is not forced by \`nvidia-smi mig -lgipp\`; ${hint}`)
  }
  return { profile: profile.name, profileId: profile.id, gpuInstanceId: dev.gpuInstanceId, placement: { start: options.starts[0]!, size: options.size } }
}

/** The one profile whose memory (within 2%) and shared engine counts agree; SM count breaks ties. */
function matchProfile(dev: XmlMigDevice, profiles: MigProfile[], where: string, hint: string): MigProfile {
  const found = matchesQuietly(dev, profiles)
  if (found) return found
  const names = candidates(dev, profiles).map((p) => p.name)
  const why = names.length === 0 ? 'no profile of `nvidia-smi mig -lgip` has its memory and engine counts' : `it fits several profiles (${names.join(', ')})`
  throw invalidInput(SOURCE, `${where}: ${why}; ${hint}`)
}

function matchesQuietly(dev: XmlMigDevice, profiles: MigProfile[]): MigProfile | undefined {
  let list = candidates(dev, profiles)
  if (list.length > 1 && dev.multiprocessors !== undefined) {
    const bySm = list.filter((p) => p.multiprocessors === dev.multiprocessors)
    if (bySm.length > 0) list = bySm
  }
  return list.length === 1 ? list[0] : undefined
}

function candidates(dev: XmlMigDevice, profiles: MigProfile[]): MigProfile[] {
  return profiles.filter((p) => {
    if (dev.memoryMiB !== undefined && Math.abs(dev.memoryMiB - p.memoryMiB) > p.memoryMiB * 0.02) return false
    return ENGINES.every((e) => dev[e] === undefined || p[e] === undefined || dev[e] === p[e])
  })
}

/** Facts the MIG device list cannot carry: instances without compute instances, shared instances. */
function gpuWarnings(gpu: number, onGpu: XmlMigDevice[], instances: MigGpuInstance[]): string[] {
  const warnings: string[] = []
  const computeInstances = new Map<number, number>()
  for (const d of onGpu) computeInstances.set(d.gpuInstanceId, (computeInstances.get(d.gpuInstanceId) ?? 0) + 1)
  for (const gi of instances) {
    if (computeInstances.has(gi.gpuInstanceId)) continue
    warnings.push(`GPU ${gpu}: GPU instance ${gi.gpuInstanceId} (${gi.profile} at ${gi.placement.start}:${gi.placement.size}) has no compute instance: it holds its memory slices but is no MIG device`)
  }
  for (const [gi, n] of computeInstances) {
    if (n > 1) warnings.push(`GPU ${gpu}: GPU instance ${gi} has ${n} compute instances; each is listed with the GPU instance's profile and placement, and they share its memory`)
  }
  return warnings
}
