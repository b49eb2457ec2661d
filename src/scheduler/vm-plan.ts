// The virtual machine planned for a vm-per-workload workload: which VM to create on which host, sized to the workload, as a Cluster spec entry.
//
// A VM host (src/inventory/cluster-vm.ts: vmHostInfo) publishes its free GPUs as publish.ts does:
// a GPU offered for passthrough is the device `gpu-<index>` (type gpu), a vGPU is
// `gpu-<index>-vgpu-<type>-<n>` (type vgpu, attribute profile), where <index> is the host's GPU
// index. The devices the allocator chose on that host therefore name the host GPUs the VM takes.
import { createHash } from 'node:crypto'
import type { ClusterVirtualMachine } from '../api/gpuplane-v1alpha1.ts'
import { DNS1123_LABEL_MAX_LENGTH } from '../api/names.ts'
import type { DeviceAttribute } from '../api/resource-v1.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import { GPU_DRIVER } from '../inventory/types.ts'

/** The VM planned for one workload. */
export interface VmPlan {
  /**
   * The VM as an entry of a Cluster's `spec.virtualMachines`: add it there and `gpuplane inventory
   * cluster` publishes the VM as a worker node with exactly the GPUs the workload was given.
   */
  virtualMachine: ClusterVirtualMachine
  /** CPU to size the VM with: the workload's request (a Quantity), when it makes one. */
  cpu?: string
  /** Memory to size the VM with: the workload's request (a Quantity), when it makes one. */
  memory?: string
}

/** A device allocated to the workload on the VM host, as its ResourceSlice publishes it. */
export interface VmDevice {
  driver: string
  name: string
  attributes: Readonly<Record<string, DeviceAttribute>>
  /** The device may be shared by several allocations (a `shared` mode GPU). */
  allowMultipleAllocations?: boolean
}

/** Device name prefix that carries the host GPU index (`gpu-3`, `gpu-3-vgpu-l40s-12c-0`). */
const GPU_INDEX = /^gpu-(\d+)(?:-|$)/

/**
 * Why a virtual machine cannot take `device`, or undefined when it can: a VM takes whole GPUs
 * (passed through) and vGPUs of the NVIDIA driver, each for itself alone. A MIG device cannot be
 * passed to a VM here (MIG-backed vGPU types are not planned), nor a GPU shared between claims.
 */
export function vmDeviceProblem(device: VmDevice): string | undefined {
  const what = `device ${device.name}`
  if (device.driver !== GPU_DRIVER) return `${what} of driver ${device.driver}: a VM takes only GPUs of ${GPU_DRIVER} (whole, passed through, or vGPUs)`
  const type = device.attributes.type?.string
  if (type === 'mig') return `${what} is a MIG device: a VM takes whole GPUs (passthrough) or vGPUs`
  if (type !== 'gpu' && type !== 'vgpu') return `${what} has type ${type ?? '(none)'}: a VM takes whole GPUs (type gpu, passthrough) or vGPUs (type vgpu)`
  if (device.allowMultipleAllocations) return `${what} is a shared GPU (allowMultipleAllocations): a VM needs a GPU or vGPU of its own`
  if (!GPU_INDEX.test(device.name)) return `${what} does not name its host GPU (gpu-<index>...), so no VM can be planned for it`
  if (type === 'vgpu' && device.attributes.profile?.string === undefined) return `${what} has no vGPU profile attribute, so no VM can be planned for it`
  return undefined
}

/**
 * The VM of `workload` on VM host `host` with the devices it was allocated there (each one that
 * vmDeviceProblem accepts): passthrough GPUs in ascending index order, then vGPUs grouped by GPU
 * and profile. The VM publishes its passthrough GPUs whole, as the workload was given them.
 */
export function vmPlan(workload: Workload, host: string, devices: readonly VmDevice[]): VmPlan {
  const passthroughGpus: number[] = []
  const vgpus = new Map<string, { gpu: number; profile: string; count: number }>()
  for (const d of devices) {
    const gpu = Number(GPU_INDEX.exec(d.name)![1])
    if (d.attributes.type?.string === 'gpu') {
      passthroughGpus.push(gpu)
      continue
    }
    const profile = d.attributes.profile!.string!
    const key = `${gpu}/${profile}`
    const v = vgpus.get(key)
    if (v) v.count++
    else vgpus.set(key, { gpu, profile, count: 1 })
  }
  const virtualMachine: ClusterVirtualMachine = { name: vmName(workload), host }
  if (passthroughGpus.length > 0) {
    virtualMachine.passthroughGpus = passthroughGpus.sort((a, b) => a - b)
    virtualMachine.mode = 'whole'
  }
  if (vgpus.size > 0) {
    virtualMachine.vgpus = [...vgpus.values()].sort((a, b) => a.gpu - b.gpu || (a.profile < b.profile ? -1 : a.profile > b.profile ? 1 : 0)).map(({ gpu, profile, count }) => (count === 1 ? { gpu, profile } : { gpu, profile, count }))
  }
  const plan: VmPlan = { virtualMachine }
  const resources = workload.spec.resources
  if (resources?.cpu !== undefined) plan.cpu = resources.cpu
  if (resources?.memory !== undefined) plan.memory = resources.memory
  return plan
}

/**
 * The VM's name, a DNS label: `vm-<namespace>-<workload>`. Namespaces are DNS labels, so one
 * without '-' ends at the first '-' after `vm-` and the name is unique as it is. Otherwise (a
 * namespace with '-', characters outside [a-z0-9-], more than 63 characters) the name is
 * lowercased, cleaned, shortened and ended with an 8-digit hash of `namespace/workload`, so that
 * (a-b, c) and (a, b-c) still get different VMs.
 */
export function vmName(workload: Workload): string {
  const ns = workload.metadata.namespace ?? 'default'
  const name = workload.metadata.name ?? ''
  const wanted = `vm-${ns}-${name}`
  const label = wanted.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+$/, '')
  if (!ns.includes('-') && label === wanted && label.length <= DNS1123_LABEL_MAX_LENGTH) return label
  const hash = createHash('sha256').update(`${ns}/${name}`).digest('hex').slice(0, 8)
  return `${label.slice(0, DNS1123_LABEL_MAX_LENGTH - hash.length - 1).replace(/-+$/, '')}-${hash}`
}
