// Resource vectors of the quota ledger: resource names and their canonical order, vectors from a Namespace's quota, request clean-up, and amounts worded for messages.
import { GpuplaneError } from '../common/errors.ts'
import type { NamespaceResources } from '../api/namespace-v1alpha1.ts'
import { Quantity } from '../api/quantity.ts'

/** A resource: whole GPUs, GPU memory (bytes), CPU (millicores), memory (bytes), or GPUs of one model. */
export type ResourceName = 'gpus' | 'gpuMemory' | 'cpu' | 'memory' | `model:${string}`
/** An amount of each resource; a resource left out is 0 in a request (and unlimited in `available`). */
export type ResourceVector = { readonly [K in ResourceName]?: bigint }

const FIXED_ORDER: Record<string, number> = { gpus: 0, gpuMemory: 1, cpu: 3, memory: 4 }

/** Canonical order: gpus, gpuMemory, model:* by name, cpu, memory. */
export function compareResourceNames(a: ResourceName, b: ResourceName): number {
  const ra = FIXED_ORDER[a] ?? 2
  const rb = FIXED_ORDER[b] ?? 2
  return ra !== rb ? ra - rb : a < b ? -1 : a > b ? 1 : 0
}

/** The resources a vector names with a non-zero amount, in canonical order. */
export function resourceNames(v: ResourceVector): ResourceName[] {
  return (Object.keys(v) as ResourceName[]).filter((k) => (v[k] ?? 0n) !== 0n).sort(compareResourceNames)
}

/**
 * A quota-shaped object (`gpus`, `gpuMemory`, `models`, `cpu`, `memory`, as in a Namespace's
 * quota) as a vector: quantities rounded up to whole bytes and millicores, as Kubernetes does.
 * Throws GpuplaneError INVALID_INPUT on a negative or malformed amount.
 */
export function toResourceVector(r: NamespaceResources | undefined): ResourceVector {
  const out: Partial<Record<ResourceName, bigint>> = {}
  if (r === undefined) return out
  const put = (name: ResourceName, v: bigint) => {
    if (v < 0n) throw new GpuplaneError('INVALID_INPUT', `${name} must not be negative, got ${v}`, { path: name })
    out[name] = v
  }
  if (r.gpus !== undefined) put('gpus', BigInt(r.gpus))
  if (r.gpuMemory !== undefined) put('gpuMemory', Quantity.parse(r.gpuMemory, 'gpuMemory').value())
  if (r.cpu !== undefined) put('cpu', Quantity.parse(r.cpu, 'cpu').milliValue())
  if (r.memory !== undefined) put('memory', Quantity.parse(r.memory, 'memory').value())
  for (const m of r.models ?? []) put(`model:${m.model}`, (out[`model:${m.model}`] ?? 0n) + BigInt(m.gpus))
  return out
}

/** The request without undefined or zero entries; throws GpuplaneError INVALID_INPUT on an unknown resource or a negative amount. */
export function cleanRequest(request: ResourceVector): ResourceVector {
  const out: Partial<Record<ResourceName, bigint>> = {}
  for (const [r, v] of Object.entries(request)) {
    if (v === undefined) continue
    if (!(r in FIXED_ORDER) && !(r.startsWith('model:') && r.length > 6)) {
      throw new GpuplaneError('INVALID_INPUT', `unknown resource "${r}" in a request; use gpus, gpuMemory, cpu, memory or model:<name>`, { path: r })
    }
    if (typeof v !== 'bigint' || v < 0n) throw new GpuplaneError('INVALID_INPUT', `request for ${r} must be a bigint of 0 or more, got ${String(v)}`, { path: r })
    if (v > 0n) out[r as ResourceName] = v
  }
  return out
}

/** One amount for messages: `2 gpus`, `80Gi gpuMemory`, `500m cpu`, `3 H100-80GB GPUs`. */
export function formatAmount(name: ResourceName, amount: bigint): string {
  return `${plainAmount(name, amount)} ${name.startsWith('model:') ? `${name.slice(6)} GPUs` : name}`
}

/** The number alone, in the resource's unit: `2`, `80Gi`, `500m`. */
export function plainAmount(name: ResourceName, amount: bigint): string {
  if (name === 'cpu') return Quantity.fromMilli(amount).toString()
  if (name === 'gpuMemory' || name === 'memory') return Quantity.fromBigInt(amount, 'BinarySI').toString()
  return String(amount)
}

/** A vector for messages: `2 gpus, 80Gi gpuMemory`; `nothing` when empty. */
export function formatResources(v: ResourceVector): string {
  const names = resourceNames(v)
  return names.length === 0 ? 'nothing' : names.map((n) => formatAmount(n, v[n] as bigint)).join(', ')
}
