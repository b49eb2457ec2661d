// ResourceSlice validation: pool and node selection, devices, attributes, capacities and request policies, counters.
import * as L from './limits.ts'
import { dnsLabelProblems } from './names.ts'
import { Quantity } from './quantity.ts'
import type {
  CapacityRequestPolicy,
  CounterSet,
  Device,
  DeviceAttribute,
  DeviceCapacity,
  DeviceCounterConsumption,
  ResourceSlice,
  ResourceSliceSpec,
} from './resource-v1.ts'
import { isValidSemver } from './semver.ts'
import {
  add,
  addProblems,
  byteLength,
  checkBindingConditions,
  checkDriverName,
  checkNodeName,
  checkNodeSelector,
  checkObjectMeta,
  checkPoolName,
  checkQualifiedName,
  checkRequiredDnsLabel,
  checkTaint,
  checkUnique,
  child,
  index,
  key,
  show,
  withinLimit,
  type Errs,
  type FieldError,
} from './validate-common.ts'

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
  // Kubernetes 1.35+ keeps counter sets in slices of their own; 1.34 put them beside the devices
  // that consume them. gpuplane reads both layouts, holding a combined slice to 1.34's limits.
  if (devices.length > 0 && counterSets.length > 0) checkCombinedLayout(errs, path, devices, counterSets)
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
    if (!isValidSemver(attribute.version)) {
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

/** The Kubernetes 1.34 layout: counters in the device slice, referenced only from that slice. */
function checkCombinedLayout(errs: Errs, path: string, devices: readonly Device[], counterSets: readonly CounterSet[]): void {
  const counters = counterSets.reduce((n, set) => n + Object.keys(set.counters).length, 0)
  if (counters > L.RESOURCE_SLICE_MAX_SHARED_COUNTERS_1_34) {
    add(errs, child(path, 'sharedCounters'), `a slice with both devices and sharedCounters (the Kubernetes 1.34 layout) may have at most ${L.RESOURCE_SLICE_MAX_SHARED_COUNTERS_1_34} counters in all its sets (ResourceSliceMaxSharedCounters in 1.34), has ${counters}; publish the counter sets in a slice of their own`)
  }
  const consumptions = devices.reduce((n, d) => n + (d.consumesCounters ?? []).reduce((m, c) => m + Object.keys(c.counters).length, 0), 0)
  if (consumptions > L.RESOURCE_SLICE_MAX_DEVICE_COUNTERS_PER_SLICE_1_34) {
    add(errs, child(path, 'devices'), `a slice with both devices and sharedCounters (the Kubernetes 1.34 layout) may have at most ${L.RESOURCE_SLICE_MAX_DEVICE_COUNTERS_PER_SLICE_1_34} counter consumptions over all devices (ResourceSliceMaxDeviceCountersPerSlice in 1.34), has ${consumptions}`)
  }
  const names = new Set(counterSets.map((set) => set.name))
  devices.forEach((d, i) =>
    (d.consumesCounters ?? []).forEach((c, j) => {
      if (!names.has(c.counterSet)) {
        add(errs, child(index(child(path, 'devices'), i), `consumesCounters[${j}].counterSet`), `counter set "${c.counterSet}" is not in this slice; in a slice that carries its own sharedCounters (the 1.34 layout) devices consume only from those sets`)
      }
    }),
  )
}
