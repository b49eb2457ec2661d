// Inventory from a public cluster trace: the Alibaba GPU cluster trace's node list (openb_node_list_*.csv) as hosts.
//
// Source: github.com/alibaba/clusterdata, cluster-trace-gpu-v2023 (the FGD paper, USENIX ATC'23).
// Columns: sn (node name), cpu_milli, memory_mib (host RAM), gpu (GPUs on the node), model (GPU
// type; empty on CPU-only nodes). The trace gives no GPU topology, driver or UUIDs: nodes get
// whole GPUs without NVLink, NUMA or PCIe facts, and UUIDs derived from node name and index.
import { gpuModel, gpuModels } from '../catalog/index.ts'
import { GpuplaneError } from '../common/errors.ts'
import { derivedUuid } from './cluster-ids.ts'
import type { GpuInfo, HostInfo, PublishMode } from './types.ts'

/** One node of the trace's node list. */
export interface TraceNode {
  name: string
  cpuMilli: number
  memoryMiB: number
  gpuCount: number
  /** GPU type as the trace writes it (`T4`, `V100M32`, `G2`, ...); empty for CPU-only nodes. */
  model: string
  /** 1-based line of the CSV the node came from. */
  line: number
}

/**
 * What each trace GPU type is published as. `catalogModel` is the catalog key when the catalog
 * has the model; `productName` is what nvidia-smi reports on such a GPU; `memoryMiB` is the
 * nominal size (the trace gives no measured one).
 * Facts vs assumptions:
 * - T4, A10: unambiguous (NVIDIA T4 16 GB, NVIDIA A10 24 GB).
 * - V100M16 / V100M32: V100 with 16 / 32 GB, as the names say; the SXM2 form factor (rather than
 *   PCIe) is an ASSUMPTION (8-GPU nodes of that era were SXM2; the trace does not say).
 * - P100: ASSUMPTION: the 16 GB PCIe part (a 12 GB part exists; the trace does not say which).
 * - V100 and P100 are not in the catalog: they are published whole with the product name and
 *   nominal memory above, and no catalog facts (architecture, MIG, vGPU).
 * - G1, G2, G3: undisclosed internal codes (trace README); nothing in the trace says what they
 *   are. They are published as unknown models named after the code (`Alibaba G2`) with no memory
 *   capacity rather than as a guessed model; `models` in traceNodeToHost (the CLI's --gpu-model
 *   G2=A100-80GB) maps any code to a catalog model when the user knows or wants to assume one.
 */
export interface TraceModel {
  catalogModel?: string
  productName: string
  memoryMiB?: number
  assumption?: string
}

export const TRACE_MODELS: Readonly<Record<string, TraceModel>> = {
  T4: { catalogModel: 'T4-16GB', productName: 'Tesla T4', memoryMiB: 16384 },
  A10: { catalogModel: 'A10-24GB', productName: 'NVIDIA A10', memoryMiB: 24576 },
  V100M16: { catalogModel: 'V100-16GB', productName: 'Tesla V100-SXM2-16GB', memoryMiB: 16384, assumption: 'SXM2 form factor' },
  V100M32: { catalogModel: 'V100-32GB', productName: 'Tesla V100-SXM2-32GB', memoryMiB: 32768, assumption: 'SXM2 form factor' },
  P100: { catalogModel: 'P100-16GB', productName: 'Tesla P100-PCIE-16GB', memoryMiB: 16384, assumption: '16 GB PCIe part' },
  G1: { productName: 'Alibaba G1', assumption: 'undisclosed model' },
  G2: { productName: 'Alibaba G2', assumption: 'undisclosed model' },
  G3: { productName: 'Alibaba G3', assumption: 'undisclosed model' },
}

const COLUMNS = ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model'] as const

/**
 * Parses the node list CSV. The header must name the columns sn, cpu_milli, memory_mib, gpu and
 * model (in any order; other columns are ignored). Errors name the file and `rows[i].column`
 * (i counts data rows from 0) with the line number.
 */
export function parseTraceNodes(text: string, file?: string, extraModels: readonly string[] = []): TraceNode[] {
  const lines = text.split(/\r?\n/)
  const header = (lines[0] ?? '').split(',').map((h) => h.trim())
  const col = new Map(header.map((h, i) => [h, i]))
  const missing = COLUMNS.filter((c) => !col.has(c))
  if (missing.length > 0) {
    throw new GpuplaneError('INVALID_INPUT', `the header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; expected sn,cpu_milli,memory_mib,gpu,model as in openb_node_list_gpu_node.csv (line 1)`, { file, path: 'header' })
  }
  const nodes: TraceNode[] = []
  const seen = new Map<string, number>()
  for (let l = 1; l < lines.length; l++) {
    if (lines[l].trim() === '') continue
    const cells = lines[l].split(',').map((c) => c.trim())
    const row = nodes.length
    const at = (column: string) => ({ file, path: `rows[${row}].${column}` })
    const cell = (c: (typeof COLUMNS)[number]) => cells[col.get(c)!] ?? ''
    const int = (c: (typeof COLUMNS)[number]): number => {
      const v = cell(c)
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new GpuplaneError('INVALID_INPUT', `expected a whole number, got "${v}" (line ${l + 1})`, at(c))
      return Number(v)
    }
    const name = cell('sn')
    if (name === '') throw new GpuplaneError('INVALID_INPUT', `the node name is empty (line ${l + 1})`, at('sn'))
    if (seen.has(name)) throw new GpuplaneError('INVALID_INPUT', `node ${name} is listed twice (lines ${seen.get(name)} and ${l + 1}); node names must be unique`, at('sn'))
    seen.set(name, l + 1)
    const gpuCount = int('gpu')
    const model = cell('model') === 'nan' ? '' : cell('model')
    if (gpuCount > 0 && model === '') throw new GpuplaneError('INVALID_INPUT', `node ${name} has ${gpuCount} GPUs but no model (line ${l + 1})`, at('model'))
    if (gpuCount > 0 && !(model in TRACE_MODELS) && !extraModels.includes(model)) {
      throw new GpuplaneError('INVALID_INPUT', `unknown GPU model "${model}" (line ${l + 1}); known trace models: ${[...Object.keys(TRACE_MODELS), ...extraModels].join(', ')} (map others with --gpu-model CODE=MODEL)`, at('model'))
    }
    nodes.push({ name, cpuMilli: int('cpu_milli'), memoryMiB: int('memory_mib'), gpuCount, model, line: l + 1 })
  }
  return nodes
}

/**
 * Trace codes mapped to catalog models (key or product name), on top of TRACE_MODELS: such a GPU
 * is published as the catalog model, with its product name and memory. Throws INVALID_INPUT at
 * `where` for a model the catalog does not know.
 */
export function traceModelOverrides(pairs: Readonly<Record<string, string>>, where: string): Record<string, TraceModel> {
  const out: Record<string, TraceModel> = {}
  for (const [code, name] of Object.entries(pairs)) {
    const model = gpuModel(name)
    if (!model) throw new GpuplaneError('INVALID_INPUT', `${where}: unknown GPU model "${name}" for trace model ${code}; known: ${gpuModels().map((m) => m.key).join(', ')}`)
    out[code] = { catalogModel: model.key, productName: model.productNames[0] }
  }
  return out
}

/**
 * A trace node as a host: `gpuCount` GPUs of the mapped model (`models`, else TRACE_MODELS) in
 * `mode` (default whole). A catalog key the catalog does not have is left unset rather than
 * published as a wrong model. Node labels carry the trace's own model code.
 */
export function traceNodeToHost(node: TraceNode, options: { mode?: PublishMode; models?: Readonly<Record<string, TraceModel>> } = {}): HostInfo {
  const mapped = options.models?.[node.model] ?? TRACE_MODELS[node.model]
  const gpus: GpuInfo[] = []
  for (let index = 0; index < node.gpuCount; index++) {
    const gpu: GpuInfo = { index, uuid: derivedUuid(`${node.name}/${index}`), productName: mapped.productName }
    if (mapped.catalogModel && gpuModel(mapped.catalogModel)?.key === mapped.catalogModel) gpu.model = mapped.catalogModel
    if (mapped.memoryMiB !== undefined) gpu.memoryMiB = mapped.memoryMiB
    gpus.push(gpu)
  }
  const host: HostInfo = { node: node.name, gpus, mode: options.mode ?? 'whole' }
  if (node.model) host.labels = { 'gpuplane.io/trace-gpu-model': node.model }
  return host
}
