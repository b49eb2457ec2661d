// The kinds the API serves, as data: group, version, plural, scope, schema and validator. Adding a kind is one entry of KINDS.
import type { z } from 'zod'
import { Agent, parseAgent } from '../api/agent-v1alpha1.ts'
import { Cluster } from '../api/gpuplane-v1alpha1.ts'
import { GPUPLANE_GROUP } from '../api/decode-kind.ts'
import { Model, parseModel } from '../api/model-v1alpha1.ts'
import { Namespace } from '../api/namespace-v1alpha1.ts'
import { DeviceClass, RESOURCE_GROUP, ResourceClaim, ResourceClaimTemplate, ResourceSlice } from '../api/resource-v1.ts'
import { parseTokenPolicy, TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { Workload } from '../api/workload-v1alpha1.ts'
import { clusterValidator, decoderValidator, draValidator, gpuplaneValidator, ignoringStatus, namespaceValidator, NodeSchema, schemaValidator, type Validator } from './validate.ts'

export interface KindInfo {
  /** `kind` as written in objects, e.g. `Workload`. */
  kind: string
  /** API group; '' for the core group (served under /api). */
  group: string
  version: string
  /** Lower-case plural used in paths, e.g. `workloads`. */
  plural: string
  /** Namespaced kinds live under `.../namespaces/{ns}/{plural}`; others are cluster-scoped. */
  namespaced: boolean
  /** apiVersions accepted in bodies (the first is the one stored and served). */
  apiVersions: string[]
  /** Shape and rule checks; returns the object to store. */
  validate: Validator
  /** The schema the OpenAPI document shows for the kind. */
  schema: z.ZodType
  /** The status an object created through the API starts with, when it brings none. */
  initialStatus?: () => Record<string, unknown>
  /**
   * What makes an object the admin's (e.g. 'disabled' for a disabled Agent: the kill switch is the
   * admin's), undefined when it is not: namespace tokens can neither change nor delete such an
   * object, nor create or change one into it.
   */
  adminHeld?: (object: Record<string, unknown>) => string | undefined
}

const RESOURCE_VERSIONS = ['v1', 'v1beta2', 'v1beta1'].map((v) => `${RESOURCE_GROUP}/${v}`)

function kind(k: Omit<KindInfo, 'apiVersions'> & { apiVersions?: string[] }): KindInfo {
  return { ...k, apiVersions: k.apiVersions ?? [k.group ? `${k.group}/${k.version}` : k.version] }
}

/** Every kind the API serves. */
export const KINDS: readonly KindInfo[] = [
  kind({ kind: 'Node', group: '', version: 'v1', plural: 'nodes', namespaced: false, validate: schemaValidator(NodeSchema), schema: NodeSchema }),
  kind({ kind: 'ResourceSlice', group: RESOURCE_GROUP, version: 'v1', plural: 'resourceslices', namespaced: false, apiVersions: RESOURCE_VERSIONS, validate: ignoringStatus(draValidator), schema: ResourceSlice }),
  kind({ kind: 'DeviceClass', group: RESOURCE_GROUP, version: 'v1', plural: 'deviceclasses', namespaced: false, apiVersions: RESOURCE_VERSIONS, validate: ignoringStatus(draValidator), schema: DeviceClass }),
  kind({ kind: 'ResourceClaim', group: RESOURCE_GROUP, version: 'v1', plural: 'resourceclaims', namespaced: true, apiVersions: RESOURCE_VERSIONS, validate: draValidator, schema: ResourceClaim }),
  kind({ kind: 'ResourceClaimTemplate', group: RESOURCE_GROUP, version: 'v1', plural: 'resourceclaimtemplates', namespaced: true, apiVersions: RESOURCE_VERSIONS, validate: ignoringStatus(draValidator), schema: ResourceClaimTemplate }),
  kind({ kind: 'Cluster', group: GPUPLANE_GROUP, version: 'v1alpha1', plural: 'clusters', namespaced: false, validate: ignoringStatus(clusterValidator), schema: Cluster }),
  kind({ kind: 'Namespace', group: GPUPLANE_GROUP, version: 'v1alpha1', plural: 'namespaces', namespaced: false, validate: ignoringStatus(namespaceValidator), schema: Namespace }),
  kind({ kind: 'Workload', group: GPUPLANE_GROUP, version: 'v1alpha1', plural: 'workloads', namespaced: true, validate: decoderValidator({ kind: 'Workload', schema: Workload }), schema: Workload, initialStatus: () => ({ phase: 'Pending' }) }),
  // Governance (the gateway's objects). A Model is cluster-scoped like a DeviceClass: every token
  // reads it (an agent's namespace must see what it may call), only the admin approves or changes
  // one. Agents and TokenPolicies are namespaced: a namespace token manages its own namespace's.
  kind({ kind: 'Model', group: GPUPLANE_GROUP, version: 'v1alpha1', plural: 'models', namespaced: false, validate: gpuplaneValidator(parseModel), schema: Model }),
  // A disabled Agent is the admin's (the kill switch): a namespace token cannot re-enable, edit or
  // delete it, nor disable one.
  kind({ kind: 'Agent', group: GPUPLANE_GROUP, version: 'v1alpha1', plural: 'agents', namespaced: true, validate: gpuplaneValidator(parseAgent), schema: Agent, adminHeld: (o) => ((o.spec as { disabled?: unknown } | undefined)?.disabled === true ? 'disabled' : undefined) }),
  kind({ kind: 'TokenPolicy', group: GPUPLANE_GROUP, version: 'v1alpha1', plural: 'tokenpolicies', namespaced: true, validate: gpuplaneValidator(parseTokenPolicy), schema: TokenPolicy }),
]

/** `group/version`, or the version alone for the core group. */
export function apiVersionOf(k: KindInfo): string {
  return k.apiVersions[0]
}

/** The path prefix of the kind's group and version: `/api/v1` or `/apis/{group}/{version}`. */
export function groupPath(k: KindInfo): string {
  return k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`
}
