// nvidia-smi outputs of one host -> one HostInfo: the XML for the GPUs, `mig` listings for MIG
// profiles, placements and instances, `topo -m` for NUMA, NVLink domains and PCIe grouping.
//
// Joins between listings use nvidia-smi's GPU index (the XML's order); the tables returned here are
// re-keyed by GpuInfo.index (the minor number) so that the publisher can look them up per GPU.
// GpuInfo.model is left unset: the publisher resolves it from productName through the catalog.

import type { GpuInfo, HostInfo, MigProfileRead } from './types.ts'
import { invalidInput, parsePciBusId, pcieRootName } from './nvidia-smi-common.ts'
import { parseMigInstances, parseMigPlacements, parseMigProfiles } from './nvidia-smi-mig.ts'
import type { MigGpuInstance, MigPlacementOptions, MigPlacementTable, MigProfile, MigProfileTable } from './nvidia-smi-mig.ts'
import { resolveMigDevices } from './nvidia-smi-mig-devices.ts'
import { parseTopology, type Topology } from './nvidia-smi-topo.ts'
import { parseNvidiaSmiXml } from './nvidia-smi-xml.ts'

export { parseNvidiaSmiXml, type NvidiaSmiXml } from './nvidia-smi-xml.ts'
export {
  parseMigInstances,
  parseMigPlacements,
  parseMigProfiles,
  type MigGpuInstance,
  type MigInstanceTable,
  type MigPlacementOptions,
  type MigPlacementTable,
  type MigProfile,
  type MigProfileTable,
} from './nvidia-smi-mig.ts'
export { resolveMigDevices, type MigListings, type XmlMigDevice } from './nvidia-smi-mig-devices.ts'
export { parseTopology, type TopoGpu, type TopoPair, type Topology } from './nvidia-smi-topo.ts'

export interface NvidiaSmiInput {
  /** `nvidia-smi -q -x` */
  xml: string
  /** `nvidia-smi mig -lgip` */
  migProfiles?: string
  /** `nvidia-smi mig -lgipp` */
  migPlacements?: string
  /** `nvidia-smi mig -lgi`: needed to place existing MIG devices (the XML has no placement). */
  migInstances?: string
  /** `nvidia-smi topo -m` */
  topo?: string
  /** Kubernetes node name; default "localhost" (the XML carries no hostname). */
  node?: string
  /** Physical host, when the node is a virtual machine on it. */
  host?: string
}

export interface NvidiaSmiInventory {
  host: HostInfo
  /** GpuInfo.index -> GPU instance profiles; present when migProfiles was given. */
  migProfiles?: Map<number, MigProfile[]>
  /** GpuInfo.index -> profile id -> legal placements; present when migPlacements was given. */
  migPlacements?: Map<number, Map<number, MigPlacementOptions>>
  /** GpuInfo.index -> GPU instances, including those without compute instances; present when migInstances was given. */
  migInstances?: Map<number, MigGpuInstance[]>
  /** The parsed matrix (nvidia-smi indices); present when topo was given. */
  topology?: Topology
  /** Facts the HostInfo cannot carry (GPU instances without compute instances, ...). */
  warnings: string[]
}

/** Combines the nvidia-smi outputs of one host; throws INVALID_INPUT naming the listing that is wrong. */
export function inventoryFromNvidiaSmi(input: NvidiaSmiInput): NvidiaSmiInventory {
  const xml = parseNvidiaSmiXml(input.xml)
  const gpus = xml.gpus
  const profiles = input.migProfiles === undefined ? undefined : parseMigProfiles(input.migProfiles)
  const placements = input.migPlacements === undefined ? undefined : parseMigPlacements(input.migPlacements)
  const instances = input.migInstances === undefined ? undefined : parseMigInstances(input.migInstances)
  const topology = input.topo === undefined ? undefined : parseTopology(input.topo)
  checkGpuIndices(gpus.length, 'nvidia-smi mig -lgip', profiles?.keys())
  checkGpuIndices(gpus.length, 'nvidia-smi mig -lgipp', placements?.keys())
  checkGpuIndices(gpus.length, 'nvidia-smi mig -lgi', instances?.keys())
  if (topology) checkTopology(gpus.length, topology)

  const node = input.node ?? 'localhost'
  const warnings: string[] = []
  if (topology) applyTopology(gpus, topology, node)
  if (xml.migDevices.length > 0 || instances) {
    const listings = { ...(instances && { instances }), ...(profiles && { profiles }), ...(placements && { placements }) }
    const resolved = resolveMigDevices(xml.migDevices, listings)
    for (const [position, list] of resolved.devices) gpus[position]!.migDevices = list
    warnings.push(...resolved.warnings)
  }

  if (profiles && placements) attachMigProfiles(gpus, profiles, placements)

  const host: HostInfo = { node, gpus }
  if (input.host !== undefined) host.host = input.host
  const out: NvidiaSmiInventory = { host, warnings }
  const byGpuIndex = <V>(table: Map<number, V> | undefined): Map<number, V> | undefined =>
    table && new Map([...table].map(([position, v]) => [gpus[position]!.index, v]))
  const p = byGpuIndex(profiles)
  const pp = byGpuIndex(placements)
  const gi = byGpuIndex(instances)
  if (p) out.migProfiles = p
  if (pp) out.migPlacements = pp
  if (gi) out.migInstances = gi
  if (topology) out.topology = topology
  return out
}

/** Listings read on another host (or with `-i`) name GPUs the XML does not have. */
function checkGpuIndices(count: number, source: string, indices: Iterable<number> | undefined): void {
  for (const i of indices ?? []) {
    if (i >= count) throw invalidInput(source, `lists GPU ${i} but \`nvidia-smi -q -x\` has ${count} GPU(s); read all listings on the same host without -i`)
  }
}

function checkTopology(count: number, topology: Topology): void {
  const indices = topology.gpus.map((g) => g.index)
  if (indices.length !== count || indices.some((v, i) => v !== i)) {
    throw invalidInput('nvidia-smi topo -m', `lists GPUs ${indices.join(', ')} but \`nvidia-smi -q -x\` has ${count} GPU(s) (0..${count - 1}); read both on the same host`)
  }
}

/**
 * NUMA node from the "NUMA Affinity" column (the XML has none); NVLink domain "<node>-nvl<k>" per
 * connected component of NV# links, numbered by their lowest GPU; pcieRoot shared by GPUs that the
 * matrix places under one host bridge: the lowest (domain, bus) among them, the closest stand-in
 * for the root bus nvidia-smi can give (the root bus is at most every bus below it).
 */
function applyTopology(gpus: GpuInfo[], topology: Topology, node: string): void {
  for (const t of topology.gpus) {
    const gpu = gpus[t.index]!
    if (gpu.numaNode === undefined && t.numaAffinity !== undefined) gpu.numaNode = t.numaAffinity
  }
  topology.nvlinkDomains.forEach((domain, k) => {
    for (const i of domain) gpus[i]!.nvlinkDomain = `${node}-nvl${k}`
  })
  for (const group of topology.pcieHostBridgeGroups) {
    const addrs = group.flatMap((i) => {
      const bdf = gpus[i]!.pciBusId
      return bdf === undefined ? [] : [parsePciBusId(bdf, 'nvidia-smi -q -x', `gpu[${i}].pci.pci_bus_id`)]
    })
    if (group.length < 2 || addrs.length !== group.length) continue
    if (addrs.some((a) => a.domain !== addrs[0]!.domain)) continue // one host bridge never spans PCI domains
    const bus = Math.min(...addrs.map((a) => a.bus))
    for (const i of group) gpus[i]!.pcieRoot = pcieRootName(addrs[0]!.domain, bus)
  }
}

/** Joins -lgip rows with their -lgipp placements onto each GPU, so publishing uses what the hardware said. */
function attachMigProfiles(gpus: GpuInfo[], profiles: MigProfileTable, placements: MigPlacementTable): void {
  for (const [position, rows] of profiles) {
    const forGpu = placements.get(position)
    if (!forGpu || rows.length === 0) continue
    gpus[position]!.migProfiles = rows.flatMap((row) => {
      const p = forGpu.get(row.id)
      if (!p) return []
      const read: MigProfileRead = {
        name: row.name,
        profileId: row.id,
        memoryGiB: row.memoryGiB,
        memoryMiB: row.memoryMiB,
        instancesTotal: row.instancesTotal,
        multiprocessors: row.multiprocessors,
        placements: p.starts.map((start) => ({ start, size: p.size })),
      }
      for (const k of ['copyEngines', 'decoders', 'encoders', 'jpegEngines', 'ofaEngines'] as const) if (row[k] !== undefined) read[k] = row[k]
      return [read]
    })
  }
}
