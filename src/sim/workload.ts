// One seed's workload as the FGD artifact builds it: shuffled trace pods, inflated (or trimmed) to a share of cluster GPU capacity, and the node tie-break order.
//
// The protocol of the FGD artifact (hkust-adsl/kubernetes-scheduler-simulator pkg/simulator
// core.go `Simulate`, simulator.go `SortClusterPods`, `TunePodsByNodeTotalResource`,
// `syncClusterResourceList`; reference/fgd-trace.md §2), in its order of random draws:
// 1. pods sorted by name, then shuffled;
// 2. if their total GPU request is below inflate × capacity, clones drawn uniformly with
//    replacement from the trace are appended until the next draw would pass the target; the
//    artifact tests the draw's milli *per GPU* against the target but adds its total (count × milli),
//    a quirk kept here so that pod counts match (a multi-GPU clone can end the list up to 7,000
//    milli past the target); if the total is above the target, uniformly random pods are removed
//    until it is not;
// 3. each node gets a distinct random rank (the artifact prefixes node names with `rand.Perm`, and
//    score ties go to the smallest name, so the rank is the tie-break order).
// Random numbers come from `Random` (random.ts), not Go's math/rand: counts and orders differ from
// the artifact's for the same seed, their statistics do not.
import type { Random } from './random.ts'
import { podGpuMilli, type TracePod } from './trace.ts'

/** What the workload of one seed is made of. */
export interface Workload {
  /** Pods in submission order, as indices into the trace's pod list (a clone repeats its original's index). */
  order: Int32Array
  /** Clones appended (0 when trimming). */
  cloned: number
  /** Trace pods removed to reach the target (0 when inflating). */
  removed: number
  /** Total GPU request of `order`, milli-GPU. */
  totalGpuMilli: number
  /** Tie-break rank of each node, by node index in name order: a permutation of 0..nodes-1 (lower wins). */
  nodeRank: Int32Array
}

/**
 * Builds one seed's workload from the seed's random stream (`new Random(seed)`, which the run
 * then goes on using, as the artifact's Random policy does). `nodeNames` are the cluster's node
 * names (any order); ranks are assigned in name order as the artifact does. `inflate` is the target
 * share of capacity (the artifact's tune ratio, 1.3); 0 keeps the shuffled trace as it is.
 */
export function buildWorkload(pods: readonly TracePod[], nodeNames: readonly string[], capacityGpuMilli: number, inflate: number, rng: Random): Workload {
  const byName = Array.from(pods.keys()).sort((a, b) => (pods[a].name < pods[b].name ? -1 : pods[a].name > pods[b].name ? 1 : 0))
  rng.shuffle(byName)
  let total = 0
  for (const p of pods) total += podGpuMilli(p)
  const target = inflate * capacityGpuMilli
  let order = byName
  let cloned = 0
  let removed = 0
  if (inflate > 0 && total < target) {
    for (;;) {
      const index = rng.int(pods.length)
      const pod = pods[index]
      if (total + pod.gpuMilli > target) break
      total += podGpuMilli(pod)
      order.push(index)
      cloned++
    }
  } else if (inflate > 0 && total > target) {
    order = [...byName]
    while (total > target) {
      const [index] = order.splice(rng.int(order.length), 1)
      total -= podGpuMilli(pods[index])
      removed++
    }
  }
  const nameOrder = Array.from(nodeNames.keys()).sort((a, b) => (nodeNames[a] < nodeNames[b] ? -1 : nodeNames[a] > nodeNames[b] ? 1 : 0))
  const perm = rng.perm(nodeNames.length)
  const nodeRank = new Int32Array(nodeNames.length)
  nameOrder.forEach((node, i) => (nodeRank[node] = perm[i]))
  return { order: Int32Array.from(order), cloned, removed, totalGpuMilli: total, nodeRank }
}
