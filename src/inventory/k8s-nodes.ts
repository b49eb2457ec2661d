// Kubernetes Node objects (v1) for inventory hosts: name and labels, as `gpuplane allocate` reads them.
//
// The labels follow NVIDIA GPU feature discovery where one exists (`nvidia.com/gpu.product` with
// spaces turned into '-', `nvidia.com/gpu.count`, `nvidia.com/gpu.memory` in MiB, all of the
// first GPU) and gpuplane's own otherwise: `gpuplane.io/gpu-model` (the catalog key),
// `gpuplane.io/host` (the physical host, also on hosts themselves, so that one selector covers
// both), `gpuplane.io/virtual-machine` ("true" on VM worker nodes). The host's own `labels` are
// applied last and win.
import { gpuModel, modelForProductName } from '../catalog/index.ts'
import { ATTR_HOST, type HostInfo } from './types.ts'

export const LABEL_HOSTNAME = 'kubernetes.io/hostname'
export const LABEL_HOST = ATTR_HOST
export const LABEL_VIRTUAL_MACHINE = 'gpuplane.io/virtual-machine'
export const LABEL_GPU_MODEL = 'gpuplane.io/gpu-model'
export const LABEL_GPU_PRODUCT = 'nvidia.com/gpu.product'
export const LABEL_GPU_COUNT = 'nvidia.com/gpu.count'
export const LABEL_GPU_MEMORY = 'nvidia.com/gpu.memory'

/** k8s.io/apimachinery/pkg/util/validation: LabelValueMaxLength. */
const LABEL_VALUE_MAX_LENGTH = 63

export interface NodeObject {
  apiVersion: 'v1'
  kind: 'Node'
  metadata: { name: string; labels: Record<string, string> }
  status?: { capacity: Record<string, string>; allocatable: Record<string, string> }
}

/** Extra facts a source knows about a node besides its GPUs (trace nodes carry CPU and memory). */
export interface NodeExtras {
  cpuMilli?: number
  memoryMiB?: number
}

/** The Node object of an inventory host: the node its slices are published for. */
export function nodeObject(host: HostInfo, extras: NodeExtras = {}): NodeObject {
  const labels: Record<string, string> = { [LABEL_HOSTNAME]: labelValue(host.node) }
  labels[LABEL_HOST] = labelValue(host.host ?? host.node)
  if (host.host !== undefined && host.host !== host.node) labels[LABEL_VIRTUAL_MACHINE] = 'true'
  const first = host.gpus[0]
  if (first) {
    // The same model and memory the publisher resolves: the GPU's own, else the catalog's.
    const model = first.model !== undefined ? gpuModel(first.model) : modelForProductName(first.productName, first.memoryMiB)
    const memoryMiB = first.memoryMiB ?? model?.memoryMiB ?? (model ? Math.round(model.memoryGiB * 1024) : undefined)
    if (model) labels[LABEL_GPU_MODEL] = labelValue(model.key)
    labels[LABEL_GPU_PRODUCT] = labelValue(first.productName)
    labels[LABEL_GPU_COUNT] = String(host.gpus.length)
    if (memoryMiB !== undefined) labels[LABEL_GPU_MEMORY] = String(memoryMiB)
  }
  Object.assign(labels, host.labels ?? {})
  const node: NodeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: host.node, labels } }
  const capacity: Record<string, string> = {}
  if (extras.cpuMilli !== undefined) capacity.cpu = extras.cpuMilli % 1000 === 0 ? String(extras.cpuMilli / 1000) : `${extras.cpuMilli}m`
  if (extras.memoryMiB !== undefined) capacity.memory = `${extras.memoryMiB}Mi`
  if (Object.keys(capacity).length > 0) node.status = { capacity, allocatable: { ...capacity } }
  return node
}

/**
 * A string as a valid label value: characters outside [A-Za-z0-9-_.] become '-', at most 63
 * characters, starting and ending alphanumeric ("NVIDIA H100 80GB HBM3" -> "NVIDIA-H100-80GB-HBM3").
 */
export function labelValue(s: string): string {
  let v = s.replace(/[^A-Za-z0-9\-_.]+/g, '-').slice(0, LABEL_VALUE_MAX_LENGTH)
  v = v.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '')
  return v
}
