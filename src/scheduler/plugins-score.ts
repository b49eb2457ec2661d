// Scoring plugins: binpack, spread and topology, over the GPUs of a node and the devices the DRA filter chose.
import type { DeviceAttribute } from '../api/resource-v1.ts'
import type { Snapshot } from '../allocator/index.ts'
import type { Plugin } from './framework.ts'
import { allocations } from './plugins-default.ts'
import type { ClusterView, SchedNode } from './types.ts'

type Attrs = Record<string, DeviceAttribute>
interface DeviceInfo {
  id: string
  gpu: string
  attributes: Attrs
}

const deviceIndex = new WeakMap<Snapshot, Map<string, DeviceInfo[]>>()

/** The node's devices with the physical GPU each belongs to (a MIG or vGPU device's parent). */
function nodeDevices(snapshot: Snapshot, node: string): DeviceInfo[] {
  let byNode = deviceIndex.get(snapshot)
  if (!byNode) deviceIndex.set(snapshot, (byNode = new Map()))
  let list = byNode.get(node)
  if (!list) {
    list = []
    for (const s of snapshot.slicesOnNode.get(node) ?? []) {
      for (const d of s.devices) {
        const a = (d.device.attributes ?? {}) as Attrs
        const gpu = a.parentUUID?.string ?? a.uuid?.string ?? d.id
        list.push({ id: d.id, gpu, attributes: a })
      }
    }
    byNode.set(node, list)
  }
  return list
}

/** Physical GPUs of the node, and those with any device in use (now, and with the cycle's allocation). */
function gpuUse(view: ClusterView, node: SchedNode, extra: Set<string>): { total: number; busy: number } {
  const all = new Set<string>()
  const busy = new Set<string>()
  for (const d of nodeDevices(view.snapshot, node.name)) {
    all.add(d.gpu)
    if (view.state.isAllocated(d.id) || extra.has(d.id)) busy.add(d.gpu)
  }
  return { total: all.size, busy: busy.size }
}

function chosenDevices(ctx: Parameters<NonNullable<Plugin['score']>>[0], node: SchedNode): Set<string> {
  const ids = new Set<string>()
  for (const a of allocations(ctx).get(node.name) ?? []) for (const r of a.devices?.results ?? []) ids.add(`${r.driver}/${r.pool}/${r.device}`)
  return ids
}

/** Prefer nodes whose GPUs are already in use: keeps whole nodes free for large workloads. */
export const binpack: Plugin = {
  name: 'binpack',
  nodeLocalScore: true,
  score(ctx, node) {
    const { total, busy } = gpuUse(ctx.view, node, chosenDevices(ctx, node))
    return total === 0 ? 0 : Math.round((100 * busy) / total)
  },
  scoreDevice(ctx, node, device, attributes) {
    // Inside a node, prefer devices of GPUs already in use.
    const gpu = (attributes as Attrs).parentUUID?.string ?? (attributes as Attrs).uuid?.string
    if (!gpu) return 0
    return nodeDevices(ctx.view.snapshot, node.name).some((d) => d.gpu === gpu && ctx.view.state.isAllocated(d.id)) ? 1 : 0
  },
}

/** Prefer the least used nodes: spreads load and failure domains. */
export const spread: Plugin = {
  name: 'spread',
  nodeLocalScore: true,
  score(ctx, node) {
    const { total, busy } = gpuUse(ctx.view, node, chosenDevices(ctx, node))
    return total === 0 ? 100 : Math.round(100 - (100 * busy) / total)
  },
}

const TOPOLOGY_KEYS: Array<[string, number]> = [
  ['gpuplane.io/nvlinkDomain', 50],
  ['resource.kubernetes.io/pcieRoot', 25],
  ['resource.kubernetes.io/numaNode', 15],
]

/**
 * Prefer device sets inside one NVLink domain, then one PCIe root, then one NUMA node; and prefer
 * taking from NVLink domains already in use, leaving whole domains free for multi-GPU claims.
 */
export const topology: Plugin = {
  name: 'topology',
  nodeLocalScore: true,
  preferredMatchAttributes: TOPOLOGY_KEYS.map(([key]) => key),
  scoreDevice(ctx, node, _device, attributes) {
    // Finish NVLink domains already in use before opening a free one.
    const domain = (attributes as Attrs)['gpuplane.io/nvlinkDomain']?.string
    if (!domain) return 0
    return nodeDevices(ctx.view.snapshot, node.name).some((d) => d.attributes['gpuplane.io/nvlinkDomain']?.string === domain && ctx.view.state.isAllocated(d.id)) ? 1 : 0
  },
  score(ctx, node) {
    const chosen = chosenDevices(ctx, node)
    if (chosen.size === 0) return 0
    const devices = nodeDevices(ctx.view.snapshot, node.name)
    const picked = devices.filter((d) => chosen.has(d.id))
    let score = 0
    for (const [key, points] of TOPOLOGY_KEYS) {
      const values = new Set(picked.map((d) => attributeKey(d.attributes[key])))
      if (values.size === 1 && !values.has('')) score += points
    }
    // Taking from a domain that was entirely free breaks it up for future multi-GPU claims.
    const domains = new Set(picked.map((d) => d.attributes['gpuplane.io/nvlinkDomain']?.string).filter(Boolean))
    const brokeFreeDomain = [...domains].some((dom) => !devices.some((d) => d.attributes['gpuplane.io/nvlinkDomain']?.string === dom && ctx.view.state.isAllocated(d.id)))
    if (!brokeFreeDomain) score += 10
    return score
  },
}

/** A comparable text for an attribute value (int values are bigints); '' when absent. */
function attributeKey(a: DeviceAttribute | undefined): string {
  if (a === undefined) return ''
  if (a.int !== undefined) return `int:${a.int}`
  if (a.bool !== undefined) return `bool:${a.bool}`
  if (a.version !== undefined) return `version:${a.version}`
  return `string:${a.string ?? ''}`
}
