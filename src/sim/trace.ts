// Pod lists of the Alibaba GPU trace (openb_pod_list_*.csv) as the simulator's input, checked row by row.
//
// Source: github.com/alibaba/clusterdata, cluster-trace-gpu-v2023 (copied to
// data/alibaba-gpu-v2023/). Two layouts exist: 11 columns
// (name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,
// scheduled_time) and the multigpu* files' 5 (name,cpu_milli,memory_mib,num_gpu,gpu_milli). Columns
// are found by header name; only name, cpu_milli, memory_mib, num_gpu, gpu_milli and the optional
// gpu_spec matter (the FGD simulator ignores qos, phase and the timestamps, reference/fgd-trace.md
// §1.3). The node list is parsed by src/inventory/trace.ts (`parseTraceNodes`).
import { GpuplaneError } from '../common/errors.ts'
import { MILLI_PER_GPU, parseGpuSpec } from '../scheduler/fragmentation.ts'

/** One pod of a trace pod list. */
export interface TracePod {
  name: string
  cpuMilli: number
  memoryMiB: number
  /** GPUs requested, 0..8 in the trace. */
  gpuCount: number
  /** Milli-GPU on each of those GPUs: 0 for CPU-only pods, 1..999 to share one GPU, 1000 for whole GPUs. */
  gpuMilli: number
  /** Allowed GPU models (gpu_spec split on `|`); empty means any. */
  gpuSpec: string[]
  /** 1-based line of the CSV. */
  line: number
}

const REQUIRED = ['name', 'cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli'] as const

/**
 * Parses a pod list. Errors are INVALID_INPUT naming the file and `line N` with the column:
 * missing header columns, non-integer cells, a GPU count without milli (or the reverse), more than
 * 1000 milli per GPU, several partial GPUs (the FGD simulator panics on them), duplicate names.
 * Blank lines are skipped; `nan` in gpu_spec (pandas' empty cell) means any model.
 */
export function parsePodList(text: string, file?: string): TracePod[] {
  const lines = text.split(/\r?\n/)
  const header = (lines[0] ?? '').split(',').map((h) => h.trim())
  const col = new Map(header.map((h, i) => [h, i]))
  const missing = REQUIRED.filter((c) => !col.has(c))
  if (missing.length > 0) {
    throw new GpuplaneError('INVALID_INPUT', `the header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; expected name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...] as in openb_pod_list_default.csv`, { file, path: 'line 1' })
  }
  const specCol = col.get('gpu_spec')
  const pods: TracePod[] = []
  const seen = new Map<string, number>()
  for (let l = 1; l < lines.length; l++) {
    const raw = lines[l]
    if (raw.trim() === '') continue
    const line = l + 1
    const cells = raw.split(',')
    const fail = (message: string): never => {
      throw new GpuplaneError('INVALID_INPUT', message, { file, path: `line ${line}` })
    }
    const int = (c: (typeof REQUIRED)[number]): number => {
      const v = (cells[col.get(c)!] ?? '').trim()
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) fail(`column ${c}: expected a whole number, got "${v}"`)
      return Number(v)
    }
    const name = (cells[col.get('name')!] ?? '').trim()
    if (name === '') fail('column name: the pod name is empty')
    if (seen.has(name)) fail(`column name: pod ${name} is listed twice (lines ${seen.get(name)} and ${line}); pod names must be unique`)
    seen.set(name, line)
    const gpuCount = int('num_gpu')
    const gpuMilli = int('gpu_milli')
    if ((gpuCount === 0) !== (gpuMilli === 0)) fail(`num_gpu ${gpuCount} with gpu_milli ${gpuMilli}: a pod asks for GPU milli exactly when it asks for GPUs`)
    if (gpuMilli > MILLI_PER_GPU) fail(`column gpu_milli: ${gpuMilli} is more than one GPU (1000 milli); gpu_milli is per GPU`)
    if (gpuCount > 1 && gpuMilli !== MILLI_PER_GPU) fail(`num_gpu ${gpuCount} with gpu_milli ${gpuMilli}: a pod with several GPUs takes them whole (gpu_milli 1000)`)
    const spec = specCol === undefined ? '' : (cells[specCol] ?? '').trim()
    pods.push({ name, cpuMilli: int('cpu_milli'), memoryMiB: int('memory_mib'), gpuCount, gpuMilli, gpuSpec: spec === 'nan' ? [] : parseGpuSpec(spec), line })
  }
  if (pods.length === 0) throw new GpuplaneError('INVALID_INPUT', 'the pod list has no pods', { file, path: 'line 2' })
  return pods
}

/** The pod's total GPU request in milli-GPU (count × milli per GPU). */
export function podGpuMilli(pod: Pick<TracePod, 'gpuCount' | 'gpuMilli'>): number {
  return pod.gpuCount * pod.gpuMilli
}

/** Kinds of pod, for failure counts: CPU-only, sharing one GPU, one whole GPU, several GPUs. */
export type PodKind = 'cpu' | 'share' | 'whole' | 'multi'

/** The pod kinds in reporting order. */
export const POD_KINDS: readonly PodKind[] = ['cpu', 'share', 'whole', 'multi']

/** The kind of a pod. */
export function podKind(pod: Pick<TracePod, 'gpuCount' | 'gpuMilli'>): PodKind {
  if (pod.gpuCount === 0) return 'cpu'
  if (pod.gpuCount > 1) return 'multi'
  return pod.gpuMilli < MILLI_PER_GPU ? 'share' : 'whole'
}
