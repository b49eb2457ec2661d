// MIG devices a Cluster spec declares on a GPU (`migDevices`), placed on the memory-slice axis as the catalog's placements allow.
import { migProfile, type GpuModel, type MigProfile } from '../catalog/index.ts'
import { derivedUuid } from './cluster-ids.ts'
import type { MigDeviceInfo } from './types.ts'

export type MigLayout = { ok: true; devices: MigDeviceInfo[] } | { ok: false; index: number; message: string }

/**
 * Places the MIG devices in the order given, each at the lowest legal start (of its profile's
 * placements) that leaves room for the devices after it: a small backtracking search, so that a
 * layout the GPU allows is found whatever order the spec lists it in (H100: 3g.40gb, 2g.20gb,
 * 1g.10gb, 1g.10gb puts the 3g at slice 4). Also checks the GPU's compute slices and instance
 * limits. GPU instance ids count from 1 in the order given (the driver's own ids depend on
 * placement; nothing downstream relies on them); each GPU instance holds one compute instance
 * (id 0) spanning it. `seed` makes the UUIDs stable.
 */
export function migLayout(model: GpuModel, profiles: readonly string[], seed: string): MigLayout {
  const mig = model.mig
  if (!mig) return { ok: false, index: 0, message: `${model.key} does not support MIG; use mode whole, vgpu or shared` }
  const resolved: MigProfile[] = []
  const perProfile = new Map<string, number>()
  let compute = 0
  for (const [i, name] of profiles.entries()) {
    const profile = migProfile(model, name)
    if (!profile) return { ok: false, index: i, message: `unknown MIG profile "${name}" for ${model.key}; known: ${mig.profiles.map((p) => p.name).join(', ')}` }
    if (i + 1 > mig.maxInstances) return { ok: false, index: i, message: `${model.key} holds at most ${mig.maxInstances} MIG devices` }
    const already = perProfile.get(name) ?? 0
    if (already + 1 > profile.maxInstances) return { ok: false, index: i, message: `${model.key} holds at most ${profile.maxInstances} ${name} device${profile.maxInstances > 1 ? 's' : ''}` }
    if (compute + profile.computeSlices > mig.computeSlices) {
      return { ok: false, index: i, message: `${name} needs ${profile.computeSlices} compute slice${profile.computeSlices > 1 ? 's' : ''}, and only ${mig.computeSlices - compute} of ${mig.computeSlices} are left` }
    }
    perProfile.set(name, already + 1)
    compute += profile.computeSlices
    resolved.push(profile)
  }
  const starts = place(resolved, new Array<boolean>(mig.memorySlices).fill(false), 0)
  if (!starts) {
    return { ok: false, index: resolved.length - 1, message: `${profiles.join(', ')} do not fit one ${model.key} together: no choice of legal placements keeps their memory slices apart` }
  }
  const devices = resolved.map((profile, i) => {
    const device: MigDeviceInfo = {
      profile: profile.name,
      profileId: profile.profileId,
      gpuInstanceId: i + 1,
      computeInstanceId: 0,
      uuid: derivedUuid(`${seed}/mig/${i}`, 'MIG'),
      placement: { start: starts[i], size: profile.memorySlices },
    }
    if (profile.memoryMiB !== null) device.memoryMiB = profile.memoryMiB
    if (profile.engines) device.multiprocessors = profile.engines.sm
    return device
  })
  return { ok: true, devices }
}

/** Starts for profiles[i..] on the free slices, lowest first, or undefined when none fit. */
function place(profiles: readonly MigProfile[], used: boolean[], i: number): number[] | undefined {
  if (i === profiles.length) return []
  for (const { start, size } of profiles[i].placements) {
    if (used.slice(start, start + size).some((u) => u)) continue
    for (let s = start; s < start + size; s++) used[s] = true
    const rest = place(profiles, used, i + 1)
    for (let s = start; s < start + size; s++) used[s] = false
    if (rest) return [start, ...rest]
  }
  return undefined
}
