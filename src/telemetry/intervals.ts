// Who holds which device now, derived from the objects (ResourceClaims, Workloads, ResourceSlices), and the interval changes between two such readings.
//
// A holding: a device named in a claim's status.allocation.devices.results (driver, pool, device),
// held by the Workload the claim's status.reservedFor names (the controller reserves every claim
// it allocates for the placed workload, claims it made and claims the workload names alike), while
// that workload is Scheduled. The device's ResourceSlice gives the node, the GPU model (its
// `productName` attribute, as a catalog key where the catalog knows it), the physical GPU's uuid
// (`parentUUID`, else `uuid`) and whether it is a part of one (a MIG device or a vGPU). Its share of the physical GPU is
// what the scheduler's fragmentation view says the device takes of its GPU
// (src/scheduler/fragmentation-dra.ts): a whole GPU 1, a MIG device its compute and memory slices,
// a vGPU its framebuffer, a share of a multi-allocatable GPU the memory it consumed — the largest
// fraction over those dimensions, as that is what others cannot use.
//
// Objects come as the store keeps them (plain JSON); ones that do not decode are skipped (the
// controller reports them). Pure: the server's tracker (src/server/telemetry-intervals.ts) follows the
// store's changes, keeps the same holdings incrementally (src/telemetry/holdings-index.ts, built from
// the pieces here) and writes the difference as intervals.
import { Quantity } from '../api/quantity.ts'
import { ResourceSlice, type DeviceAttribute } from '../api/resource-v1.ts'
import { Snapshot } from '../allocator/snapshot.ts'
import { modelForProductName } from '../catalog/index.ts'
import { draNode, gpuDevice } from '../scheduler/fragmentation-dra.ts'
import type { AllocationInterval } from './types.ts'

/** An object as the store keeps it (the fields read here). */
export interface PlainObject {
  kind: string
  metadata: { name: string; namespace?: string; uid?: string; [key: string]: unknown }
  spec?: unknown
  status?: unknown
}

/**
 * A device held now: an interval without its times, and the uid of the claim that holds it. A
 * workload preempted and placed again on the same device between two readings holds it through a
 * new claim (claims made for a workload are made anew at each placement): a new interval, so an
 * idle window never spans two placements. Read back from a TelemetryStore, the claim is unknown.
 */
export type Holding = Omit<AllocationInterval, 'from' | 'to'> & { claimUid?: string }

/** The interval fields of a holding (without the claim uid), for TelemetryStore.openInterval. */
export function intervalOf(h: Holding, from: number): AllocationInterval {
  const { claimUid: _, ...rest } = h
  return { ...rest, from }
}

/** The key of a holding (and of its open interval). */
export function holdingKey(h: { node: string; device: string; namespace: string; workload: string }): string {
  return `${h.node}\u0000${h.device}\u0000${h.namespace}\u0000${h.workload}`
}

interface ClaimStatus {
  allocation?: { devices?: { results?: Array<{ driver: string; pool: string; device: string; adminAccess?: boolean; consumedCapacity?: Record<string, string> }> } }
  reservedFor?: Array<{ resource?: string; name?: string; uid?: string }>
}

/** What of a claim decides its holdings, read once per change of the claim (src/telemetry/holdings-index.ts keeps them). */
export interface ClaimHolds {
  /** `namespace\u0000name`: sorts as the store lists (by namespace, then name). */
  key: string
  namespace: string
  uid?: string
  /** The devices allocated, without admin-access ones (monitoring access, not a holding). */
  results: Array<{ driver: string; pool: string; device: string; consumedMemory?: string }>
  /** The workloads status.reservedFor names, with the uid it names where it names one. */
  holders: Array<{ name: string; uid?: string }>
}

/** The key of a claim or workload: namespace and name, in the store's list order. */
export function objectKey(namespace: string, name: string): string {
  return `${namespace}\u0000${name}`
}

/** The fields of a claim that decide its holdings; undefined for a claim that holds nothing whatever the workloads do. */
export function claimHoldsOf(claim: PlainObject): ClaimHolds | undefined {
  const status = (claim.status ?? {}) as ClaimStatus
  const results = (status.allocation?.devices?.results ?? []).filter((r) => r.adminAccess !== true)
  const holders = (status.reservedFor ?? []).filter((r) => r.resource === 'workloads' && r.name !== undefined)
  if (results.length === 0 || holders.length === 0) return undefined
  const namespace = claim.metadata.namespace ?? 'default'
  return {
    key: objectKey(namespace, claim.metadata.name),
    namespace,
    ...(claim.metadata.uid !== undefined ? { uid: claim.metadata.uid } : {}),
    results: results.map((r) => {
      const consumedMemory = r.consumedCapacity?.memory ?? r.consumedCapacity?.[`${r.driver}/memory`]
      return { driver: r.driver, pool: r.pool, device: r.device, ...(consumedMemory !== undefined ? { consumedMemory } : {}) }
    }),
    holders: holders.map((r) => ({ name: r.name!, ...(r.uid !== undefined ? { uid: r.uid } : {}) })),
  }
}

/** The uid of a Scheduled workload (null when it has none); undefined when it is not Scheduled. */
export function placementOf(workload: PlainObject): string | null | undefined {
  const status = workload.status as { phase?: unknown; nodeName?: unknown } | undefined
  if (status?.phase === 'Scheduled' && typeof status.nodeName === 'string') return workload.metadata.uid ?? null
  return undefined
}

/** A ResourceSlice decoded; undefined for one that does not decode. */
export function decodeSlice(slice: PlainObject): ResourceSlice | undefined {
  const parsed = ResourceSlice.safeParse(slice)
  return parsed.success ? parsed.data : undefined
}

/** The largest fraction amounts[d] / totals[d] over dimensions with a total, within [0, 1]. */
function largestFraction(totals: readonly number[], amounts: readonly number[]): number {
  let f = 0
  totals.forEach((t, d) => {
    if (t > 0) f = Math.max(f, Math.min(1, Math.max(0, (amounts[d] ?? 0) / t)))
  })
  return f
}

/** Where a GPU device sits and what it takes of its GPU, fixed while the slices are. */
export interface DeviceInfo {
  where: Omit<Holding, 'namespace' | 'workload' | 'share'>
  shared: boolean
  totals: readonly number[]
  takes: readonly number[]
}

/** Where a device sits; undefined for a device that is not a GPU or a part of one. */
export function deviceInfo(snapshot: Snapshot, driver: string, pool: string, name: string): DeviceInfo | undefined {
  const rec = snapshot.device(`${driver}/${pool}/${name}`, `${driver}/${pool}`)
  if (!rec) return undefined
  const node = rec.slice.slice.spec.nodeName
  if (node === undefined) return undefined
  const attrs = (rec.device.attributes ?? {}) as Record<string, DeviceAttribute>
  const gpuUuid = attrs.parentUUID?.string ?? attrs.uuid?.string
  if (gpuUuid === undefined) return undefined
  const dra = draNode(snapshot, node)
  const device = gpuDevice(dra, driver, pool, name)
  if (!device) return undefined
  const gpu = dra.gpus[device.gpu]!
  const productName = attrs.productName?.string
  const gpuModel = productName === undefined ? 'unknown' : gpuModelOf(productName)
  // A part of a GPU (a MIG device, a vGPU: it has a parent) sampled under its own name measures itself.
  return { where: { node, device: name, gpuModel, gpuUuid, ...(attrs.parentUUID?.string !== undefined ? { partition: true } : {}) }, shared: gpu.kind === 'shared', totals: gpu.totals, takes: device.takes }
}

/** The share of its GPU a device takes: a share of a multi-allocatable GPU the memory it consumed. */
function shareOf(info: DeviceInfo, consumedMemory: string | undefined): number {
  const takes = info.shared && consumedMemory !== undefined ? [Number(Quantity.parse(consumedMemory).value())] : info.takes
  return largestFraction(info.totals, takes)
}

/**
 * The catalog key of a product name, for per-model views and prices: a vGPU's product name is its
 * profile's ("NVIDIA L40S-12C"), which is read as its GPU's model; an unknown name is kept as it is.
 */
export function gpuModelOf(productName: string): string {
  let key = MODEL_OF.get(productName)
  if (key === undefined) {
    const model = modelForProductName(productName) ?? modelForProductName(productName.replace(/-\d+[A-Z]$/, ''))
    key = model?.key ?? productName
    // A cluster has a handful of product names; the cap only bounds a pathological one.
    if (MODEL_OF.size < 1024) MODEL_OF.set(productName, key)
  }
  return key
}

/** gpuModelOf by product name (matching a name against the catalog normalizes it: ~7 µs a device otherwise). */
const MODEL_OF = new Map<string, string>()

/** Adds a holding to `out`, summing the shares of one holder's several holds of one device (at most 1; the first claim's uid stays). */
export function addHolding(out: Map<string, Holding>, h: Holding): void {
  const key = holdingKey(h)
  const prev = out.get(key)
  if (prev) prev.share = Math.min(1, prev.share + h.share)
  else out.set(key, { ...h })
}

/**
 * The holds of one claim, in order (holders, then results; a holder may hold one device through
 * several results: addHolding sums them), given the Scheduled workloads (`objectKey` → uid, null
 * for none) and where devices sit (`describe`: undefined for a device that is not a GPU).
 */
export function claimHoldings(claim: ClaimHolds, placed: ReadonlyMap<string, string | null>, describe: (driver: string, pool: string, device: string) => DeviceInfo | undefined): Holding[] {
  const out: Holding[] = []
  for (const holder of claim.holders) {
    const uid = placed.get(objectKey(claim.namespace, holder.name))
    // Not placed, or placed anew (another uid) since the claim was reserved for it.
    if (uid === undefined || (holder.uid !== undefined && uid !== null && uid !== holder.uid)) continue
    for (const r of claim.results) {
      const info = describe(r.driver, r.pool, r.device)
      if (!info) continue
      out.push({ ...info.where, share: shareOf(info, r.consumedMemory), namespace: claim.namespace, workload: holder.name, ...(claim.uid !== undefined ? { claimUid: claim.uid } : {}) })
    }
  }
  return out
}

/** A snapshot of the slices (decoded) and a memo of where their devices sit. */
export function deviceDescriber(slices: ResourceSlice[]): (driver: string, pool: string, device: string) => DeviceInfo | undefined {
  const snapshot = new Snapshot({ slices })
  const memo = new Map<string, DeviceInfo | undefined>()
  return (driver, pool, device) => {
    const id = `${driver}/${pool}/${device}`
    if (memo.has(id)) return memo.get(id)
    const info = deviceInfo(snapshot, driver, pool, device)
    memo.set(id, info)
    return info
  }
}

/** Sorted by key. */
export function sortedHoldings(byKey: ReadonlyMap<string, Holding>): Holding[] {
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, h]) => h)
}

/**
 * The devices held now (see the header), one holding per node, device and holder (a holder of one
 * shared device through several requests gets their shares summed, at most 1, claims taken in the
 * store's list order). Sorted by key. The reference reading: the server's tracker keeps the same
 * incrementally (src/telemetry/holdings-index.ts).
 */
export function currentHoldings(objects: { claims: readonly PlainObject[]; workloads: readonly PlainObject[]; slices: readonly PlainObject[] }): Holding[] {
  const placed = new Map<string, string | null>()
  for (const w of objects.workloads) {
    const uid = placementOf(w)
    if (uid !== undefined) placed.set(objectKey(w.metadata.namespace ?? 'default', w.metadata.name), uid)
  }
  const describe = deviceDescriber(objects.slices.map(decodeSlice).filter((s): s is ResourceSlice => s !== undefined))
  const claims = objects.claims.map(claimHoldsOf).filter((c): c is ClaimHolds => c !== undefined)
  claims.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const out = new Map<string, Holding>()
  for (const claim of claims) for (const h of claimHoldings(claim, placed, describe)) addHolding(out, h)
  return sortedHoldings(out)
}

/** What changed between two readings: holdings to open and to close (a holding whose claim, share or model changed is closed and opened again: close before open). */
export function diffHoldings(before: ReadonlyMap<string, Holding>, now: readonly Holding[]): { open: Holding[]; close: Holding[] } {
  const nowByKey = new Map(now.map((h) => [holdingKey(h), h]))
  const open: Holding[] = []
  const close: Holding[] = []
  for (const [key, h] of before) {
    const n = nowByKey.get(key)
    if (!n || !sameHolding(h, n)) close.push(h)
  }
  for (const [key, h] of nowByKey) {
    const b = before.get(key)
    if (!b || !sameHolding(b, h)) open.push(h)
  }
  return { open, close }
}

/** The same interval: same claim (where both know it), share, model, GPU and partition. */
export function sameHolding(a: Holding, b: Holding): boolean {
  const sameClaim = a.claimUid === undefined || b.claimUid === undefined || a.claimUid === b.claimUid
  return sameClaim && a.share === b.share && a.gpuModel === b.gpuModel && a.gpuUuid === b.gpuUuid && !!a.partition === !!b.partition
}
