// Field-check helpers shared by the resource.k8s.io/v1 validators: paths, messages, limits, names, metadata, selectors, taints.
//
// Each `check...` function appends what is wrong with one field to an error list (Errs) and
// returns nothing; `...Problems` functions return messages without a path. See validate.ts for
// the validators' contract.
import type { NodeSelector, ObjectMeta, OpaqueDeviceConfiguration } from './meta.ts'
import * as L from './limits.ts'
import { cIdentifierProblems, dnsLabelProblems, dnsSubdomainProblems, labelKeyProblems, labelValueProblems, objectNameProblems } from './names.ts'
import type { DeviceSelector, DeviceTaint, DeviceToleration } from './resource-v1.ts'

/** One problem in an object: where (Kubernetes-style field path) and what is wrong / allowed. */
export interface FieldError {
  path: string
  message: string
}

// ------------------------------------------------------------------ paths, messages, collections

export type Errs = FieldError[]

export const child = (path: string, name: string): string => (path ? `${path}.${name}` : name)
export const index = (path: string, i: number): string => `${path}[${i}]`
/** Map keys go in brackets; very long keys are shortened in the middle (upstream truncateIfTooLong). */
export const key = (path: string, k: string): string => `${path}[${shorten(k, 96)}]`

function shorten(s: string, max: number): string {
  if (s.length <= max) return s
  const keep = max - 3
  return s.slice(0, Math.ceil(keep / 2)) + '...' + s.slice(s.length - Math.floor(keep / 2))
}

/** A value quoted for a message, shortened so that a huge value does not flood the output. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(shorten(value, 80))
  if (typeof value === 'bigint') return value.toString()
  return shorten(String(JSON.stringify(value) ?? value), 80)
}

export const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8')

export function add(errs: Errs, path: string, message: string): void {
  errs.push({ path, message })
}

export function addProblems(errs: Errs, path: string, value: string, problems: readonly string[]): void {
  for (const p of problems) add(errs, path, `${show(value)} ${p}`)
}

/**
 * Checks a list's length against an upstream limit. Returns false when over it: like upstream,
 * the caller then skips the items (a protection against huge inputs).
 */
export function withinLimit(errs: Errs, path: string, length: number, max: number, limitName: string, what: string): boolean {
  if (length <= max) return true
  add(errs, path, `must have at most ${max} ${what} (${limitName} = ${max}), has ${length}`)
  return false
}

/** Reports every item whose key repeats an earlier item's key. */
export function checkUnique<T>(errs: Errs, path: string, items: readonly T[], keyOf: (item: T) => string, what: string): void {
  const seen = new Set<string>()
  items.forEach((item, i) => {
    const k = keyOf(item)
    if (seen.has(k)) add(errs, index(path, i), `duplicate ${what} ${show(k)}: each ${what} must be unique in this list`)
    else seen.add(k)
  })
}

export function checkRequiredDnsLabel(errs: Errs, path: string, value: string | undefined, what: string): void {
  if (!value) add(errs, path, `${what} is required: a DNS label such as 'gpu-0'`)
  else addProblems(errs, path, value, dnsLabelProblems(value))
}

// ------------------------------------------------------------------ shared name formats

/** Driver names (upstream ValidateCSIDriverName): required, at most 63, a DNS subdomain ignoring case. */
export function checkDriverName(errs: Errs, path: string, driver: string): void {
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
export function checkPoolName(errs: Errs, path: string, name: string): void {
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

export function checkNodeName(errs: Errs, path: string, name: string): void {
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

export function checkQualifiedName(errs: Errs, path: string, name: string, what: string, requireDomain = false): void {
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

export interface MetaRules {
  namespaced: boolean
  /** The name format's description for messages. */
  kind: string
}

/** Upstream ValidateObjectMeta on create, for the fields gpuplane reads. */
export function checkObjectMeta(errs: Errs, meta: ObjectMeta, rules: MetaRules): void {
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

export function checkLabelsAndAnnotations(
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
export function checkNodeSelector(errs: Errs, path: string, selector: NodeSelector): void {
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

export function checkSelectors(errs: Errs, path: string, selectors: readonly DeviceSelector[] | undefined): void {
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

export function checkConfigList<T extends { opaque?: OpaqueDeviceConfiguration }>(
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

export function checkTaint(errs: Errs, path: string, taint: DeviceTaint): void {
  checkLabelKey(errs, child(path, 'key'), taint.key, 'taint key')
  if (taint.value) checkLabelValue(errs, child(path, 'value'), taint.value)
  if (taint.effect === '') add(errs, child(path, 'effect'), `effect is required: one of ${TAINT_EFFECTS.join(', ')}`)
  else if (!TAINT_EFFECTS.includes(taint.effect)) {
    add(errs, child(path, 'effect'), `unsupported taint effect ${show(taint.effect)}: supported values are ${TAINT_EFFECTS.join(', ')}`)
  }
}

export function checkTolerations(errs: Errs, path: string, tolerations: readonly DeviceToleration[] | undefined): void {
  if (!tolerations || !withinLimit(errs, path, tolerations.length, L.DEVICE_TOLERATIONS_MAX_LENGTH, 'DeviceTolerationsMaxLength', 'tolerations')) return
  tolerations.forEach((t, i) => checkToleration(errs, index(path, i), t))
}

export function checkToleration(errs: Errs, path: string, t: DeviceToleration): void {
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
export function checkBindingConditions(errs: Errs, path: string, conditions: readonly string[] = [], failures: readonly string[] = []): void {
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
