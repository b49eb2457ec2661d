// Virtual machine worker nodes of a Cluster spec: GPUs passed through whole and vGPUs carved from a host's GPUs, with NVIDIA's per-GPU vGPU limits; hypervisors as VM hosts.
import type { ClusterHost, ClusterVirtualMachine } from '../api/gpuplane-v1alpha1.ts'
import { timeSlicedVgpuProfiles, vgpuFramebufferMiB, type GpuModel, type VgpuProfile } from '../catalog/index.ts'
import { derivedUuid } from './cluster-ids.ts'
import { LABEL_VM_HOST, type GpuInfo, type HostInfo, type PublishMode } from './types.ts'

/** Throws INVALID_INPUT at a path of the spec. */
export type Fail = (path: string, message: string) => never

/** A physical host of the spec with its GPUs as built from the spec. */
export interface PhysicalHost {
  name: string
  entry: ClusterHost
  entryIndex: number
  model: GpuModel
  gpus: GpuInfo[]
}

/** vGPUs placed on one physical GPU so far, with where the spec asked for them. */
interface VgpuUse {
  profile: VgpuProfile
  count: number
  path: string
}

/**
 * One HostInfo per virtual machine (node = VM name, host = the physical host), and the host GPUs
 * the VMs took (host name -> GPU indexes), which their hosts then do not publish.
 *
 * Inside a VM, GPUs are numbered 0.. in the order passthroughGpus then vgpus list them. A
 * passthrough GPU keeps its UUID, model and NVLink domain (when its domain peers come along);
 * its PCI address, PCIe root and NUMA node are left out, because the guest sees a virtual PCI
 * topology. Its mode is the VM's `mode`, else the host GPU's (vgpu becoming whole). A vGPU is a GPU
 * of the profile's framebuffer, published whole, named "NVIDIA <profile>".
 */
export function carveVirtualMachines(vms: readonly ClusterVirtualMachine[], hosts: ReadonlyMap<string, PhysicalHost>, fail: Fail): { vms: HostInfo[]; taken: Map<string, Set<number>> } {
  const taken = new Map<string, Set<number>>()
  const vgpuUse = new Map<string, VgpuUse[]>()
  const out = vms.map((vm, i) => {
    const base = `spec.virtualMachines[${i}]`
    const p = hosts.get(vm.host)!
    const take = (gpu: number) => taken.set(p.name, (taken.get(p.name) ?? new Set()).add(gpu))
    const gpus: GpuInfo[] = []
    const passthrough = (vm.passthroughGpus ?? []).map((index) => p.gpus[index])
    passthrough.forEach((hostGpu, j) => {
      take(hostGpu.index)
      gpus.push(passthroughGpu(vm, p, hostGpu, gpus.length, passthrough, base, `${base}.passthroughGpus[${j}]`, fail))
    })
    vm.vgpus?.forEach((v, j) => {
      const path = `${base}.vgpus[${j}]`
      take(v.gpu)
      const hostMode = p.gpus[v.gpu].mode ?? p.entry.mode ?? 'whole'
      if (hostMode !== 'vgpu') fail(`${path}.gpu`, `GPU ${v.gpu} of host ${p.name} is in mode ${hostMode}; set the host's mode (or a gpuOverrides entry for this GPU) to vgpu to carve vGPUs from it`)
      const profile = timeSlicedVgpuProfiles(p.model).find((x) => x.name.toLowerCase() === v.profile.toLowerCase())
      if (!profile) {
        const mig = p.model.vgpuProfiles.some((x) => x.name.toLowerCase() === v.profile.toLowerCase())
        fail(`${path}.profile`, mig ? `${v.profile} is a MIG-backed vGPU type; only time-sliced types can be given to VMs here (${timeSlicedVgpuProfiles(p.model).map((x) => x.name).join(', ')})` : `unknown vGPU profile "${v.profile}" for ${p.model.key}; known: ${timeSlicedVgpuProfiles(p.model).map((x) => x.name).join(', ')}`)
      }
      const key = `${p.name}/${v.gpu}`
      const uses = [...(vgpuUse.get(key) ?? []), { profile: profile!, count: v.count ?? 1, path }]
      checkVgpuLimits(p, v.gpu, uses, fail)
      vgpuUse.set(key, uses)
      for (let k = 0; k < (v.count ?? 1); k++) gpus.push(vgpuGpu(vm, p, profile!, gpus.length))
    })
    const host: HostInfo = { node: vm.name, host: p.name, gpus, mode: 'whole' }
    if (p.entry.shared?.memoryStep !== undefined) host.sharedMemoryStep = p.entry.shared.memoryStep
    if (vm.labels) host.labels = { ...vm.labels }
    return host
  })
  return { vms: out, taken }
}

/**
 * A hypervisor (`worker: false`) as a VM host: a node named after the host, labelled
 * LABEL_VM_HOST, offering what a new virtual machine could still take from it, so that the
 * scheduler can place vm-per-workload workloads there and plan their VMs. `free` are the host's
 * GPUs that no declared virtual machine took (a GPU hosting any declared vGPU counts as taken).
 * A GPU in mode vgpu offers its vGPU profiles; every other GPU is offered whole, for passthrough
 * (a VM takes no MIG device or share of a GPU).
 */
export function vmHostInfo(p: PhysicalHost, free: GpuInfo[]): HostInfo {
  const gpus = free.map((g) => {
    const gpu: GpuInfo = { ...g, mode: (g.mode ?? p.entry.mode ?? 'whole') === 'vgpu' ? 'vgpu' : 'whole', migEnabled: false }
    delete gpu.migDevices
    return gpu
  })
  const host: HostInfo = { node: p.name, host: p.name, gpus, mode: 'whole', labels: { ...p.entry.labels, [LABEL_VM_HOST]: 'true' } }
  if (p.entry.vgpu?.mixedSize !== undefined) host.vgpuMixedSize = p.entry.vgpu.mixedSize
  return host
}

function passthroughGpu(vm: ClusterVirtualMachine, p: PhysicalHost, hostGpu: GpuInfo, index: number, all: GpuInfo[], base: string, path: string, fail: Fail): GpuInfo {
  const hostMode: PublishMode = hostGpu.mode ?? p.entry.mode ?? 'whole'
  const mode: PublishMode = vm.mode ?? (hostMode === 'vgpu' ? 'whole' : hostMode)
  if ((mode === 'mig-static' || mode === 'mig-dynamic') && !p.model.mig) fail(`${base}.mode`, `${p.model.key} does not support MIG; use mode whole or shared`)
  if (mode === 'mig-static' && !hostGpu.migDevices) fail(path, `mode mig-static publishes the MIG devices that exist, and GPU ${hostGpu.index} of host ${p.name} declares none; give it a gpuOverrides entry with migDevices, or use mig-dynamic`)
  const gpu: GpuInfo = { index, uuid: hostGpu.uuid, productName: hostGpu.productName, mode, migEnabled: mode === 'mig-static' || mode === 'mig-dynamic' }
  if (hostGpu.model) gpu.model = hostGpu.model
  if (hostGpu.memoryMiB !== undefined) gpu.memoryMiB = hostGpu.memoryMiB
  if (hostGpu.driverVersion) gpu.driverVersion = hostGpu.driverVersion
  if (hostGpu.cudaDriverVersion) gpu.cudaDriverVersion = hostGpu.cudaDriverVersion
  if (mode === 'mig-static' && hostGpu.migDevices) gpu.migDevices = hostGpu.migDevices
  // An NVLink domain only means something to the VM when a peer of it came along.
  if (hostGpu.nvlinkDomain && all.some((g) => g !== hostGpu && g.nvlinkDomain === hostGpu.nvlinkDomain)) gpu.nvlinkDomain = hostGpu.nvlinkDomain
  return gpu
}

function vgpuGpu(vm: ClusterVirtualMachine, p: PhysicalHost, profile: VgpuProfile, index: number): GpuInfo {
  const gpu: GpuInfo = {
    index,
    uuid: derivedUuid(`${vm.name}/vgpu/${index}`),
    productName: `NVIDIA ${profile.name}`,
    model: p.model.key,
    memoryMiB: profile.framebufferMiB,
    mode: 'whole',
  }
  const driver = p.entry.gpus.driverVersion
  if (driver) gpu.driverVersion = driver
  if (p.entry.gpus.cudaDriverVersion) gpu.cudaDriverVersion = p.entry.gpus.cudaDriverVersion
  return gpu
}

/**
 * NVIDIA's limits for time-sliced vGPUs on one physical GPU. Equal-size mode: one type per GPU,
 * at most maxPerGpuEqualSize (and what fits the framebuffer). Mixed-size mode: per type at most
 * maxPerGpuMixedSize, and the framebuffers together within the GPU's; the driver's own placement
 * rules can refuse some mixes these limits allow, so this is a necessary check, not a sufficient one.
 */
function checkVgpuLimits(p: PhysicalHost, gpu: number, uses: VgpuUse[], fail: Fail): void {
  const last = uses[uses.length - 1]
  const where = `GPU ${gpu} of host ${p.name}`
  if (!p.entry.vgpu?.mixedSize) {
    const other = uses.find((u) => u.profile.name !== last.profile.name)
    if (other) fail(`${last.path}.profile`, `${where} is in equal-size vGPU mode and already hosts ${other.profile.name} (${other.path}); use the same profile, another GPU, or set the host's vgpu.mixedSize`)
    const total = uses.reduce((n, u) => n + u.count, 0)
    const limit = Math.min(last.profile.maxPerGpuEqualSize, last.profile.framebufferLimit ?? Infinity)
    if (total > limit) fail(`${last.path}.count`, `${where} holds at most ${limit} ${last.profile.name} vGPUs in equal-size mode; the spec gives it ${total}`)
    return
  }
  const sameProfile = uses.filter((u) => u.profile.name === last.profile.name).reduce((n, u) => n + u.count, 0)
  const limit = last.profile.maxPerGpuMixedSize ?? 0
  if (sameProfile > limit) fail(`${last.path}.count`, `${where} holds at most ${limit} ${last.profile.name} vGPUs in mixed-size mode; the spec gives it ${sameProfile}`)
  const framebuffer = vgpuFramebufferMiB(p.model) ?? 0
  const used = uses.reduce((n, u) => n + u.count * u.profile.framebufferMiB, 0)
  if (used > framebuffer) fail(`${last.path}.count`, `the vGPUs on ${where} need ${used} MiB of framebuffer, and the GPU has ${framebuffer} MiB for vGPUs`)
}
