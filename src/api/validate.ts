// Semantic validation of resource.k8s.io/v1 objects: upstream's create-time rules (Kubernetes 1.36, default gates).
//
// The zod schemas in resource-v1.ts check shapes; this module checks what upstream's
// pkg/apis/resource/validation/validation.go and the declarative tags of
// k8s.io/api/resource/v1/types.go check on create: name formats, limits, one-of fields and
// references between fields. It does not compile CEL (src/cel does) and it does not know other
// objects (whether a DeviceClass exists, whether a pool's counter sets are complete).
//
// Contract: `validateObject` never throws for an object the schemas accepted; it returns every
// problem it finds as a FieldError, in document order, and an empty list for a valid object.
// Like upstream, a list over its size limit reports only that (its items are not inspected).
import { GpuplaneError, type ErrorLocation } from '../common/errors.ts'
import type { NodeSelector, ObjectMeta, OpaqueDeviceConfiguration } from './meta.ts'
import * as L from './limits.ts'
import {
  cIdentifierProblems,
  dnsLabelProblems,
  dnsSubdomainProblems,
  extendedResourceNameProblems,
  isNormalizedUuid,
  isStrictSemver,
  labelKeyProblems,
  labelValueProblems,
  objectNameProblems,
} from './names.ts'
import { Quantity } from './quantity.ts'
import type {
  AllocationResult,
  CapacityRequestPolicy,
  CounterSet,
  Device,
  DeviceAttribute,
  DeviceCapacity,
  DeviceClaimConfiguration,
  DeviceClass,
  DeviceConstraint,
  DeviceCounterConsumption,
  DeviceRequest,
  DeviceRequestAllocationResult,
  DeviceSelector,
  DeviceSubRequest,
  DeviceTaint,
  DeviceToleration,
  DraObject,
  ExactDeviceRequest,
  ResourceClaim,
  ResourceClaimSpec,
  ResourceClaimTemplate,
  ResourceSlice,
  ResourceSliceSpec,
} from './resource-v1.ts'

/** One problem in an object: where (Kubernetes-style field path) and what is wrong / allowed. */
export interface FieldError {
  path: string
  message: string
}

/** Validates any DRA object by its kind; returns all problems found (empty when valid). */
export function validateObject(obj: DraObject): FieldError[] {
  switch (obj.kind) {
    case 'ResourceSlice':
      return validateResourceSlice(obj)
    case 'DeviceClass':
      return validateDeviceClass(obj)
    case 'ResourceClaim':
      return validateResourceClaim(obj)
    case 'ResourceClaimTemplate':
      return validateResourceClaimTemplate(obj)
    default: {
      const kind = (obj as { kind?: unknown }).kind
      return [{ path: 'kind', message: `unsupported kind ${show(kind)}: expected ResourceSlice, DeviceClass, ResourceClaim or ResourceClaimTemplate` }]
    }
  }
}

/**
 * Turns validation problems into one INVALID_INPUT error (undefined when there are none). The
 * location's path is the first problem's; the message lists all of them, one per line.
 */
export function fieldErrorsToError(errors: readonly FieldError[], location: ErrorLocation = {}): GpuplaneError | undefined {
  if (errors.length === 0) return undefined
  const first = errors[0]
  const message =
    errors.length === 1 ? first.message : `${errors.length} problems:\n` + errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')
  return new GpuplaneError('INVALID_INPUT', message, { ...location, path: first.path })
}

// ------------------------------------------------------------------ paths, messages, collections

type Errs = FieldError[]

const child = (path: string, name: string): string => (path ? `${path}.${name}` : name)
const index = (path: string, i: number): string => `${path}[${i}]`
/** Map keys go in brackets; very long keys are shortened in the middle (upstream truncateIfTooLong). */
const key = (path: string, k: string): string => `${path}[${shorten(k, 96)}]`

function shorten(s: string, max: number): string {
  if (s.length <= max) return s
  const keep = max - 3
  return s.slice(0, Math.ceil(keep / 2)) + '...' + s.slice(s.length - Math.floor(keep / 2))
}

/** A value quoted for a message, shortened so that a huge value does not flood the output. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(shorten(value, 80))
  if (typeof value === 'bigint') return value.toString()
  return shorten(String(JSON.stringify(value) ?? value), 80)
}

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8')

function add(errs: Errs, path: string, message: string): void {
  errs.push({ path, message })
}

function addProblems(errs: Errs, path: string, value: string, problems: readonly string[]): void {
  for (const p of problems) add(errs, path, `${show(value)} ${p}`)
}

/**
 * Checks a list's length against an upstream limit. Returns false when over it: like upstream,
 * the caller then skips the items (a protection against huge inputs).
 */
function withinLimit(errs: Errs, path: string, length: number, max: number, limitName: string, what: string): boolean {
  if (length <= max) return true
  add(errs, path, `must have at most ${max} ${what} (${limitName} = ${max}), has ${length}`)
  return false
}

/** Reports every item whose key repeats an earlier item's key. */
function checkUnique<T>(errs: Errs, path: string, items: readonly T[], keyOf: (item: T) => string, what: string): void {
  const seen = new Set<string>()
  items.forEach((item, i) => {
    const k = keyOf(item)
    if (seen.has(k)) add(errs, index(path, i), `duplicate ${what} ${show(k)}: each ${what} must be unique in this list`)
    else seen.add(k)
  })
}

function checkRequiredDnsLabel(errs: Errs, path: string, value: string | undefined, what: string): void {
  if (!value) add(errs, path, `${what} is required: a DNS label such as 'gpu-0'`)
  else addProblems(errs, path, value, dnsLabelProblems(value))
}

// ------------------------------------------------------------------ shared name formats

/** Driver names (upstream ValidateCSIDriverName): required, at most 63, a DNS subdomain ignoring case. */
function checkDriverName(errs: Errs, path: string, driver: string): void {
  if (driver === '') {
    add(errs, path, "driver name is required: a DNS subdomain such as 'gpu.nvidia.com'")
    return
  }
  if (driver.length > L.DRIVER_NAME_MAX_LENGTH) {
    add(errs, path, `${show(driver)} is too long: a driver name must be at most ${L.DRIVER_NAME_MAX_LENGTH} characters (DriverNameMaxLength), has ${driver.length}`)
  }
  // Upstream lowercases before the DNS check: driver names "should" be lowercase, uppercase is accepted.
  addProblems(errs, path, driver, dnsSubdomainProblems(driver.toLowerCase()))
}

/** Pool names: required, at most 253 characters, DNS subdomains separated by '/'. */
function checkPoolName(errs: Errs, path: string, name: string): void {
  if (name === '') {
    add(errs, path, "pool name is required: one or more DNS subdomains separated by '/', e.g. 'node-1' or 'rack-a/node-1'")
    return
  }
  if (name.length > L.POOL_NAME_MAX_LENGTH) {
    add(errs, path, `pool name must be at most ${L.POOL_NAME_MAX_LENGTH} characters (PoolNameMaxLength), has ${name.length}`)
  }
  for (const part of name.split('/')) {
    for (const p of dnsSubdomainProblems(part)) {
      add(errs, path, `pool name ${show(name)}: each '/'-separated part ${part === '' ? 'must not be empty' : `${show(part)} ${p}`}`)
    }
  }
}

function checkNodeName(errs: Errs, path: string, name: string): void {
  addProblems(errs, path, name, objectNameProblems(name).map((p) => `is not a valid node name: ${p}`))
}

/** A C identifier of at most 32 characters (the ID of an attribute or capacity name). */
function cIdProblems(id: string): string[] {
  const problems: string[] = []
  if (id.length > L.DEVICE_MAX_ID_LENGTH) {
    problems.push(`the identifier must be at most ${L.DEVICE_MAX_ID_LENGTH} characters (DeviceMaxIDLength), has ${id.length}`)
  }
  return problems.concat(cIdentifierProblems(id))
}

/**
 * Problems of a QualifiedName: a C identifier (at most 32) optionally preceded by a domain (a
 * DNS subdomain of at most 63) and '/'. With `requireDomain`, a FullyQualifiedName.
 */
export function qualifiedNameProblems(name: string, requireDomain = false): string[] {
  const parts = name.split('/')
  if (parts.length > 2) return ["must not contain more than one '/': write <domain>/<identifier>, e.g. 'gpu.nvidia.com/productName'"]
  if (parts.length === 1) {
    const problems = parts[0] === '' ? ['must not be empty'] : cIdProblems(parts[0])
    if (requireDomain) problems.push("must be fully qualified: a domain and an identifier separated by '/', e.g. 'gpu.nvidia.com/productName'")
    return problems
  }
  const [domain, id] = parts
  const problems: string[] = []
  if (domain === '') problems.push("the domain before '/' must not be empty")
  else {
    if (domain.length > L.DEVICE_MAX_DOMAIN_LENGTH) {
      problems.push(`the domain must be at most ${L.DEVICE_MAX_DOMAIN_LENGTH} characters (DeviceMaxDomainLength), has ${domain.length}`)
    }
    problems.push(...dnsSubdomainProblems(domain.toLowerCase()).map((p) => `the domain ${p}`))
  }
  if (id === '') problems.push("the identifier after '/' must not be empty")
  else problems.push(...cIdProblems(id))
  return problems
}

function checkQualifiedName(errs: Errs, path: string, name: string, what: string, requireDomain = false): void {
  for (const p of qualifiedNameProblems(name, requireDomain)) add(errs, path, `${what} ${show(name)}: ${p}`)
}

function checkLabelKey(errs: Errs, path: string, k: string, what: string): void {
  if (k === '') add(errs, path, `${what} is required: a label key such as 'example.com/unhealthy'`)
  else addProblems(errs, path, k, labelKeyProblems(k))
}

function checkLabelValue(errs: Errs, path: string, v: string): void {
  addProblems(errs, path, v, labelValueProblems(v))
}

// ------------------------------------------------------------------ metadata

interface MetaRules {
  namespaced: boolean
  /** The name format's description for messages. */
  kind: string
}

/** Upstream ValidateObjectMeta on create, for the fields gpuplane reads. */
function checkObjectMeta(errs: Errs, meta: ObjectMeta, rules: MetaRules): void {
  const path = 'metadata'
  if (meta.generateName) {
    addProblems(errs, child(path, 'generateName'), meta.generateName, objectNameProblems(meta.generateName, true))
  }
  if (!meta.name) {
    // The API server fills the name from generateName before validating; we accept that too.
    if (!meta.generateName) add(errs, child(path, 'name'), `a ${rules.kind} needs metadata.name (or metadata.generateName): a DNS subdomain such as 'gpu-large'`)
  } else {
    addProblems(errs, child(path, 'name'), meta.name, objectNameProblems(meta.name))
  }
  if (meta.namespace !== undefined && meta.namespace !== '') {
    if (!rules.namespaced) add(errs, child(path, 'namespace'), `a ${rules.kind} is cluster-scoped: remove metadata.namespace`)
    else addProblems(errs, child(path, 'namespace'), meta.namespace, dnsLabelProblems(meta.namespace))
  }
  if (meta.generation !== undefined && meta.generation < 0) {
    add(errs, child(path, 'generation'), `must be greater than or equal to 0, is ${meta.generation}`)
  }
  checkLabelsAndAnnotations(errs, path, meta.labels, meta.annotations)
}

function checkLabelsAndAnnotations(
  errs: Errs,
  path: string,
  labels: Record<string, string> | undefined,
  annotations: Record<string, string> | undefined,
): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    addProblems(errs, key(child(path, 'labels'), k), k, labelKeyProblems(k).map((p) => `is not a valid label key: ${p}`))
    checkLabelValue(errs, key(child(path, 'labels'), k), v)
  }
  let size = 0
  for (const [k, v] of Object.entries(annotations ?? {})) {
    addProblems(errs, key(child(path, 'annotations'), k), k, labelKeyProblems(k.toLowerCase()).map((p) => `is not a valid annotation key: ${p}`))
    size += byteLength(k) + byteLength(v)
  }
  if (size > L.TOTAL_ANNOTATION_SIZE_LIMIT_B) {
    add(errs, child(path, 'annotations'), `annotations may hold at most ${L.TOTAL_ANNOTATION_SIZE_LIMIT_B} bytes in total (TotalAnnotationSizeLimitB), hold ${size}`)
  }
}

// ------------------------------------------------------------------ node selectors (core/v1)

/** Upstream corevalidation.ValidateNodeSelector (label values must be valid). */
function checkNodeSelector(errs: Errs, path: string, selector: NodeSelector): void {
  const termsPath = child(path, 'nodeSelectorTerms')
  if (selector.nodeSelectorTerms.length === 0) {
    add(errs, termsPath, 'must have at least one node selector term')
    return
  }
  selector.nodeSelectorTerms.forEach((term, i) => {
    const termPath = index(termsPath, i)
    term.matchExpressions?.forEach((req, j) => {
      const reqPath = index(child(termPath, 'matchExpressions'), j)
      const values = req.values ?? []
      if ((req.operator === 'In' || req.operator === 'NotIn') && values.length === 0) {
        add(errs, child(reqPath, 'values'), `must have at least one value when operator is ${req.operator}`)
      } else if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && values.length > 0) {
        add(errs, child(reqPath, 'values'), `must be empty when operator is ${req.operator}`)
      } else if ((req.operator === 'Gt' || req.operator === 'Lt') && values.length !== 1) {
        add(errs, child(reqPath, 'values'), `must have exactly one value when operator is ${req.operator}, has ${values.length}`)
      }
      checkLabelKey(errs, child(reqPath, 'key'), req.key, 'node label key')
      values.forEach((v, k) => checkLabelValue(errs, index(child(reqPath, 'values'), k), v))
    })
    term.matchFields?.forEach((req, j) => {
      const reqPath = index(child(termPath, 'matchFields'), j)
      const values = req.values ?? []
      if (req.operator !== 'In' && req.operator !== 'NotIn') {
        add(errs, child(reqPath, 'operator'), `unsupported operator ${show(req.operator)} for a node field selector: use In or NotIn`)
      } else if (values.length !== 1) {
        add(errs, child(reqPath, 'values'), `must have exactly one value when operator is ${req.operator} in a node field selector, has ${values.length}`)
      }
      if (req.key !== 'metadata.name') {
        add(errs, child(reqPath, 'key'), `unsupported field selector key ${show(req.key)}: the only supported key is metadata.name`)
      } else {
        values.forEach((v, k) => checkNodeName(errs, index(child(reqPath, 'values'), k), v))
      }
    })
  })
}

// ------------------------------------------------------------------ opaque configuration, selectors

/** Opaque driver configuration: a driver name and parameters that are a JSON object of at most 10 Ki. */
function checkOpaque(errs: Errs, path: string, opaque: OpaqueDeviceConfiguration | undefined): void {
  if (opaque === undefined) {
    add(errs, child(path, 'opaque'), 'opaque is required: {driver: <driver name>, parameters: <JSON object>}')
    return
  }
  checkDriverName(errs, child(path, 'opaque.driver'), opaque.driver)
  const paramsPath = child(path, 'opaque.parameters')
  const params = opaque.parameters
  if (params === undefined || params === null) {
    add(errs, paramsPath, 'parameters are required: a JSON object with the driver-specific configuration')
    return
  }
  if (typeof params !== 'object' || Array.isArray(params)) {
    add(errs, paramsPath, `parameters must be a JSON object, got ${Array.isArray(params) ? 'an array' : typeof params}`)
    return
  }
  const size = jsonByteLength(params)
  if (size > L.OPAQUE_PARAMETERS_MAX_LENGTH) {
    add(errs, paramsPath, `parameters must be at most ${L.OPAQUE_PARAMETERS_MAX_LENGTH} bytes as JSON (OpaqueParametersMaxLength = 10 Ki), are ${size}`)
  }
}

/** Bytes of a value written as compact JSON; the YAML decoder's bigints count as their digits. */
function jsonByteLength(value: unknown): number {
  let bigints = 0
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'bigint') return v
    bigints++
    return v.toString()
  })
  return byteLength(text ?? '') - 2 * bigints // each bigint was written with two quotes
}

function checkSelectors(errs: Errs, path: string, selectors: readonly DeviceSelector[] | undefined): void {
  if (!selectors || !withinLimit(errs, path, selectors.length, L.DEVICE_SELECTORS_MAX_SIZE, 'DeviceSelectorsMaxSize', 'selectors')) return
  selectors.forEach((selector, i) => {
    const selPath = index(path, i)
    if (!selector.cel) {
      add(errs, child(selPath, 'cel'), 'cel is required: {cel: {expression: "<CEL expression>"}}')
      return
    }
    const exprPath = child(selPath, 'cel.expression')
    const expression = selector.cel.expression
    const size = byteLength(expression)
    if (expression.trim() === '') add(errs, exprPath, 'a CEL expression is required, e.g. device.driver == "gpu.nvidia.com"')
    else if (size > L.CEL_SELECTOR_EXPRESSION_MAX_LENGTH) {
      add(errs, exprPath, `CEL expression must be at most ${L.CEL_SELECTOR_EXPRESSION_MAX_LENGTH} bytes (CELSelectorExpressionMaxLength = 10 Ki), has ${size}`)
    }
  })
}

function checkConfigList<T extends { opaque?: OpaqueDeviceConfiguration }>(
  errs: Errs,
  path: string,
  configs: readonly T[] | undefined,
  max: number,
  limitName: string,
  checkItem: (config: T, itemPath: string) => void = () => {},
): void {
  if (!configs || !withinLimit(errs, path, configs.length, max, limitName, 'config entries')) return
  configs.forEach((config, i) => {
    checkItem(config, index(path, i))
    checkOpaque(errs, index(path, i), config.opaque)
  })
}

// ------------------------------------------------------------------ taints, tolerations, binding conditions

const TAINT_EFFECTS = ['NoExecute', 'NoSchedule', 'None']
const TOLERATION_OPERATORS = ['Equal', 'Exists']

function checkTaint(errs: Errs, path: string, taint: DeviceTaint): void {
  checkLabelKey(errs, child(path, 'key'), taint.key, 'taint key')
  if (taint.value) checkLabelValue(errs, child(path, 'value'), taint.value)
  if (taint.effect === '') add(errs, child(path, 'effect'), `effect is required: one of ${TAINT_EFFECTS.join(', ')}`)
  else if (!TAINT_EFFECTS.includes(taint.effect)) {
    add(errs, child(path, 'effect'), `unsupported taint effect ${show(taint.effect)}: supported values are ${TAINT_EFFECTS.join(', ')}`)
  }
}

function checkTolerations(errs: Errs, path: string, tolerations: readonly DeviceToleration[] | undefined): void {
  if (!tolerations || !withinLimit(errs, path, tolerations.length, L.DEVICE_TOLERATIONS_MAX_LENGTH, 'DeviceTolerationsMaxLength', 'tolerations')) return
  tolerations.forEach((t, i) => checkToleration(errs, index(path, i), t))
}

function checkToleration(errs: Errs, path: string, t: DeviceToleration): void {
  if (t.key) addProblems(errs, child(path, 'key'), t.key, labelKeyProblems(t.key))
  // Omitted (or empty) operator defaults to Equal upstream.
  const operator = t.operator || 'Equal'
  if (operator === 'Exists') {
    if (t.value) add(errs, child(path, 'value'), `must be empty for operator Exists, is ${show(t.value)}`)
  } else if (operator === 'Equal') {
    checkLabelValue(errs, child(path, 'value'), t.value ?? '')
  } else {
    add(errs, child(path, 'operator'), `unsupported toleration operator ${show(operator)}: supported values are ${TOLERATION_OPERATORS.join(', ')}`)
  }
  if (t.effect && !TAINT_EFFECTS.includes(t.effect)) {
    add(errs, child(path, 'effect'), `unsupported toleration effect ${show(t.effect)}: supported values are NoSchedule, NoExecute (or None, or empty for all effects)`)
  }
}

/** bindingConditions / bindingFailureConditions of a device or an allocation result. */
function checkBindingConditions(errs: Errs, path: string, conditions: readonly string[] = [], failures: readonly string[] = []): void {
  const condPath = child(path, 'bindingConditions')
  const failPath = child(path, 'bindingFailureConditions')
  if (withinLimit(errs, condPath, conditions.length, L.BINDING_CONDITIONS_MAX_SIZE, 'BindingConditionsMaxSize', 'binding conditions')) {
    conditions.forEach((c, i) => checkLabelKey(errs, index(condPath, i), c, 'binding condition type'))
  }
  if (withinLimit(errs, failPath, failures.length, L.BINDING_FAILURE_CONDITIONS_MAX_SIZE, 'BindingFailureConditionsMaxSize', 'binding failure conditions')) {
    failures.forEach((c, i) => checkLabelKey(errs, index(failPath, i), c, 'binding failure condition type'))
  }
  checkUnique(errs, condPath, conditions, (c) => c, 'binding condition')
  checkUnique(errs, failPath, failures, (c) => c, 'binding failure condition')
  const condSet = new Set(conditions)
  failures.forEach((c, i) => {
    if (condSet.has(c)) add(errs, index(failPath, i), `${show(c)} is also a binding condition: bindingFailureConditions must not overlap with bindingConditions`)
  })
  if (conditions.length === 0 && failures.length > 0) {
    add(errs, condPath, 'bindingConditions are required when bindingFailureConditions are set')
  }
  if (failures.length === 0 && conditions.length > 0) {
    add(errs, failPath, 'bindingFailureConditions are required when bindingConditions are set')
  }
}

// ------------------------------------------------------------------ ResourceSlice

export function validateResourceSlice(slice: ResourceSlice): FieldError[] {
  const errs: Errs = []
  checkObjectMeta(errs, slice.metadata, { namespaced: false, kind: 'ResourceSlice' })
  checkSliceSpec(errs, 'spec', slice.spec)
  return errs
}

function checkSliceSpec(errs: Errs, path: string, spec: ResourceSliceSpec): void {
  checkDriverName(errs, child(path, 'driver'), spec.driver)
  checkPoolName(errs, child(path, 'pool.name'), spec.pool.name)
  if (spec.pool.generation < 0) add(errs, child(path, 'pool.generation'), `must be greater than or equal to 0, is ${spec.pool.generation}`)
  if (spec.pool.resourceSliceCount <= 0) {
    add(errs, child(path, 'pool.resourceSliceCount'), `must be greater than 0 (the number of slices in the pool at this generation), is ${spec.pool.resourceSliceCount}`)
  }
  checkSliceNodeSelection(errs, path, spec)

  const devices = spec.devices ?? []
  const counterSets = spec.sharedCounters ?? []
  if (devices.length > 0 && counterSets.length > 0) {
    add(errs, path, 'only one of devices or sharedCounters may be set in a ResourceSlice: publish counter sets in a slice of their own in the same pool')
  }
  checkDevices(errs, child(path, 'devices'), devices, spec.perDeviceNodeSelection === true)
  const setsPath = child(path, 'sharedCounters')
  if (withinLimit(errs, setsPath, counterSets.length, L.RESOURCE_SLICE_MAX_COUNTER_SETS, 'ResourceSliceMaxCounterSets', 'counter sets')) {
    counterSets.forEach((set, i) => checkCounterSet(errs, index(setsPath, i), set))
    checkUnique(errs, setsPath, counterSets, (s) => s.name, 'counter set name')
  }
}

/** Exactly one of nodeName, nodeSelector, allNodes, perDeviceNodeSelection. */
function checkSliceNodeSelection(errs: Errs, path: string, spec: ResourceSliceSpec): void {
  const set: string[] = []
  if (spec.nodeName !== undefined) {
    if (spec.nodeName === '') add(errs, child(path, 'nodeName'), 'must be either unset or a node name, not empty')
    else {
      set.push('nodeName')
      checkNodeName(errs, child(path, 'nodeName'), spec.nodeName)
    }
  }
  if (spec.nodeSelector !== undefined) {
    set.push('nodeSelector')
    checkNodeSelector(errs, child(path, 'nodeSelector'), spec.nodeSelector)
    const terms = spec.nodeSelector.nodeSelectorTerms.length
    if (terms !== 1) {
      add(errs, child(path, 'nodeSelector.nodeSelectorTerms'), `must have exactly one node selector term in a ResourceSlice, has ${terms}`)
    }
  }
  if (spec.allNodes !== undefined) {
    if (spec.allNodes) set.push('allNodes')
    else add(errs, child(path, 'allNodes'), 'must be either unset or true')
  }
  if (spec.perDeviceNodeSelection !== undefined) {
    if (spec.perDeviceNodeSelection) set.push('perDeviceNodeSelection')
    else add(errs, child(path, 'perDeviceNodeSelection'), 'must be either unset or true')
  }
  const choices = 'nodeName, nodeSelector, allNodes, perDeviceNodeSelection'
  if (set.length === 0) add(errs, path, `exactly one of ${choices} is required`)
  else if (set.length > 1) add(errs, path, `exactly one of ${choices} may be set, found ${set.join(', ')}`)
}

function checkDevices(errs: Errs, path: string, devices: readonly Device[], perDeviceNodeSelection: boolean): void {
  const advanced = devices.some((d) => (d.taints?.length ?? 0) > 0 || (d.consumesCounters?.length ?? 0) > 0)
  const [max, limitName] = advanced
    ? [L.RESOURCE_SLICE_MAX_DEVICES_WITH_ADVANCED_FEATURES, 'ResourceSliceMaxDevicesWithAdvancedFeatures, because a device has taints or consumesCounters']
    : [L.RESOURCE_SLICE_MAX_DEVICES, 'ResourceSliceMaxDevices']
  if (!withinLimit(errs, path, devices.length, max, limitName, 'devices')) return
  devices.forEach((device, i) => checkDevice(errs, index(path, i), device, perDeviceNodeSelection))
  checkUnique(errs, path, devices, (d) => d.name, 'device name')
}

function checkDevice(errs: Errs, path: string, device: Device, perDeviceNodeSelection: boolean): void {
  checkRequiredDnsLabel(errs, child(path, 'name'), device.name, 'device name')
  const attributes = Object.entries(device.attributes ?? {})
  const capacities = Object.entries(device.capacity ?? {})
  const total = attributes.length + capacities.length
  if (total > L.RESOURCE_SLICE_MAX_ATTRIBUTES_AND_CAPACITIES_PER_DEVICE) {
    const max = L.RESOURCE_SLICE_MAX_ATTRIBUTES_AND_CAPACITIES_PER_DEVICE
    add(errs, path, `must have at most ${max} attributes and capacities together (ResourceSliceMaxAttributesAndCapacitiesPerDevice = ${max}), has ${total}`)
  }
  for (const [name, attribute] of attributes) {
    const attrPath = key(child(path, 'attributes'), name)
    checkQualifiedName(errs, attrPath, name, 'attribute name')
    checkAttribute(errs, attrPath, attribute)
  }
  const multi = device.allowMultipleAllocations === true
  for (const [name, capacity] of capacities) {
    const capPath = key(child(path, 'capacity'), name)
    checkQualifiedName(errs, capPath, name, 'capacity name')
    checkCapacity(errs, capPath, capacity, multi)
  }
  const taintsPath = child(path, 'taints')
  const taints = device.taints ?? []
  if (withinLimit(errs, taintsPath, taints.length, L.DEVICE_TAINTS_MAX_LENGTH, 'DeviceTaintsMaxLength', 'taints')) {
    taints.forEach((t, i) => checkTaint(errs, index(taintsPath, i), t))
  }
  const consumesPath = child(path, 'consumesCounters')
  const consumes = device.consumesCounters ?? []
  const maxConsumes = L.RESOURCE_SLICE_MAX_DEVICE_COUNTER_CONSUMPTIONS_PER_DEVICE
  if (withinLimit(errs, consumesPath, consumes.length, maxConsumes, 'ResourceSliceMaxDeviceCounterConsumptionsPerDevice', 'counter consumptions')) {
    consumes.forEach((c, i) => checkCounterConsumption(errs, index(consumesPath, i), c))
    checkUnique(errs, consumesPath, consumes, (c) => c.counterSet, 'counterSet')
  }
  checkDeviceNodeSelection(errs, path, device, perDeviceNodeSelection)
  checkBindingConditions(errs, path, device.bindingConditions, device.bindingFailureConditions)
}

function checkAttribute(errs: Errs, path: string, attribute: DeviceAttribute): void {
  const set = (['int', 'bool', 'string', 'version'] as const).filter((f) => attribute[f] !== undefined)
  if (set.length !== 1) {
    add(errs, path, `exactly one of int, bool, string, version must be set, found ${set.length === 0 ? 'none' : set.join(', ')}`)
  }
  const max = L.DEVICE_ATTRIBUTE_MAX_VALUE_LENGTH
  if (attribute.string !== undefined && byteLength(attribute.string) > max) {
    add(errs, child(path, 'string'), `must be at most ${max} bytes (DeviceAttributeMaxValueLength = ${max}), has ${byteLength(attribute.string)}`)
  }
  if (attribute.version !== undefined) {
    if (!isStrictSemver(attribute.version)) {
      add(errs, child(path, 'version'), `${show(attribute.version)} is not a semantic version per semver.org 2.0.0: write MAJOR.MINOR.PATCH with optional -prerelease and +build, no leading 'v' or zeros (e.g. '12.4.0')`)
    }
    if (byteLength(attribute.version) > max) {
      add(errs, child(path, 'version'), `must be at most ${max} bytes (DeviceAttributeMaxValueLength = ${max}), has ${byteLength(attribute.version)}`)
    }
  }
}

function checkCounterMap(errs: Errs, path: string, counters: Record<string, unknown>, max: number, limitName: string): void {
  const names = Object.keys(counters)
  if (names.length === 0) {
    add(errs, path, 'at least one counter is required: {<counter name>: {value: <quantity>}}')
    return
  }
  if (!withinLimit(errs, path, names.length, max, limitName, 'counters')) return
  for (const name of names) addProblems(errs, key(path, name), name, dnsLabelProblems(name).map((p) => `is not a valid counter name: ${p}`))
}

function checkCounterSet(errs: Errs, path: string, set: CounterSet): void {
  checkRequiredDnsLabel(errs, child(path, 'name'), set.name, 'counter set name')
  checkCounterMap(errs, child(path, 'counters'), set.counters, L.RESOURCE_SLICE_MAX_COUNTERS_PER_COUNTER_SET, 'ResourceSliceMaxCountersPerCounterSet')
}

function checkCounterConsumption(errs: Errs, path: string, c: DeviceCounterConsumption): void {
  checkRequiredDnsLabel(errs, child(path, 'counterSet'), c.counterSet, 'counterSet')
  const max = L.RESOURCE_SLICE_MAX_COUNTERS_PER_DEVICE_COUNTER_CONSUMPTION
  checkCounterMap(errs, child(path, 'counters'), c.counters, max, 'ResourceSliceMaxCountersPerDeviceCounterConsumption')
}

/** Device-level nodeName/nodeSelector/allNodes: only with perDeviceNodeSelection, then exactly one. */
function checkDeviceNodeSelection(errs: Errs, path: string, device: Device, perDeviceNodeSelection: boolean): void {
  const anySet = device.nodeName !== undefined || device.nodeSelector !== undefined || device.allNodes !== undefined
  if (!perDeviceNodeSelection) {
    if (anySet) add(errs, path, 'nodeName, nodeSelector and allNodes of a device may only be set when the slice sets perDeviceNodeSelection: true')
    return
  }
  const set: string[] = []
  if (device.nodeName !== undefined) {
    if (device.nodeName === '') add(errs, child(path, 'nodeName'), 'must not be empty')
    else {
      set.push('nodeName')
      checkNodeName(errs, child(path, 'nodeName'), device.nodeName)
    }
  }
  if (device.nodeSelector !== undefined) {
    set.push('nodeSelector')
    checkNodeSelector(errs, child(path, 'nodeSelector'), device.nodeSelector)
  }
  if (device.allNodes !== undefined) {
    if (device.allNodes) set.push('allNodes')
    else add(errs, child(path, 'allNodes'), 'must be either unset or true')
  }
  const rule = 'exactly one of nodeName, nodeSelector, allNodes is required on each device when the slice sets perDeviceNodeSelection: true'
  if (set.length === 0) add(errs, path, rule)
  else if (set.length > 1) add(errs, path, `${rule}, found ${set.join(', ')}`)
}

// ------------------------------------------------------------------ capacity and request policy

function checkCapacity(errs: Errs, path: string, capacity: DeviceCapacity, allowMultipleAllocations: boolean): void {
  if (!capacity.requestPolicy) return
  const policyPath = child(path, 'requestPolicy')
  if (!allowMultipleAllocations) {
    add(errs, policyPath, 'requestPolicy is only allowed on a device with allowMultipleAllocations: true')
    return
  }
  const value = Quantity.tryParse(capacity.value)
  if (value === undefined) return // the schema already reported it
  checkRequestPolicy(errs, policyPath, value, capacity.requestPolicy)
}

function checkRequestPolicy(errs: Errs, path: string, capacity: Quantity, policy: CapacityRequestPolicy): void {
  const validValues = policy.validValues ?? []
  if (validValues.length > 0 && policy.validRange) {
    add(errs, path, 'at most one of validValues or validRange may be set')
    return
  }
  if (validValues.length === 0 && !policy.validRange) return
  const which = validValues.length > 0 ? 'validValues' : 'validRange'
  const dflt = policy.default === undefined ? undefined : Quantity.tryParse(policy.default)
  if (dflt === undefined) {
    if (policy.default === undefined) add(errs, child(path, 'default'), `default is required when ${which} is set`)
    return
  }
  if (validValues.length > 0) checkValidValues(errs, path, capacity, dflt, validValues)
  else if (policy.validRange) checkValidRange(errs, path, capacity, dflt, policy.validRange)
}

function checkValidValues(errs: Errs, path: string, capacity: Quantity, dflt: Quantity, raw: readonly string[]): void {
  const valuesPath = child(path, 'validValues')
  const max = L.CAPACITY_REQUEST_POLICY_DISCRETE_MAX_OPTIONS
  if (!withinLimit(errs, valuesPath, raw.length, max, 'CapacityRequestPolicyDiscreteMaxOptions', 'valid values')) return
  const values = raw.map((v) => Quantity.tryParse(v))
  if (values.some((v) => v === undefined)) return
  const qs = values as Quantity[]
  for (let i = 1; i < qs.length; i++) {
    if (qs[i - 1].cmp(qs[i]) > 0) {
      add(errs, index(valuesPath, i), `${raw[i]} is smaller than ${raw[i - 1]}: validValues must be sorted in ascending order`)
    }
  }
  // Upstream (without DRAFractionalCapacityRange, not in 1.36) tells values apart by their integer value, rounded up.
  checkUnique(errs, valuesPath, qs, (q) => q.value().toString(), 'valid value (compared as an integer, rounded up)')
  qs.forEach((q, i) => {
    if (q.cmp(capacity) > 0) add(errs, index(valuesPath, i), `${raw[i]} is larger than the capacity value ${capacity}`)
  })
  if (!qs.some((q) => q.cmp(dflt) === 0)) {
    add(errs, child(path, 'default'), `default ${dflt} must be one of validValues (${raw.join(', ')})`)
  }
}

function checkValidRange(
  errs: Errs,
  path: string,
  capacity: Quantity,
  dflt: Quantity,
  range: NonNullable<CapacityRequestPolicy['validRange']>,
): void {
  const rangePath = child(path, 'validRange')
  const min = Quantity.tryParse(range.min)
  const max = range.max === undefined ? undefined : Quantity.tryParse(range.max)
  const step = range.step === undefined ? undefined : Quantity.tryParse(range.step)
  if (min === undefined || (range.max !== undefined && max === undefined) || (range.step !== undefined && step === undefined)) return
  if (min.cmp(capacity) > 0) add(errs, child(rangePath, 'min'), `min ${min} is larger than the capacity value ${capacity}`)
  if (dflt.cmp(min) < 0) add(errs, child(path, 'default'), `default ${dflt} is less than validRange.min ${min}`)
  if (max) {
    if (min.cmp(max) > 0) add(errs, child(rangePath, 'max'), `max ${max} is less than min ${min}`)
    if (max.cmp(capacity) > 0) add(errs, child(rangePath, 'max'), `max ${max} is larger than the capacity value ${capacity}`)
    if (dflt.cmp(max) > 0) add(errs, child(path, 'default'), `default ${dflt} is more than validRange.max ${max}`)
  }
  if (!step) return
  const stepPath = child(rangePath, 'step')
  if (step.sign() <= 0) {
    add(errs, stepPath, `step must be greater than zero, is ${step}`)
    return
  }
  if (min.add(step).cmp(capacity) > 0) {
    add(errs, stepPath, `one step above min (${min} + ${step} = ${min.add(step)}) is larger than the capacity value ${capacity}`)
  }
  // Upstream 1.36 does this in integers, each value rounded up (Quantity.Value()); so do we.
  const minInt = min.value()
  const stepInt = step.value()
  if ((dflt.value() - minInt) % stepInt !== 0n) {
    add(errs, stepPath, `default ${dflt} is not min (${min}) plus a multiple of step (${step})`)
  }
  if (max && (max.value() - minInt) % stepInt !== 0n) {
    add(errs, stepPath, `max ${max} is not min (${min}) plus a multiple of step (${step})`)
  }
}

// ------------------------------------------------------------------ DeviceClass

export function validateDeviceClass(deviceClass: DeviceClass): FieldError[] {
  const errs: Errs = []
  checkObjectMeta(errs, deviceClass.metadata, { namespaced: false, kind: 'DeviceClass' })
  const spec = deviceClass.spec
  checkSelectors(errs, 'spec.selectors', spec.selectors)
  checkConfigList(errs, 'spec.config', spec.config, L.DEVICE_CONFIG_MAX_SIZE, 'DeviceConfigMaxSize')
  if (spec.extendedResourceName !== undefined) {
    const name = spec.extendedResourceName
    addProblems(errs, 'spec.extendedResourceName', name, extendedResourceNameProblems(name).map((p) => `is not a valid extended resource name: ${p}`))
  }
  return errs
}

// ------------------------------------------------------------------ ResourceClaim and ResourceClaimTemplate

export function validateResourceClaim(claim: ResourceClaim): FieldError[] {
  const errs: Errs = []
  checkObjectMeta(errs, claim.metadata, { namespaced: true, kind: 'ResourceClaim' })
  const names = checkClaimSpec(errs, 'spec', claim.spec)
  if (claim.status) checkClaimStatus(errs, 'status', claim.status, names)
  return errs
}

export function validateResourceClaimTemplate(template: ResourceClaimTemplate): FieldError[] {
  const errs: Errs = []
  checkObjectMeta(errs, template.metadata, { namespaced: true, kind: 'ResourceClaimTemplate' })
  const meta = template.spec.metadata
  if (meta) {
    for (const field of Object.keys(meta)) {
      if (field !== 'labels' && field !== 'annotations') {
        add(errs, child('spec.metadata', field), 'cannot be set in a ResourceClaimTemplate: only labels and annotations are copied to the generated claims')
      }
    }
    checkLabelsAndAnnotations(errs, 'spec.metadata', meta.labels, meta.annotations)
  }
  checkClaimSpec(errs, 'spec.spec', template.spec.spec)
  return errs
}

/** Request names of a claim: for each request, the names of its subrequests (null without firstAvailable). */
type RequestNames = Map<string, Set<string> | null>

function requestNamesOf(spec: ResourceClaimSpec): RequestNames {
  const names: RequestNames = new Map()
  for (const r of spec.devices?.requests ?? []) {
    names.set(r.name, r.firstAvailable?.length ? new Set(r.firstAvailable.map((s) => s.name)) : null)
  }
  return names
}

function checkClaimSpec(errs: Errs, path: string, spec: ResourceClaimSpec): RequestNames {
  const names = requestNamesOf(spec)
  const devices = spec.devices
  if (!devices) return names
  const devPath = child(path, 'devices')
  const requestsPath = child(devPath, 'requests')
  const requests = devices.requests ?? []
  if (withinLimit(errs, requestsPath, requests.length, L.DEVICE_REQUESTS_MAX_SIZE, 'DeviceRequestsMaxSize', 'requests')) {
    requests.forEach((r, i) => checkRequest(errs, index(requestsPath, i), r))
    checkUnique(errs, requestsPath, requests, (r) => r.name, 'request name')
  }
  const constraintsPath = child(devPath, 'constraints')
  const constraints = devices.constraints ?? []
  if (withinLimit(errs, constraintsPath, constraints.length, L.DEVICE_CONSTRAINTS_MAX_SIZE, 'DeviceConstraintsMaxSize', 'constraints')) {
    constraints.forEach((c, i) => checkConstraint(errs, index(constraintsPath, i), c, names))
  }
  checkConfigList(errs, child(devPath, 'config'), devices.config, L.DEVICE_CONFIG_MAX_SIZE, 'DeviceConfigMaxSize', (c: DeviceClaimConfiguration, p) =>
    checkRequestRefs(errs, child(p, 'requests'), c.requests, names),
  )
  return names
}

function checkRequest(errs: Errs, path: string, request: DeviceRequest): void {
  checkRequiredDnsLabel(errs, child(path, 'name'), request.name, 'request name')
  const subrequests = request.firstAvailable ?? []
  const hasExactly = request.exactly !== undefined
  const hasFirst = subrequests.length > 0
  if (hasExactly && hasFirst) {
    add(errs, path, 'exactly one of exactly or firstAvailable may be set, found both')
  } else if (!hasExactly && !hasFirst) {
    add(errs, path, 'exactly one of exactly or firstAvailable is required (firstAvailable needs at least one subrequest)')
  } else if (request.exactly) {
    checkExactRequest(errs, child(path, 'exactly'), request.exactly)
  } else {
    const subPath = child(path, 'firstAvailable')
    const max = L.FIRST_AVAILABLE_DEVICE_REQUEST_MAX_SIZE
    if (withinLimit(errs, subPath, subrequests.length, max, 'FirstAvailableDeviceRequestMaxSize', 'subrequests')) {
      subrequests.forEach((s, i) => checkSubRequest(errs, index(subPath, i), s))
      checkUnique(errs, subPath, subrequests, (s) => s.name, 'subrequest name')
    }
  }
}

function checkExactRequest(errs: Errs, path: string, r: ExactDeviceRequest): void {
  checkRequestCommon(errs, path, r)
}

function checkSubRequest(errs: Errs, path: string, r: DeviceSubRequest): void {
  checkRequiredDnsLabel(errs, child(path, 'name'), r.name, 'subrequest name')
  checkRequestCommon(errs, path, r)
}

/** The fields ExactDeviceRequest and DeviceSubRequest share. */
function checkRequestCommon(errs: Errs, path: string, r: ExactDeviceRequest | DeviceSubRequest): void {
  if (r.deviceClassName === '') add(errs, child(path, 'deviceClassName'), "deviceClassName is required: the name of a DeviceClass, e.g. 'gpu.nvidia.com'")
  else addProblems(errs, child(path, 'deviceClassName'), r.deviceClassName, dnsSubdomainProblems(r.deviceClassName))
  checkSelectors(errs, child(path, 'selectors'), r.selectors)
  checkAllocationMode(errs, path, r.allocationMode, r.count)
  checkTolerations(errs, child(path, 'tolerations'), r.tolerations)
  for (const name of Object.keys(r.capacity?.requests ?? {})) {
    // Not checked upstream; a malformed name could never match a device's capacity.
    checkQualifiedName(errs, key(child(path, 'capacity.requests'), name), name, 'capacity name')
  }
}

/**
 * allocationMode defaults to ExactCount and count to 1; count is an int64 with omitempty upstream,
 * so an explicit 0 means "unset".
 */
function checkAllocationMode(errs: Errs, path: string, mode: string | undefined, count: number | undefined): void {
  const effective = mode || 'ExactCount'
  const n = count ?? 0
  if (effective === 'ExactCount') {
    if (n < 0) add(errs, child(path, 'count'), `must be greater than zero (the number of devices), is ${n}`)
  } else if (effective === 'All') {
    if (n !== 0) add(errs, child(path, 'count'), `must not be set when allocationMode is All, is ${n}`)
  } else {
    add(errs, child(path, 'allocationMode'), `unsupported allocationMode ${show(mode)}: supported values are ExactCount (the default) and All`)
  }
}

function checkConstraint(errs: Errs, path: string, c: DeviceConstraint, names: RequestNames): void {
  checkRequestRefs(errs, child(path, 'requests'), c.requests, names)
  if (c.matchAttribute !== undefined && c.distinctAttribute !== undefined) {
    add(errs, path, 'exactly one of matchAttribute or distinctAttribute may be set, found both')
  } else if (c.matchAttribute !== undefined) {
    checkQualifiedName(errs, child(path, 'matchAttribute'), c.matchAttribute, 'attribute name', true)
  } else if (c.distinctAttribute !== undefined) {
    checkQualifiedName(errs, child(path, 'distinctAttribute'), c.distinctAttribute, 'attribute name', true)
  } else {
    add(errs, path, 'exactly one of matchAttribute or distinctAttribute is required')
  }
}

/** References to requests from constraints, config and results: "<request>" or "<request>/<subrequest>". */
function checkRequestRefs(errs: Errs, path: string, refs: readonly string[] | undefined, names: RequestNames): void {
  if (!refs || !withinLimit(errs, path, refs.length, L.DEVICE_REQUESTS_MAX_SIZE, 'DeviceRequestsMaxSize', 'request references')) return
  refs.forEach((ref, i) => checkRequestRef(errs, index(path, i), ref, names))
  checkUnique(errs, path, refs, (r) => r, 'request reference')
}

function checkRequestRef(errs: Errs, path: string, ref: string, names: RequestNames): void {
  const segments = ref.split('/')
  if (segments.length > 2) {
    add(errs, path, `${show(ref)} must be the name of a request in the claim, or a request and a subrequest separated by one '/'`)
    return
  }
  for (const s of segments) addProblems(errs, path, s, dnsLabelProblems(s))
  const [request, sub] = segments
  const subs = names.get(request)
  if (subs === undefined) {
    const known = [...names.keys()]
    add(errs, path, `${show(ref)} does not name a request of this claim${known.length ? ` (requests: ${known.join(', ')})` : ' (it has no requests)'}`)
  } else if (sub !== undefined && !subs?.has(sub)) {
    const known = subs ? [...subs].map((s) => `${request}/${s}`).join(', ') : undefined
    add(errs, path, `${show(ref)} does not name a subrequest of request ${show(request)}${known ? ` (subrequests: ${known})` : ' (it has no firstAvailable subrequests)'}`)
  }
}

// ------------------------------------------------------------------ ResourceClaim status

type ClaimStatus = NonNullable<ResourceClaim['status']>

function checkClaimStatus(errs: Errs, path: string, status: ClaimStatus, names: RequestNames): void {
  const reservedPath = child(path, 'reservedFor')
  const reserved = status.reservedFor ?? []
  const maxReserved = L.RESOURCE_CLAIM_RESERVED_FOR_MAX_SIZE
  if (withinLimit(errs, reservedPath, reserved.length, maxReserved, 'ResourceClaimReservedForMaxSize', 'reservedFor entries')) {
    reserved.forEach((ref, i) => {
      for (const f of ['resource', 'name', 'uid'] as const) {
        if (ref[f] === '') add(errs, child(index(reservedPath, i), f), `${f} is required in a reservedFor entry`)
      }
    })
    checkUnique(errs, reservedPath, reserved, (r) => r.uid, 'consumer uid')
  }
  if (reserved.length > 0 && !status.allocation) {
    add(errs, reservedPath, 'may only be set when status.allocation is set: a claim is reserved for consumers after it is allocated')
  }
  if (status.allocation) checkAllocation(errs, child(path, 'allocation'), status.allocation, names)
}

function checkAllocation(errs: Errs, path: string, allocation: AllocationResult, names: RequestNames): void {
  const resultsPath = child(path, 'devices.results')
  const results = allocation.devices?.results ?? []
  if (withinLimit(errs, resultsPath, results.length, L.ALLOCATION_RESULTS_MAX_SIZE, 'AllocationResultsMaxSize', 'results')) {
    results.forEach((r, i) => checkResult(errs, index(resultsPath, i), r, names))
  }
  checkConfigList(errs, child(path, 'devices.config'), allocation.devices?.config, L.ALLOCATION_CONFIG_MAX_SIZE, 'DeviceConfigMaxSize * 2', (c, p) =>
    checkRequestRefs(errs, child(p, 'requests'), c.requests, names),
  )
  if (allocation.nodeSelector) checkNodeSelector(errs, child(path, 'nodeSelector'), allocation.nodeSelector)
}

function checkResult(errs: Errs, path: string, r: DeviceRequestAllocationResult, names: RequestNames): void {
  checkRequestRef(errs, child(path, 'request'), r.request, names)
  checkDriverName(errs, child(path, 'driver'), r.driver)
  checkPoolName(errs, child(path, 'pool'), r.pool)
  checkRequiredDnsLabel(errs, child(path, 'device'), r.device, 'device name')
  checkBindingConditions(errs, path, r.bindingConditions, r.bindingFailureConditions)
  ;(r.tolerations ?? []).forEach((t, i) => checkToleration(errs, index(child(path, 'tolerations'), i), t))
  if (r.shareID !== undefined && !isNormalizedUuid(r.shareID)) {
    add(errs, child(path, 'shareID'), `${show(r.shareID)} must be a UUID in RFC 4122 normalized form: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx with lowercase hexadecimal digits`)
  }
}
