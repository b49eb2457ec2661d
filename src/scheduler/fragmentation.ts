// FGD's GPU fragmentation measure and gradient (Weng et al., USENIX ATC'23), pure and exact.
//
// One import point for the scheduler's `fragmentation` score plugin and the simulator:
// - fragmentation-types.ts: node GPU state, task shape, GPU-model rule, validation;
// - fragmentation-mix.ts: the target workload M (popularities as exact integer weights) and its
//   derivation from a trace;
// - fragmentation-measure.ts: F_n(m), F_n(M), the per-category breakdown, cluster totals and rate;
// - fragmentation-placement.ts: candidate placements, Δ F_n(M) of a placement, the FGD score and
//   the best placement.
// No I/O, no clock, no randomness.
export {
  freeGpuMilli,
  type GpuNodeState,
  gpuSpecKey,
  isCpuOnly,
  isGpuShare,
  MILLI_PER_GPU,
  modelAllows,
  parseGpuSpec,
  type TaskShape,
  validateNodeState,
  validateTaskShape,
} from './fragmentation-types.ts'
export {
  POPULARITY_SCALE,
  type TypicalMix,
  type TypicalMixOptions,
  type TypicalTask,
  typicalWorkloadMix,
  type WorkloadMix,
  workloadMix,
  workloadMixFromCounts,
} from './fragmentation-mix.ts'
export {
  classifyTask,
  type ClusterFragmentation,
  clusterFragmentation,
  FRAG_CATEGORIES,
  type FragCategory,
  fragmentationRate,
  nodeFragmentation,
  nodeFragmentationBreakdown,
  nodeFragmentationScaled,
  simulatorNodeFragmentation,
  taskFragmentation,
} from './fragmentation-measure.ts'
export {
  applyPlacement,
  bestPlacement,
  candidatePlacements,
  fgdScore,
  fitsNode,
  fragmentationGradient,
  fragmentationGradientScaled,
  type Placement,
  type PlacementChoice,
  type PlacementRanking,
} from './fragmentation-placement.ts'
