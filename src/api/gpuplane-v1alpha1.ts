// gpuplane.io/v1alpha1 object shapes: the Cluster spec (hosts, GPUs, topology, virtual machines) as a zod schema, and its decoding with file/document/path errors.
//
// A Cluster declares the machines of a GPU cluster so that gpuplane can publish the ResourceSlices
// their DRA driver would publish (`gpuplane inventory cluster -f SPEC`). Every field is documented
// below; the checks here are those of each field's shape (names, counts, enums, unknown fields).
// Rules across fields (index ranges, duplicates, VMs naming hosts: src/inventory/cluster-check.ts)
// and against the GPU catalog (models, MIG and vGPU profiles: src/inventory/cluster.ts) follow
// with the same file/document/path errors.
//
// Example:
//
//   apiVersion: gpuplane.io/v1alpha1
//   kind: Cluster
//   metadata: {name: demo}
//   spec:
//     hosts:
//     - name: h100-sxm
//       replicas: 2                        # h100-sxm-0, h100-sxm-1
//       gpus: {model: H100-80GB, count: 8}
//       topology: {nvlink: nvswitch, numaNodes: 2, gpusPerPcieRoot: 2}
//     virtualMachines:
//     - name: vm-a
//       host: h100-sxm-1
//       passthroughGpus: [0, 1]
import { z } from 'zod'
import type { ErrorLocation } from '../common/errors.ts'
import type { Foreign } from './decode.ts'
import { decodeKind, GPUPLANE_V1ALPHA1, parseKind, type KindDecoder } from './decode-kind.ts'
import { Count, ObjectMeta, QuantityString } from './meta.ts'
import { dnsSubdomainProblems, labelKeyProblems, labelValueProblems } from './names.ts'

export { fieldLocation, GPUPLANE_GROUP, GPUPLANE_V1ALPHA1 } from './decode-kind.ts'

/** Most GPUs one host may declare; real servers carry up to 16 (DGX-2, HGX-2), so this leaves room. */
export const MAX_GPUS_PER_HOST = 64
/** Most hosts one `replicas` entry may stand for, so that a typo cannot ask for a million nodes. */
export const MAX_HOST_REPLICAS = 10_000

/**
 * How one physical GPU is offered to the allocator (the same values as PublishMode in
 * src/inventory/types.ts, which may not be imported from this layer):
 * - `whole`: one device per GPU;
 * - `mig-static`: the MIG devices that exist on the GPU (list them in `migDevices`);
 * - `mig-dynamic`: every MIG placement the GPU allows, sharing counters, created on allocation;
 * - `vgpu`: the vGPU profiles of the GPU, sharing its framebuffer;
 * - `shared`: one device with consumable memory, shared by several claims.
 */
export const CLUSTER_PUBLISH_MODES = ['whole', 'mig-static', 'mig-dynamic', 'vgpu', 'shared'] as const
export const ClusterPublishMode = z.enum(CLUSTER_PUBLISH_MODES)
export type ClusterPublishMode = z.infer<typeof ClusterPublishMode>

/** NVLink wiring of a host's GPUs. */
export const NVLINK_TOPOLOGIES = ['nvswitch', 'pairs', 'none'] as const

const NonNegative = Count.refine((n) => n >= 0, 'must be 0 or more')
const Positive = Count.refine((n) => n >= 1, 'must be 1 or more')

function problemsRefinement(check: (v: string) => string[]) {
  return (v: string, ctx: z.RefinementCtx) => {
    const problems = check(v)
    if (problems.length > 0) ctx.addIssue({ code: 'custom', message: `"${v}" ${problems.join('; ')}` })
  }
}

/** A Kubernetes node name (DNS-1123 subdomain). */
const NodeName = z.string().superRefine(problemsRefinement(dnsSubdomainProblems))

/** Extra Node labels: qualified keys, label values. */
const Labels = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [k, v] of Object.entries(labels)) {
    const keyProblems = labelKeyProblems(k)
    if (keyProblems.length > 0) ctx.addIssue({ code: 'custom', path: [k], message: `label key "${k}" ${keyProblems.join('; ')}` })
    const valueProblems = labelValueProblems(v)
    if (valueProblems.length > 0) ctx.addIssue({ code: 'custom', path: [k], message: `label value "${v}" ${valueProblems.join('; ')}` })
  }
})

/** A list of GPU indexes of one host: each in range is checked against `gpus.count` later. */
const GpuIndexes = z.array(NonNegative).min(1, 'must name at least one GPU index')

/** The GPUs of a host: all of one model. */
export const ClusterGpus = z.strictObject({
  /**
   * GPU model: a catalog key (`H100-80GB`, `A100-40GB`, `L40S-48GB`, `T4-16GB`, ...) or a product
   * name as nvidia-smi reports it (`NVIDIA H100 80GB HBM3`), matched case-insensitively.
   */
  model: z.string().min(1, 'must name a GPU model'),
  /** Number of GPUs in the host, indexed 0..count-1 (the nvidia-smi index / minor number). */
  count: Positive.refine((n) => n <= MAX_GPUS_PER_HOST, `must be at most ${MAX_GPUS_PER_HOST}`),
  /**
   * Product name to publish (the `productName` attribute); default: the catalog model's product
   * name. Set it to tell variants of one catalog model apart, e.g. `NVIDIA H100 PCIe`.
   */
  productName: z.string().min(1).optional(),
  /** Driver version as nvidia-smi reports it (e.g. `580.95.05`); published as a semver `driverVersion`. */
  driverVersion: z.string().min(1).optional(),
  /** CUDA driver version (e.g. `13.0`); published as `cudaDriverVersion`. */
  cudaDriverVersion: z.string().min(1).optional(),
})
export type ClusterGpus = z.infer<typeof ClusterGpus>

/** Explicit NUMA placement: these GPU indexes sit on this NUMA node. */
export const ClusterNumaNode = z.strictObject({
  /** NUMA node id, as published in `resource.kubernetes.io/numaNode`. */
  id: NonNegative,
  /** GPU indexes attached to this NUMA node. */
  gpus: GpuIndexes,
})

/** Explicit PCIe root placement: these GPU indexes sit below this root complex. */
export const ClusterPcieRoot = z.strictObject({
  /** Root complex name as in `resource.kubernetes.io/pcieRoot`: `pci<domain>:<bus>`, e.g. `pci0000:80`. */
  name: z.string().regex(/^pci[0-9a-f]{4}:[0-9a-f]{2}$/, 'must be pci<domain>:<bus> in lowercase hex, e.g. pci0000:80'),
  /** GPU indexes below this root. */
  gpus: GpuIndexes,
})

/**
 * How a host's GPUs are wired. Without explicit lists, GPUs are split in index order: evenly
 * across `numaNodes`, then in runs of `gpusPerPcieRoot` within each NUMA node; PCIe roots are
 * named `pci0000:<bus>` with buses spread over 00..ff (two roots: pci0000:00 and pci0000:80).
 */
export const ClusterTopology = z.strictObject({
  /**
   * NVLink wiring: `nvswitch` (all GPUs of the host in one NVLink domain, HGX/DGX), `pairs`
   * (bridged pairs 0-1, 2-3, ...; an odd last GPU has no partner), `none` (PCIe only; the default).
   */
  nvlink: z.enum(NVLINK_TOPOLOGIES).optional(),
  /** Number of NUMA nodes the GPUs are split across, evenly in index order (default 1). */
  numaNodes: Positive.optional(),
  /** Explicit NUMA placement of every GPU; replaces `numaNodes` (every GPU index exactly once). */
  numa: z.array(ClusterNumaNode).min(1).optional(),
  /** GPUs below one PCIe root, in index order within each NUMA node (default: all of the NUMA node's GPUs). */
  gpusPerPcieRoot: Positive.optional(),
  /** Explicit PCIe roots of every GPU; replaces `gpusPerPcieRoot` (every GPU index exactly once). */
  pcieRoots: z.array(ClusterPcieRoot).min(1).optional(),
})
export type ClusterTopology = z.infer<typeof ClusterTopology>

/** A publishing mode for some GPUs of a host, overriding the host's `mode`. */
export const ClusterGpuOverride = z.strictObject({
  /** The GPU indexes this entry applies to. */
  indexes: GpuIndexes,
  /** Publishing mode of these GPUs. */
  mode: ClusterPublishMode,
  /**
   * For `mig-static`: the MIG devices that exist on each of these GPUs, by profile name
   * (`3g.40gb`, `1g.10gb`, ...), each at the lowest legal
   * placement that leaves room for the rest. Required for `mig-static`, not allowed with other modes.
   */
  migDevices: z.array(z.string().min(1)).min(1).optional(),
})
export type ClusterGpuOverride = z.infer<typeof ClusterGpuOverride>

/** vGPU settings of a host (GPUs in mode `vgpu`, and GPUs whose vGPUs are given to virtual machines). */
export const ClusterVgpu = z.strictObject({
  /**
   * NVIDIA vGPU mixed-size (heterogeneous) mode: one GPU may host vGPUs of different framebuffer
   * sizes, under the lower per-GPU limits of that mode. Default false: equal-size mode, one size per GPU.
   */
  mixedSize: z.boolean().optional(),
})

/** Settings of GPUs in mode `shared`. */
export const ClusterShared = z.strictObject({
  /** Granularity of memory requests on a shared GPU (a Quantity, e.g. `1Gi`, `512Mi`); default `1Gi`. */
  memoryStep: QuantityString.optional(),
})

/** One physical host, or `replicas` identical ones. */
export const ClusterHost = z.strictObject({
  /**
   * Host name, which is also its Kubernetes node name (DNS-1123 subdomain). With `replicas` the
   * hosts are named `<name>-0` .. `<name>-<replicas-1>`.
   */
  name: NodeName,
  /** Number of identical hosts this entry declares (default 1: one host named `name`). */
  replicas: Positive.refine((n) => n <= MAX_HOST_REPLICAS, `must be at most ${MAX_HOST_REPLICAS}`).optional(),
  /**
   * Whether the host itself is a Kubernetes worker node that publishes its GPUs (default true).
   * Set false for a hypervisor that only runs virtual machines. Either way, GPUs given to virtual
   * machines are published by the virtual machines' nodes, never by the host.
   */
  worker: z.boolean().optional(),
  /** The host's GPUs. */
  gpus: ClusterGpus,
  /** NVLink, NUMA and PCIe wiring of the GPUs. */
  topology: ClusterTopology.optional(),
  /** Publishing mode of the host's GPUs (default `whole`). */
  mode: ClusterPublishMode.optional(),
  /** Publishing modes of single GPUs, overriding `mode` (a GPU index may appear in one entry only). */
  gpuOverrides: z.array(ClusterGpuOverride).optional(),
  /** vGPU settings. */
  vgpu: ClusterVgpu.optional(),
  /** Settings of GPUs in mode `shared`. */
  shared: ClusterShared.optional(),
  /** Extra labels of the host's Node object. */
  labels: Labels.optional(),
})
export type ClusterHost = z.infer<typeof ClusterHost>

/** vGPUs of one physical GPU given to a virtual machine. */
export const ClusterVmVgpu = z.strictObject({
  /** Index of the host GPU that hosts the vGPUs. */
  gpu: NonNegative,
  /** vGPU type from the catalog for the host's GPU model, e.g. `L40S-12C`, `A100D-20C`. */
  profile: z.string().min(1, 'must name a vGPU profile'),
  /** Number of vGPUs of this profile on that GPU (default 1). */
  count: Positive.optional(),
})

/** A virtual machine that is a Kubernetes worker node, carved from a host's GPUs. */
export const ClusterVirtualMachine = z.strictObject({
  /** VM name, which is its Kubernetes node name (DNS-1123 subdomain, unique among hosts and VMs). */
  name: NodeName,
  /** Name of the host the VM runs on (with `replicas`, one of `<name>-<i>`). */
  host: NodeName,
  /** Host GPU indexes passed through to the VM whole; they appear in the VM as GPUs 0, 1, ... in this order. */
  passthroughGpus: z.array(NonNegative).optional(),
  /** vGPUs of the host's GPUs given to the VM; they follow the passthrough GPUs in the VM's index order. */
  vgpus: z.array(ClusterVmVgpu).optional(),
  /** Publishing mode of the passthrough GPUs inside the VM (default `whole`; `vgpu` is not possible in a VM). */
  mode: ClusterPublishMode.optional(),
  /** Extra labels of the VM's Node object. */
  labels: Labels.optional(),
})
export type ClusterVirtualMachine = z.infer<typeof ClusterVirtualMachine>

export const ClusterSpec = z.strictObject({
  /** Physical hosts. */
  hosts: z.array(ClusterHost).min(1, 'must declare at least one host'),
  /** Virtual machine worker nodes carved from the hosts. */
  virtualMachines: z.array(ClusterVirtualMachine).optional(),
})
export type ClusterSpec = z.infer<typeof ClusterSpec>

export const Cluster = z.strictObject({
  apiVersion: z.literal(GPUPLANE_V1ALPHA1),
  kind: z.literal('Cluster'),
  metadata: ObjectMeta,
  spec: ClusterSpec,
})
export type Cluster = z.infer<typeof Cluster>

/** A decoded Cluster with where it came from; `location.path` is the object's own path (e.g. `items[0]` in a List). */
export interface DecodedCluster {
  cluster: Cluster
  location: ErrorLocation
}

const CLUSTER_DECODER: KindDecoder<typeof Cluster> = { kind: 'Cluster', schema: Cluster, help: 'gpuplane inventory cluster --help' }

/**
 * Reads the Cluster objects of a YAML/JSON text (multi-document, `kind: List` too). DRA objects in
 * the same text are decoded and checked as decodeText does, then ignored; other kinds are ignored.
 * Throws GpuplaneError (INVALID_INPUT) naming file, document and field path.
 */
export function decodeClusters(text: string, file?: string): DecodedCluster[] {
  return decodeKind(text, file, CLUSTER_DECODER).map(({ object, location }) => ({ cluster: object, location }))
}

/** Shape checks of one Cluster read by decodeText; cross-field and catalog checks follow in src/inventory/cluster.ts. */
export function parseCluster(f: Foreign): DecodedCluster {
  const { object, location } = parseKind(f, CLUSTER_DECODER)
  return { cluster: object, location }
}

/** Expands `replicas`: the host names a host entry stands for. */
export function hostNames(host: Pick<ClusterHost, 'name' | 'replicas'>): string[] {
  if (host.replicas === undefined) return [host.name]
  return Array.from({ length: host.replicas }, (_, i) => `${host.name}-${i}`)
}

/** One line per field of a Cluster, for `gpuplane inventory cluster --help`; keep it beside the schema so the two agree. */
export const CLUSTER_FIELDS_HELP = `
Cluster fields (apiVersion: gpuplane.io/v1alpha1, kind: Cluster; unknown fields are errors):
  metadata.name                  name of the cluster (informational)
  spec.hosts[]                   physical hosts (at least one)
    name                         host name = Kubernetes node name (DNS subdomain)
    replicas                     N identical hosts named <name>-0 .. <name>-<N-1> (default 1)
    worker                       false: a hypervisor that is not a Kubernetes node (default true)
    gpus.model                   catalog key (H100-80GB, A100-40GB, L40S-48GB, T4-16GB, ...) or
                                 a product name as nvidia-smi prints it ("NVIDIA H100 80GB HBM3")
    gpus.count                   GPUs in the host, indexes 0..count-1 (1..${MAX_GPUS_PER_HOST})
    gpus.productName             product name to publish (default: the catalog's; the PCIe
                                 variant on hosts without NVSwitch)
    gpus.driverVersion           e.g. 580.95.05 (published as driverVersion)
    gpus.cudaDriverVersion       e.g. 13.0 (published as cudaDriverVersion)
    topology.nvlink              nvswitch (all GPUs one NVLink domain) | pairs (0-1, 2-3, ...) |
                                 none (default)
    topology.numaNodes           NUMA nodes; GPUs split evenly in index order (default 1)
    topology.numa[]              instead: {id, gpus: [indexes]}, every GPU exactly once
    topology.gpusPerPcieRoot     GPUs per PCIe root, within a NUMA node (default: all of them)
    topology.pcieRoots[]         instead: {name: pci0000:80, gpus: [indexes]}, every GPU once
    mode                         whole (default) | mig-static | mig-dynamic | vgpu | shared
    gpuOverrides[]               {indexes: [..], mode, migDevices: [3g.40gb, 1g.10gb, ...]}:
                                 per-GPU modes; migDevices (mig-static only, required there) get
                                 the lowest legal placements that fit them all
    vgpu.mixedSize               vGPU mixed-size mode (default false: equal-size, one size per GPU)
    shared.memoryStep            memory request step of GPUs in mode shared (default 1Gi)
    labels                       extra labels of the host's Node
  spec.virtualMachines[]         virtual machine worker nodes carved from hosts
    name                         VM name = Kubernetes node name (unique among hosts and VMs)
    host                         the host it runs on (its slices carry gpuplane.io/host = host)
    passthroughGpus              host GPU indexes passed through whole; the VM's GPUs 0, 1, ...
    vgpus[]                      {gpu: host GPU index, profile: L40S-12C, count: 1}; the host GPU
                                 must be in mode vgpu; NVIDIA's per-GPU limits are checked
    mode                         mode of the passthrough GPUs in the VM (default: the host GPU's;
                                 vgpu becomes whole)
    labels                       extra labels of the VM's Node
GPUs given to a VM are published by the VM's node only, never by the host.
`
