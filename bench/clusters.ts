// Generated clusters and claims for the allocator benchmark: NVIDIA-style whole GPUs, dynamic MIG, shared GPUs.
//
// Attribute names and MIG placements follow the NVIDIA DRA driver and the H100 80GB MIG table in
// src/catalog's source data (../shared/data/gpu-catalog-sources.json: 1g.10gb {0..6}:1,
// 1g.20gb {0,2,4,6}:2, 2g.20gb {0,2,4}:2, 3g.40gb {0,4}:4, 4g.40gb {0}:4, 7g.80gb {0}:8).
// Objects are built directly (already decoded) and share identical sub-objects, as a real
// informer cache would not, so that 760,000 devices fit in memory; the allocator never mutates them.
import type { Device, DeviceAttribute, DeviceClass, ResourceClaim, ResourceSlice } from '../src/api/resource-v1.ts'

export const NV = 'gpu.nvidia.com'
export const H100 = 'NVIDIA H100 80GB HBM3'

const str = (s: string): DeviceAttribute => ({ string: s })
const TYPE_GPU = str('gpu')
const TYPE_MIG = str('mig')
const PRODUCT = str(H100)
const ARCH = str('Hopper')
const CC = { version: '9.0.0' }
const DRIVER_VERSION = { version: '580.95.5' }

export const MIG_PROFILES = [
  { name: '1g.10gb', id: 19, starts: [0, 1, 2, 3, 4, 5, 6], size: 1, sms: 16, memGi: '9.75Gi' },
  { name: '1g.20gb', id: 15, starts: [0, 2, 4, 6], size: 2, sms: 26, memGi: '19.62Gi' },
  { name: '2g.20gb', id: 14, starts: [0, 2, 4], size: 2, sms: 32, memGi: '19.62Gi' },
  { name: '3g.40gb', id: 9, starts: [0, 4], size: 4, sms: 60, memGi: '39.5Gi' },
  { name: '4g.40gb', id: 5, starts: [0], size: 4, sms: 64, memGi: '39.5Gi' },
  { name: '7g.80gb', id: 0, starts: [0], size: 8, sms: 132, memGi: '79.25Gi' },
]

export function classes(): DeviceClass[] {
  const cls = (name: string, expression: string): DeviceClass => ({ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name }, spec: { selectors: [{ cel: { expression } }] } })
  return [
    cls('gpu.nvidia.com', `device.driver == '${NV}' && device.attributes['${NV}'].type == 'gpu'`),
    cls('mig.nvidia.com', `device.driver == '${NV}' && device.attributes['${NV}'].type == 'mig'`),
    cls('shared-gpu.nvidia.com', `device.driver == '${NV}' && device.allowMultipleAllocations`),
  ]
}

function gpuAttributes(node: string, gpu: number): Record<string, DeviceAttribute> {
  return {
    type: TYPE_GPU,
    productName: PRODUCT,
    architecture: ARCH,
    cudaComputeCapability: CC,
    driverVersion: DRIVER_VERSION,
    uuid: str(`GPU-${node}-${gpu}`),
    'resource.kubernetes.io/pcieRoot': str(`pci0000:${gpu < 4 ? '1a' : '9a'}`),
    'gpuplane.io/nvlinkDomain': str(`${node}-nvl0`),
  }
}

/** One slice per node with 8 whole H100s (scenario a). */
export function wholeGpuNode(node: string): ResourceSlice {
  const devices: Device[] = Array.from({ length: 8 }, (_, i) => ({ name: `gpu-${i}`, attributes: gpuAttributes(node, i), capacity: { memory: { value: '80Gi' } } }))
  return { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: `${node}-gpu.nvidia.com` }, spec: { driver: NV, pool: { name: node, generation: 0, resourceSliceCount: 1 }, nodeName: node, devices } }
}

const COUNTERS = Object.fromEntries([...Array.from({ length: 8 }, (_, i) => [`memory-slice-${i}`, { value: '1' }]), ['multiprocessors', { value: '132' }]])
const consumptionCache = new Map<string, Device['consumesCounters']>()
function consumes(gpu: number, first: number, size: number, sms: number): Device['consumesCounters'] {
  const key = `${gpu}/${first}/${size}/${sms}`
  let c = consumptionCache.get(key)
  if (!c) {
    const counters: Record<string, { value: string }> = { multiprocessors: { value: String(sms) } }
    for (let s = first; s < first + size; s++) counters[`memory-slice-${s}`] = { value: '1' }
    c = [{ counterSet: `gpu-${gpu}-counter-set`, counters }]
    consumptionCache.set(key, c)
  }
  return c
}

/**
 * A node in the NVIDIA driver's DynamicMIG layout (Kubernetes 1.35+ split slices): per GPU one
 * counters-only slice and one slice with the whole GPU plus every legal MIG placement, each
 * consuming the memory slices and multiprocessors it occupies.
 */
export function dynamicMigNode(node: string): ResourceSlice[] {
  const slices: ResourceSlice[] = []
  const pool = { name: node, generation: 0, resourceSliceCount: 16 }
  for (let g = 0; g < 8; g++) {
    slices.push({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: `${node}-gpu-${g}-counters` }, spec: { driver: NV, pool, nodeName: node, sharedCounters: [{ name: `gpu-${g}-counter-set`, counters: COUNTERS }] } })
    const gpuAttrs = gpuAttributes(node, g)
    const parent = str(`GPU-${node}-${g}`)
    const devices: Device[] = [{ name: `gpu-${g}`, attributes: gpuAttrs, capacity: { memory: { value: '80Gi' } }, consumesCounters: consumes(g, 0, 8, 132) }]
    for (const p of MIG_PROFILES) {
      const migAttrs = { type: TYPE_MIG, profile: str(p.name), productName: PRODUCT, parentUUID: parent, 'resource.kubernetes.io/pcieRoot': gpuAttrs['resource.kubernetes.io/pcieRoot'], 'gpuplane.io/nvlinkDomain': gpuAttrs['gpuplane.io/nvlinkDomain'] }
      for (const start of p.starts) {
        devices.push({ name: `gpu-${g}-mig-${p.name.replace('.', '')}-${p.id}-${start}`, attributes: migAttrs, capacity: { memory: { value: p.memGi } }, consumesCounters: consumes(g, start, p.size, p.sms) })
      }
    }
    slices.push({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: `${node}-gpu-${g}-devices` }, spec: { driver: NV, pool, nodeName: node, devices } })
  }
  return slices
}

/** A node whose 8 H100s are shared by memory (consumable capacity, 1Gi steps). */
export function sharedGpuNode(node: string): ResourceSlice {
  const devices: Device[] = Array.from({ length: 8 }, (_, i) => ({
    name: `gpu-${i}`,
    attributes: gpuAttributes(node, i),
    allowMultipleAllocations: true,
    capacity: { memory: { value: '80Gi', requestPolicy: { default: '80Gi', validRange: { min: '1Gi', max: '80Gi', step: '1Gi' } } } },
  }))
  return { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: `${node}-shared` }, spec: { driver: NV, pool: { name: node, generation: 0, resourceSliceCount: 1 }, nodeName: node, devices } }
}

export function claimOf(name: string, className: string, opts: { count?: number; selector?: string; matchAttribute?: string; memory?: string } = {}): ResourceClaim {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name, namespace: 'bench', uid: name },
    spec: {
      devices: {
        requests: [
          {
            name: 'gpu',
            exactly: {
              deviceClassName: className,
              ...(opts.count ? { count: opts.count } : {}),
              ...(opts.selector ? { selectors: [{ cel: { expression: opts.selector } }] } : {}),
              ...(opts.memory ? { capacity: { requests: { memory: opts.memory } } } : {}),
            },
          },
        ],
        ...(opts.matchAttribute ? { constraints: [{ matchAttribute: opts.matchAttribute }] } : {}),
      },
    },
  }
}
