// Reclaim victim search of the quota ledger: which borrowing workloads to preempt so that a lender's request fits, lowest priorities and fewest victims first, within disruption budgets.
//
// Generic over the ledger's records: the caller says whether a set of victims makes the request
// fit (by trying their release on a copy of the ledger); this file only chooses among sets.
import { combinations } from '../common/combinations.ts'

/**
 * Exhaustive victim search up to this many candidates (2^12 = 4096 trial releases at most);
 * beyond it, greedy by priority and then minimised, as Kueue does. Our choice, not upstream's.
 */
export const MAX_EXACT_RECLAIM_CANDIDATES = 12

/** What the search needs to know of a workload that could be preempted. */
export interface ReclaimCandidate {
  readonly namespace: string
  readonly priority: number
}

/**
 * The victims to preempt, or undefined when every fitting set passes some namespace's
 * `preemptionsLeft` (a namespace not listed has no limit). `candidates` come lowest priority
 * first, then in the order to prefer among equal priorities; `fits` must hold for all of them.
 * Raises the highest priority allowed to be preempted until the candidates up to it suffice,
 * then picks exactly (up to MAX_EXACT_RECLAIM_CANDIDATES) or greedily.
 */
export function chooseVictims<T extends ReclaimCandidate>(candidates: readonly T[], fits: (set: readonly T[]) => boolean, preemptionsLeft: Readonly<Record<string, number>>): T[] | undefined {
  const allowed = (set: readonly T[]) => {
    const counts = new Map<string, number>()
    for (const w of set) counts.set(w.namespace, (counts.get(w.namespace) ?? 0) + 1)
    return [...counts].every(([n, c]) => preemptionsLeft[n] === undefined || c <= preemptionsLeft[n])
  }
  const levels = [...new Set(candidates.map((w) => w.priority))]
  for (const level of levels) {
    const pool = candidates.filter((w) => w.priority <= level)
    if (!fits(pool)) continue
    const victims = pool.length <= MAX_EXACT_RECLAIM_CANDIDATES ? exactVictims(pool, fits, allowed) : greedyVictims(pool, fits, allowed)
    if (victims !== undefined) return victims
  }
  return undefined
}

/** Smallest allowed fitting subset: fewest victims, then lowest priorities (sorted high to low), then earliest in candidate order. */
function exactVictims<T extends ReclaimCandidate>(pool: T[], fits: (s: T[]) => boolean, allowed: (s: T[]) => boolean): T[] | undefined {
  for (let k = 1; k <= pool.length; k++) {
    let best: { set: T[]; profile: number[] } | undefined
    for (const idx of combinations(pool.length, k)) {
      const set = idx.map((i) => pool[i])
      const profile = set.map((w) => w.priority).sort((a, b) => b - a)
      if (best !== undefined && compareNumbers(profile, best.profile) >= 0) continue
      if (allowed(set) && fits(set)) best = { set, profile }
    }
    if (best !== undefined) return best.set
  }
  return undefined
}

/** Lowest priority first until it fits, then drop every victim not needed, last added first (as Kueue minimises). */
function greedyVictims<T extends ReclaimCandidate>(pool: T[], fits: (s: T[]) => boolean, allowed: (s: T[]) => boolean): T[] | undefined {
  let chosen: T[] = []
  for (const w of pool) {
    if (!allowed([...chosen, w])) continue
    chosen.push(w)
    if (fits(chosen)) break
  }
  if (!fits(chosen)) return undefined
  for (let i = chosen.length - 1; i >= 0; i--) {
    const without = chosen.filter((_, j) => j !== i)
    if (fits(without)) chosen = without
  }
  return chosen
}

function compareNumbers(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}
