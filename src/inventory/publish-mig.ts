// MIG publishing: existing MIG devices (mig-static), and every legal placement behind shared counters (mig-dynamic).
//
// mig-dynamic counter encoding, one counter set `gpu-<index>-counter-set` per GPU:
//
//   memory-slice-<i> = 1      one per memory slice; a (profile, placement) consumes the slices it
//                              covers, so two devices with overlapping placements never fit together.
//   compute-slices = C        the GPU's compute slices (7 on A100/H100); each device consumes its
//                              profile's. On 8-slice parts the memory slices already imply it (every
//                              profile has fewer compute than memory slices or cannot reach slice 7),
//                              so it never refuses a legal layout; it states the rule explicitly.
//   copy-engines, decoders,    the GPU's engines: the per-dimension maximum over all profiles (the
//   encoders, jpeg-engines,    full-GPU profile's), as the NVIDIA DRA driver publishes them; each
//   ofa-engines               device consumes its profile's. These are physical: A30 has one OFA, so
//                              1g.6gb+me and 2g.12gb+me exclude each other. Counters whose total is 0
//                              (no encoders on H100) are left out; so are all of them for a model
//                              whose engines the catalog does not know.
//   <profile>-instances = N   for a profile whose maxInstances is below its number of placements
//                              (1g.10gb+me: 7 placements, 1 instance); each of its devices consumes 1.
//
// Every (profile, placement) is one device consuming exactly those counters; the whole GPU is one
// more device consuming every counter in full. Hence a set of devices fits the counters exactly
// when their placements are disjoint, their compute slices and engines fit the GPU and no profile
// exceeds its instance limit, which is what the placement table allows (test/mig-legality.test.ts
// checks both directions on every MIG model of the catalog).
import type { CounterSet, Device, DeviceAttribute, DeviceCapacity } from '../api/resource-v1.ts'
import { fullMigProfile, type GpuModel, type MigEngines, type MigProfile } from '../catalog/index.ts'
import { GpuplaneError } from '../common/errors.ts'
import { ATTR_MIG_PLACEMENT_START, gpuAttributes, gpuMemoryMiB, mib, nameSlug, requireModel, wholeGpuAttributes, type GpuContext } from './publish-attributes.ts'
import type { GpuUnit } from './publish-layout.ts'
import type { MigDeviceInfo } from './types.ts'

/** NVIDIA's MIG device name: `gpu-<index>-mig-<profile without dots, '+' as '-'>-<profile id>-<placement start>`. */
export function migDeviceName(gpuIndex: number, profile: string, profileId: number, start: number): string {
  return `gpu-${gpuIndex}-mig-${nameSlug(profile)}-${profileId}-${start}`
}

export function counterSetName(gpuIndex: number): string {
  return `gpu-${gpuIndex}-counter-set`
}

/** Engine counters: [counter name, capacity name, engine field]. */
const ENGINES: ReadonlyArray<[string, string, keyof MigEngines]> = [
  ['copy-engines', 'copyEngines', 'copyEngines'],
  ['decoders', 'decoders', 'nvdec'],
  ['encoders', 'encoders', 'nvenc'],
  ['jpeg-engines', 'jpegEngines', 'nvjpg'],
  ['ofa-engines', 'ofaEngines', 'ofa'],
]

/** The counters of one GPU of a model and what each (profile, placement) consumes of them. */
export interface MigCounterPlan {
  totals: Map<string, number>
  consumption(profile: MigProfile, start: number): Map<string, number>
}

export function migCounterPlan(model: GpuModel): MigCounterPlan {
  const mig = model.mig
  if (!mig) throw new GpuplaneError('INVALID_INPUT', `GPU model ${model.key} has no MIG profiles in the catalog: publish it as whole, shared or vgpu`)
  const totals = new Map<string, number>()
  for (let i = 0; i < mig.memorySlices; i++) totals.set(`memory-slice-${i}`, 1)
  totals.set('compute-slices', mig.computeSlices)
  const engines = mig.profiles.every((p) => p.engines) ? ENGINES.filter(([, , field]) => mig.profiles.every((p) => p.engines![field] !== undefined)) : []
  for (const [counter, , field] of engines) {
    const total = Math.max(...mig.profiles.map((p) => p.engines![field]!))
    if (total > 0) totals.set(counter, total)
  }
  const limited = mig.profiles.filter((p) => p.maxInstances < p.placements.length)
  for (const p of limited) totals.set(instanceCounter(p), p.maxInstances)
  return {
    totals,
    consumption(profile, start) {
      const used = new Map<string, number>()
      for (let s = start; s < start + profile.memorySlices; s++) used.set(`memory-slice-${s}`, 1)
      used.set('compute-slices', profile.computeSlices)
      for (const [counter, , field] of engines) {
        const n = profile.engines![field]!
        if (n > 0 && totals.has(counter)) used.set(counter, n)
      }
      if (limited.includes(profile)) used.set(instanceCounter(profile), 1)
      return used
    },
  }
}

function instanceCounter(p: MigProfile): string {
  return `${nameSlug(p.name)}-instances`
}

const quantities = (m: Map<string, number>) => Object.fromEntries([...m].map(([k, v]) => [k, { value: String(v) }]))

/** Capacities of a MIG device: memory, multiprocessors and engines, as far as the catalog (or the read) knows them. */
function migCapacity(profile: MigProfile | undefined, memoryMiB: number | undefined, multiprocessors: number | undefined): Record<string, DeviceCapacity> {
  const capacity: Record<string, DeviceCapacity> = {}
  const memory = memoryMiB ?? profile?.memoryMiB ?? undefined
  if (memory !== undefined) capacity.memory = { value: mib(memory) }
  const sm = multiprocessors ?? profile?.engines?.sm
  if (sm !== undefined) capacity.multiprocessors = { value: String(sm) }
  for (const [, name, field] of ENGINES) {
    const n = profile?.engines?.[field]
    if (n !== undefined) capacity[name] = { value: String(n) }
  }
  return capacity
}

function migAttributes(ctx: GpuContext, profile: string, start: number, uuid?: string): Record<string, DeviceAttribute> {
  return {
    type: { string: 'mig' },
    ...(uuid ? { uuid: { string: uuid } } : {}),
    parentUUID: { string: ctx.gpu.uuid },
    profile: { string: profile },
    [ATTR_MIG_PLACEMENT_START]: { int: BigInt(start) },
    ...gpuAttributes(ctx),
  }
}

/** mig-dynamic: the whole GPU plus one device per legal (profile, placement), all consuming the GPU's counter set. */
export function migDynamicUnit(ctx: GpuContext): GpuUnit {
  const model = requireModel(ctx)
  const plan = migCounterPlan(model)
  const setName = counterSetName(ctx.gpu.index)
  const full = fullMigProfile(model)
  const wholeCapacity = migCapacity(full, gpuMemoryMiB(ctx), model.smCount ?? undefined)
  const devices: Device[] = [
    { name: `gpu-${ctx.gpu.index}`, attributes: wholeGpuAttributes(ctx), capacity: wholeCapacity, consumesCounters: [{ counterSet: setName, counters: quantities(plan.totals) }] },
  ]
  for (const profile of model.mig!.profiles) {
    for (const { start } of profile.placements) {
      devices.push({
        name: migDeviceName(ctx.gpu.index, profile.name, profile.profileId, start),
        attributes: migAttributes(ctx, profile.name, start),
        capacity: migCapacity(profile, undefined, undefined),
        consumesCounters: [{ counterSet: setName, counters: quantities(plan.consumption(profile, start)) }],
      })
    }
  }
  return { gpu: ctx.gpu.index, devices, counterSets: [{ name: setName, counters: quantities(plan.totals) } satisfies CounterSet] }
}

/** mig-static: the MIG devices that exist on the GPU, each with `memorySlice<i>` = 1 for the slices it holds; the parent is not published. */
export function migStaticUnit(ctx: GpuContext): GpuUnit {
  const seen = new Set<string>()
  const devices = (ctx.gpu.migDevices ?? []).map((m) => {
    const device = migStaticDevice(ctx, m)
    // Several compute instances of one GPU instance share its placement: tell them apart.
    if (seen.has(device.name)) device.name = `${device.name}-ci${m.computeInstanceId}`
    seen.add(device.name)
    return device
  })
  return { gpu: ctx.gpu.index, devices, counterSets: [] }
}

function migStaticDevice(ctx: GpuContext, m: MigDeviceInfo): Device {
  const profile = ctx.model?.mig?.profiles.find((p) => p.name === m.profile)
  const capacity = migCapacity(profile, m.memoryMiB, m.multiprocessors)
  for (let s = m.placement.start; s < m.placement.start + m.placement.size; s++) capacity[`memorySlice${s}`] = { value: '1' }
  return {
    name: migDeviceName(ctx.gpu.index, m.profile, m.profileId, m.placement.start),
    attributes: migAttributes(ctx, m.profile, m.placement.start, m.uuid),
    capacity,
  }
}
