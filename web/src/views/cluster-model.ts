// The Cluster view's model, pure: Nodes, ResourceSlices, ResourceClaims and Workloads in; GPU models → nodes → NVLink domains → physical GPUs with their partitions and holders out.
//
// A physical GPU is the devices that share its UUID: the whole-GPU device (`uuid`) and its MIG
// devices and vGPUs (`parentUUID`). What is drawn on it:
// - MIG devices as blocks on the GPU's memory-slice grid (8 slices on A100/H100, 7 compute
//   slices), at the slices they take (the `memory-slice-N` counters they consume, or the
//   `memorySliceN` capacities of a fixed layout). Fixed layouts (no counters) show every device;
//   dynamic ones (counters: any placement may be created) show those allocated.
// - vGPUs (allocated ones) and memory shares of a multi-allocatable GPU as segments sized by memory.
// - A whole GPU allocated to one claim fills the GPU.
import type { KubeObject } from '../types.ts'

export interface Holder {
  namespace: string
  claim: string
  workload?: string
  /** Memory taken from a multi-allocatable device (consumedCapacity.memory), bytes. */
  memoryBytes?: number
}

export interface Partition {
  name: string
  type: 'mig' | 'vgpu' | 'share'
  label: string
  /** First and one past the last memory slice (MIG only). */
  slices?: [number, number]
  /** Share of the GPU's memory (vGPU, memory shares), 0..1. */
  fraction?: number
  holders: Holder[]
  attributes: Record<string, string>
}

export interface Gpu {
  id: string
  label: string
  node: string
  product: string
  memoryBytes: number
  nvlinkDomain?: string
  /** Holders of the whole-GPU device (several only when it allows multiple allocations). */
  holders: Holder[]
  /** Memory slices of the MIG grid (0 when the GPU shows no MIG devices). */
  memorySlices: number
  partitions: Partition[]
  attributes: Record<string, string>
  /** What the GPU is offered as: whole, MIG (fixed or dynamic), vGPU, memory shares. */
  mode: string
}

export interface NodeView {
  name: string
  host: string
  virtualMachine: boolean
  gpuModel: string
  /** GPUs by NVLink domain ('' = none), domains in name order. */
  domains: Array<{ domain: string; gpus: Gpu[] }>
  gpuCount: number
}

export interface ModelGroup {
  model: string
  nodes: NodeView[]
}

interface DeviceLike {
  name: string
  attributes?: Record<string, Record<string, unknown>>
  capacity?: Record<string, { value: string }>
  consumesCounters?: Array<{ counterSet: string; counters: Record<string, { value: string }> }>
  allowMultipleAllocations?: boolean
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 }
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, m: 1e-3 }

/** A Kubernetes quantity as a number (bytes for memory); NaN when unreadable. */
export function quantity(q: string | undefined): number {
  if (q === undefined) return NaN
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(q.trim())
  if (!m) return NaN
  const unit = m[2]
  const factor = unit === '' ? 1 : (BINARY[unit] ?? DECIMAL[unit])
  return factor === undefined ? NaN : Number(m[1]) * factor
}

/** "80 GiB", "512 MiB". */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '?'
  if (n >= 2 ** 30) return `${+(n / 2 ** 30).toFixed(1)} GiB`
  return `${Math.round(n / 2 ** 20)} MiB`
}

/** An attribute's value as text, whatever its type (string, int, bool, version). */
function attributeText(a: Record<string, unknown>): string {
  const v = a.string ?? a.int ?? a.bool ?? a.version
  return String(v)
}

function attributesOf(d: DeviceLike): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(d.attributes ?? {})) out[k] = attributeText(v)
  return out
}

/** Device key of allocation results: driver/pool/device. */
function deviceKey(driver: string, pool: string, device: string): string {
  return `${driver}/${pool}/${device}`
}

/** Who holds each device: from the allocation results of the claims, with the workload they are reserved for. */
export function holdersByDevice(claims: KubeObject[]): Map<string, Holder[]> {
  const out = new Map<string, Holder[]>()
  for (const c of claims) {
    const results = (c.status?.allocation?.devices?.results ?? []) as Array<{ driver: string; pool: string; device: string; consumedCapacity?: Record<string, string> }>
    const reserved = ((c.status?.reservedFor ?? []) as Array<{ resource?: string; name: string }>).find((r) => r.resource === 'workloads')
    for (const r of results) {
      const key = deviceKey(r.driver, r.pool, r.device)
      const holder: Holder = { namespace: c.metadata.namespace ?? '', claim: c.metadata.name, ...(reserved ? { workload: reserved.name } : {}) }
      const mem = quantity(r.consumedCapacity?.memory)
      if (Number.isFinite(mem)) holder.memoryBytes = mem
      out.set(key, [...(out.get(key) ?? []), holder])
    }
  }
  return out
}

function memorySliceIndexes(d: DeviceLike): number[] {
  const out: number[] = []
  for (const c of d.consumesCounters ?? []) for (const k of Object.keys(c.counters)) {
    const m = /^memory-slice-(\d+)$/.exec(k)
    if (m) out.push(Number(m[1]))
  }
  for (const k of Object.keys(d.capacity ?? {})) {
    const m = /^memorySlice(\d+)$/.exec(k)
    if (m) out.push(Number(m[1]))
  }
  return out.sort((a, b) => a - b)
}

/** `gpu-7` of `gpu-7-mig-3g40gb-9-4`: the physical GPU's name within its node. */
function gpuLabel(device: string): string {
  return /^gpu-\d+/.exec(device)?.[0] ?? device
}

/** Groups the cluster's devices for drawing. */
export function clusterModel(nodes: KubeObject[], slices: KubeObject[], claims: KubeObject[]): ModelGroup[] {
  const holders = holdersByDevice(claims)
  // Shared counters by pool and counter set: the MIG grid's size and a vGPU GPU's framebuffer.
  const counters = new Map<string, Record<string, { value: string }>>()
  for (const s of slices) for (const set of (s.spec?.sharedCounters ?? []) as Array<{ name: string; counters: Record<string, { value: string }> }>) counters.set(`${s.spec.pool?.name}/${set.name}`, set.counters)

  const gpusByNode = new Map<string, Map<string, Gpu>>()
  for (const s of slices) {
    const node: string = s.spec?.nodeName ?? ''
    const pool: string = s.spec?.pool?.name ?? ''
    const driver: string = s.spec?.driver ?? ''
    const gpus = gpusByNode.get(node) ?? new Map<string, Gpu>()
    gpusByNode.set(node, gpus)
    for (const d of (s.spec?.devices ?? []) as DeviceLike[]) {
      const attrs = attributesOf(d)
      const type = attrs.type ?? 'gpu'
      const id = (type === 'gpu' ? attrs.uuid : attrs.parentUUID) ?? `${node}/${gpuLabel(d.name)}`
      const gpu = gpus.get(id) ?? newGpu(id, gpuLabel(d.name), node, attrs)
      gpus.set(id, gpu)
      const held = holders.get(deviceKey(driver, pool, d.name)) ?? []
      const memory = quantity(d.capacity?.memory?.value)
      const set = d.consumesCounters?.[0] ? counters.get(`${pool}/${d.consumesCounters[0].counterSet}`) : undefined
      if (type === 'gpu') {
        gpu.attributes = attrs
        gpu.product = attrs.productName ?? gpu.product
        if (Number.isFinite(memory)) gpu.memoryBytes = memory
        gpu.holders = held
        if (d.allowMultipleAllocations) {
          gpu.mode = 'memory shares'
          for (const h of held) gpu.partitions.push({ name: `${d.name} share`, type: 'share', label: h.memoryBytes ? bytes(h.memoryBytes) : 'share', fraction: (h.memoryBytes ?? 0) / memory, holders: [h], attributes: attrs })
        }
        if (set) gpu.memorySlices = Math.max(gpu.memorySlices, Object.keys(set).filter((k) => k.startsWith('memory-slice-')).length)
      } else if (type === 'mig') {
        const idx = memorySliceIndexes(d)
        const fixed = !d.consumesCounters || d.consumesCounters.length === 0
        gpu.mode = fixed ? 'MIG, fixed layout' : 'MIG, partitions created on demand'
        gpu.memorySlices = Math.max(gpu.memorySlices, set ? Object.keys(set).filter((k) => k.startsWith('memory-slice-')).length : 8, idx.length ? idx[idx.length - 1] + 1 : 0)
        if (fixed || held.length > 0) gpu.partitions.push({ name: d.name, type: 'mig', label: attrs.profile ?? d.name, slices: idx.length ? [idx[0], idx[idx.length - 1] + 1] : undefined, holders: held, attributes: { ...attrs, memory: bytes(memory) } })
        if (fixed && !gpu.memoryBytes) gpu.memoryBytes = NaN
      } else if (type === 'vgpu') {
        gpu.mode = 'vGPU profiles'
        const framebuffer = quantity(set?.framebuffer?.value)
        if (Number.isFinite(framebuffer)) gpu.memoryBytes = framebuffer
        if (held.length > 0) gpu.partitions.push({ name: d.name, type: 'vgpu', label: attrs.profile ?? d.name, fraction: memory / (framebuffer || memory), holders: held, attributes: { ...attrs, memory: bytes(memory) } })
      }
    }
  }

  const groups = new Map<string, NodeView[]>()
  for (const n of nodes) {
    const labels = n.metadata.labels ?? {}
    const gpus = [...(gpusByNode.get(n.metadata.name)?.values() ?? [])].sort((a, b) => a.label.localeCompare(b.label, 'en', { numeric: true }))
    const model = labels['gpuplane.io/gpu-model'] ?? (gpus[0]?.product || 'no GPU')
    const byDomain = new Map<string, Gpu[]>()
    for (const g of gpus) byDomain.set(g.nvlinkDomain ?? '', [...(byDomain.get(g.nvlinkDomain ?? '') ?? []), g])
    const view: NodeView = {
      name: n.metadata.name,
      host: labels['gpuplane.io/host'] ?? n.metadata.name,
      virtualMachine: labels['gpuplane.io/virtual-machine'] === 'true',
      gpuModel: model,
      domains: [...byDomain.entries()].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b))).map(([domain, g]) => ({ domain, gpus: g })),
      gpuCount: gpus.length,
    }
    groups.set(model, [...(groups.get(model) ?? []), view])
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([model, ns]) => ({ model, nodes: ns.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })) }))
}

function newGpu(id: string, label: string, node: string, attrs: Record<string, string>): Gpu {
  return { id, label, node, product: attrs.productName ?? '', memoryBytes: 0, nvlinkDomain: attrs['gpuplane.io/nvlinkDomain'], holders: [], memorySlices: 0, partitions: [], attributes: attrs, mode: 'whole GPU' }
}
