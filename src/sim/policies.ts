// The simulator's placement policies behind one interface: the FGD paper's six (random, dotprod, clustering, packing, bestfit, fgd) and gpuplane's own.
//
// Each policy is what the FGD artifact runs as a scheduler profile (one score plugin at weight
// 1000, percentageOfNodesToScore 100, the Open-Gpu-Share filter and the k8s NodeResourcesFit
// filter for CPU and memory; reference/fgd-trace.md §4), written as a score over a node of
// SimCluster plus the artifact's GPU choice inside the node ("gpusel"). Code read:
// hkust-adsl/kubernetes-scheduler-simulator pkg/simulator/plugin/*_score.go, open_gpu_share.go,
// pkg/type/resource.go (commit 8f3d641). Scores keep the artifact's integer truncations, because
// they decide which nodes tie, and ties go to the node first in tie-break order (SimCluster index).
//
// How these map to gpuplane's DRA scheduler (src/scheduler): its `fragmentation` score plugin
// (plugins-fragmentation.ts) computes FGD's gradient with the same functions of
// src/scheduler/fragmentation.ts that `fgd` and `gpuplane` use here (F_n(M), the gradient, the
// truncated FGD score), and its `binpack` plugin plays the role of bestfit; random, dotprod,
// clustering and packing have no scheduler plugin. The simulator does not drive the DRA scheduler
// itself, for two reasons. The trace's requests are FGD's abstraction (any milli of a GPU, memory
// and CPU per node), not DRA devices: a 470-milli share is no MIG profile or vGPU type, and the
// paper's numbers depend on the artifact's exact integer scores and tie-break order, which the
// replay must reproduce (engine.test.ts replays the authors' own run decision by decision). And
// the comparison is 7 policies × 20 trace variants × 10 seeds, 1,400 replays of ~10,000 pods on
// 1,213 nodes; on this abstraction one replay takes about a second. The scheduler plugin, for its
// part, takes its target workload from the workloads it recently scored instead of the trace.
import { createGpuplanePolicy } from './policy-gpuplane.ts'
import { bestFitScore, clusteringScore, dotProductScore, fgdPolicy, packingScore, randomPolicy, scorePolicy } from './policies-paper.ts'
import type { Policy, PolicyContext } from './policy.ts'

export type { Policy, PolicyContext } from './policy.ts'

/** Names of the policies, as `--policy` takes them. */
export const POLICY_NAMES = ['random', 'dotprod', 'clustering', 'packing', 'bestfit', 'fgd', 'gpuplane'] as const
export type PolicyName = (typeof POLICY_NAMES)[number]

/** One line per policy, for --help and reports. */
export const POLICY_DESCRIPTIONS: Record<PolicyName, string> = {
  random: 'Random-fit: a uniformly random feasible node, a random fitting GPU (paper: 01-Random)',
  dotprod: 'Tetris dot product of free and requested (CPU, GPU), smallest wins; tightest GPU (02-DotProd)',
  clustering: 'GPU clustering: nodes already running pods of the same GPU kind first; tightest GPU (03-GpuClustering)',
  packing: 'GPU packing: shared GPUs first, then used nodes, then idle small nodes; tightest GPU (04-GpuPacking)',
  bestfit: 'Best fit on leftover (CPU, GPU), weights 0.5/0.5; tightest GPU (05-BestFit)',
  fgd: "Fragmentation Gradient Descent, the paper's policy: least growth of expected fragmentation (06-FGD)",
  gpuplane: "gpuplane's policy: FGD's gradient plus the GPU a node's CPU or memory can no longer feed, plus the cost of taking GPU models that model-restricted pods need",
}

/** Builds a policy by name. */
export function createPolicy(name: PolicyName, ctx: PolicyContext): Policy {
  switch (name) {
    case 'random':
      return randomPolicy(ctx)
    case 'dotprod':
      return scorePolicy(name, ctx.cluster, (n, s) => dotProductScore(ctx.cluster, n, s))
    case 'clustering':
      return scorePolicy(name, ctx.cluster, (n, s) => clusteringScore(ctx.cluster, n, s))
    case 'packing':
      return scorePolicy(name, ctx.cluster, (n, s) => packingScore(ctx.cluster, n, s))
    case 'bestfit':
      return scorePolicy(name, ctx.cluster, (n, s) => bestFitScore(ctx.cluster, n, s))
    case 'fgd':
      return fgdPolicy(ctx)
    case 'gpuplane':
      return createGpuplanePolicy(ctx)
  }
}

