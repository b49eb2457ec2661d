// The GPU catalog: models, MIG profiles with placements and vGPU profiles, loaded and validated at import.
//
// The data lives in ./data/gpu-catalog.json (sources in ./data/README.md). It is validated with
// zod when this module loads; invalid data throws a GpuplaneError naming the field path, so a bad
// edit fails every test at once instead of publishing wrong devices.
import { z } from 'zod'
import { GpuplaneError } from '../common/errors.ts'
import data from './data/gpu-catalog.json' with { type: 'json' }
import { buildModel, type GpuModel, type MigProfile, type VgpuProfile } from './model.ts'
import { buildNameIndex, matchProductName, normalizeProductName } from './product-name.ts'
import { RawGpuModel, RawMeta } from './schema.ts'

export type { Architecture, GpuModel, MigEngines, MigGeometry, MigPlacement, MigProfile, NvlinkDomainShape, NvlinkInfo, Uncertainty, VgpuProfile } from './model.ts'
export { normalizeProductName } from './product-name.ts'

export interface CatalogMeta {
  description: string
  confidence: string
  collected: string
  /** The remaining notes of the data file's _meta (placement notation, profile ids, memory, vGPU modes, gpuplane's changes). */
  notes: Record<string, string>
}

export interface Catalog {
  meta: CatalogMeta
  models: readonly GpuModel[]
  /** A model by catalog key ("H100-80GB"), product name or alias. */
  model(name: string): GpuModel | undefined
  /** The model nvidia-smi's product name denotes; `memoryMiB` settles names shared by two memory sizes. */
  modelForProductName(productName: string, memoryMiB?: number): GpuModel | undefined
}

/**
 * Validates catalog data (the parsed JSON) and builds the typed models. Throws GpuplaneError
 * INVALID_INPUT with the field path of the first problem.
 */
export function loadCatalog(raw: unknown, file = 'src/catalog/data/gpu-catalog.json'): Catalog {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new GpuplaneError('INVALID_INPUT', 'GPU catalog must be a JSON object of models keyed by catalog key', { file })
  const { _meta, ...entries } = raw as Record<string, unknown>
  const meta = parseOrThrow(RawMeta, _meta, file, '_meta')
  const models: GpuModel[] = []
  for (const [key, value] of Object.entries(entries)) {
    if (!/^[A-Z0-9]+-\d+GB$/.test(key)) throw new GpuplaneError('INVALID_INPUT', `catalog key "${key}" must look like "H100-80GB" (model, dash, memory)`, { file, path: key })
    models.push(buildModel(key, parseOrThrow(RawGpuModel, value, file, key)))
  }
  const index = buildNameIndex(models)
  const { description, confidence, collected, ...rest } = meta
  return {
    meta: { description, confidence, collected, notes: Object.fromEntries(Object.entries(rest).filter((e): e is [string, string] => typeof e[1] === 'string')) },
    models,
    model: (name) => models.find((m) => m.key === name) ?? matchProductName(models, index, name),
    modelForProductName: (productName, memoryMiB) => matchProductName(models, index, productName, memoryMiB),
  }
}

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, file: string, prefix: string): T {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const path = [prefix, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))].join('').replace(/\.\[/g, '[')
  throw new GpuplaneError('INVALID_INPUT', `GPU catalog data is invalid at ${path}: ${issue.message}; fix the data file (sources in src/catalog/data/README.md)`, { file, path })
}

/** The catalog of src/catalog/data, validated when this module loads. */
export const CATALOG: Catalog = loadCatalog(data)

/** Every model of the catalog, in data order. */
export function gpuModels(): readonly GpuModel[] {
  return CATALOG.models
}

/** A model by key, product name or alias. */
export function gpuModel(name: string): GpuModel | undefined {
  return CATALOG.model(name)
}

/** The model an nvidia-smi product name denotes (e.g. "NVIDIA H200" → H200-141GB), or undefined. */
export function modelForProductName(productName: string, memoryMiB?: number): GpuModel | undefined {
  return CATALOG.modelForProductName(productName, memoryMiB)
}

/** A MIG profile of a model by name ("1g.10gb"). */
export function migProfile(model: GpuModel, name: string): MigProfile | undefined {
  return model.mig?.profiles.find((p) => p.name === name)
}

/** The profile that spans the whole GPU (7g.80gb on H100): its engines are the GPU's. */
export function fullMigProfile(model: GpuModel): MigProfile | undefined {
  const mig = model.mig
  return mig?.profiles.find((p) => p.memorySlices === mig.memorySlices && p.computeSlices === mig.computeSlices)
}

/** Time-sliced (C-series) vGPU profiles, largest framebuffer first as in the data. */
export function timeSlicedVgpuProfiles(model: GpuModel): VgpuProfile[] {
  return model.vgpuProfiles.filter((v) => v.kind === 'time-sliced')
}

/** The framebuffer time-sliced vGPUs share on one GPU: the largest type's (one per GPU). */
export function vgpuFramebufferMiB(model: GpuModel): number | undefined {
  const sizes = timeSlicedVgpuProfiles(model).map((v) => v.framebufferMiB)
  return sizes.length ? Math.max(...sizes) : undefined
}
