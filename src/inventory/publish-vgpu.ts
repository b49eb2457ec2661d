// vGPU publishing: time-sliced C-series vGPUs as devices whose shared counters enforce NVIDIA's per-GPU rules.
//
// Devices: for each time-sliced type p of the model, `gpu-<index>-vgpu-<type>-<n>` for n below
// m_p, the most of that type one GPU can host in the GPU's mode (the documented maximum, capped
// by what fits the framebuffer). Each consumes its framebuffer from the counter `framebuffer`,
// whose total is the largest type's framebuffer (the one-per-GPU type: the GPU's vGPU memory).
//
// Mixed-size mode (host.vgpuMixedSize): m_p is maxPerGpuMixedSize; the framebuffer counter is the
// only counter. Any mix within the per-type limits and the framebuffer fits, as NVIDIA allows.
//
// Equal-size mode: a GPU hosts vGPUs of one type only, up to maxPerGpuEqualSize. Additive counters
// cannot say "all of type p, or all of type q" with one counter per type: any single counter under
// which m_p ≥ 2 devices of p fit and m_q ≥ 2 of q fit lets one of each fit too (their shares add up
// to at most half of the total each). Worse, within one counter the pairs it forbids between two
// types always share a device (two disjoint forbidden pairs would need more than twice the total).
// So forbidding every cross-type pair needs, for two types, at least min(m_p, m_q) counters in
// which one type's devices are "heavy". The encoding below does that with a binary code:
//
//   * Types are sorted by m_p, largest first; the largest gets code 0, the others distinct codes
//     1, 2, 4, 8, 3, 5, ... (single bits first, so the largest types sit alone on a bit).
//   * For each bit b, the types whose code has bit b are "heavy" on it. Bit b gets counters
//     `size-bit<b>-<t>` for t below T_b, the largest m among its heavy types, each with total C_b,
//     the largest m among the types that are not heavy on b ("light").
//   * Device n of a heavy type consumes C_b of counter `size-bit<b>-<n>` alone; every device of a
//     light type consumes 1 of each of the bit's T_b counters.
//
// All m_p devices of one type fit: on each bit they are either all heavy (one device per counter,
// C_b each) or all light (m_p ≤ C_b on each counter). Two devices of different types have codes
// that differ in some bit b: there one is heavy (C_b on counter n) and the other light (1 on every
// counter, n included), C_b + 1 > C_b, so they never fit together. With k types this takes
// framebuffer + Σ_b T_b counters (H100 80GB: 1 + 16 + 10 + 8 = 35; H200: 1 + 20 + 16 + 10 + 8 =
// 55), spread over at most two counter sets of ≤ 32 counters (a device may consume from two sets).
import type { CounterSet, Device } from '../api/resource-v1.ts'
import { timeSlicedVgpuProfiles, vgpuFramebufferMiB, type GpuModel, type VgpuProfile } from '../catalog/index.ts'
import { RESOURCE_SLICE_MAX_COUNTERS_PER_COUNTER_SET, RESOURCE_SLICE_MAX_DEVICE_COUNTER_CONSUMPTIONS_PER_DEVICE } from '../api/limits.ts'
import { GpuplaneError } from '../common/errors.ts'
import { gpuAttributes, mib, nameSlug, requireModel, type GpuContext } from './publish-attributes.ts'
import type { GpuUnit } from './publish-layout.ts'

export const FRAMEBUFFER_COUNTER = 'framebuffer'

export function vgpuDeviceName(gpuIndex: number, type: string, n: number): string {
  return `gpu-${gpuIndex}-vgpu-${nameSlug(type)}-${n}`
}

/** One vGPU type and how many of it one GPU can host in the chosen mode. */
export interface VgpuGroup {
  profile: VgpuProfile
  count: number
}

/** The counters of one GPU and, per group and instance, what that vGPU consumes. */
export interface VgpuPlan {
  groups: VgpuGroup[]
  /** Counter sets (at most two), each counter name → total; set 0 holds `framebuffer` in MiB. */
  sets: Array<Map<string, number>>
  /** What instance n of group g consumes, per set. */
  consumption(group: number, n: number): Array<Map<string, number>>
}

/** How many vGPUs of a type fit one GPU in a mode; an error where the catalog leaves it undocumented. */
export function vgpuCount(model: GpuModel, profile: VgpuProfile, mixedSize: boolean): number {
  const documented = mixedSize ? profile.maxPerGpuMixedSize : profile.maxPerGpuEqualSize
  if (documented === null) {
    throw new GpuplaneError('INVALID_INPUT', `vGPU mixed-size mode is not documented for ${model.key} (${profile.name}); publish its GPUs with vgpuMixedSize off (equal-size mode)`)
  }
  return Math.min(documented, profile.framebufferLimit ?? documented)
}

export function vgpuPlan(model: GpuModel, mixedSize: boolean): VgpuPlan {
  const profiles = timeSlicedVgpuProfiles(model)
  if (profiles.length === 0) throw new GpuplaneError('INVALID_INPUT', `GPU model ${model.key} has no time-sliced vGPU types in the catalog: publish it as whole, shared or MIG`)
  const groups = profiles.map((profile) => ({ profile, count: vgpuCount(model, profile, mixedSize) }))
  const framebuffer = vgpuFramebufferMiB(model)!
  if (mixedSize) {
    return {
      groups,
      sets: [new Map([[FRAMEBUFFER_COUNTER, framebuffer]])],
      consumption: (g) => [new Map([[FRAMEBUFFER_COUNTER, groups[g].profile.framebufferMiB]])],
    }
  }
  return equalSizePlan(model, groups, framebuffer)
}

/** Codes 1..2^bits-1 with single bits first, then by value: 1, 2, 4, 8, 3, 5, 6, 9, ... */
function codes(count: number): number[] {
  let bits = 0
  while (1 << bits < count + 1) bits++
  const all = Array.from({ length: (1 << bits) - 1 }, (_, i) => i + 1)
  const popcount = (x: number) => x.toString(2).replace(/0/g, '').length
  return all.sort((a, b) => popcount(a) - popcount(b) || a - b).slice(0, count)
}

function equalSizePlan(model: GpuModel, groups: VgpuGroup[], framebuffer: number): VgpuPlan {
  const order = groups.map((_, i) => i).sort((a, b) => groups[b].count - groups[a].count || a - b)
  const code = new Array<number>(groups.length)
  code[order[0]] = 0
  codes(groups.length - 1).forEach((c, i) => (code[order[i + 1]] = c))
  const bits: Array<{ bit: number; counters: number; total: number }> = []
  for (let bit = 0; (1 << bit) <= Math.max(0, ...code); bit++) {
    const heavy = groups.filter((_, g) => code[g] & (1 << bit))
    const light = groups.filter((_, g) => !(code[g] & (1 << bit)))
    if (heavy.length === 0) continue
    bits.push({ bit, counters: Math.max(...heavy.map((h) => h.count)), total: Math.max(...light.map((l) => l.count)) })
  }
  // Bits into at most two counter sets of RESOURCE_SLICE_MAX_COUNTERS_PER_COUNTER_SET; set 0 also holds the framebuffer.
  const setOf = new Map<number, number>()
  const sizes = [1]
  for (const b of [...bits].sort((x, y) => y.counters - x.counters || x.bit - y.bit)) {
    const fits = sizes.map((n, i) => [n, i] as const).filter(([n]) => n + b.counters <= RESOURCE_SLICE_MAX_COUNTERS_PER_COUNTER_SET)
    if (fits.length === 0 && sizes.length < RESOURCE_SLICE_MAX_DEVICE_COUNTER_CONSUMPTIONS_PER_DEVICE) {
      sizes.push(0)
      fits.push([0, sizes.length - 1])
    }
    if (fits.length === 0) {
      throw new GpuplaneError('INVALID_INPUT', `the equal-size vGPU types of ${model.key} need more counters than two counter sets hold; publish its GPUs with vgpuMixedSize or another mode`)
    }
    const [, i] = fits.sort((x, y) => x[0] - y[0] || x[1] - y[1])[0]
    setOf.set(b.bit, i)
    sizes[i] += b.counters
  }
  const sets = sizes.map(() => new Map<string, number>())
  sets[0].set(FRAMEBUFFER_COUNTER, framebuffer)
  for (const b of bits) for (let t = 0; t < b.counters; t++) sets[setOf.get(b.bit)!].set(`size-bit${b.bit}-${t}`, b.total)
  return {
    groups,
    sets,
    consumption(g, n) {
      const used = sets.map(() => new Map<string, number>())
      used[0].set(FRAMEBUFFER_COUNTER, groups[g].profile.framebufferMiB)
      for (const b of bits) {
        const into = used[setOf.get(b.bit)!]
        if (code[g] & (1 << b.bit)) into.set(`size-bit${b.bit}-${n}`, b.total)
        else for (let t = 0; t < b.counters; t++) into.set(`size-bit${b.bit}-${t}`, 1)
      }
      return used
    },
  }
}

const quantity = (name: string, n: number) => ({ value: name === FRAMEBUFFER_COUNTER ? mib(n) : String(n) })
const quantities = (m: Map<string, number>) => Object.fromEntries([...m].map(([k, v]) => [k, quantity(k, v)]))

export function vgpuCounterSetName(gpuIndex: number, set: number): string {
  return set === 0 ? `gpu-${gpuIndex}-counter-set` : `gpu-${gpuIndex}-counter-set-${set}`
}

/** vgpu: the GPU's time-sliced vGPU instances, each consuming its counters; the physical GPU itself is not published. */
export function vgpuUnit(ctx: GpuContext): GpuUnit {
  const model = requireModel(ctx)
  const plan = vgpuPlan(model, ctx.host.vgpuMixedSize === true)
  const i = ctx.gpu.index
  const base = gpuAttributes(ctx)
  const devices: Device[] = []
  plan.groups.forEach((group, g) => {
    for (let n = 0; n < group.count; n++) {
      devices.push({
        name: vgpuDeviceName(i, group.profile.name, n),
        attributes: { type: { string: 'vgpu' }, profile: { string: group.profile.name }, parentUUID: { string: ctx.gpu.uuid }, ...base },
        capacity: { memory: { value: mib(group.profile.framebufferMiB) } },
        consumesCounters: plan
          .consumption(g, n)
          .map((used, set) => ({ counterSet: vgpuCounterSetName(i, set), counters: quantities(used) }))
          .filter((c) => Object.keys(c.counters).length > 0),
      })
    }
  })
  const counterSets: CounterSet[] = plan.sets.map((totals, set) => ({ name: vgpuCounterSetName(i, set), counters: quantities(totals) }))
  return { gpu: i, devices, counterSets }
}
