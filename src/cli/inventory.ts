// `gpuplane inventory <source>`: ResourceSlices (and Nodes, DeviceClasses) from nvidia-smi output, a Cluster spec, a trace node list, a Kubernetes dump.
import { readFileSync } from 'node:fs'
import { Command, Option } from 'commander'
import { stringify } from 'yaml'
import { toPlain } from '../api/decode.ts'
import { CLUSTER_FIELDS_HELP } from '../api/gpuplane-v1alpha1.ts'
import type { DeviceClass, ResourceSlice } from '../api/resource-v1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { hostsFromClusterText } from '../inventory/cluster.ts'
import { readK8sDump } from '../inventory/k8s.ts'
import { nodeObject, type NodeExtras } from '../inventory/k8s-nodes.ts'
import { inventoryFromNvidiaSmi } from '../inventory/nvidia-smi.ts'
import { deviceClasses, publishHost, type SliceLayout } from '../inventory/publish.ts'
import { parseTraceNodes, TRACE_MODELS, traceModelOverrides, traceNodeToHost } from '../inventory/trace.ts'
import { PUBLISH_MODES, type HostInfo, type PublishMode } from '../inventory/types.ts'
import { gpuModel } from '../catalog/index.ts'
import { selectorCheck } from '../cel/index.ts'
import { stringifyJson } from './allocate.ts'
import { listFiles } from './read-objects.ts'

type Output = 'yaml' | 'json'

/** What a host-based verb prints: Node objects, then DeviceClasses (--classes), then ResourceSlices. */
interface PublishOptions {
  output: Output
  layout: SliceLayout
  /** Print deviceClasses() too. */
  classes: boolean
  /** Print the Node objects (default true; --no-node-objects). */
  nodeObjects: boolean
  /** Print this node only. */
  node?: string
}

/** Renders objects as YAML documents, or as one `kind: List` in JSON. */
export function renderObjects(objects: readonly unknown[], output: Output): string {
  if (output === 'json') return stringifyJson({ apiVersion: 'v1', kind: 'List', items: objects }) + '\n'
  return objects.map((o) => stringify(toPlain(o), { lineWidth: 0 })).join('---\n')
}

/** Reads a file named on the command line ("-" is stdin), or says which option named a missing one. */
function readInput(file: string, option: string): { text: string; file: string } {
  try {
    return file === '-' ? { text: readFileSync(0, 'utf8'), file: '<stdin>' } : { text: readFileSync(file, 'utf8'), file }
  } catch {
    throw new GpuplaneError('INVALID_INPUT', `cannot read ${file} (given with ${option}): no such file, or not readable; pass an existing file`, { file })
  }
}

/** The hosts' Nodes, the classes and the slices, filtered to --node. */
function publishAll(hosts: ReadonlyArray<{ host: HostInfo; extras?: NodeExtras }>, opts: PublishOptions): unknown[] {
  const chosen = opts.node === undefined ? hosts : hosts.filter((h) => h.host.node === opts.node)
  if (opts.node !== undefined && chosen.length === 0) {
    const names = hosts.map((h) => h.host.node)
    throw new GpuplaneError('INVALID_INPUT', `no node named "${opts.node}" in the input; nodes: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}`)
  }
  const nodes = opts.nodeObjects ? chosen.map((h) => nodeObject(h.host, h.extras)) : []
  const classes: DeviceClass[] = opts.classes ? deviceClasses() : []
  const slices: ResourceSlice[] = chosen.flatMap((h) => (h.host.gpus.length > 0 ? publishHost(h.host, { layout: opts.layout }) : []))
  return [...nodes, ...classes, ...slices]
}

/** nvidia-smi's listings name their command in errors; map it back to the file the user gave. */
function withListingFile(e: unknown, files: Pick<NvidiaSmiOptions, 'xml' | 'migProfiles' | 'migPlacements' | 'migInstances' | 'topo'>): unknown {
  if (!(e instanceof GpuplaneError) || e.location.file !== undefined) return e
  const sources: Array<[string, string | undefined]> = [
    ['nvidia-smi mig -lgipp', files.migPlacements],
    ['nvidia-smi mig -lgip', files.migProfiles],
    ['nvidia-smi mig -lgi', files.migInstances],
    ['nvidia-smi topo -m', files.topo],
    ['nvidia-smi -q -x', files.xml],
  ]
  const hit = sources.find(([source, file]) => file !== undefined && e.message.includes(source))
  return hit ? new GpuplaneError(e.code, e.message, { ...e.location, file: hit[1] }, { cause: e }) : e
}

export interface NvidiaSmiOptions extends PublishOptions {
  xml: string
  migProfiles?: string
  migPlacements?: string
  migInstances?: string
  topo?: string
  host?: string
  mode?: PublishMode
}

export function runNvidiaSmi(opts: NvidiaSmiOptions, warn: (s: string) => void): unknown[] {
  const read = (file: string | undefined, option: string) => (file === undefined ? undefined : readInput(file, option).text)
  const input = {
    xml: read(opts.xml, '--xml')!,
    migProfiles: read(opts.migProfiles, '--mig-profiles'),
    migPlacements: read(opts.migPlacements, '--mig-placements'),
    migInstances: read(opts.migInstances, '--mig-instances'),
    topo: read(opts.topo, '--topo'),
    node: opts.node,
    host: opts.host,
  }
  let host: HostInfo
  try {
    const inventory = inventoryFromNvidiaSmi(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as typeof input)
    for (const w of inventory.warnings) warn(`warning: ${w}\n`)
    host = inventory.host
    // Without --mode, publishing gives GPUs in MIG mode mig-static and the others whole.
    if (opts.mode !== undefined) {
      host.mode = opts.mode
      for (const gpu of host.gpus) delete gpu.mode
    }
    return publishAll([{ host }], { ...opts, node: undefined })
  } catch (e) {
    throw withListingFile(e, opts)
  }
}

export function runCluster(opts: PublishOptions & { filename: string; vmHosts?: boolean }): unknown[] {
  const { text, file } = readInput(opts.filename, '-f')
  return publishAll(hostsFromClusterText(text, file, { vmHosts: opts.vmHosts }).map((host) => ({ host })), opts)
}

export function runTrace(opts: PublishOptions & { nodesCsv: string; mode?: PublishMode; gpuModel?: string[] }): unknown[] {
  const pairs: Record<string, string> = {}
  for (const pair of opts.gpuModel ?? []) {
    const m = /^([^=\s]+)=(.+)$/.exec(pair)
    if (!m) throw new GpuplaneError('INVALID_INPUT', `--gpu-model ${pair}: write CODE=MODEL, e.g. G2=A100-80GB`)
    pairs[m[1]] = m[2]
  }
  const models = traceModelOverrides(pairs, '--gpu-model')
  const { text, file } = readInput(opts.nodesCsv, '--nodes')
  const nodes = parseTraceNodes(text, file, Object.keys(models))
  const hosts = nodes.map((n) => ({ host: traceNodeToHost(n, { mode: opts.mode, models }), extras: { cpuMilli: n.cpuMilli, memoryMiB: n.memoryMiB } }))
  try {
    return publishAll(hosts, opts)
  } catch (e) {
    // Publishing names the node; add the file so the message says where the node came from.
    if (e instanceof GpuplaneError && e.location.file === undefined) {
      const hint = /needs the GPU's/.test(e.message) ? '; for a trace GPU type without a catalog model, name one with --gpu-model CODE=MODEL' : ''
      throw new GpuplaneError(e.code, e.message + hint, { ...e.location, file }, { cause: e })
    }
    throw e
  }
}

export function runK8s(opts: { filename: string[] }): unknown[] {
  const texts = listFiles(opts.filename).map((f) => readInput(f, '-f'))
  const dump = readK8sDump(texts, [selectorCheck])
  return [...dump.nodes, ...dump.classes, ...dump.slices]
}

const outputOption = () => new Option('-o, --output <FORMAT>', 'output format: YAML documents, or one JSON kind: List').choices(['yaml', 'json']).default('yaml')
const modeOption = (what: string) => new Option('--mode <MODE>', what).choices([...PUBLISH_MODES])
const layoutOption = () =>
  new Option('--layout <LAYOUT>', 'slice layout: split (Kubernetes 1.35+: counter sets in slices of their own) or combined (1.34: counter sets in the slice of the devices that consume them); gpuplane allocate reads both')
    .choices(['split', 'combined'])
    .default('split')

function hostVerbOptions(cmd: Command): Command {
  return cmd
    .addOption(outputOption())
    .addOption(layoutOption())
    .option('--classes', 'also print the DeviceClasses that select the published devices', false)
    .option('--no-node-objects', 'leave out the Node objects')
}

/** Registers `gpuplane inventory` and its verbs on the program. */
export function registerInventory(program: Command, out: (s: string) => void, err: (s: string) => void): void {
  const inventory = program.command('inventory').description('ResourceSlices from real sources: nvidia-smi output, a Cluster spec, a trace node list, a Kubernetes dump').addHelpText('after', INVENTORY_HELP)
  const print = (objects: unknown[], output: Output) => out(renderObjects(objects, output))

  hostVerbOptions(
    inventory
      .command('nvidia-smi')
      .description('ResourceSlices of one host from its nvidia-smi output')
      .requiredOption('--xml <FILE>', 'output of `nvidia-smi -q -x` ("-" for stdin)')
      .option('--mig-profiles <FILE>', 'output of `nvidia-smi mig -lgip`')
      .option('--mig-placements <FILE>', 'output of `nvidia-smi mig -lgipp`')
      .option('--mig-instances <FILE>', 'output of `nvidia-smi mig -lgi` (places existing MIG devices)')
      .option('--topo <FILE>', 'output of `nvidia-smi topo -m` (NUMA, NVLink, PCIe grouping)')
      .option('--node <NAME>', 'Kubernetes node name (default localhost)')
      .option('--host <NAME>', 'physical host, when the node is a virtual machine on it')
      .addOption(modeOption('publishing mode of every GPU (default: mig-static for GPUs in MIG mode, else whole)')),
  )
    .addHelpText('after', NVIDIA_SMI_HELP)
    .action((opts: NvidiaSmiOptions) => print(runNvidiaSmi(opts, err), opts.output))

  hostVerbOptions(
    inventory
      .command('cluster')
      .description('ResourceSlices and Nodes of a declarative Cluster spec (gpuplane.io/v1alpha1)')
      .requiredOption('-f, --filename <SPEC>', 'YAML/JSON file with a Cluster ("-" for stdin)')
      .option('--node <NAME>', 'print this node only')
      .option('--vm-hosts', 'also publish each hypervisor (worker: false) as a VM host: what new VMs could take from it, for vm-per-workload scheduling', false),
  )
    .addHelpText('after', CLUSTER_HELP)
    .action((opts: PublishOptions & { filename: string; vmHosts: boolean }) => print(runCluster(opts), opts.output))

  hostVerbOptions(
    inventory
      .command('trace')
      .description('ResourceSlices and Nodes of a cluster trace node list (Alibaba GPU trace v2023)')
      .requiredOption('--nodes <CSV>', 'node list, e.g. openb_node_list_gpu_node.csv ("-" for stdin)')
      .option('--node <NAME>', 'print this node only')
      .addOption(modeOption('publishing mode of every GPU (default whole)'))
      .option('--gpu-model <CODE=MODEL...>', 'publish the trace GPU type CODE as catalog model MODEL, e.g. G2=A100-80GB'),
  )
    .addHelpText('after', TRACE_HELP)
    .action((opts: PublishOptions & { nodes: string; mode?: PublishMode; gpuModel?: string[] }) => print(runTrace({ ...opts, nodesCsv: opts.nodes }), opts.output))

  inventory
    .command('k8s')
    .description('ResourceSlices and DeviceClasses of a Kubernetes dump, validated and passed through as resource.k8s.io/v1')
    .requiredOption('-f, --filename <PATH...>', 'dump files or folders ("-" for stdin)')
    .addOption(outputOption())
    .addHelpText('after', K8S_HELP)
    .action((opts: { filename: string[]; output: Output }) => print(runK8s(opts), opts.output))

  inventory
    .command('classes')
    .description('the DeviceClasses that select what gpuplane publishes')
    .addOption(outputOption())
    .addHelpText('after', CLASSES_HELP)
    .action((opts: { output: Output }) => print(deviceClasses(), opts.output))
}

const MODES_HELP = `
Publishing modes (--mode, or per host and GPU in a Cluster):
  whole        one device gpu-<index> per GPU (memory, multiprocessors)
  mig-static   the MIG devices that exist on the GPU; the GPU itself is not offered
  mig-dynamic  the GPU and every legal MIG placement, sharing counters (created on allocation)
  vgpu         the GPU's time-sliced vGPU profiles, sharing its framebuffer
  shared       one device whose memory several claims share in steps`

const OUTPUT_HELP = `
Output: Node objects first (v1, name and labels: kubernetes.io/hostname, gpuplane.io/host,
nvidia.com/gpu.product, nvidia.com/gpu.count, nvidia.com/gpu.memory, ...; --no-node-objects
leaves them out), then DeviceClasses (--classes), then ResourceSlices (pool = node name, driver
gpu.nvidia.com). -o yaml (default) writes YAML documents; -o json one {"kind": "List", "items"}.
"gpuplane allocate -f" reads the output as it is.

Exit codes: 0 success; 1 internal error; 2 invalid input (the message names the file, document
index and field path).`

const INVENTORY_HELP = `
Verbs:
  nvidia-smi  one host from its nvidia-smi output (XML, MIG listings, topology)
  cluster     a declarative Cluster spec (gpuplane.io/v1alpha1): hosts, GPUs, topology, VMs;
              --vm-hosts also publishes hypervisors, for vm-per-workload scheduling
  trace       a trace node list (Alibaba GPU cluster trace v2023)
  k8s         a "kubectl get resourceslices,deviceclasses -o yaml" dump, passed through as v1
  classes     the DeviceClasses that select what gpuplane publishes
${OUTPUT_HELP}

Example:
  gpuplane inventory cluster -f examples/cluster-demo.yaml --classes > cluster.yaml
  gpuplane allocate -f cluster.yaml -f claims.yaml
`

const NVIDIA_SMI_HELP = `
What it reads (on the host, as root or not):
  nvidia-smi -q -x > gpus.xml            GPUs: product, UUID, PCI address, memory, MIG mode and devices
  nvidia-smi mig -lgip > lgip.txt        MIG GPU-instance profiles (optional)
  nvidia-smi mig -lgipp > lgipp.txt      their legal placements (optional)
  nvidia-smi mig -lgi > lgi.txt          existing GPU instances, to place MIG devices (optional)
  nvidia-smi topo -m > topo.txt          NUMA affinity, NVLink domains, PCIe grouping (optional)
${MODES_HELP}
${OUTPUT_HELP}

Example:
  gpuplane inventory nvidia-smi --xml gpus.xml --topo topo.txt --node gpu-node-1 --classes
`

const CLUSTER_HELP = `${CLUSTER_FIELDS_HELP}${MODES_HELP}

VM hosts (--vm-hosts): each hypervisor (worker: false) is published too, as a node named after
it with label gpuplane.io/vm-host=true, offering the GPUs that no declared virtual machine took
(a GPU hosting a declared vGPU counts as taken): GPUs in mode vgpu as their vGPU profiles, every
other GPU whole, for passthrough. The scheduler places only vm-per-workload workloads there and
plans a virtual machine for each (host, passthroughGpus, vgpus): add that entry to
spec.virtualMachines to create it. Without --vm-hosts, hypervisors publish nothing.
${OUTPUT_HELP}

Example (examples/cluster-demo.yaml has a whole heterogeneous cluster):
  apiVersion: gpuplane.io/v1alpha1
  kind: Cluster
  metadata: {name: small}
  spec:
    hosts:
    - name: h100
      replicas: 2
      gpus: {model: H100-80GB, count: 8}
      topology: {nvlink: nvswitch, numaNodes: 2, gpusPerPcieRoot: 2}
    - name: l40s-hv
      worker: false
      mode: vgpu
      gpus: {model: L40S-48GB, count: 2}
    virtualMachines:
    - name: vm-1
      host: l40s-hv
      vgpus: [{gpu: 0, profile: L40S-12C, count: 2}]

  gpuplane inventory cluster -f examples/cluster-demo.yaml -o json
`

const TRACE_HELP = `
What it reads: a node list CSV of the Alibaba GPU cluster trace v2023
(openb_node_list_gpu_node.csv or openb_node_list_all_node.csv) with the columns
sn (node name), cpu_milli, memory_mib, gpu (GPU count), model (GPU type). Each row becomes a
node with gpu whole GPUs (or --mode) and a Node with the row's CPU and memory as capacity and
label gpuplane.io/trace-gpu-model. CPU-only rows give a Node and no slices.
The trace has no topology, driver or UUIDs: GPUs get no NVLink, NUMA or PCIe attributes, and
UUIDs derived from the node name and index.

GPU types, as published (productName; catalog model where the catalog has it):
${Object.entries(TRACE_MODELS).map(([code, m]) => `  ${code.padEnd(8)} ${m.productName}${m.catalogModel && gpuModel(m.catalogModel) ? ` (${m.catalogModel})` : ''}${m.assumption ? ` [assumption: ${m.assumption}]` : ''}`).join('\n')}
V100 and P100 are not in the GPU catalog (published whole, nominal memory, no catalog facts).
G1-G3 are undisclosed: published without memory, so modes other than whole need
--gpu-model G2=<catalog model> (an assumption you make; nothing in the trace says which).
${MODES_HELP}
${OUTPUT_HELP}

Example:
  gpuplane inventory trace --nodes openb_node_list_gpu_node.csv --node openb-node-0022
`

const K8S_HELP = `
What it reads: every YAML/JSON document under each PATH (folders recursively; "-" is stdin),
as "kubectl get resourceslices,deviceclasses -o yaml" writes them (kind: List), in
resource.k8s.io/v1, v1beta2 or v1beta1. Each object is validated as "gpuplane allocate" does (shape,
upstream rules, CEL selectors).

Output: v1 Nodes of the dump as read (if any), then the DeviceClasses, then the ResourceSlices,
in document order, normalised to resource.k8s.io/v1. Other kinds (claims, pods) are left out.
-o yaml (default) writes YAML documents; -o json one {"kind": "List", "items"}.

Exit codes: 0 success; 1 internal error; 2 invalid input (file, document index and field path),
including a dump without ResourceSlices or DeviceClasses.

Example:
  kubectl get resourceslices,deviceclasses -o yaml > dump.yaml
  gpuplane inventory k8s -f dump.yaml -o json
`

const CLASSES_HELP = `
The DeviceClasses gpuplane's published devices are selected with:
  gpu.nvidia.com       whole GPUs (type gpu), shared GPUs included, as the NVIDIA DRA driver's class
  mig.nvidia.com       MIG devices (type mig)
  vgpu.gpuplane.io     vGPU devices (type vgpu)
  shared.gpuplane.io   multi-allocatable (shared) GPUs

Example:
  gpuplane inventory classes > classes.yaml
`
