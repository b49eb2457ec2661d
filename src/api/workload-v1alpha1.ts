// gpuplane.io/v1alpha1 Workload: a pod-like unit the scheduler places (CPU, memory, ResourceClaims, gang, isolation); zod schema and decoding with file/document/path errors.
//
// `status` is a loose object. `gpuplane schedule` and `gpuplane defrag` (src/cli/schedule.ts) read
// `status.nodeName`: the node the workload runs on, its devices being the status.allocation of its
// claims (the ResourceClaim an entry names, or `<workload>-<entry>`); absent, it is pending. They
// write `status.phase` (`Scheduled` or `Pending`), `status.nodeName` and, when pending,
// `status.reason`; phase and reason are not read back.
import { z } from 'zod'
import type { ErrorLocation } from '../common/errors.ts'
import { decodeKind, GPUPLANE_V1ALPHA1, type KindDecoder } from './decode-kind.ts'
import { Count, ObjectMeta, QuantityString } from './meta.ts'
import { Isolation } from './namespace-v1alpha1.ts'
import { ResourceClaimSpec } from './resource-v1.ts'

export { GPUPLANE_V1ALPHA1 } from './decode-kind.ts'

/** The isolation levels of a Namespace (namespace-v1alpha1.ts says what each means); a workload may override its namespace's. */
export { NAMESPACE_ISOLATIONS as ISOLATION_LEVELS, type Isolation as IsolationLevel } from './namespace-v1alpha1.ts'

/** A claim of the workload: an existing ResourceClaim by name, a ResourceClaimTemplate, or an inline spec. */
export const WorkloadClaim = z.strictObject({
  /** Name of the claim within the workload (the claim created for it is `<workload>-<name>`). */
  name: z.string(),
  /** Use this existing ResourceClaim (shared with whoever else references it). */
  resourceClaimName: z.string().optional(),
  /** Create a claim from this ResourceClaimTemplate of the workload's namespace. */
  resourceClaimTemplateName: z.string().optional(),
  /** Create a claim with this spec (an inline template). */
  spec: ResourceClaimSpec.optional(),
})
export type WorkloadClaim = z.infer<typeof WorkloadClaim>

export const Toleration = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
})
export type Toleration = z.infer<typeof Toleration>

export const WorkloadSpec = z.strictObject({
  /** Higher runs first and may preempt lower; default 0. */
  priority: Count.optional(),
  /** CPU and memory the workload needs on its node (Kubernetes quantities). */
  resources: z.strictObject({ cpu: QuantityString.optional(), memory: QuantityString.optional() }).optional(),
  /** Devices, as DRA ResourceClaims; all of a workload's claims are allocated together on its node. */
  resourceClaims: z.array(WorkloadClaim).optional(),
  /** Gang scheduling: the workloads of `group` (same namespace) are placed all together once `minMember` can be. */
  gang: z.strictObject({ group: z.string(), minMember: Count }).optional(),
  /** Overrides the namespace's isolation level. */
  isolation: Isolation.optional(),
  /** Node labels the node must have. */
  nodeSelector: z.record(z.string(), z.string()).optional(),
  /** Node taints the workload tolerates. */
  tolerations: z.array(Toleration).optional(),
})
export type WorkloadSpec = z.infer<typeof WorkloadSpec>

export const Workload = z.strictObject({
  apiVersion: z.literal(GPUPLANE_V1ALPHA1),
  kind: z.literal('Workload'),
  metadata: ObjectMeta,
  spec: WorkloadSpec,
  status: z.looseObject({}).optional(),
})
export type Workload = z.infer<typeof Workload>

/** A decoded Workload with where it came from; `location.path` is the object's own path (e.g. `items[0]` in a List). */
export interface DecodedWorkload {
  workload: Workload
  location: ErrorLocation
}

const WORKLOAD_DECODER: KindDecoder<typeof Workload> = { kind: 'Workload', schema: Workload }

/**
 * Reads the Workload objects of a YAML/JSON text (multi-document, `kind: List` too). DRA objects
 * in the same text are decoded and checked as decodeText does, then ignored; other kinds are
 * ignored. Throws GpuplaneError (INVALID_INPUT) naming file, document and field path.
 */
export function decodeWorkloads(text: string, file?: string): DecodedWorkload[] {
  return decodeKind(text, file, WORKLOAD_DECODER).map(({ object, location }) => ({ workload: object, location }))
}
