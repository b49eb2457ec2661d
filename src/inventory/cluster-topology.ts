// Where each GPU of a Cluster host sits: NUMA node, PCIe root and bus id, NVLink domain, from the host's `topology`.
import type { ClusterTopology } from '../api/gpuplane-v1alpha1.ts'

export interface GpuPlacement {
  numaNode: number
  /** `pci<domain>:<bus>` of the root complex. */
  pcieRoot: string
  /** Extended BDF below that root, lowercase: `0000:41:00.0`. */
  pciBusId: string
  nvlinkDomain?: string
}

/** Most characters of a string attribute value (resource.k8s.io/v1 DeviceAttributeMaxValueLength). */
const ATTRIBUTE_VALUE_MAX_LENGTH = 64

/**
 * The name of NVLink domain `k` of a host: `<host>-nvl<k>`, as the nvidia-smi source names them
 * (k = 0 for an NVSwitch host, the pair number for bridged pairs); `nvl<k>` when the host name
 * would make it longer than an attribute value may be.
 */
export function nvlinkDomainName(host: string, k: number): string {
  const name = `${host}-nvl${k}`
  return name.length <= ATTRIBUTE_VALUE_MAX_LENGTH ? name : `nvl${k}`
}

/**
 * Places GPUs 0..count-1 of host `host`. NUMA: the explicit `numa` list, else `numaNodes` (default 1) even
 * blocks in index order (the first `count % numaNodes` nodes take one more). PCIe: the explicit
 * `pcieRoots`, else runs of `gpusPerPcieRoot` (default: the whole NUMA node) within each NUMA node,
 * with buses spread evenly over 00..ff in domain 0000. A GPU's bus is its root's bus + 1 + its
 * position below the root. Assumes a Cluster that passed checkCluster (lists cover every GPU).
 */
export function placeGpus(host: string, count: number, topology: ClusterTopology = {}): GpuPlacement[] {
  const numa = numaOf(count, topology)
  const roots = rootsOf(count, topology, numa)
  const positions = new Map<number, number>()
  return Array.from({ length: count }, (_, i) => {
    const root = roots[i]
    const position = positions.get(root.bus) ?? 0
    positions.set(root.bus, position + 1)
    const bus = (root.bus + 1 + position) % 256
    const placement: GpuPlacement = { numaNode: numa[i], pcieRoot: root.name, pciBusId: `${root.domain}:${hex2(bus)}:00.0` }
    const domain = nvlinkDomainOf(host, i, count, topology.nvlink)
    if (domain) placement.nvlinkDomain = domain
    return placement
  })
}

/** NUMA node of each GPU index. */
function numaOf(count: number, topology: ClusterTopology): number[] {
  const out = new Array<number>(count).fill(0)
  if (topology.numa) {
    for (const n of topology.numa) for (const gpu of n.gpus) out[gpu] = n.id
    return out
  }
  const nodes = topology.numaNodes ?? 1
  blocks(count, nodes).forEach((block, node) => block.forEach((gpu) => (out[gpu] = node)))
  return out
}

interface Root {
  name: string
  domain: string
  bus: number
}

/** PCIe root of each GPU index. */
function rootsOf(count: number, topology: ClusterTopology, numa: number[]): Root[] {
  const out = new Array<Root>(count)
  if (topology.pcieRoots) {
    for (const r of topology.pcieRoots) {
      const [, domain, bus] = /^pci([0-9a-f]{4}):([0-9a-f]{2})$/.exec(r.name)!
      for (const gpu of r.gpus) out[gpu] = { name: r.name, domain, bus: parseInt(bus, 16) }
    }
    return out
  }
  // Group GPUs by NUMA node (nodes in ascending id, GPUs in index order), then cut runs.
  const byNode = new Map<number, number[]>()
  numa.forEach((node, gpu) => byNode.set(node, [...(byNode.get(node) ?? []), gpu]))
  const runs: number[][] = []
  for (const node of [...byNode.keys()].sort((a, b) => a - b)) {
    const gpus = byNode.get(node)!
    const per = topology.gpusPerPcieRoot ?? gpus.length
    for (let i = 0; i < gpus.length; i += per) runs.push(gpus.slice(i, i + per))
  }
  runs.forEach((run, r) => {
    const bus = Math.floor((r * 256) / runs.length)
    for (const gpu of run) out[gpu] = { name: `pci0000:${hex2(bus)}`, domain: '0000', bus }
  })
  return out
}

/** The NVLink domain of GPU `index` of a host of `count` GPUs (also used by the dashboard to draw hypervisors, which publish nothing). */
export function nvlinkDomainOf(host: string, index: number, count: number, nvlink: ClusterTopology['nvlink']): string | undefined {
  if (nvlink === 'nvswitch') return count > 1 ? nvlinkDomainName(host, 0) : undefined
  if (nvlink === 'pairs') {
    const pair = Math.floor(index / 2)
    return pair * 2 + 1 < count ? nvlinkDomainName(host, pair) : undefined
  }
  return undefined
}

/** Splits 0..count-1 into `parts` consecutive blocks, the first `count % parts` one longer. */
function blocks(count: number, parts: number): number[][] {
  const out: number[][] = []
  let next = 0
  for (let p = 0; p < parts; p++) {
    const size = Math.floor(count / parts) + (p < count % parts ? 1 : 0)
    out.push(Array.from({ length: size }, (_, i) => next + i))
    next += size
  }
  return out
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0')
}
