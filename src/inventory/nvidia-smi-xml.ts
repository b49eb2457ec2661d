// Parser of `nvidia-smi -q -x`: per GPU its identity, PCI address, memory, driver, MIG mode and the
// MIG devices (GPU instance / compute instance pairs) that exist.
//
// What the XML (DTD nvsmi_device_v13, driver 580) does and does not say:
// - GPUs appear in nvidia-smi index order (the index of `nvidia-smi`, `-i`, `mig -lgip` and
//   `topo -m`); <minor_number> is the /dev/nvidia<N> number, which is what GpuInfo.index holds.
//   The two agree on most hosts but need not, so other listings are joined by position.
// - No NUMA node, no hostname, no root-complex path: numaNode comes from `topo -m`, the node name
//   from the caller, pcieRoot is approximated (see pcieRoot below).
// - A <mig_device> has GPU instance id, compute instance id, its shared engine counts and memory,
//   but neither profile name nor placement: those come from `nvidia-smi mig -lgi`
//   (see nvidia-smi-mig-devices.ts).

import { XMLParser, XMLValidator } from 'fast-xml-parser'
import type { GpuInfo } from './types.ts'
import { invalidInput, isNotAvailable, parseCount, parseMiB, parsePciBusId, pcieRootName } from './nvidia-smi-common.ts'
import { resolveMigDevices, type MigListings, type XmlMigDevice } from './nvidia-smi-mig-devices.ts'

const SOURCE = 'nvidia-smi -q -x'

export interface NvidiaSmiXml {
  driverVersion?: string
  cudaVersion?: string
  /**
   * In nvidia-smi index order. pcieRoot is the GPU's own bus (see parseGpu); numaNode is unset;
   * migDevices is set only when MIG listings were given to place the XML's MIG devices.
   */
  gpus: GpuInfo[]
  /** The MIG devices as the XML lists them, for every GPU (gpu = nvidia-smi index). */
  migDevices: XmlMigDevice[]
}

type XmlNode = Record<string, unknown>

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  htmlEntities: false,
  isArray: (_name, jpath) => {
    const p = String(jpath)
    return p === 'nvidia_smi_log.gpu' || p === 'nvidia_smi_log.gpu.mig_devices.mig_device'
  },
})

/**
 * Parses `nvidia-smi -q -x`. With `mig` listings (`nvidia-smi mig -lgi`, or -lgip with -lgipp as a
 * weaker fallback), also fills GpuInfo.migDevices and throws when a MIG device cannot be placed.
 */
export function parseNvidiaSmiXml(xml: string, mig?: MigListings): NvidiaSmiXml {
  const root = parseRoot(xml)
  const out: NvidiaSmiXml = { gpus: [], migDevices: [] }
  const driverVersion = optionalText(root, 'driver_version')
  const cudaVersion = optionalText(root, 'cuda_version')
  if (driverVersion !== undefined) out.driverVersion = driverVersion
  if (cudaVersion !== undefined) out.cudaVersion = cudaVersion
  const gpuNodes = (root['gpu'] ?? []) as unknown[]
  gpuNodes.forEach((node, position) => {
    const path = `nvidia_smi_log.gpu[${position}]`
    if (!isNode(node)) throw invalidInput(SOURCE, 'expected a <gpu> element with child elements', path)
    out.gpus.push(parseGpu(node, position, out, path))
    out.migDevices.push(...parseMigDevices(node, position, path))
  })
  checkUnique(out.gpus)
  if (mig && out.migDevices.length > 0) {
    const { devices } = resolveMigDevices(out.migDevices, mig)
    for (const [position, list] of devices) out.gpus[position]!.migDevices = list
  }
  return out
}

function parseRoot(xml: string): XmlNode {
  const valid = XMLValidator.validate(xml)
  if (valid !== true) {
    const { line, col, msg } = valid.err
    const at = col === undefined ? `line ${line}` : `line ${line}, column ${col}`
    throw invalidInput(SOURCE, `not well-formed XML at ${at}: ${msg.replace(/\.$/, '')}; expected the output of \`nvidia-smi -q -x\``)
  }
  const doc = parser.parse(xml) as XmlNode
  if (!('nvidia_smi_log' in doc)) throw invalidInput(SOURCE, 'expected the root element <nvidia_smi_log> of `nvidia-smi -q -x` output')
  const root = doc['nvidia_smi_log']
  // <nvidia_smi_log></nvidia_smi_log> parses as an empty string: a log without GPUs.
  return isNode(root) ? root : {}
}

function parseGpu(node: XmlNode, position: number, log: NvidiaSmiXml, path: string): GpuInfo {
  const uuid = requiredText(node, 'uuid', path)
  const productName = requiredText(node, 'product_name', path)
  const minor = optionalText(node, 'minor_number')
  const gpu: GpuInfo = {
    index: minor === undefined ? position : (parseCount(minor, SOURCE, `${path}.minor_number`) ?? position),
    uuid,
    productName,
  }
  const pci = child(node, 'pci')
  const busText = (pci && optionalText(pci, 'pci_bus_id')) ?? optionalText(node, '@_id')
  if (busText !== undefined) {
    const addr = parsePciBusId(busText, SOURCE, `${path}.pci.pci_bus_id`)
    gpu.pciBusId = addr.busId
    // resource.kubernetes.io/pcieRoot names the root complex (host bridge) the GPU hangs off:
    // "pci<domain>:<root bus>", read by Kubernetes from the sysfs path
    // /sys/devices/pci0000:00/0000:00:01.0/.../<BDF>. nvidia-smi shows only the GPU's own BDF,
    // and the root bus is at most the GPU's bus (buses below a root are numbered after it), not
    // derivable from it. We take the GPU's own bus: exact when the GPU sits on the root bus (as
    // in both fixtures, 0000:00:06.0 in a VM), otherwise a stand-in that is unique per GPU.
    // inventoryFromNvidiaSmi then gives GPUs that `topo -m` shows under one host bridge the same
    // value. A NIC driver reading sysfs will publish the true name, so cross-driver
    // matchAttribute on pcieRoot only lines up where the GPU sits on the root bus.
    gpu.pcieRoot = pcieRootName(addr.domain, addr.bus)
  }
  const fb = child(node, 'fb_memory_usage')
  const total = fb && optionalText(fb, 'total')
  const memoryMiB = total === undefined ? undefined : parseMiB(total, SOURCE, `${path}.fb_memory_usage.total`)
  if (memoryMiB !== undefined) gpu.memoryMiB = memoryMiB
  if (log.driverVersion !== undefined) gpu.driverVersion = log.driverVersion
  if (log.cudaVersion !== undefined) gpu.cudaDriverVersion = log.cudaVersion
  const migMode = child(node, 'mig_mode')
  const current = migMode && optionalText(migMode, 'current_mig')
  if (current !== undefined) {
    if (/^enabled$/i.test(current)) gpu.migEnabled = true
    else if (/^disabled$/i.test(current)) gpu.migEnabled = false
    else throw invalidInput(SOURCE, `expected Enabled, Disabled or N/A, got "${current}"`, `${path}.mig_mode.current_mig`)
  }
  return gpu
}

function parseMigDevices(node: XmlNode, position: number, gpuPath: string): XmlMigDevice[] {
  const container = child(node, 'mig_devices')
  if (!container) return [] // "None", N/A or absent
  const list = (container['mig_device'] ?? []) as unknown[]
  return list.map((dev, k) => {
    const path = `${gpuPath}.mig_devices.mig_device[${k}]`
    if (!isNode(dev)) throw invalidInput(SOURCE, 'expected a <mig_device> element with child elements', path)
    const id = (name: string): number => {
      const n = parseCount(requiredText(dev, name, path), SOURCE, `${path}.${name}`)
      if (n === undefined) throw invalidInput(SOURCE, `expected a number, got N/A`, `${path}.${name}`)
      return n
    }
    const out: XmlMigDevice = { gpu: position, gpuInstanceId: id('gpu_instance_id'), computeInstanceId: id('compute_instance_id') }
    const index = optionalText(dev, 'index')
    if (index !== undefined) setIfCount(out, 'index', index, `${path}.index`)
    const uuid = optionalText(dev, 'uuid')
    if (uuid !== undefined) out.uuid = uuid
    const shared = child(child(dev, 'device_attributes') ?? {}, 'shared')
    if (shared) {
      const fields = [
        ['multiprocessor_count', 'multiprocessors'],
        ['copy_engine_count', 'copyEngines'],
        ['encoder_count', 'encoders'],
        ['decoder_count', 'decoders'],
        ['ofa_count', 'ofaEngines'],
        ['jpg_count', 'jpegEngines'],
      ] as const
      for (const [tag, field] of fields) {
        const v = optionalText(shared, tag)
        if (v !== undefined) setIfCount(out, field, v, `${path}.device_attributes.shared.${tag}`)
      }
    }
    const fb = child(dev, 'fb_memory_usage')
    const total = fb && optionalText(fb, 'total')
    const mem = total === undefined ? undefined : parseMiB(total, SOURCE, `${path}.fb_memory_usage.total`)
    if (mem !== undefined) out.memoryMiB = mem
    return out
  })
}

type CountField = 'index' | 'multiprocessors' | 'copyEngines' | 'encoders' | 'decoders' | 'ofaEngines' | 'jpegEngines'

function setIfCount(dev: XmlMigDevice, field: CountField, value: string, path: string): void {
  const n = parseCount(value, SOURCE, path)
  if (n !== undefined) dev[field] = n
}

function checkUnique(gpus: GpuInfo[]): void {
  const seen = new Map<string, number>()
  gpus.forEach((g, i) => {
    for (const key of [`uuid ${g.uuid}`, `minor_number ${g.index}`]) {
      const first = seen.get(key)
      if (first !== undefined) throw invalidInput(SOURCE, `GPUs ${first} and ${i} have the same ${key}`, `nvidia_smi_log.gpu[${i}]`)
      seen.set(key, i)
    }
  })
}

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function child(node: XmlNode, name: string): XmlNode | undefined {
  const v = node[name]
  return isNode(v) ? v : undefined
}

/** Text of a leaf (or of an attribute); undefined when absent, empty or N/A. */
function optionalText(node: XmlNode, name: string): string | undefined {
  let v = node[name]
  if (isNode(v)) v = v['#text']
  if (typeof v !== 'string' && typeof v !== 'number') return undefined
  const s = String(v).trim()
  return isNotAvailable(s) ? undefined : s
}

function requiredText(node: XmlNode, name: string, path: string): string {
  const v = optionalText(node, name)
  if (v === undefined) throw invalidInput(SOURCE, `expected a value in <${name}>, found none or N/A`, `${path}.${name}`)
  return v
}
