// Small constructors for DRA objects in tests and benchmarks (typed, already in decoded form).
import type { DeviceAttribute, Device, DeviceClass, DeviceRequest, ResourceClaim, ResourceSlice } from '../src/api/resource-v1.ts'

export type AttrValue = string | number | bigint | boolean | { version: string }

export function attrs(values: Record<string, AttrValue>): Record<string, DeviceAttribute> {
  const out: Record<string, DeviceAttribute> = {}
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === 'string') out[k] = { string: v }
    else if (typeof v === 'boolean') out[k] = { bool: v }
    else if (typeof v === 'number' || typeof v === 'bigint') out[k] = { int: BigInt(v) }
    else out[k] = { version: v.version }
  }
  return out
}

export function device(name: string, values: Record<string, AttrValue> = {}, extra: Partial<Device> = {}): Device {
  return { name, attributes: attrs(values), ...extra }
}

export function slice(name: string, driver: string, pool: string, devices: Device[], extra: Partial<ResourceSlice['spec']> = {}): ResourceSlice {
  const spec: ResourceSlice['spec'] = { driver, pool: { name: pool, generation: 0, resourceSliceCount: 1 }, devices, ...extra }
  if (!spec.nodeName && !spec.allNodes && !spec.nodeSelector && !spec.perDeviceNodeSelection) spec.nodeName = pool
  return { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name }, spec }
}

export function deviceClass(name: string, expression?: string, extra: Partial<DeviceClass['spec']> = {}): DeviceClass {
  return { apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name }, spec: { ...(expression ? { selectors: [{ cel: { expression } }] } : {}), ...extra } }
}

export function request(name: string, deviceClassName: string, opts: { count?: number; selector?: string; mode?: 'All' | 'ExactCount'; adminAccess?: boolean; capacity?: Record<string, string> } = {}): DeviceRequest {
  return {
    name,
    exactly: {
      deviceClassName,
      ...(opts.count !== undefined ? { count: opts.count } : {}),
      ...(opts.selector ? { selectors: [{ cel: { expression: opts.selector } }] } : {}),
      ...(opts.mode ? { allocationMode: opts.mode } : {}),
      ...(opts.adminAccess !== undefined ? { adminAccess: opts.adminAccess } : {}),
      ...(opts.capacity ? { capacity: { requests: opts.capacity } } : {}),
    },
  }
}

export function claim(name: string, requests: DeviceRequest[], extra: Partial<NonNullable<ResourceClaim['spec']['devices']>> = {}, namespace = 'default'): ResourceClaim {
  return { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace, uid: `uid-${namespace}-${name}` }, spec: { devices: { requests, ...extra } } }
}
