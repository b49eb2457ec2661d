// The Cluster view's model, pure: Nodes, ResourceSlices, ResourceClaims, Workloads and the Cluster specs in; GPU models → hosts, hypervisors and VMs → NVLink domains → physical GPUs with their partitions and holders out.
//
// A physical GPU is the devices that share its UUID: the whole-GPU device (`uuid`) and its MIG
// devices and vGPUs (`parentUUID`). What is drawn on it:
// - MIG devices as blocks on the GPU's memory-slice grid (8 slices on A100/H100, 7 compute
//   slices), at the slices they take (the `memory-slice-N` counters they consume, or the
//   `memorySliceN` capacities of a fixed layout). Fixed layouts (no counters) show every device;
//   dynamic ones (counters: any placement may be created) show those allocated.
// - vGPU profiles as blocks sized by their framebuffer share: on a worker host in mode vgpu the
//   allocated vGPUs, then (equal-size mode, once a size is in use) the free vGPUs of that size
//   that still fit, then the framebuffer left, with the profiles it still offers.
// - Memory shares of a multi-allocatable GPU as segments sized by memory.
// - A whole GPU allocated to one claim fills the GPU.
//
// Virtual machines: the ResourceSlices of a VM do not say which physical GPU a vGPU is carved
// from (a VM's vGPU is published as a whole GPU of the profile's framebuffer, with a UUID of its
// own), and hypervisors (`worker: false`) publish nothing. The Cluster specs do: in a VM, GPU k is
// the k-th of `passthroughGpus` then of `vgpus` (each `count` times), as src/inventory/cluster-vm.ts
// numbers them. With the specs, each physical GPU is drawn once: a GPU passed through to a VM in
// the VM (its host lists where it went), a GPU split into vGPUs on its host, with one block per
// vGPU of any VM, held or free, and the framebuffer no VM has. The VM lists its vGPUs as
// references, which are not counted as GPUs. Without specs, a VM's vGPUs look like whole GPUs.
import type { ClusterTopology } from '../../../src/api/gpuplane-v1alpha1.ts'
import { nvlinkDomainOf } from '../../../src/inventory/cluster-topology.ts'
import type { KubeObject } from '../types.ts'

export interface Holder {
  namespace: string
  claim: string
  workload?: string
  /** Memory taken from a multi-allocatable device (consumedCapacity.memory), bytes. */
  memoryBytes?: number
}

export interface Partition {
  /** Device name (unique on its GPU); `<vm>/<device>` for a vGPU of a VM. */
  name: string
  /** `capacity`: framebuffer of a vGPU GPU that no drawn device takes. */
  type: 'mig' | 'vgpu' | 'share' | 'capacity'
  /** Full name: profile, memory. */
  label: string
  /** Abbreviation for narrow blocks ("12C" of "L40S-12C", "1g" of "1g.10gb"). */
  short: string
  /** First and one past the last memory slice (MIG only). */
  slices?: [number, number]
  /** Share of the GPU's memory (vGPU, memory shares, capacity), 0..1. */
  fraction?: number
  holders: Holder[]
  /** The device's own attributes (none for capacity). */
  attributes: Record<string, string>
  /** The node that exposes the device (a VM, or the host itself) and the device's name there. */
  node?: string
  device?: string
  /** Capacity: what may still be created in it ("L40S-24C × 2"); empty when nothing can use it now. */
  offers?: string[]
  /** Capacity: why it is there. */
  note?: string
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
  /** The physical GPU's attributes (a vGPU or MIG device's own are on its partition). */
  attributes: Record<string, string>
  /** What the GPU is offered as: whole, MIG (fixed or dynamic), vGPU, memory shares. */
  mode: string
  /** In a VM: the host's GPU it is (passthrough) or is carved from (vGPU). */
  physical?: { host: string; gpu: string }
  /** Set on a VM's vGPU, which is a share of `physical`, not a GPU: its profile and framebuffer share. */
  vgpu?: { profile: string; fraction: number }
  /** Drawn from the Cluster spec and published by no node. */
  note?: string
}

export interface NodeView {
  name: string
  host: string
  /** host: a Kubernetes node on its own hardware; vm: a virtual machine node; hypervisor: a host that is no node (Cluster spec `worker: false`). */
  kind: 'host' | 'vm' | 'hypervisor'
  virtualMachine: boolean
  gpuModel: string
  /** GPUs by NVLink domain ('' = none), domains in name order. */
  domains: Array<{ domain: string; gpus: Gpu[] }>
  /** Physical GPUs drawn on this card (a VM's vGPUs are not). */
  gpuCount: number
  /** vGPUs of a VM. */
  vgpuCount: number
  /** GPUs of this host passed through to VMs, which draw them. */
  passthrough: Array<{ vm: string; gpus: string[] }>
}

export interface ModelGroup {
  model: string
  nodes: NodeView[]
  /** Kubernetes nodes (hosts and VMs). */
  nodeCount: number
  hypervisorCount: number
  /** Physical GPUs, each once. */
  gpuCount: number
  /** vGPUs in VMs. */
  vgpuCount: number
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

/** "12C" of the vGPU profile "L40S-12C", "1g" of the MIG profile "1g.10gb": what a narrow block can show. */
export function shortProfile(profile: string): string {
  const mig = /^(\d+g)\./.exec(profile)
  if (mig) return mig[1]
  const dash = profile.lastIndexOf('-')
  return dash >= 0 ? profile.slice(dash + 1) : profile
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

/** Attributes of a device that describe the device itself, not the physical GPU it is carved from. */
const DEVICE_ONLY = new Set(['type', 'uuid', 'parentUUID', 'profile', 'gpuplane.io/migPlacementStart'])

/** The physical GPU's attributes, from those of a MIG device or vGPU carved from it. */
function physicalAttributes(attrs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = attrs.parentUUID ? { uuid: attrs.parentUUID } : {}
  for (const [k, v] of Object.entries(attrs)) if (!DEVICE_ONLY.has(k)) out[k] = v
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

/** 7 of `gpu-7`; NaN for other names. */
function gpuIndex(label: string): number {
  const m = /^gpu-(\d+)$/.exec(label)
  return m ? Number(m[1]) : NaN
}

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true })

// ---------------------------------------------------------------- Cluster specs

interface SpecHost {
  name: string
  model: string
  count: number
  productName?: string
  worker: boolean
  mixedSize: boolean
  nvlink?: ClusterTopology['nvlink']
  modes: string[]
}

interface SpecVm {
  name: string
  host: string
  /** The VM's GPUs in index order: the host GPU and, for a vGPU, its profile. */
  gpus: Array<{ hostGpu: number; profile?: string }>
}

interface Specs {
  hosts: Map<string, SpecHost>
  vms: Map<string, SpecVm>
}

/** Hosts (replicas expanded) and VMs of gpuplane.io/v1alpha1 Cluster objects; what does not read as one is skipped. */
function readSpecs(clusters: KubeObject[]): Specs {
  const hosts = new Map<string, SpecHost>()
  const vms = new Map<string, SpecVm>()
  for (const c of clusters) {
    for (const e of (c.spec?.hosts ?? []) as Array<Record<string, any>>) {
      if (typeof e?.name !== 'string' || typeof e.gpus?.count !== 'number') continue
      const names = typeof e.replicas === 'number' ? Array.from({ length: e.replicas }, (_, i) => `${e.name}-${i}`) : [e.name as string]
      const overrides = (e.gpuOverrides ?? []) as Array<{ indexes?: number[]; mode?: string }>
      const modes = Array.from({ length: e.gpus.count as number }, (_, i) => overrides.find((o) => o.indexes?.includes(i))?.mode ?? e.mode ?? 'whole')
      for (const name of names) {
        hosts.set(name, { name, model: String(e.gpus.model ?? ''), count: e.gpus.count, productName: e.gpus.productName, worker: e.worker !== false, mixedSize: e.vgpu?.mixedSize === true, nvlink: e.topology?.nvlink, modes })
      }
    }
    for (const v of (c.spec?.virtualMachines ?? []) as Array<Record<string, any>>) {
      if (typeof v?.name !== 'string' || typeof v.host !== 'string') continue
      const gpus: SpecVm['gpus'] = ((v.passthroughGpus ?? []) as number[]).map((hostGpu) => ({ hostGpu }))
      for (const x of (v.vgpus ?? []) as Array<{ gpu: number; profile: string; count?: number }>) for (let k = 0; k < (x.count ?? 1); k++) gpus.push({ hostGpu: x.gpu, profile: x.profile })
      vms.set(v.name, { name: v.name, host: v.host, gpus })
    }
  }
  return { hosts, vms }
}

/** A model key's nominal memory ("L40S-48GB": 48 GiB), for GPUs that published nothing to read it from. */
function nominalBytes(model: string): number {
  const m = /(\d+)GB$/i.exec(model)
  return m ? Number(m[1]) * 2 ** 30 : NaN
}

/** A vGPU profile's framebuffer from its name ("L40S-12C": 12 GiB), when its device was not published. */
function profileBytes(profile: string): number {
  const m = /-(\d+)[A-Z]+$/.exec(profile)
  return m ? Number(m[1]) * 2 ** 30 : NaN
}

// ---------------------------------------------------------------- the model

/** A vGPU device of a worker host's GPU, before drawing. */
interface VgpuDevice {
  name: string
  profile: string
  memory: number
  held: Holder[]
  attributes: Record<string, string>
  node: string
}

/** Groups the cluster's devices for drawing; `clusters` (Cluster objects) place VMs' vGPUs on their physical GPUs and draw hypervisors. */
export function clusterModel(nodes: KubeObject[], slices: KubeObject[], claims: KubeObject[], clusters: KubeObject[] = []): ModelGroup[] {
  const holders = holdersByDevice(claims)
  const specs = readSpecs(clusters)
  const nodeLabels = new Map(nodes.map((n) => [n.metadata.name, (n.metadata.labels ?? {}) as Record<string, string>]))
  // Shared counters by pool and counter set: the MIG grid's size and a vGPU GPU's framebuffer.
  const counters = new Map<string, Record<string, { value: string }>>()
  for (const s of slices) for (const set of (s.spec?.sharedCounters ?? []) as Array<{ name: string; counters: Record<string, { value: string }> }>) counters.set(`${s.spec.pool?.name}/${set.name}`, set.counters)

  const gpusByNode = new Map<string, Map<string, Gpu>>()
  const vgpuDevices = new Map<Gpu, { devices: VgpuDevice[]; equalSize: boolean }>()
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
      const gpu = gpus.get(id) ?? newGpu(id, gpuLabel(d.name), node, type === 'gpu' ? attrs : physicalAttributes(attrs))
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
          for (const h of held) {
            const label = h.memoryBytes ? bytes(h.memoryBytes) : 'share'
            gpu.partitions.push({ name: `${d.name} share`, type: 'share', label, short: h.memoryBytes ? `${+(h.memoryBytes / 2 ** 30).toFixed(1)}G` : 'share', fraction: (h.memoryBytes ?? 0) / memory, holders: [h], attributes: attrs })
          }
        }
        if (set) gpu.memorySlices = Math.max(gpu.memorySlices, Object.keys(set).filter((k) => k.startsWith('memory-slice-')).length)
      } else if (type === 'mig') {
        const idx = memorySliceIndexes(d)
        const fixed = !d.consumesCounters || d.consumesCounters.length === 0
        gpu.mode = fixed ? 'MIG, fixed layout' : 'MIG, partitions created on demand'
        gpu.memorySlices = Math.max(gpu.memorySlices, set ? Object.keys(set).filter((k) => k.startsWith('memory-slice-')).length : 8, idx.length ? idx[idx.length - 1] + 1 : 0)
        const profile = attrs.profile ?? d.name
        if (fixed || held.length > 0) gpu.partitions.push({ name: d.name, type: 'mig', label: profile, short: shortProfile(profile), slices: idx.length ? [idx[0], idx[idx.length - 1] + 1] : undefined, holders: held, attributes: { ...attrs, memory: bytes(memory) }, node, device: d.name })
        if (fixed && !gpu.memoryBytes) gpu.memoryBytes = NaN
      } else if (type === 'vgpu') {
        const framebuffer = quantity(set?.framebuffer?.value)
        if (Number.isFinite(framebuffer)) gpu.memoryBytes = framebuffer
        const entry = vgpuDevices.get(gpu) ?? { devices: [], equalSize: false }
        vgpuDevices.set(gpu, entry)
        if (set && Object.keys(set).some((k) => k.startsWith('size-bit'))) entry.equalSize = true
        entry.devices.push({ name: d.name, profile: attrs.profile ?? d.name, memory, held, attributes: { ...attrs, memory: bytes(memory) }, node })
      }
    }
  }

  // vGPU framebuffer and product name of each model, from the GPUs that published them: for GPUs drawn from the spec.
  const modelOfNode = (name: string, gpus: Gpu[]) => nodeLabels.get(name)?.['gpuplane.io/gpu-model'] ?? (gpus[0]?.product || 'no GPU')
  const framebufferOf = new Map<string, number>()
  const productOf = new Map<string, string>()
  for (const [gpu, entry] of vgpuDevices) {
    const model = modelOfNode(gpu.node, [gpu])
    if (Number.isFinite(gpu.memoryBytes) && gpu.memoryBytes > 0) framebufferOf.set(model, gpu.memoryBytes)
    const eq = entry.equalSize
    gpu.mode = `vGPU profiles, ${eq ? 'equal-size' : 'mixed-size'} mode`
    gpu.partitions.push(...workerVgpuPartitions(gpu, entry.devices, eq))
  }
  for (const [node, gpus] of gpusByNode) {
    if (specs.vms.has(node)) continue
    const model = modelOfNode(node, [...gpus.values()])
    for (const g of gpus.values()) if (g.product && !productOf.has(model)) productOf.set(model, g.product)
  }
  const framebuffer = (model: string) => framebufferOf.get(model) ?? nominalBytes(model)

  // VMs: which host GPU each of their GPUs is, and the vGPUs of each host GPU.
  const vgpusOn = new Map<string, Array<{ vm: string; device: string; profile: string; gpu?: Gpu }>>()
  for (const vm of specs.vms.values()) {
    const published = new Map([...(gpusByNode.get(vm.name)?.values() ?? [])].map((g) => [g.label, g]))
    vm.gpus.forEach((m, k) => {
      const g = published.get(`gpu-${k}`)
      const hostGpu = `gpu-${m.hostGpu}`
      if (g) g.physical = { host: vm.host, gpu: hostGpu }
      if (!m.profile) return
      const key = `${vm.host}/${m.hostGpu}`
      vgpusOn.set(key, [...(vgpusOn.get(key) ?? []), { vm: vm.name, device: `gpu-${k}`, profile: m.profile, gpu: g }])
      if (g) {
        const model = specs.hosts.get(vm.host)?.model ?? modelOfNode(vm.name, [g])
        g.vgpu = { profile: m.profile, fraction: g.memoryBytes / framebuffer(model) }
        g.mode = `vGPU ${m.profile} of ${vm.host} ${hostGpu}`
      }
    })
  }

  // Host GPUs that no node publishes whole: split into VMs' vGPUs, or (hypervisors) given to no VM.
  const passthroughOf = (host: string) => {
    const out = new Map<string, string[]>()
    for (const vm of specs.vms.values()) if (vm.host === host) for (const m of vm.gpus) if (!m.profile) out.set(vm.name, [...(out.get(vm.name) ?? []), `gpu-${m.hostGpu}`])
    return [...out].map(([vm, gpus]) => ({ vm, gpus }))
  }
  const specGpus = (h: SpecHost): Gpu[] => {
    const published = new Set([...(gpusByNode.get(h.name)?.values() ?? [])].map((g) => g.label))
    const passedThrough = new Set(passthroughOf(h.name).flatMap((p) => p.gpus))
    const out: Gpu[] = []
    for (let i = 0; i < h.count; i++) {
      const label = `gpu-${i}`
      const vgpus = vgpusOn.get(`${h.name}/${i}`) ?? []
      if (published.has(label) || passedThrough.has(label)) continue
      if (h.worker && vgpus.length === 0) continue // a worker host publishes its other GPUs (they may be on their way)
      const product = h.productName ?? productOf.get(h.model) ?? h.model
      const g: Gpu = { id: `${h.name}/${label}`, label, node: h.name, product, memoryBytes: nominalBytes(h.model), holders: [], memorySlices: 0, partitions: [], attributes: { model: h.model, productName: product, 'gpuplane.io/host': h.name }, mode: 'whole GPU' }
      const domain = nvlinkDomainOf(h.name, i, h.count, h.nvlink)
      if (domain) {
        g.nvlinkDomain = domain
        g.attributes['gpuplane.io/nvlinkDomain'] = domain
      }
      if (h.modes[i] === 'vgpu') {
        const fb = framebuffer(h.model)
        g.memoryBytes = fb
        g.mode = `vGPU profiles, ${h.mixedSize ? 'mixed-size' : 'equal-size'} mode`
        let used = 0
        for (const v of vgpus) {
          const memory = v.gpu && Number.isFinite(v.gpu.memoryBytes) ? v.gpu.memoryBytes : profileBytes(v.profile)
          used += memory
          g.partitions.push({ name: `${v.vm}/${v.device}`, type: 'vgpu', label: v.profile, short: shortProfile(v.profile), fraction: memory / fb, holders: v.gpu?.holders ?? [], attributes: { ...(v.gpu?.attributes ?? {}), memory: bytes(memory) }, node: v.vm, device: v.device })
        }
        if (fb - used > 0) g.partitions.push(capacity(g, fb - used, fb, [], vgpus.length ? 'framebuffer no virtual machine has' : 'given to no virtual machine'))
        if (vgpus.length === 0) g.note = 'given to no virtual machine: no node offers it'
      } else {
        g.note = 'given to no virtual machine: no node offers it'
      }
      out.push(g)
    }
    return out
  }

  const views: NodeView[] = []
  for (const n of nodes) {
    const name = n.metadata.name
    const labels = nodeLabels.get(name) ?? {}
    const vm = labels['gpuplane.io/virtual-machine'] === 'true'
    const spec = specs.hosts.get(name)
    const gpus = [...(gpusByNode.get(name)?.values() ?? []), ...(spec ? specGpus(spec) : [])]
    views.push(nodeView(name, labels['gpuplane.io/host'] ?? name, vm ? 'vm' : 'host', modelOfNode(name, gpus), gpus, spec ? passthroughOf(name) : []))
  }
  for (const h of specs.hosts.values()) {
    if (h.worker || nodeLabels.has(h.name)) continue
    const gpus = specGpus(h)
    const passthrough = passthroughOf(h.name)
    if (gpus.length === 0 && passthrough.length === 0) continue
    views.push(nodeView(h.name, h.name, 'hypervisor', h.model, gpus, passthrough))
  }

  const groups = new Map<string, NodeView[]>()
  for (const v of views) groups.set(v.gpuModel, [...(groups.get(v.gpuModel) ?? []), v])
  // Within a model: by host, each host followed by its VMs.
  const order = (a: NodeView, b: NodeView) => byName(a.host, b.host) || Number(a.kind === 'vm') - Number(b.kind === 'vm') || byName(a.name, b.name)
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([model, ns]) => ({
      model,
      nodes: ns.sort(order),
      nodeCount: ns.filter((x) => x.kind !== 'hypervisor').length,
      hypervisorCount: ns.filter((x) => x.kind === 'hypervisor').length,
      gpuCount: ns.reduce((t, x) => t + x.gpuCount, 0),
      vgpuCount: ns.reduce((t, x) => t + x.vgpuCount, 0),
    }))
}

function nodeView(name: string, host: string, kind: NodeView['kind'], gpuModel: string, gpus: Gpu[], passthrough: NodeView['passthrough']): NodeView {
  gpus.sort((a, b) => byName(a.label, b.label))
  const byDomain = new Map<string, Gpu[]>()
  for (const g of gpus) byDomain.set(g.nvlinkDomain ?? '', [...(byDomain.get(g.nvlinkDomain ?? '') ?? []), g])
  return {
    name,
    host,
    kind,
    virtualMachine: kind === 'vm',
    gpuModel,
    domains: [...byDomain.entries()].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b))).map(([domain, g]) => ({ domain, gpus: g })),
    gpuCount: gpus.filter((g) => !g.vgpu).length,
    vgpuCount: gpus.filter((g) => g.vgpu).length,
    passthrough,
  }
}

/** Framebuffer of a vGPU GPU that no drawn device takes. */
function capacity(gpu: Gpu, free: number, framebuffer: number, offers: string[], note: string): Partition {
  const label = offers.length ? `${bytes(free)} free` : `${bytes(free)} unassigned`
  return { name: `${gpu.label} framebuffer`, type: 'capacity', label, short: offers.length ? 'free' : `${Math.round(free / 2 ** 30)}G`, fraction: free / framebuffer, holders: [], attributes: {}, offers, note }
}

/**
 * The vGPUs of a worker host's GPU as drawn: the allocated ones; in equal-size mode with a size in
 * use, the free vGPUs of that size that still fit (the only ones that can be allocated beside it);
 * then the framebuffer left, with the profiles it still offers (none: nothing can use it now).
 */
function workerVgpuPartitions(gpu: Gpu, devices: VgpuDevice[], equalSize: boolean): Partition[] {
  const fb = gpu.memoryBytes > 0 ? gpu.memoryBytes : Math.max(...devices.map((d) => d.memory))
  gpu.memoryBytes = fb
  const part = (d: VgpuDevice): Partition => ({ name: d.name, type: 'vgpu', label: d.profile, short: shortProfile(d.profile), fraction: d.memory / fb, holders: d.held, attributes: d.attributes, node: d.node, device: d.name })
  const sorted = [...devices].sort((a, b) => b.memory - a.memory || byName(a.name, b.name))
  const held = sorted.filter((d) => d.held.length > 0)
  const unheld = sorted.filter((d) => d.held.length === 0)
  let free = fb - held.reduce((t, d) => t + d.memory, 0)
  const out = held.map(part)
  if (equalSize && held.length > 0) {
    const profile = held[0].profile
    const size = held[0].memory
    const slots = unheld.filter((d) => d.profile === profile).slice(0, Math.max(0, Math.floor(free / size + 1e-9)))
    out.push(...slots.map(part))
    free -= slots.length * size
    if (free > 2 ** 20) out.push(capacity(gpu, free, fb, [], `in equal-size mode only ${profile} vGPUs fit beside those in use, and no more of them fit`))
    return out
  }
  if (free > 2 ** 20) {
    const offers = new Map<string, { size: number; count: number }>()
    for (const d of unheld) {
      if (d.memory > free + 1) continue
      const o = offers.get(d.profile) ?? { size: d.memory, count: 0 }
      if ((o.count + 1) * d.memory <= free + 1) o.count++
      offers.set(d.profile, o)
    }
    const list = [...offers].sort(([, a], [, b]) => b.size - a.size).map(([p, o]) => `${p} × ${o.count}`)
    out.push(capacity(gpu, free, fb, list, list.length ? (equalSize ? 'free: any one size of vGPU may be created (equal-size mode)' : 'free: vGPUs of any mix of sizes that fits (mixed-size mode)') : 'no vGPU profile fits'))
  }
  return out
}

function newGpu(id: string, label: string, node: string, attrs: Record<string, string>): Gpu {
  return { id, label, node, product: attrs.productName ?? '', memoryBytes: 0, nvlinkDomain: attrs['gpuplane.io/nvlinkDomain'], holders: [], memorySlices: 0, partitions: [], attributes: attrs, mode: 'whole GPU' }
}
