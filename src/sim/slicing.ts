// `--slicing`: GPUs that offer only catalog profiles (MIG instances or equal-size vGPUs) instead of arbitrary milli-GPU shares.
//
// Ideal sharing (the FGD paper's model) lets a pod take any milli of a GPU. Real partitioning
// does not:
// - mig: a share is rounded up to the smallest MIG profile of the GPU's model whose compute AND
//   memory fractions both reach it (the trace's gpu_milli is a share of the whole GPU, and
//   Alibaba's GPU sharing partitions memory and compute together), placed at the first legal
//   position (catalog placements on the memory-slice axis) whose slices are free, with compute
//   slices to spare. 1000 milli takes the whole GPU (no instance). Profiles with media
//   extensions (`+me`) are not used.
// - vgpu: time-sliced C-series vGPUs in equal-size mode: a GPU hosts vGPUs of one size only,
//   1/k of it for the k the model's catalog profiles offer (`maxPerGpuEqualSize`); a share takes
//   the smallest size that holds it, on a GPU already split that way with a slot free, or on an
//   unused GPU, which is then split that way until it empties (never here: no departures).
// Models: trace codes map to catalog models as `gpuplane inventory trace` maps them
// (src/inventory/trace.ts TRACE_MODELS, T4 → T4-16GB, A10 → A10-24GB), plus `models` overrides
// (the CLI's --gpu-model G2=A100-80GB). ASSUMPTIONS where the catalog has nothing:
// - mig: none of the trace's known models has MIG (T4, A10, V100, P100 predate or lack it) and
//   G1–G3 are undisclosed, so a model without a MIG geometry of its own is given A100-80GB's
//   (7 compute and 8 memory slices, its profiles and placements). The question answered is what
//   MIG's fixed partitions cost this workload compared with arbitrary shares, on this fleet's
//   shape; map a code to a MIG-capable catalog model to use that model's geometry instead.
// - vgpu: models without catalog vGPU profiles (V100, P100, G1–G3) split into 1, 2, 4 or 8
//   (FALLBACK_VGPU_SPLITS), sizes every catalog GPU of 16 GB or more but A10 and T4 offers.
// A GPU's free milli, which policies and FGD's measure see, is the largest share it could still
// give: min(free memory slices / memory slices, free compute slices / compute slices) × 1000
// (floored) under MIG, free slots / k × 1000 (floored) under vGPU.
import { gpuModel, type GpuModel, timeSlicedVgpuProfiles } from '../catalog/index.ts'
import { GpuplaneError } from '../common/errors.ts'
import { TRACE_MODELS } from '../inventory/trace.ts'
import { MILLI_PER_GPU } from '../scheduler/fragmentation.ts'
import type { Slicer } from './cluster.ts'

/** How GPUs may be partitioned. */
export type SlicingMode = 'none' | 'mig' | 'vgpu'
export const SLICING_MODES: readonly SlicingMode[] = ['none', 'mig', 'vgpu']

/** The catalog model whose MIG geometry GPUs without one of their own are given. */
export const FALLBACK_MIG_MODEL = 'A100-80GB'

/** Equal-size vGPU splits for models without catalog vGPU profiles. */
export const FALLBACK_VGPU_SPLITS: readonly number[] = [1, 2, 4, 8]

/** A MIG profile reduced to what placement needs. */
interface MigShape {
  name: string
  memorySlices: number
  computeSlices: number
  /** Memory-slice bit masks of its legal positions, by ascending start. */
  masks: number[]
}

interface MigGeometryShape {
  model: string
  memorySlices: number
  computeSlices: number
  /** Profiles by ascending (memory slices, compute slices). */
  profiles: MigShape[]
}

/** What each cluster model partitions into, in words (for the CLI and the JSON). */
export interface SlicingModel {
  model: string
  catalogModel?: string
  /** Profile names (MIG) or sizes as "1/k" (vGPU). */
  profiles: string[]
  assumption?: string
}

function catalogModelOf(code: string, models: Readonly<Record<string, string>>): GpuModel | undefined {
  const name = models[code] ?? TRACE_MODELS[code]?.catalogModel
  return name === undefined ? undefined : gpuModel(name)
}

function migGeometry(code: string, models: Readonly<Record<string, string>>): { geometry: MigGeometryShape; assumption?: string } {
  const own = catalogModelOf(code, models)
  const source = own?.mig ? own : gpuModel(FALLBACK_MIG_MODEL)
  if (!source?.mig) throw new GpuplaneError('INTERNAL', `the catalog has no MIG geometry for ${FALLBACK_MIG_MODEL}`)
  const mig = source.mig
  const profiles = mig.profiles
    .filter((p) => !p.name.includes('+'))
    .map((p) => ({ name: p.name, memorySlices: p.memorySlices, computeSlices: p.computeSlices, masks: [...p.placements].sort((a, b) => a.start - b.start).map((pl) => ((1 << pl.size) - 1) << pl.start) }))
    .sort((a, b) => a.memorySlices - b.memorySlices || a.computeSlices - b.computeSlices)
  const geometry = { model: source.key, memorySlices: mig.memorySlices, computeSlices: mig.computeSlices, profiles }
  return own?.mig ? { geometry } : { geometry, assumption: `no MIG of its own in the catalog: given ${FALLBACK_MIG_MODEL}'s geometry` }
}

function vgpuSplits(code: string, models: Readonly<Record<string, string>>): { splits: number[]; catalogModel?: string; assumption?: string } {
  const own = catalogModelOf(code, models)
  const splits = own ? [...new Set(timeSlicedVgpuProfiles(own).map((v) => v.maxPerGpuEqualSize))].sort((a, b) => a - b) : []
  if (splits.length > 0) return { splits, catalogModel: own!.key }
  return { splits: [...FALLBACK_VGPU_SPLITS], ...(own ? { catalogModel: own.key } : {}), assumption: `no vGPU profiles in the catalog: split into ${FALLBACK_VGPU_SPLITS.join(', ')}` }
}

/**
 * The slicing rules of `mode` for a cluster's models (SimCluster.models order) and GPU count, and
 * a description per model. `models` maps trace codes to catalog models (key or product name),
 * overriding TRACE_MODELS; an unknown catalog model is INVALID_INPUT.
 */
export function createSlicer(mode: Exclude<SlicingMode, 'none'>, clusterModels: readonly string[], totalGpus: number, models: Readonly<Record<string, string>> = {}): { slicer: Slicer; described: SlicingModel[] } {
  for (const [code, name] of Object.entries(models)) {
    if (!gpuModel(name)) throw new GpuplaneError('INVALID_INPUT', `unknown catalog GPU model "${name}" for ${code}; use a catalog key such as A100-80GB or H100-80GB`, { path: `--gpu-model ${code}` })
  }
  return mode === 'mig' ? migSlicer(clusterModels, totalGpus, models) : vgpuSlicer(clusterModels, totalGpus, models)
}

function migSlicer(clusterModels: readonly string[], totalGpus: number, models: Readonly<Record<string, string>>): { slicer: Slicer; described: SlicingModel[] } {
  const geometries = clusterModels.map((code) => migGeometry(code, models))
  const mask = new Uint8Array(totalGpus)
  const compute = new Uint8Array(totalGpus)
  const byMilli = geometries.map(() => new Map<number, MigShape | null>())
  const profileFor = (milli: number, model: number): MigShape | null => {
    const cache = byMilli[model]
    let p = cache.get(milli)
    if (p === undefined) {
      const g = geometries[model].geometry
      p = milli >= MILLI_PER_GPU ? null : (g.profiles.find((x) => Math.min(x.memorySlices / g.memorySlices, x.computeSlices / g.computeSlices) * MILLI_PER_GPU >= milli) ?? null)
      cache.set(milli, p)
    }
    return p
  }
  const freeMilli = (gpu: number, g: MigGeometryShape) => {
    let used = 0
    for (let b = mask[gpu]; b; b &= b - 1) used++
    return Math.floor(Math.min((g.memorySlices - used) / g.memorySlices, (g.computeSlices - compute[gpu]) / g.computeSlices) * MILLI_PER_GPU)
  }
  const position = (gpu: number, p: MigShape, g: MigGeometryShape): number => {
    if (compute[gpu] + p.computeSlices > g.computeSlices) return -1
    for (const m of p.masks) if ((mask[gpu] & m) === 0) return m
    return -1
  }
  const slicer: Slicer = {
    held(milli, model) {
      const g = geometries[model].geometry
      const p = profileFor(milli, model)
      return p ? MILLI_PER_GPU - Math.floor(Math.min((g.memorySlices - p.memorySlices) / g.memorySlices, (g.computeSlices - p.computeSlices) / g.computeSlices) * MILLI_PER_GPU) : MILLI_PER_GPU
    },
    fits(gpu, milli, model) {
      const p = profileFor(milli, model)
      return p ? position(gpu, p, geometries[model].geometry) >= 0 : mask[gpu] === 0 && compute[gpu] === 0
    },
    take(gpu, milli, model) {
      const g = geometries[model].geometry
      const p = profileFor(milli, model)
      if (!p) {
        mask[gpu] = (1 << g.memorySlices) - 1
        compute[gpu] = g.computeSlices
        return 0
      }
      mask[gpu] |= position(gpu, p, g)
      compute[gpu] += p.computeSlices
      return freeMilli(gpu, g)
    },
  }
  const described = clusterModels.map((code, i) => ({
    model: code,
    catalogModel: geometries[i].geometry.model,
    profiles: geometries[i].geometry.profiles.map((p) => p.name),
    ...(geometries[i].assumption ? { assumption: geometries[i].assumption } : {}),
  }))
  return { slicer, described }
}

function vgpuSlicer(clusterModels: readonly string[], totalGpus: number, models: Readonly<Record<string, string>>): { slicer: Slicer; described: SlicingModel[] } {
  const info = clusterModels.map((code) => vgpuSplits(code, models))
  const split = new Uint8Array(totalGpus)
  const used = new Uint8Array(totalGpus)
  /** The largest split whose slot holds the request (the smallest fitting size); 1 for whole GPUs. */
  const splitFor = (milli: number, model: number): number => {
    let best = 1
    for (const k of info[model].splits) if (k * milli <= MILLI_PER_GPU && k > best) best = k
    return best
  }
  const slicer: Slicer = {
    held: (milli, model) => MILLI_PER_GPU - Math.floor(((splitFor(milli, model) - 1) / splitFor(milli, model)) * MILLI_PER_GPU),
    fits(gpu, milli, model) {
      const k = splitFor(milli, model)
      return used[gpu] === 0 || (split[gpu] === k && used[gpu] < k)
    },
    take(gpu, milli, model) {
      const k = splitFor(milli, model)
      split[gpu] = k
      used[gpu]++
      return Math.floor(((k - used[gpu]) / k) * MILLI_PER_GPU)
    },
  }
  const described = clusterModels.map((code, i) => ({
    model: code,
    ...(info[i].catalogModel ? { catalogModel: info[i].catalogModel } : {}),
    profiles: info[i].splits.map((k) => `1/${k}`),
    ...(info[i].assumption ? { assumption: info[i].assumption } : {}),
  }))
  return { slicer, described }
}
