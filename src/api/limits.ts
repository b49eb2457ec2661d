// Size and length limits of resource.k8s.io/v1 objects, as upstream defines them at Kubernetes 1.36.
//
// Unless stated otherwise the source is k8s.io/api resource/v1/types.go at tag kubernetes-1.36.0;
// the upstream constant's name follows "types.go:". Validation messages quote these names so
// that a user can look a limit up.

/** types.go: DriverNameMaxLength (same as a CSI driver name). */
export const DRIVER_NAME_MAX_LENGTH = 63
/** types.go: PoolNameMaxLength = validation.DNS1123SubdomainMaxLength. */
export const POOL_NAME_MAX_LENGTH = 253
/** types.go: ResourceSliceMaxDevices. */
export const RESOURCE_SLICE_MAX_DEVICES = 128
/**
 * types.go: ResourceSliceMaxDevicesWithAdvancedFeatures; applies when any device of the slice has
 * taints or consumesCounters (or list-type attributes, an alpha field gpuplane does not accept).
 */
export const RESOURCE_SLICE_MAX_DEVICES_WITH_ADVANCED_FEATURES = 64
/** types.go: ResourceSliceMaxAttributesAndCapacitiesPerDevice. */
export const RESOURCE_SLICE_MAX_ATTRIBUTES_AND_CAPACITIES_PER_DEVICE = 32
/** types.go: ResourceSliceMaxCounterSets. */
export const RESOURCE_SLICE_MAX_COUNTER_SETS = 8
/** types.go: ResourceSliceMaxCountersPerCounterSet. */
export const RESOURCE_SLICE_MAX_COUNTERS_PER_COUNTER_SET = 32
/** types.go: ResourceSliceMaxDeviceCounterConsumptionsPerDevice. */
export const RESOURCE_SLICE_MAX_DEVICE_COUNTER_CONSUMPTIONS_PER_DEVICE = 2
/** types.go: ResourceSliceMaxCountersPerDeviceCounterConsumption. */
export const RESOURCE_SLICE_MAX_COUNTERS_PER_DEVICE_COUNTER_CONSUMPTION = 32
/** types.go: DeviceMaxDomainLength (domain of a qualified attribute or capacity name). */
export const DEVICE_MAX_DOMAIN_LENGTH = 63
/** types.go: DeviceMaxIDLength (C identifier of a qualified attribute or capacity name). */
export const DEVICE_MAX_ID_LENGTH = 32
/** types.go: DeviceAttributeMaxValueLength (string and version attribute values). */
export const DEVICE_ATTRIBUTE_MAX_VALUE_LENGTH = 64
/** types.go: DeviceTaintsMaxLength (was 4 in 1.34). */
export const DEVICE_TAINTS_MAX_LENGTH = 16
/** types.go: BindingConditionsMaxSize. */
export const BINDING_CONDITIONS_MAX_SIZE = 4
/** types.go: BindingFailureConditionsMaxSize. */
export const BINDING_FAILURE_CONDITIONS_MAX_SIZE = 4
/**
 * Maximum entries of CapacityRequestPolicy.validValues. Upstream: CapacityRequestPolicyDiscreteMaxOptions
 * in pkg/apis/resource/types.go (the internal API); types.go documents "Must not contain more than 10 entries".
 */
export const CAPACITY_REQUEST_POLICY_DISCRETE_MAX_OPTIONS = 10

/** types.go: AllocationResultsMaxSize. */
export const ALLOCATION_RESULTS_MAX_SIZE = 32
/** types.go: DeviceRequestsMaxSize = AllocationResultsMaxSize. */
export const DEVICE_REQUESTS_MAX_SIZE = ALLOCATION_RESULTS_MAX_SIZE
/** types.go: DeviceConstraintsMaxSize. */
export const DEVICE_CONSTRAINTS_MAX_SIZE = 32
/** types.go: DeviceConfigMaxSize. */
export const DEVICE_CONFIG_MAX_SIZE = 32
/** pkg/apis/resource/validation: allocation.devices.config holds class and claim config, 2 * DeviceConfigMaxSize. */
export const ALLOCATION_CONFIG_MAX_SIZE = 2 * DEVICE_CONFIG_MAX_SIZE
/** types.go: DeviceSelectorsMaxSize. */
export const DEVICE_SELECTORS_MAX_SIZE = 32
/** types.go: FirstAvailableDeviceRequestMaxSize. */
export const FIRST_AVAILABLE_DEVICE_REQUEST_MAX_SIZE = 8
/** types.go: DeviceTolerationsMaxLength. */
export const DEVICE_TOLERATIONS_MAX_LENGTH = 16
/** types.go: CELSelectorExpressionMaxLength (10 Ki). */
export const CEL_SELECTOR_EXPRESSION_MAX_LENGTH = 10 * 1024
/** types.go: CELSelectorExpressionMaxCost (enforced by the CEL module, not here). */
export const CEL_SELECTOR_EXPRESSION_MAX_COST = 1_000_000
/** types.go: OpaqueParametersMaxLength (10 Ki of raw JSON). */
export const OPAQUE_PARAMETERS_MAX_LENGTH = 10 * 1024
/** types.go: ResourceClaimReservedForMaxSize. */
export const RESOURCE_CLAIM_RESERVED_FOR_MAX_SIZE = 256

/** k8s.io/apimachinery/pkg/api/validation: TotalAnnotationSizeLimitB (256 KiB over all keys and values). */
export const TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * 1024

/** Kubernetes 1.34 ResourceSliceMaxSharedCounters: counters over all sets of a slice that also has devices. */
export const RESOURCE_SLICE_MAX_SHARED_COUNTERS_1_34 = 32
/** Kubernetes 1.34 ResourceSliceMaxDeviceCountersPerSlice: counter consumptions over all devices of such a slice. */
export const RESOURCE_SLICE_MAX_DEVICE_COUNTERS_PER_SLICE_1_34 = 1024
