// The DRA allocator: pure functions over an immutable snapshot; no I/O.
export { allocate, allocateEach } from './allocator.ts'
export { Snapshot } from './snapshot.ts'
export { AllocationState } from './state.ts'
export { DEFAULT_FEATURES, DEFAULT_SEARCH_LIMIT } from './types.ts'
export type { AllocateOptions, Shortfall, AllocationFailure, AllocationOutcome, AllocationSuccess, DeviceRef, Features, NodeInfo } from './types.ts'
