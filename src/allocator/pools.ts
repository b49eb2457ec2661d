// Pool gathering for one node: which slices are visible, at which generation, and whether each pool is usable.
//
// Follows upstream's GatherPools (Kubernetes 1.36): slices match by nodeName / allNodes /
// nodeSelector / per-device selection; counter-set slices are always included; only the highest
// generation of each pool counts; a pool is incomplete when fewer slices than resourceSliceCount
// exist at that generation, obsolete (ignored) when a newer generation exists elsewhere, invalid
// on duplicate device names, duplicate counter sets or references to unknown counters. Pools are
// ordered lexicographically (driver, then pool), pools with binding conditions last; slices by name.
//
// Beyond upstream: a slice that carries both sharedCounters and devices (the Kubernetes 1.34
// layout) contributes its counter sets and its devices.
import type { CounterSet } from '../api/resource-v1.ts'
import { Quantity } from '../api/quantity.ts'
import { nodeMatches } from './node-match.ts'
import type { SliceRec, Snapshot } from './snapshot.ts'
import type { Features, NodeInfo } from './types.ts'

export interface Pool {
  key: string
  /** Identifies the node view these pools were gathered for (cache key of gatherPools). */
  view: string
  driver: string
  pool: string
  incomplete: boolean
  invalid: boolean
  invalidReason?: string
  /** Slices with devices that this node can use, sorted by name. */
  slices: SliceRec[]
  /** Slices of the pool's generation that this node cannot use; their allocated devices still consume counters. */
  otherSlices: SliceRec[]
  /** Counter sets of the pool: set name -> counter name -> total. */
  counterSets: Map<string, Map<string, Quantity>>
  hasBindingConditions: boolean
}

export function gatherPools(snapshot: Snapshot, node: NodeInfo | undefined, features: Features): Pool[] {
  const cacheKey = `${node?.name ?? ''}\u0000${JSON.stringify(node?.labels ?? {})}\u0000${features.partitionableDevices}`
  const cached = snapshot.poolCache.get(cacheKey) as Pool[] | undefined
  if (cached) return cached

  const candidates = node ? [...(snapshot.slicesOnNode.get(node.name) ?? []), ...snapshot.slicesShared] : snapshot.slicesShared
  const byPool = new Map<string, SliceRec[]>()
  const usable = new Set<SliceRec>()
  for (const s of candidates) {
    const visibility = sliceVisibility(s, node, features)
    if (visibility === 'none') continue
    if (visibility === 'devices') usable.add(s)
    const list = byPool.get(s.poolKey)
    if (!list) {
      byPool.set(s.poolKey, [s])
    } else if (s.generation > list[0].generation) {
      byPool.set(s.poolKey, [s])
    } else if (s.generation === list[0].generation) {
      list.push(s)
    }
  }

  const pools: Pool[] = []
  for (const [key, slices] of byPool) {
    const pool = buildPool(snapshot, key, slices, usable, features)
    if (pool) pools.push({ ...pool, view: cacheKey })
  }
  pools.sort((a, b) => {
    if (a.hasBindingConditions !== b.hasBindingConditions) return a.hasBindingConditions ? 1 : -1
    return cmpStr(a.driver, b.driver) || cmpStr(a.pool, b.pool)
  })
  snapshot.poolCache.set(cacheKey, pools)
  return pools
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * 'devices': the node may use the slice's devices; 'counters': only the slice's counter sets
 * matter here (they are needed to use the pool no matter which node the slice names); 'none'.
 */
function sliceVisibility(s: SliceRec, node: NodeInfo | undefined, features: Features): 'devices' | 'counters' | 'none' {
  const spec = s.slice.spec
  const hasCounters = (spec.sharedCounters?.length ?? 0) > 0
  if (!features.partitionableDevices && (spec.perDeviceNodeSelection !== undefined || hasCounters)) return 'none'
  let matches = false
  if (spec.nodeName || spec.allNodes || spec.nodeSelector) matches = nodeMatches(node, spec.nodeName, spec.allNodes, spec.nodeSelector)
  else if (spec.perDeviceNodeSelection) matches = s.devices.some((d) => nodeMatches(node, d.device.nodeName, d.device.allNodes, d.device.nodeSelector))
  // Else: no known node-selection field, some future extension we cannot interpret.
  if (matches && (!hasCounters || s.devices.length > 0)) return 'devices'
  return hasCounters ? 'counters' : 'none'
}

function buildPool(snapshot: Snapshot, key: string, visible: SliceRec[], usable: Set<SliceRec>, features: Features): Omit<Pool, 'view'> | undefined {
  const first = visible[0]
  const generation = first.generation
  let allAtGeneration = visible
  if (visible.length !== first.sliceCount) {
    // Some slices were filtered out by node selection: look at the whole pool.
    allAtGeneration = []
    for (const s of snapshot.slicesByPool.get(key) ?? []) {
      if (s.generation > generation) return undefined // obsolete: the driver is replacing this generation
      if (s.generation === generation) allAtGeneration.push(s)
    }
  }
  const pool: Omit<Pool, 'view'> = {
    key,
    driver: first.driver,
    pool: first.pool,
    incomplete: false,
    invalid: false,
    slices: [],
    otherSlices: [],
    counterSets: new Map(),
    hasBindingConditions: false,
  }
  if (allAtGeneration.length !== first.sliceCount) {
    pool.incomplete = true
    return pool
  }

  const deviceSlices = visible.filter((s) => usable.has(s)).sort((a, b) => cmpStr(a.name, b.name))
  const names = new Set<string>()
  for (const s of deviceSlices) {
    for (const d of s.devices) {
      if (names.has(d.name)) return invalid(pool, `duplicate device name ${d.name}`)
      names.add(d.name)
      if ((d.device.bindingConditions?.length ?? 0) > 0) pool.hasBindingConditions = true
    }
  }
  pool.slices = deviceSlices
  if (!features.partitionableDevices) return pool

  for (const s of allAtGeneration) {
    for (const cs of s.slice.spec.sharedCounters ?? []) {
      if (pool.counterSets.has(cs.name)) return invalid(pool, `duplicate counter set name ${cs.name}`)
      pool.counterSets.set(cs.name, parseCounterSet(cs))
    }
  }
  const visibleNames = new Set(deviceSlices.map((s) => s.name))
  pool.otherSlices = allAtGeneration.filter((s) => !visibleNames.has(s.name) && s.devices.length > 0)
  for (const s of [...deviceSlices, ...pool.otherSlices]) {
    for (const d of s.devices) {
      for (const c of d.consumes) {
        const set = pool.counterSets.get(c.counterSet)
        if (!set) return invalid(pool, `device ${d.name} consumes from counter set ${c.counterSet}, which the pool does not have`)
        for (const [name] of c.counters) {
          if (!set.has(name)) return invalid(pool, `device ${d.name} consumes counter ${name}, which counter set ${c.counterSet} does not have`)
        }
      }
    }
  }
  return pool
}

function invalid<P extends Omit<Pool, 'view'>>(pool: P, reason: string): P {
  pool.invalid = true
  pool.invalidReason = reason
  pool.slices = []
  pool.otherSlices = []
  return pool
}

function parseCounterSet(cs: CounterSet): Map<string, Quantity> {
  return new Map(Object.entries(cs.counters).map(([name, c]) => [name, Quantity.parse(c.value)]))
}
