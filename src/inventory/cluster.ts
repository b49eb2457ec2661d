// A gpuplane.io/v1alpha1 Cluster spec -> HostInfo[]: one per worker host and one per virtual machine (and, on request, per VM host), ready to publish.
//
// Checks, in order: field shapes (decodeClusters, src/api), rules across fields (cluster-check.ts),
// then the catalog here (the api layer cannot see it): GPU models, MIG support and profiles, vGPU
// profiles and limits, NVLink wiring the model can have. Every error names the file, document and
// field path of the spec.
import { decodeClusters, fieldLocation, hostNames, type ClusterHost, type ClusterPublishMode, type DecodedCluster } from '../api/gpuplane-v1alpha1.ts'
import { gpuModel, gpuModels, timeSlicedVgpuProfiles, type GpuModel } from '../catalog/index.ts'
import { GpuplaneError } from '../common/errors.ts'
import { checkCluster } from './cluster-check.ts'
import { derivedUuid } from './cluster-ids.ts'
import { migLayout } from './cluster-mig.ts'
import { placeGpus } from './cluster-topology.ts'
import { carveVirtualMachines, vmHostInfo, type Fail, type PhysicalHost } from './cluster-vm.ts'
import type { GpuInfo, HostInfo, PublishMode } from './types.ts'

export { decodeClusters } from '../api/gpuplane-v1alpha1.ts'

// The spec's modes are the inventory's modes; this fails to compile if the two lists drift apart.
const SAME_MODES: [ClusterPublishMode, PublishMode] extends [PublishMode, ClusterPublishMode] ? true : never = true
void SAME_MODES

/** What to publish besides the worker nodes. */
export interface ClusterOptions {
  /**
   * Also publish each hypervisor (`worker: false`) as a VM host: a node named after it, labelled
   * gpuplane.io/vm-host, with the GPUs no declared virtual machine took (cluster-vm.ts: vmHostInfo).
   * The scheduler carves a virtual machine from it for each vm-per-workload workload.
   */
  vmHosts?: boolean
}

/** The hosts of a spec text: every Cluster object in it, in order. Throws when the text has none. */
export function hostsFromClusterText(text: string, file?: string, options: ClusterOptions = {}): HostInfo[] {
  const clusters = decodeClusters(text, file)
  if (clusters.length === 0) {
    throw new GpuplaneError('INVALID_INPUT', 'no Cluster object found; write a document with "apiVersion: gpuplane.io/v1alpha1" and "kind: Cluster" (gpuplane inventory cluster --help)', { file })
  }
  const seen = new Map<string, DecodedCluster>()
  return clusters.flatMap((decoded) => {
    const hosts = clusterToHosts(decoded, options)
    for (const h of hosts) {
      const other = seen.get(h.node)
      if (other) throw new GpuplaneError('INVALID_INPUT', `node "${h.node}" is also declared by the Cluster in document ${other.location.document}${other.location.path ? ` at ${other.location.path}` : ''}; node names must be unique across Clusters`, fieldLocation(decoded.location, 'spec'))
      seen.set(h.node, decoded)
    }
    return hosts
  })
}

/**
 * The worker nodes of a Cluster: each host with `worker` not false (entries in order, replicas
 * in order), holding the GPUs no virtual machine took, then each virtual machine. With
 * `options.vmHosts`, each hypervisor comes in its place among the hosts, as a VM host.
 */
export function clusterToHosts(decoded: DecodedCluster, options: ClusterOptions = {}): HostInfo[] {
  const fail: Fail = (path, message) => {
    throw new GpuplaneError('INVALID_INPUT', message, fieldLocation(decoded.location, path))
  }
  const problem = checkCluster(decoded.cluster)
  if (problem) fail(problem.path, problem.message)
  const physical = new Map<string, PhysicalHost>()
  decoded.cluster.spec.hosts.forEach((entry, i) => {
    const model = resolveModel(entry.gpus.model, `spec.hosts[${i}].gpus.model`, fail)
    checkModes(entry, model, `spec.hosts[${i}]`, fail)
    const layouts = migLayouts(entry, model, `spec.hosts[${i}]`, fail)
    for (const name of hostNames(entry)) physical.set(name, { name, entry, entryIndex: i, model, gpus: hostGpus(entry, name, model, layouts) })
  })
  const { vms, taken } = carveVirtualMachines(decoded.cluster.spec.virtualMachines ?? [], physical, fail)
  const hosts: HostInfo[] = []
  for (const p of physical.values()) {
    const gpus = p.gpus.filter((g) => !taken.get(p.name)?.has(g.index))
    if (p.entry.worker !== false) hosts.push(hostInfo(p, gpus))
    else if (options.vmHosts) hosts.push(vmHostInfo(p, gpus))
  }
  return [...hosts, ...vms]
}

/** The HostInfo of a worker host with the GPUs it kept, and the host's settings. */
function hostInfo(p: PhysicalHost, gpus: GpuInfo[]): HostInfo {
  const host: HostInfo = { node: p.name, host: p.name, gpus, mode: p.entry.mode ?? 'whole' }
  if (p.entry.vgpu?.mixedSize !== undefined) host.vgpuMixedSize = p.entry.vgpu.mixedSize
  if (p.entry.shared?.memoryStep !== undefined) host.sharedMemoryStep = p.entry.shared.memoryStep
  if (p.entry.labels) host.labels = { ...p.entry.labels }
  return host
}

/** A catalog model by key or product name, or an error listing the keys. */
function resolveModel(name: string, path: string, fail: Fail): GpuModel {
  const model = gpuModel(name)
  if (!model) fail(path, `unknown GPU model "${name}"; known: ${gpuModels().map((m) => m.key).join(', ')} (or one of their product names, e.g. "NVIDIA H100 80GB HBM3")`)
  return model!
}

/** The mode of GPU `index`: its override's, else the host's, else whole. */
export function hostGpuMode(entry: ClusterHost, index: number): PublishMode {
  return entry.gpuOverrides?.find((o) => o.indexes.includes(index))?.mode ?? entry.mode ?? 'whole'
}

/** Modes the model cannot do, and NVLink wiring it cannot have. */
function checkModes(entry: ClusterHost, model: GpuModel, base: string, fail: Fail): void {
  const check = (mode: PublishMode | undefined, path: string) => {
    if ((mode === 'mig-static' || mode === 'mig-dynamic') && !model.mig) fail(path, `${model.key} does not support MIG; use mode whole, vgpu or shared`)
    if (mode === 'vgpu' && timeSlicedVgpuProfiles(model).length === 0) fail(path, `the catalog has no vGPU profiles for ${model.key}; use mode whole, shared or a MIG mode`)
  }
  check(entry.mode, `${base}.mode`)
  entry.gpuOverrides?.forEach((o, k) => check(o.mode, `${base}.gpuOverrides[${k}].mode`))
  if (entry.vgpu?.mixedSize && timeSlicedVgpuProfiles(model).some((v) => v.maxPerGpuMixedSize === null)) {
    fail(`${base}.vgpu.mixedSize`, `the catalog does not document mixed-size limits for every vGPU profile of ${model.key}; use equal-size mode (mixedSize: false)`)
  }
  const nvlink = entry.topology?.nvlink
  const vias = new Set(model.nvlink.domains.map((d) => d.via))
  if (nvlink && nvlink !== 'none' && vias.size > 0) {
    const possible = nvlink === 'nvswitch' ? vias.has('nvswitch') || vias.has('nvlink-switch') : vias.has('bridge') || vias.has('nvlink-switch')
    if (!possible) {
      const shapes = model.nvlink.domains.map((d) => `${d.via} (${d.formFactor})`).join(', ')
      fail(`${base}.topology.nvlink`, `${model.key} does not come with ${nvlink === 'nvswitch' ? 'NVSwitch' : 'NVLink bridges'}; the catalog knows ${shapes}`)
    }
  }
}

/** The MIG profiles of each GPU with a mig-static override, checked to fit the model. */
function migLayouts(entry: ClusterHost, model: GpuModel, base: string, fail: Fail): Map<number, string[]> {
  const out = new Map<number, string[]>()
  entry.gpuOverrides?.forEach((o, k) => {
    if (o.mode !== 'mig-static' || !o.migDevices) return
    const layout = migLayout(model, o.migDevices, 'check')
    if (!layout.ok) fail(`${base}.gpuOverrides[${k}].migDevices[${layout.index}]`, layout.message)
    for (const index of o.indexes) out.set(index, o.migDevices)
  })
  return out
}

/** The GPUs of one host named `name`: model, placement, mode and MIG devices. */
function hostGpus(entry: ClusterHost, name: string, model: GpuModel, layouts: Map<number, string[]>): GpuInfo[] {
  const placements = placeGpus(name, entry.gpus.count, entry.topology)
  const productName = entry.gpus.productName ?? defaultProductName(entry, model)
  return placements.map((placement, index) => {
    const gpu: GpuInfo = { index, uuid: derivedUuid(`${name}/${index}`), productName, model: model.key, ...placement }
    if (model.memoryMiB !== null) gpu.memoryMiB = model.memoryMiB
    if (entry.gpus.driverVersion) gpu.driverVersion = entry.gpus.driverVersion
    if (entry.gpus.cudaDriverVersion) gpu.cudaDriverVersion = entry.gpus.cudaDriverVersion
    const override = entry.gpuOverrides?.find((o) => o.indexes.includes(index))
    if (override) gpu.mode = override.mode
    const mode = hostGpuMode(entry, index)
    gpu.migEnabled = mode === 'mig-static' || mode === 'mig-dynamic'
    const profiles = layouts.get(index)
    if (profiles && mode === 'mig-static') {
      const placed = migLayout(model, profiles, `${name}/${index}`)
      if (placed.ok) gpu.migDevices = placed.devices
    }
    return gpu
  })
}

/**
 * The product name to publish: the name the spec gave as `model` when it is a product name, else
 * the catalog's first, except that hosts without NVSwitch get the PCIe variant where there is one
 * (SXM parts always sit on an NVSwitch baseboard).
 */
function defaultProductName(entry: ClusterHost, model: GpuModel): string {
  const given = model.productNames.find((n) => n.toLowerCase() === entry.gpus.model.toLowerCase())
  if (given) return given
  if (entry.topology?.nvlink !== 'nvswitch') {
    const pcie = model.productNames.find((n) => /pcie/i.test(n))
    if (pcie) return pcie
  }
  return model.productNames[0]
}
