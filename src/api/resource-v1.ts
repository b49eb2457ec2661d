// resource.k8s.io/v1 object shapes (ResourceSlice, DeviceClass, ResourceClaim, ResourceClaimTemplate) as zod schemas.
//
// Field names are upstream's JSON names verbatim. Shapes only: the semantic rules (name formats,
// limits, one-of fields) live in validate.ts so that their messages can name upstream's rules.
import { z } from 'zod'
import { Count, Int64, NodeSelector, ObjectMeta, OpaqueDeviceConfiguration, QuantityString } from './meta.ts'

export const RESOURCE_GROUP = 'resource.k8s.io'
export const RESOURCE_V1 = 'resource.k8s.io/v1'

// ---------------------------------------------------------------- ResourceSlice

export const DeviceAttribute = z.strictObject({
  int: Int64.optional(),
  bool: z.boolean().optional(),
  string: z.string().optional(),
  version: z.string().optional(),
})
export type DeviceAttribute = z.infer<typeof DeviceAttribute>

export const CapacityRequestPolicyRange = z.strictObject({
  min: QuantityString,
  max: QuantityString.optional(),
  step: QuantityString.optional(),
})

export const CapacityRequestPolicy = z.strictObject({
  default: QuantityString.optional(),
  validValues: z.array(QuantityString).optional(),
  validRange: CapacityRequestPolicyRange.optional(),
})
export type CapacityRequestPolicy = z.infer<typeof CapacityRequestPolicy>

export const DeviceCapacity = z.strictObject({
  value: QuantityString,
  requestPolicy: CapacityRequestPolicy.optional(),
})
export type DeviceCapacity = z.infer<typeof DeviceCapacity>

export const Counter = z.strictObject({ value: QuantityString })

export const CounterSet = z.strictObject({
  name: z.string(),
  counters: z.record(z.string(), Counter),
})
export type CounterSet = z.infer<typeof CounterSet>

export const DeviceCounterConsumption = z.strictObject({
  counterSet: z.string(),
  counters: z.record(z.string(), Counter),
})
export type DeviceCounterConsumption = z.infer<typeof DeviceCounterConsumption>

export const DeviceTaint = z.strictObject({
  key: z.string(),
  value: z.string().optional(),
  // Unknown effects are kept: upstream treats them like None (they never block allocation).
  effect: z.string(),
  timeAdded: z.string().optional(),
})
export type DeviceTaint = z.infer<typeof DeviceTaint>

export const Device = z.strictObject({
  name: z.string(),
  attributes: z.record(z.string(), DeviceAttribute).optional(),
  capacity: z.record(z.string(), DeviceCapacity).optional(),
  consumesCounters: z.array(DeviceCounterConsumption).optional(),
  nodeName: z.string().optional(),
  nodeSelector: NodeSelector.optional(),
  allNodes: z.boolean().optional(),
  taints: z.array(DeviceTaint).optional(),
  bindsToNode: z.boolean().optional(),
  bindingConditions: z.array(z.string()).optional(),
  bindingFailureConditions: z.array(z.string()).optional(),
  allowMultipleAllocations: z.boolean().optional(),
})
export type Device = z.infer<typeof Device>

export const ResourcePool = z.strictObject({
  name: z.string(),
  generation: Count,
  resourceSliceCount: Count,
})

export const ResourceSliceSpec = z.strictObject({
  driver: z.string(),
  pool: ResourcePool,
  nodeName: z.string().optional(),
  nodeSelector: NodeSelector.optional(),
  allNodes: z.boolean().optional(),
  perDeviceNodeSelection: z.boolean().optional(),
  devices: z.array(Device).optional(),
  sharedCounters: z.array(CounterSet).optional(),
})
export type ResourceSliceSpec = z.infer<typeof ResourceSliceSpec>

export const ResourceSlice = z.strictObject({
  apiVersion: z.string(),
  kind: z.literal('ResourceSlice'),
  metadata: ObjectMeta,
  spec: ResourceSliceSpec,
})
export type ResourceSlice = z.infer<typeof ResourceSlice>

// ---------------------------------------------------------------- DeviceClass

export const DeviceSelector = z.strictObject({
  cel: z.strictObject({ expression: z.string() }).optional(),
})
export type DeviceSelector = z.infer<typeof DeviceSelector>

export const DeviceClassConfiguration = z.strictObject({
  opaque: OpaqueDeviceConfiguration.optional(),
})

export const DeviceClassSpec = z.strictObject({
  selectors: z.array(DeviceSelector).optional(),
  config: z.array(DeviceClassConfiguration).optional(),
  extendedResourceName: z.string().optional(),
})

export const DeviceClass = z.strictObject({
  apiVersion: z.string(),
  kind: z.literal('DeviceClass'),
  metadata: ObjectMeta,
  spec: DeviceClassSpec,
})
export type DeviceClass = z.infer<typeof DeviceClass>

// ---------------------------------------------------------------- ResourceClaim

export const DeviceToleration = z.strictObject({
  key: z.string().optional(),
  operator: z.string().optional(),
  value: z.string().optional(),
  effect: z.string().optional(),
  tolerationSeconds: Count.optional(),
})
export type DeviceToleration = z.infer<typeof DeviceToleration>

export const CapacityRequirements = z.strictObject({
  requests: z.record(z.string(), QuantityString).optional(),
})

const requestCommon = {
  deviceClassName: z.string(),
  selectors: z.array(DeviceSelector).optional(),
  // Kept as string so that an unknown mode is reported by validation, not lost by the schema.
  allocationMode: z.string().optional(),
  count: Count.optional(),
  tolerations: z.array(DeviceToleration).optional(),
  capacity: CapacityRequirements.optional(),
}

export const ExactDeviceRequest = z.strictObject({
  ...requestCommon,
  adminAccess: z.boolean().optional(),
})
export type ExactDeviceRequest = z.infer<typeof ExactDeviceRequest>

export const DeviceSubRequest = z.strictObject({
  name: z.string(),
  ...requestCommon,
})
export type DeviceSubRequest = z.infer<typeof DeviceSubRequest>

export const DeviceRequest = z.strictObject({
  name: z.string(),
  exactly: ExactDeviceRequest.optional(),
  firstAvailable: z.array(DeviceSubRequest).optional(),
})
export type DeviceRequest = z.infer<typeof DeviceRequest>

export const DeviceConstraint = z.strictObject({
  requests: z.array(z.string()).optional(),
  matchAttribute: z.string().optional(),
  distinctAttribute: z.string().optional(),
})
export type DeviceConstraint = z.infer<typeof DeviceConstraint>

export const DeviceClaimConfiguration = z.strictObject({
  requests: z.array(z.string()).optional(),
  opaque: OpaqueDeviceConfiguration.optional(),
})
export type DeviceClaimConfiguration = z.infer<typeof DeviceClaimConfiguration>

export const DeviceClaim = z.strictObject({
  requests: z.array(DeviceRequest).optional(),
  constraints: z.array(DeviceConstraint).optional(),
  config: z.array(DeviceClaimConfiguration).optional(),
})

export const ResourceClaimSpec = z.strictObject({
  devices: DeviceClaim.optional(),
})
export type ResourceClaimSpec = z.infer<typeof ResourceClaimSpec>

export const DeviceRequestAllocationResult = z.strictObject({
  request: z.string(),
  driver: z.string(),
  pool: z.string(),
  device: z.string(),
  adminAccess: z.boolean().optional(),
  tolerations: z.array(DeviceToleration).optional(),
  bindingConditions: z.array(z.string()).optional(),
  bindingFailureConditions: z.array(z.string()).optional(),
  shareID: z.string().optional(),
  consumedCapacity: z.record(z.string(), QuantityString).optional(),
})
export type DeviceRequestAllocationResult = z.infer<typeof DeviceRequestAllocationResult>

export const DeviceAllocationConfiguration = z.strictObject({
  source: z.enum(['FromClass', 'FromClaim']),
  requests: z.array(z.string()).optional(),
  opaque: OpaqueDeviceConfiguration.optional(),
})
export type DeviceAllocationConfiguration = z.infer<typeof DeviceAllocationConfiguration>

export const AllocationResult = z.strictObject({
  devices: z
    .strictObject({
      results: z.array(DeviceRequestAllocationResult).optional(),
      config: z.array(DeviceAllocationConfiguration).optional(),
    })
    .optional(),
  nodeSelector: NodeSelector.optional(),
  allocationTimestamp: z.string().optional(),
})
export type AllocationResult = z.infer<typeof AllocationResult>

export const ResourceClaimStatus = z.looseObject({
  allocation: AllocationResult.optional(),
  reservedFor: z.array(z.looseObject({ resource: z.string(), name: z.string(), uid: z.string() })).optional(),
  devices: z.array(z.unknown()).optional(),
})

export const ResourceClaim = z.strictObject({
  apiVersion: z.string(),
  kind: z.literal('ResourceClaim'),
  metadata: ObjectMeta,
  spec: ResourceClaimSpec,
  status: ResourceClaimStatus.optional(),
})
export type ResourceClaim = z.infer<typeof ResourceClaim>

export const ResourceClaimTemplate = z.strictObject({
  apiVersion: z.string(),
  kind: z.literal('ResourceClaimTemplate'),
  metadata: ObjectMeta,
  spec: z.strictObject({
    metadata: z.looseObject({ labels: z.record(z.string(), z.string()).optional(), annotations: z.record(z.string(), z.string()).optional() }).optional(),
    spec: ResourceClaimSpec,
  }),
})
export type ResourceClaimTemplate = z.infer<typeof ResourceClaimTemplate>

export type DraObject = ResourceSlice | DeviceClass | ResourceClaim | ResourceClaimTemplate
