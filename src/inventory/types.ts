// What every inventory source produces: hosts with their GPUs, as facts, before any publishing mode.
//
// Sources (nvidia-smi output, a Cluster spec, a trace node list) fill these; publish.ts turns a
// host into ResourceSlices according to the publishing mode of each GPU.

/** How one physical GPU is offered to the allocator. */
export type PublishMode = 'whole' | 'mig-static' | 'mig-dynamic' | 'vgpu' | 'shared'

export const PUBLISH_MODES: readonly PublishMode[] = ['whole', 'mig-static', 'mig-dynamic', 'vgpu', 'shared']

/** A MIG device that exists now on a GPU (read from nvidia-smi). */
export interface MigDeviceInfo {
  /** Profile name as the hardware reports it, e.g. "1g.10gb". */
  profile: string
  /** GPU-instance profile id (19 = 1g on 7/8-slice parts, ...). */
  profileId: number
  gpuInstanceId: number
  computeInstanceId: number
  uuid?: string
  /** Placement on the memory-slice axis. */
  placement: { start: number; size: number }
  memoryMiB?: number
  multiprocessors?: number
}

/**
 * A MIG GPU-instance profile as the GPU itself reports it (`nvidia-smi mig -lgip` joined with
 * `-lgipp`). When present it wins over the catalog's table for this GPU.
 */
export interface MigProfileRead {
  name: string
  profileId: number
  memoryGiB: number
  memoryMiB: number
  instancesTotal: number
  multiprocessors: number
  copyEngines?: number
  decoders?: number
  encoders?: number
  jpegEngines?: number
  ofaEngines?: number
  placements: Array<{ start: number; size: number }>
}

export interface GpuInfo {
  /** Minor number / nvidia-smi index on the host. */
  index: number
  uuid: string
  /** As nvidia-smi reports it, e.g. "NVIDIA H100 80GB HBM3". */
  productName: string
  /** Catalog key of the model (e.g. "H100-80GB"); resolved from productName when absent. */
  model?: string
  /** Extended BDF, lowercase: "0000:1a:00.0". */
  pciBusId?: string
  /** "pci<domain>:<bus>" of the root complex, as resource.kubernetes.io/pcieRoot. */
  pcieRoot?: string
  numaNode?: number
  memoryMiB?: number
  /** e.g. "580.159.04" as reported; published as a semver version. */
  driverVersion?: string
  cudaDriverVersion?: string
  /** GPUs of one host with the same value share an NVLink domain (NVSwitch or a bonded pair). */
  nvlinkDomain?: string
  migEnabled?: boolean
  migDevices?: MigDeviceInfo[]
  /** The MIG profiles and placements the hardware reported; override the catalog's for this GPU. */
  migProfiles?: MigProfileRead[]
  /** Publishing mode of this GPU; overrides the host's. */
  mode?: PublishMode
}

export interface HostInfo {
  /** The Kubernetes node name the slices are published for (pool name and nodeName). */
  node: string
  /** The physical host (differs from node for virtual machine worker nodes). */
  host?: string
  gpus: GpuInfo[]
  /** Default publishing mode of the host's GPUs. */
  mode?: PublishMode
  /** NVIDIA vGPU mixed-size (heterogeneous) mode enabled on the host. */
  vgpuMixedSize?: boolean
  /** Step of the memory request policy in `shared` mode (a Quantity string); default "1Gi". */
  sharedMemoryStep?: string
  /** Extra node labels (for Node objects printed with the slices). */
  labels?: Record<string, string>
}

/** The DRA driver name gpuplane publishes under; the NVIDIA DRA driver's, so its DeviceClasses apply. */
export const GPU_DRIVER = 'gpu.nvidia.com'

/**
 * Node label of a hypervisor published as a VM host (`gpuplane inventory cluster --vm-hosts`):
 * its GPUs are offered only to vm-per-workload workloads, each in a virtual machine of its own.
 */
export const LABEL_VM_HOST = 'gpuplane.io/vm-host'

/** gpuplane's own attribute names. */
export const ATTR_NVLINK_DOMAIN = 'gpuplane.io/nvlinkDomain'
export const ATTR_HOST = 'gpuplane.io/host'
/** Standard attributes (KEP-4381 / KEP-6072). */
export const ATTR_PCIE_ROOT = 'resource.kubernetes.io/pcieRoot'
export const ATTR_PCI_BUS_ID = 'resource.kubernetes.io/pciBusID'
export const ATTR_NUMA_NODE = 'resource.kubernetes.io/numaNode'
