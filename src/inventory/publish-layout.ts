// Packing a host's devices and counter sets into the ResourceSlices of one pool, in the 1.35+ or the 1.34 layout.
import * as L from '../api/limits.ts'
import type { CounterSet, Device, ResourceSlice } from '../api/resource-v1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { GPU_DRIVER } from './types.ts'

/** What one GPU publishes: its devices and the counter sets they consume. */
export interface GpuUnit {
  gpu: number
  devices: Device[]
  counterSets: CounterSet[]
}

/**
 * 'split' (Kubernetes 1.35+, the default): counter sets in counters-only slices, devices in
 * slices of their own, counters resolved pool-wide. 'combined' (Kubernetes 1.34): each slice holds
 * the counter sets its devices consume next to them.
 */
export type SliceLayout = 'split' | 'combined'

/**
 * Limits of the 1.34 layout (k8s.io/api resource/v1 types.go at kubernetes-1.34): a slice's counter
 * sets hold at most 32 counters in all (ResourceSliceMaxSharedCounters), and its devices consume at
 * most 1024 counters in all (ResourceSliceMaxDeviceCountersPerSlice).
 */
export { RESOURCE_SLICE_MAX_SHARED_COUNTERS_1_34 as V134_MAX_SHARED_COUNTERS, RESOURCE_SLICE_MAX_DEVICE_COUNTERS_PER_SLICE_1_34 as V134_MAX_DEVICE_COUNTERS_PER_SLICE } from '../api/limits.ts'
import { RESOURCE_SLICE_MAX_SHARED_COUNTERS_1_34 as V134_MAX_SHARED_COUNTERS, RESOURCE_SLICE_MAX_DEVICE_COUNTERS_PER_SLICE_1_34 as V134_MAX_DEVICE_COUNTERS_PER_SLICE } from '../api/limits.ts'

/** The generation gpuplane publishes pools at (the NVIDIA driver's first generation). */
export const POOL_GENERATION = 1

export function sliceName(node: string, n: number): string {
  return `${node}-${GPU_DRIVER}-${n}`
}

const consumes = (d: Device) => (d.consumesCounters?.length ?? 0) > 0
const consumedCount = (d: Device) => (d.consumesCounters ?? []).reduce((n, c) => n + Object.keys(c.counters).length, 0)
const counterCount = (sets: CounterSet[]) => sets.reduce((n, s) => n + Object.keys(s.counters).length, 0)

/** Builds the pool's slices: names `<node>-gpu.nvidia.com-<n>`, nodeName on every slice, resourceSliceCount set. */
export function layoutSlices(node: string, units: GpuUnit[], layout: SliceLayout): ResourceSlice[] {
  const specs = layout === 'split' ? splitLayout(units) : combinedLayout(units)
  if (specs.length > 0 && sliceName(node, specs.length - 1).length > 253) {
    throw new GpuplaneError('INVALID_INPUT', `node name ${node} is too long for slice names (<node>-${GPU_DRIVER}-<n> must stay within 253 characters)`)
  }
  return specs.map((s, n) => ({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: sliceName(node, n) },
    spec: {
      driver: GPU_DRIVER,
      pool: { name: node, generation: POOL_GENERATION, resourceSliceCount: specs.length },
      nodeName: node,
      ...(s.sharedCounters.length ? { sharedCounters: s.sharedCounters } : {}),
      ...(s.devices.length || !s.sharedCounters.length ? { devices: s.devices } : {}),
    },
  }))
}

interface SliceContent {
  devices: Device[]
  sharedCounters: CounterSet[]
}

/** Counter sets first, at most ResourceSliceMaxCounterSets per slice; then devices, 128 per slice or 64 where any consumes counters. */
function splitLayout(units: GpuUnit[]): SliceContent[] {
  const out: SliceContent[] = []
  const sets = units.flatMap((u) => u.counterSets)
  for (let i = 0; i < sets.length; i += L.RESOURCE_SLICE_MAX_COUNTER_SETS) out.push({ devices: [], sharedCounters: sets.slice(i, i + L.RESOURCE_SLICE_MAX_COUNTER_SETS) })
  let current: Device[] = []
  let advanced = false
  for (const device of units.flatMap((u) => u.devices)) {
    const nextAdvanced: boolean = advanced || consumes(device)
    const max = nextAdvanced ? L.RESOURCE_SLICE_MAX_DEVICES_WITH_ADVANCED_FEATURES : L.RESOURCE_SLICE_MAX_DEVICES
    if (current.length + 1 > max) {
      out.push({ devices: current, sharedCounters: [] })
      current = []
      advanced = consumes(device)
    } else {
      advanced = nextAdvanced
    }
    current.push(device)
  }
  if (current.length) out.push({ devices: current, sharedCounters: [] })
  return out
}

/** Whole GPUs per slice, each with the counter sets its devices consume, within the 1.34 limits. */
function combinedLayout(units: GpuUnit[]): SliceContent[] {
  const out: SliceContent[] = []
  let current: SliceContent = { devices: [], sharedCounters: [] }
  const fits = (c: SliceContent) => {
    const max = c.devices.some(consumes) ? L.RESOURCE_SLICE_MAX_DEVICES_WITH_ADVANCED_FEATURES : L.RESOURCE_SLICE_MAX_DEVICES
    return (
      c.devices.length <= max &&
      c.sharedCounters.length <= L.RESOURCE_SLICE_MAX_COUNTER_SETS &&
      counterCount(c.sharedCounters) <= V134_MAX_SHARED_COUNTERS &&
      c.devices.reduce((n, d) => n + consumedCount(d), 0) <= V134_MAX_DEVICE_COUNTERS_PER_SLICE
    )
  }
  for (const unit of units) {
    const alone: SliceContent = { devices: unit.devices, sharedCounters: unit.counterSets }
    if (!fits(alone)) {
      throw new GpuplaneError(
        'INVALID_INPUT',
        `GPU ${unit.gpu} publishes ${unit.devices.length} devices and ${counterCount(unit.counterSets)} counters, more than one slice of the Kubernetes 1.34 layout holds (64 devices with counters, ${V134_MAX_SHARED_COUNTERS} counters, ${V134_MAX_DEVICE_COUNTERS_PER_SLICE} consumed counters); publish with layout 'split' (Kubernetes 1.35+)`,
      )
    }
    const merged: SliceContent = { devices: [...current.devices, ...unit.devices], sharedCounters: [...current.sharedCounters, ...unit.counterSets] }
    if (fits(merged)) current = merged
    else {
      out.push(current)
      current = alone
    }
  }
  if (current.devices.length || current.sharedCounters.length) out.push(current)
  return out
}
