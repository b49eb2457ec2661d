// How the controller groups a scheduling pass's placements into commits: one unit per workload or per gang, batches of up to WRITES_PER_PLACEMENT_COMMIT writes, and which commit errors mean "re-read and retry".
import { GpuplaneError } from '../common/errors.ts'
import type { Decision } from '../scheduler/scheduler.ts'
import type { Write } from '../store/types.ts'
import type { WorkloadEntry } from './controller-view.ts'
import type { Placed } from './controller-writes.ts'

/** Most writes of one placement commit: placements without preemption decided in one pass commit together up to this. */
const WRITES_PER_PLACEMENT_COMMIT = 64
/** Failed conditional writes that mean "what the decision was made from has changed": re-read and decide again. */
const STALE_CODES = new Set(['CONFLICT', 'NOT_FOUND', 'ALREADY_EXISTS'])

export interface PlacementUnit {
  entry: WorkloadEntry
  decision: Placed
}

/** The placements of a pass, one unit per workload, or per gang (committed all together), in decision order. */
export function units(decisions: readonly Decision[], byKey: ReadonlyMap<string, WorkloadEntry>): PlacementUnit[][] {
  const out: PlacementUnit[][] = []
  const gangs = new Map<string, PlacementUnit[]>()
  for (const d of decisions) {
    if (!d.ok) continue
    const entry = byKey.get(d.workload)!
    const gang = entry.workload.spec.gang
    if (!gang) {
      out.push([{ entry, decision: d }])
      continue
    }
    const id = `${entry.workload.metadata.namespace ?? 'default'}/${gang.group}`
    let unit = gangs.get(id)
    if (!unit) {
      gangs.set(id, (unit = []))
      out.push(unit)
    }
    unit.push({ entry, decision: d })
  }
  return out
}

/**
 * The placement units of a pass grouped into commits of up to WRITES_PER_PLACEMENT_COMMIT writes,
 * in decision order. A unit that preempts commits alone, and a unit whose objects another unit of
 * the batch writes starts a new batch: two conditional writes to one object in one commit would
 * fail it at every retry.
 */
export function batches(all: readonly PlacementUnit[][]): PlacementUnit[][][] {
  const out: PlacementUnit[][][] = []
  let batch: PlacementUnit[][] = []
  let writes = 0
  let keys = new Set<string>()
  const flush = () => {
    if (batch.length > 0) out.push(batch)
    batch = []
    writes = 0
    keys = new Set()
  }
  for (const unit of all) {
    if (unit.some((u) => (u.decision.preempted ?? []).length > 0)) {
      flush()
      out.push([unit])
      continue
    }
    const touched = unit.flatMap((u) => [`Workload/${u.entry.key}`, ...u.entry.claimKeys.map((k) => `ResourceClaim/${k}`)])
    const size = unit.reduce((n, u) => n + 1 + u.entry.claimKeys.length * 2, 0)
    if (writes + size > WRITES_PER_PLACEMENT_COMMIT || touched.some((k) => keys.has(k))) flush()
    batch.push(unit)
    writes += size
    for (const k of touched) keys.add(k)
  }
  flush()
  return out
}

/** One write per object (the first): two conditional writes to one object cannot both succeed. */
export function dedupe(writes: readonly Write[]): Write[] {
  const seen = new Set<string>()
  return writes.filter((w) => {
    const { kind, namespace, name } = w.op === 'create' || w.op === 'update' ? { kind: w.object.kind, ...w.object.metadata } : w.key
    const k = `${kind}/${namespace ?? ''}/${name}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

export function stale(e: unknown): boolean {
  return e instanceof GpuplaneError && STALE_CODES.has(e.code)
}
