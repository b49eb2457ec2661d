// Matching the product names nvidia-smi prints ("NVIDIA H100 80GB HBM3", "Tesla T4") to catalog models.
import type { GpuModel } from './model.ts'

/**
 * Lower case, hyphens and underscores as spaces, one space between words, without a leading
 * "nvidia" or "tesla" and without parenthetical remarks: "NVIDIA A100-SXM4-80GB" → "a100 sxm4 80gb".
 */
export function normalizeProductName(name: string): string {
  return name
    .replace(/\([^)]*\)/g, ' ')
    .toLowerCase()
    .replace(/[-_]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^(nvidia|tesla) /, '')
}

/** Every normalized name a model answers to: its product names, its aliases and its key. */
export function namesOf(model: GpuModel): string[] {
  return [...new Set([...model.productNames, ...model.aliases, model.key].map(normalizeProductName))]
}

/**
 * The models whose names match `productName` exactly after normalization. Where several match
 * (one product name sold with two memory sizes), `memoryMiB` picks the model whose memory is
 * nearest; without it the match is ambiguous and nothing is returned.
 */
export function matchProductName(models: readonly GpuModel[], index: ReadonlyMap<string, GpuModel[]>, productName: string, memoryMiB?: number): GpuModel | undefined {
  const found = index.get(normalizeProductName(productName)) ?? []
  if (found.length <= 1) return found[0]
  if (memoryMiB === undefined) return undefined
  const distance = (m: GpuModel) => Math.abs((m.memoryMiB ?? m.memoryGiB * 1024) - memoryMiB)
  return [...found].sort((a, b) => distance(a) - distance(b) || models.indexOf(a) - models.indexOf(b))[0]
}

export function buildNameIndex(models: readonly GpuModel[]): Map<string, GpuModel[]> {
  const index = new Map<string, GpuModel[]>()
  for (const model of models) {
    for (const name of namesOf(model)) {
      const list = index.get(name) ?? []
      list.push(model)
      index.set(name, list)
    }
  }
  return index
}
