import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice } from './resource-v1.ts'
import { fieldErrorsToError, qualifiedNameProblems, validateObject, type FieldError } from './validate.ts'
import * as L from './limits.ts'

// ------------------------------------------------------------------ fixtures

type Json = Record<string, any>

function slice(spec: Json = {}, metadata: Json = { name: 'node-1-gpu.nvidia.com-x' }): ResourceSlice {
  return ResourceSlice.parse({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata,
    spec: { driver: 'gpu.nvidia.com', pool: { name: 'node-1', generation: 1, resourceSliceCount: 1 }, nodeName: 'node-1', ...spec },
  })
}

function gpu(name: string, extra: Json = {}): Json {
  return {
    name,
    attributes: {
      productName: { string: 'NVIDIA H100 80GB HBM3' },
      'gpu.nvidia.com/driverVersion': { version: '570.124.6' },
      index: { int: 0 },
      'resource.kubernetes.io/pcieRoot': { string: 'pci0000:00' },
    },
    capacity: { memory: { value: '80Gi' } },
    ...extra,
  }
}

function deviceClass(spec: Json = {}, metadata: Json = { name: 'gpu.nvidia.com' }): DeviceClass {
  return DeviceClass.parse({ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata, spec })
}

function claim(devices: Json, status?: Json, metadata: Json = { name: 'train', namespace: 'team-a' }): ResourceClaim {
  return ResourceClaim.parse({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata,
    spec: { devices },
    ...(status ? { status } : {}),
  })
}

const exact = (name: string, extra: Json = {}): Json => ({ name, exactly: { deviceClassName: 'gpu.nvidia.com', ...extra } })

const validate = (obj: Parameters<typeof validateObject>[0]): FieldError[] => validateObject(obj)

/** Asserts that exactly the given paths have errors (in any order), each message matching its pattern. */
function expectErrors(errs: FieldError[], expected: Array<[path: string, message: RegExp]>): void {
  const show = () => JSON.stringify(errs, null, 1)
  for (const [path, re] of expected) {
    assert.ok(
      errs.some((e) => e.path === path && re.test(e.message)),
      `expected an error at ${path} matching ${re}, got ${show()}`,
    )
  }
  assert.equal(errs.length, expected.length, `unexpected errors: ${show()}`)
}

const expectValid = (errs: FieldError[]) => assert.deepEqual(errs, [])

// ------------------------------------------------------------------ valid objects

test('realistic objects of every kind are valid', () => {
  expectValid(validate(slice({ devices: [gpu('gpu-0'), gpu('gpu-1')] })))
  // A 1.35+ MIG layout: counters in their own slice, devices consuming them in another.
  expectValid(
    validate(
      slice({
        nodeName: undefined,
        allNodes: true,
        sharedCounters: [{ name: 'gpu-0-counter-set', counters: { memory: { value: '80Gi' }, 'memory-slice-0': { value: '1' } } }],
      }),
    ),
  )
  expectValid(
    validate(
      slice({
        devices: [
          gpu('gpu-0-mig-1g-10gb-0', {
            consumesCounters: [{ counterSet: 'gpu-0-counter-set', counters: { memory: { value: '10Gi' }, 'memory-slice-0': { value: '1' } } }],
            taints: [{ key: 'example.com/unhealthy', value: 'ecc', effect: 'NoSchedule' }],
            bindsToNode: true,
            bindingConditions: ['example.com/attached'],
            bindingFailureConditions: ['example.com/attach-failed'],
          }),
        ],
      }),
    ),
  )
  expectValid(validate(deviceClass({ selectors: [{ cel: { expression: 'device.driver == "gpu.nvidia.com"' } }], config: [{ opaque: { driver: 'gpu.nvidia.com', parameters: { apiVersion: 'resource.nvidia.com/v1beta1', kind: 'GpuConfig' } } }], extendedResourceName: 'nvidia.com/gpu' })))
  expectValid(
    validate(
      claim(
        {
          requests: [
            exact('gpu', { count: 2, tolerations: [{ key: 'example.com/unhealthy', operator: 'Exists', effect: 'NoSchedule' }] }),
            { name: 'mig', firstAvailable: [{ name: 'big', deviceClassName: 'mig.nvidia.com' }, { name: 'small', deviceClassName: 'mig.nvidia.com', allocationMode: 'All' }] },
          ],
          constraints: [{ requests: ['gpu', 'mig/big'], matchAttribute: 'resource.kubernetes.io/pcieRoot' }],
          config: [{ requests: ['mig'], opaque: { driver: 'gpu.nvidia.com', parameters: { sharing: { strategy: 'TimeSlicing' } } } }],
        },
        {
          allocation: {
            devices: {
              results: [
                { request: 'gpu', driver: 'gpu.nvidia.com', pool: 'node-1', device: 'gpu-0' },
                { request: 'mig/big', driver: 'gpu.nvidia.com', pool: 'node-1', device: 'gpu-1-mig-3g-40gb-0', shareID: '6c01cc40-3527-43a9-a241-89c9e7d18921' },
              ],
              config: [{ source: 'FromClaim', requests: ['mig'], opaque: { driver: 'gpu.nvidia.com', parameters: { a: 1 } } }],
            },
            nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] }] },
          },
          reservedFor: [{ resource: 'pods', name: 'trainer', uid: '6c01cc40-3527-43a9-a241-89c9e7d18921' }],
        },
      ),
    ),
  )
  const template = ResourceClaimTemplate.parse({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: { name: 'one-gpu', namespace: 'team-a' },
    spec: { metadata: { labels: { app: 'train' } }, spec: { devices: { requests: [exact('gpu')] } } },
  })
  expectValid(validate(template))
})

// ------------------------------------------------------------------ metadata

test('metadata: DNS-subdomain names, generateName, namespace scope, labels', () => {
  expectErrors(validate(slice({}, { name: 'Node_1' })), [['metadata.name', /"Node_1" must be a DNS subdomain/]])
  expectErrors(validate(slice({}, {})), [['metadata.name', /needs metadata.name/]])
  expectValid(validate(slice({}, { generateName: 'node-1-gpu-' })))
  expectErrors(validate(slice({}, { name: 'a', namespace: 'default' })), [['metadata.namespace', /cluster-scoped/]])
  expectErrors(validate(deviceClass({}, { name: 'gpu..nvidia' })), [['metadata.name', /DNS subdomain/]])
  expectErrors(validate(claim({}, undefined, { name: 'train', namespace: 'Team' })), [['metadata.namespace', /DNS label/]])
  expectErrors(validate(claim({}, undefined, { name: 'x', labels: { 'bad key/x/y': 'v', ok: '-bad' } })), [
    ['metadata.labels[bad key/x/y]', /not a valid label key/],
    ['metadata.labels[ok]', /label value/],
  ])
  expectErrors(validate(claim({}, undefined, { name: 'x', generation: -1 })), [['metadata.generation', />= 0|greater than or equal to 0/]])
})

// ------------------------------------------------------------------ ResourceSlice

test('slice driver and pool: driver a DNS subdomain of at most 63, pool DNS subdomains separated by /', () => {
  expectErrors(validate(slice({ driver: '' })), [['spec.driver', /required/]])
  expectErrors(validate(slice({ driver: 'gpu_nvidia' })), [['spec.driver', /DNS subdomain/]])
  expectErrors(validate(slice({ driver: 'a'.repeat(64) + '.com' })), [['spec.driver', /at most 63 characters \(DriverNameMaxLength\), has 68/]])
  // Upstream lowercases driver names before checking them, so uppercase passes.
  expectValid(validate(slice({ driver: 'GPU.nvidia.com' })))
  expectValid(validate(slice({ pool: { name: 'rack-a/node-1.example', generation: 0, resourceSliceCount: 3 } })))
  expectErrors(validate(slice({ pool: { name: 'rack-a//node-1', generation: 0, resourceSliceCount: 1 } })), [['spec.pool.name', /must not be empty/]])
  expectErrors(validate(slice({ pool: { name: 'Node1', generation: 0, resourceSliceCount: 1 } })), [['spec.pool.name', /DNS subdomain/]])
  expectErrors(validate(slice({ pool: { name: ('a'.repeat(60) + '/').repeat(5), generation: 0, resourceSliceCount: 1 } })), [
    ['spec.pool.name', /at most 253 characters \(PoolNameMaxLength\)/],
    ['spec.pool.name', /must not be empty/],
  ])
  expectErrors(validate(slice({ pool: { name: 'p', generation: -1, resourceSliceCount: 0 } })), [
    ['spec.pool.generation', /greater than or equal to 0, is -1/],
    ['spec.pool.resourceSliceCount', /greater than 0.*is 0/],
  ])
})

test('slice node selection: exactly one of nodeName, nodeSelector, allNodes, perDeviceNodeSelection', () => {
  expectErrors(validate(slice({ nodeName: undefined })), [['spec', /exactly one of nodeName, nodeSelector, allNodes, perDeviceNodeSelection is required/]])
  expectErrors(validate(slice({ allNodes: true })), [['spec', /found nodeName, allNodes/]])
  expectErrors(validate(slice({ nodeName: '' })), [
    ['spec.nodeName', /not empty/],
    ['spec', /is required/],
  ])
  expectErrors(validate(slice({ nodeName: undefined, allNodes: false })), [
    ['spec.allNodes', /unset or true/],
    ['spec', /is required/],
  ])
  expectErrors(validate(slice({ nodeName: 'Node_1' })), [['spec.nodeName', /not a valid node name/]])
  const term = { matchExpressions: [{ key: 'example.com/rack', operator: 'In', values: ['a'] }] }
  expectValid(validate(slice({ nodeName: undefined, nodeSelector: { nodeSelectorTerms: [term] } })))
  expectErrors(validate(slice({ nodeName: undefined, nodeSelector: { nodeSelectorTerms: [term, term] } })), [
    ['spec.nodeSelector.nodeSelectorTerms', /exactly one node selector term in a ResourceSlice, has 2/],
  ])
  expectErrors(validate(slice({ nodeName: undefined, nodeSelector: { nodeSelectorTerms: [] } })), [
    ['spec.nodeSelector.nodeSelectorTerms', /at least one node selector term/],
    ['spec.nodeSelector.nodeSelectorTerms', /exactly one node selector term/],
  ])
})

test('node selector requirements follow core/v1 rules', () => {
  const sel = (matchExpressions: Json[], matchFields: Json[] = []) =>
    validate(slice({ nodeName: undefined, nodeSelector: { nodeSelectorTerms: [{ matchExpressions, matchFields }] } }))
  const base = 'spec.nodeSelector.nodeSelectorTerms[0]'
  expectErrors(sel([{ key: 'a', operator: 'In' }]), [[`${base}.matchExpressions[0].values`, /at least one value/]])
  expectErrors(sel([{ key: 'a', operator: 'Exists', values: ['x'] }]), [[`${base}.matchExpressions[0].values`, /must be empty/]])
  expectErrors(sel([{ key: 'a', operator: 'Gt', values: ['1', '2'] }]), [[`${base}.matchExpressions[0].values`, /exactly one value/]])
  expectErrors(sel([{ key: 'a/b/c', operator: 'In', values: ['-x'] }]), [
    [`${base}.matchExpressions[0].key`, /single '\/'/],
    [`${base}.matchExpressions[0].values[0]`, /label value/],
  ])
  expectErrors(sel([], [{ key: 'metadata.labels', operator: 'Exists' }]), [
    [`${base}.matchFields[0].operator`, /use In or NotIn/],
    [`${base}.matchFields[0].key`, /only supported key is metadata.name/],
  ])
  expectErrors(sel([], [{ key: 'metadata.name', operator: 'In', values: ['a', 'b'] }]), [[`${base}.matchFields[0].values`, /exactly one value/]])
})

test('slice devices: the 1.34 combined layout within its limits, at most 128 (64 with taints or counters), unique DNS-label names', () => {
  const counters = [{ name: 'cs', counters: { memory: { value: '1' } } }]
  const consumer = (set: string) => ({ ...gpu('gpu-0'), consumesCounters: [{ counterSet: set, counters: { memory: { value: '1' } } }] })
  expectValid(validate(slice({ devices: [consumer('cs')], sharedCounters: counters })))
  expectErrors(validate(slice({ devices: [consumer('other')], sharedCounters: counters })), [['spec.devices[0].consumesCounters[0].counterSet', /not in this slice/]])
  const wide = [{ name: 'cs', counters: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`c${i}`, { value: '1' }])) }, { name: 'cs2', counters: { x: { value: '1' } } }]
  expectErrors(validate(slice({ devices: [consumer('cs')], sharedCounters: wide })), [['spec.sharedCounters', /at most 32 counters in all its sets \(ResourceSliceMaxSharedCounters in 1\.34\), has 33/]])
  const many = (n: number, extra: Json = {}) => Array.from({ length: n }, (_, i) => ({ name: `d-${i}`, ...extra }))
  expectValid(validate(slice({ devices: many(128) })))
  expectErrors(validate(slice({ devices: many(129) })), [['spec.devices', /at most 128 devices \(ResourceSliceMaxDevices = 128\), has 129/]])
  const tainted = many(65, { taints: [{ key: 'k', effect: 'NoSchedule' }] })
  expectErrors(validate(slice({ devices: tainted })), [['spec.devices', /at most 64 devices \(ResourceSliceMaxDevicesWithAdvancedFeatures.*has 65/]])
  const consuming = many(64, { consumesCounters: [{ counterSet: 'cs', counters: { memory: { value: '1' } } }] })
  expectValid(validate(slice({ devices: consuming })))
  expectErrors(validate(slice({ devices: [...consuming, { name: 'extra' }] })), [['spec.devices', /at most 64 devices/]])
  expectErrors(validate(slice({ devices: [{ name: 'gpu-0' }, { name: 'GPU_1' }, { name: 'gpu-0' }, { name: '' }] })), [
    ['spec.devices[1].name', /"GPU_1" must be a DNS label/],
    ['spec.devices[2]', /duplicate device name "gpu-0"/],
    ['spec.devices[3].name', /device name is required/],
  ])
})

test('device attributes and capacities: qualified names, at most 32 together, exactly one value, string/version rules', () => {
  const one = (device: Json) => validate(slice({ devices: [{ name: 'd', ...device }] }))
  const attrs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, { int: i }]))
  expectValid(one({ attributes: attrs(31), capacity: { memory: { value: '1' } } }))
  expectErrors(one({ attributes: attrs(32), capacity: { memory: { value: '1' } } }), [
    ['spec.devices[0]', /at most 32 attributes and capacities together \(ResourceSliceMaxAttributesAndCapacitiesPerDevice = 32\), has 33/],
  ])
  expectErrors(
    one({
      attributes: {
        '1bad': { int: 1 },
        ['a'.repeat(33)]: { int: 1 },
        '/x': { int: 1 },
        'gpu.nvidia.com/': { int: 1 },
        'a/b/c': { int: 1 },
        'Bad_Domain/x': { int: 1 },
        ['d'.repeat(64) + '/x']: { int: 1 },
      },
      capacity: { 'mem-ory': { value: '1' } },
    }),
    [
      ['spec.devices[0].attributes[1bad]', /C identifier/],
      [`spec.devices[0].attributes[${'a'.repeat(33)}]`, /at most 32 characters \(DeviceMaxIDLength\)/],
      ['spec.devices[0].attributes[/x]', /domain before '\/' must not be empty/],
      ['spec.devices[0].attributes[gpu.nvidia.com/]', /identifier after '\/' must not be empty/],
      ['spec.devices[0].attributes[a/b/c]', /more than one '\/'/],
      ['spec.devices[0].attributes[Bad_Domain/x]', /domain must be a DNS subdomain/],
      [`spec.devices[0].attributes[${'d'.repeat(64)}/x]`, /at most 63 characters \(DeviceMaxDomainLength\)/],
      ['spec.devices[0].capacity[mem-ory]', /capacity name "mem-ory".*C identifier/],
    ],
  )
  expectErrors(one({ attributes: { a: {}, b: { int: 1, string: 'x' } } }), [
    ['spec.devices[0].attributes[a]', /exactly one of int, bool, string, version must be set, found none/],
    ['spec.devices[0].attributes[b]', /found int, string/],
  ])
  expectValid(one({ attributes: { s: { string: 'x'.repeat(64) }, v: { version: '1.2.3-rc.1+build.5' }, b: { bool: false } } }))
  expectErrors(one({ attributes: { s: { string: 'x'.repeat(65) }, v: { version: 'v1.2.3' }, w: { version: '1.2.3-' + 'a'.repeat(60) } } }), [
    ['spec.devices[0].attributes[s].string', /at most 64 bytes \(DeviceAttributeMaxValueLength = 64\), has 65/],
    ['spec.devices[0].attributes[v].version', /"v1.2.3" is not a semantic version per semver.org 2.0.0/],
    ['spec.devices[0].attributes[w].version', /at most 64 bytes/],
  ])
})

test('counter sets: at most 8, unique DNS-label names, 1..32 counters with DNS-label names', () => {
  const set = (name: string, n = 1) => ({ name, counters: Object.fromEntries(Array.from({ length: n }, (_, i) => [`c-${i}`, { value: '1' }])) })
  const counterSlice = (sets: Json[]) => slice({ nodeName: undefined, allNodes: true, sharedCounters: sets })
  expectValid(validate(counterSlice(Array.from({ length: 8 }, (_, i) => set(`s-${i}`, 32)))))
  expectErrors(validate(counterSlice(Array.from({ length: 9 }, (_, i) => set(`s-${i}`)))), [
    ['spec.sharedCounters', /at most 8 counter sets \(ResourceSliceMaxCounterSets = 8\), has 9/],
  ])
  expectErrors(validate(counterSlice([set('a'), set('a'), set('B_1'), set('c', 33), { name: 'd', counters: {} }, { name: 'e', counters: { Mem: { value: '1' } } }])), [
    ['spec.sharedCounters[1]', /duplicate counter set name "a"/],
    ['spec.sharedCounters[2].name', /DNS label/],
    ['spec.sharedCounters[3].counters', /at most 32 counters \(ResourceSliceMaxCountersPerCounterSet = 32\), has 33/],
    ['spec.sharedCounters[4].counters', /at least one counter is required/],
    ['spec.sharedCounters[5].counters[Mem]', /not a valid counter name/],
  ])
})

test('consumesCounters: at most 2 per device, unique counterSet, 1..32 counters', () => {
  const use = (counterSet: string, n = 1) => ({ counterSet, counters: Object.fromEntries(Array.from({ length: n }, (_, i) => [`c-${i}`, { value: '1' }])) })
  const one = (consumesCounters: Json[]) => validate(slice({ devices: [{ name: 'd', consumesCounters }] }))
  expectValid(one([use('a', 32), use('b')]))
  expectErrors(one([use('a'), use('b'), use('c')]), [
    ['spec.devices[0].consumesCounters', /at most 2 counter consumptions \(ResourceSliceMaxDeviceCounterConsumptionsPerDevice = 2\), has 3/],
  ])
  expectErrors(one([use('a'), use('a')]), [['spec.devices[0].consumesCounters[1]', /duplicate counterSet "a"/]])
  expectErrors(one([use('', 33)]), [
    ['spec.devices[0].consumesCounters[0].counterSet', /counterSet is required/],
    ['spec.devices[0].consumesCounters[0].counters', /at most 32 counters \(ResourceSliceMaxCountersPerDeviceCounterConsumption = 32\)/],
  ])
})

test('per-device node selection: only with perDeviceNodeSelection, then exactly one', () => {
  const perDevice = (devices: Json[]) => validate(slice({ nodeName: undefined, perDeviceNodeSelection: true, devices }))
  expectValid(perDevice([{ name: 'a', nodeName: 'node-1' }, { name: 'b', allNodes: true }, { name: 'c', nodeSelector: { nodeSelectorTerms: [{}] } }]))
  expectErrors(perDevice([{ name: 'a' }, { name: 'b', nodeName: 'n', allNodes: true }, { name: 'c', allNodes: false }]), [
    ['spec.devices[0]', /exactly one of nodeName, nodeSelector, allNodes is required on each device/],
    ['spec.devices[1]', /found nodeName, allNodes/],
    ['spec.devices[2].allNodes', /unset or true/],
    ['spec.devices[2]', /is required on each device/],
  ])
  expectErrors(validate(slice({ devices: [{ name: 'a', nodeName: 'node-1' }] })), [['spec.devices[0]', /only be set when the slice sets perDeviceNodeSelection: true/]])
  expectErrors(validate(slice({ nodeName: undefined, perDeviceNodeSelection: false })), [
    ['spec.perDeviceNodeSelection', /unset or true/],
    ['spec', /is required/],
  ])
})

test('device taints: at most 16, label-name keys, effects None|NoSchedule|NoExecute', () => {
  const taints = (list: Json[]) => validate(slice({ devices: [{ name: 'd', taints: list }] }))
  expectValid(taints(Array.from({ length: 16 }, (_, i) => ({ key: `k${i}`, effect: ['None', 'NoSchedule', 'NoExecute'][i % 3] }))))
  expectErrors(taints(Array.from({ length: 17 }, () => ({ key: 'k', effect: 'None' }))), [['spec.devices[0].taints', /at most 16 taints \(DeviceTaintsMaxLength = 16\), has 17/]])
  expectErrors(taints([{ key: '', effect: '' }, { key: 'k', value: '-x', effect: 'PreferNoSchedule' }]), [
    ['spec.devices[0].taints[0].key', /taint key is required/],
    ['spec.devices[0].taints[0].effect', /effect is required/],
    ['spec.devices[0].taints[1].value', /label value/],
    ['spec.devices[0].taints[1].effect', /unsupported taint effect "PreferNoSchedule": supported values are NoExecute, NoSchedule, None/],
  ])
})

test('binding conditions: at most 4 each, label names, unique, disjoint, both or neither', () => {
  const dev = (extra: Json) => validate(slice({ devices: [{ name: 'd', ...extra }] }))
  expectErrors(dev({ bindingConditions: ['a', 'b', 'c', 'd', 'e'], bindingFailureConditions: ['f'] }), [
    ['spec.devices[0].bindingConditions', /at most 4 binding conditions \(BindingConditionsMaxSize = 4\), has 5/],
  ])
  expectErrors(dev({ bindingConditions: ['a', 'a'], bindingFailureConditions: ['a', 'x/y/z'] }), [
    ['spec.devices[0].bindingConditions[1]', /duplicate binding condition "a"/],
    ['spec.devices[0].bindingFailureConditions[0]', /must not overlap/],
    ['spec.devices[0].bindingFailureConditions[1]', /single '\/'/],
  ])
  expectErrors(dev({ bindingConditions: ['a'] }), [['spec.devices[0].bindingFailureConditions', /required when bindingConditions are set/]])
  expectErrors(dev({ bindingFailureConditions: ['a'] }), [['spec.devices[0].bindingConditions', /required when bindingFailureConditions are set/]])
})

test('capacity requestPolicy: only with allowMultipleAllocations; validValues or validRange, with a fitting default', () => {
  const cap = (requestPolicy: Json, allowMultipleAllocations = true, value = '100Gi') =>
    validate(slice({ devices: [{ name: 'd', allowMultipleAllocations, capacity: { memory: { value, requestPolicy } } }] }))
  const p = 'spec.devices[0].capacity[memory].requestPolicy'
  expectValid(cap({ default: '10Gi', validValues: ['10Gi', '20Gi', '40Gi'] }))
  expectValid(cap({ default: '10Gi', validRange: { min: '10Gi', max: '80Gi', step: '10Gi' } }))
  expectValid(cap({ default: '1Gi' }))
  expectErrors(cap({ default: '1Gi' }, false), [[p, /only allowed on a device with allowMultipleAllocations: true/]])
  expectErrors(cap({ default: '1Gi', validValues: ['1Gi'], validRange: { min: '1Gi' } }), [[p, /at most one of validValues or validRange/]])
  expectErrors(cap({ validValues: ['1Gi'] }), [[`${p}.default`, /default is required when validValues is set/]])
  expectErrors(cap({ validRange: { min: '1Gi' } }), [[`${p}.default`, /default is required when validRange is set/]])
  expectErrors(cap({ default: '5Gi', validValues: ['20Gi', '10Gi', '10Gi', '200Gi'] }), [
    [`${p}.validValues[1]`, /sorted in ascending order/],
    [`${p}.validValues[2]`, /duplicate valid value/],
    [`${p}.validValues[3]`, /200Gi is larger than the capacity value 100Gi/],
    [`${p}.default`, /default 5Gi must be one of validValues/],
  ])
  expectErrors(cap({ default: '1', validValues: Array.from({ length: 11 }, (_, i) => String(i + 1)) }), [
    [`${p}.validValues`, /at most 10 valid values \(CapacityRequestPolicyDiscreteMaxOptions = 10\), has 11/],
  ])
  expectErrors(cap({ default: '1Gi', validRange: { min: '200Gi', max: '150Gi' } }), [
    [`${p}.validRange.min`, /min 200Gi is larger than the capacity value 100Gi/],
    [`${p}.default`, /less than validRange.min/],
    [`${p}.validRange.max`, /max 150Gi is less than min 200Gi/],
    [`${p}.validRange.max`, /max 150Gi is larger than the capacity value/],
  ])
  expectErrors(cap({ default: '90Gi', validRange: { min: '1Gi', max: '80Gi' } }), [[`${p}.default`, /more than validRange.max 80Gi/]])
  expectErrors(cap({ default: '1Gi', validRange: { min: '1Gi', step: '0' } }), [[`${p}.validRange.step`, /greater than zero/]])
  expectErrors(cap({ default: '15Gi', validRange: { min: '10Gi', max: '95Gi', step: '10Gi' } }), [
    [`${p}.validRange.step`, /default 15Gi is not min \(10Gi\) plus a multiple of step/],
    [`${p}.validRange.step`, /max 95Gi is not min \(10Gi\) plus a multiple of step/],
  ])
  expectErrors(cap({ default: '60Gi', validRange: { min: '60Gi', step: '50Gi' } }), [[`${p}.validRange.step`, /one step above min .* is larger than the capacity value 100Gi/]])
})

// ------------------------------------------------------------------ DeviceClass

test('device class: at most 32 selectors of at most 10 Ki, at most 32 configs, opaque driver and parameters, extendedResourceName', () => {
  const sel = (expression: string) => ({ cel: { expression } })
  expectValid(validate(deviceClass({ selectors: Array.from({ length: 32 }, () => sel('true')) })))
  expectErrors(validate(deviceClass({ selectors: Array.from({ length: 33 }, () => sel('true')) })), [
    ['spec.selectors', /at most 32 selectors \(DeviceSelectorsMaxSize = 32\), has 33/],
  ])
  expectValid(validate(deviceClass({ selectors: [sel('x'.repeat(L.CEL_SELECTOR_EXPRESSION_MAX_LENGTH))] })))
  expectErrors(validate(deviceClass({ selectors: [sel('x'.repeat(10 * 1024 + 1)), sel('  '), {}] })), [
    ['spec.selectors[0].cel.expression', /at most 10240 bytes \(CELSelectorExpressionMaxLength = 10 Ki\), has 10241/],
    ['spec.selectors[1].cel.expression', /CEL expression is required/],
    ['spec.selectors[2].cel', /cel is required/],
  ])
  const cfg = (opaque?: Json) => (opaque ? { opaque } : {})
  expectErrors(validate(deviceClass({ config: Array.from({ length: 33 }, () => cfg({ driver: 'd', parameters: {} })) })), [
    ['spec.config', /at most 32 config entries \(DeviceConfigMaxSize = 32\), has 33/],
  ])
  expectErrors(
    validate(
      deviceClass({
        config: [cfg(), cfg({ driver: 'bad_driver', parameters: [] }), cfg({ driver: 'd', parameters: null }), cfg({ driver: 'd', parameters: { blob: 'x'.repeat(10 * 1024) } })],
      }),
    ),
    [
      ['spec.config[0].opaque', /opaque is required/],
      ['spec.config[1].opaque.driver', /DNS subdomain/],
      ['spec.config[1].opaque.parameters', /must be a JSON object, got an array/],
      ['spec.config[2].opaque.parameters', /parameters are required/],
      ['spec.config[3].opaque.parameters', /at most 10240 bytes as JSON \(OpaqueParametersMaxLength = 10 Ki\), are 10251/],
    ],
  )
  // Integers decoded from YAML are bigints; they count as their digits.
  const big = 12345678901234567890n
  expectValid(validate(deviceClass({ config: [cfg({ driver: 'd', parameters: { n: big, blob: 'x'.repeat(10 * 1024 - 36) } })] })))
  expectErrors(validate(deviceClass({ config: [cfg({ driver: 'd', parameters: { n: big, blob: 'x'.repeat(10 * 1024 - 35) } })] })), [
    ['spec.config[0].opaque.parameters', /are 10241/],
  ])
  expectErrors(validate(deviceClass({ extendedResourceName: 'gpu' })), [['spec.extendedResourceName', /not a valid extended resource name.*domain prefix/]])
  expectErrors(validate(deviceClass({ extendedResourceName: 'kubernetes.io/gpu' })), [['spec.extendedResourceName', /kubernetes.io/]])
})

// ------------------------------------------------------------------ ResourceClaim

test('claim requests: at most 32 unique DNS-label names, exactly one of exactly/firstAvailable, firstAvailable 1..8 unique', () => {
  const r = 'spec.devices.requests'
  expectValid(validate(claim({ requests: Array.from({ length: 32 }, (_, i) => exact(`r-${i}`)) })))
  expectErrors(validate(claim({ requests: Array.from({ length: 33 }, (_, i) => exact(`r-${i}`)) })), [[r, /at most 32 requests \(DeviceRequestsMaxSize = 32\), has 33/]])
  expectErrors(validate(claim({ requests: [exact('gpu'), exact('gpu'), exact('GPU')] })), [
    [`${r}[1]`, /duplicate request name "gpu"/],
    [`${r}[2].name`, /DNS label/],
  ])
  const sub = (name: string) => ({ name, deviceClassName: 'c' })
  expectErrors(validate(claim({ requests: [{ name: 'a' }, { name: 'b', firstAvailable: [] }, { ...exact('c'), firstAvailable: [sub('x')] }] })), [
    [`${r}[0]`, /exactly one of exactly or firstAvailable is required/],
    [`${r}[1]`, /exactly one of exactly or firstAvailable is required/],
    [`${r}[2]`, /found both/],
  ])
  expectValid(validate(claim({ requests: [{ name: 'a', firstAvailable: Array.from({ length: 8 }, (_, i) => sub(`s${i}`)) }] })))
  expectErrors(validate(claim({ requests: [{ name: 'a', firstAvailable: Array.from({ length: 9 }, (_, i) => sub(`s${i}`)) }] })), [
    [`${r}[0].firstAvailable`, /at most 8 subrequests \(FirstAvailableDeviceRequestMaxSize = 8\), has 9/],
  ])
  expectErrors(validate(claim({ requests: [{ name: 'a', firstAvailable: [sub('s'), sub('s'), sub('S')] }] })), [
    [`${r}[0].firstAvailable[1]`, /duplicate subrequest name "s"/],
    [`${r}[0].firstAvailable[2].name`, /DNS label/],
  ])
})

test('claim request fields: deviceClassName, allocationMode ExactCount|All, count, selectors', () => {
  const one = (extra: Json) => validate(claim({ requests: [exact('gpu', extra)] }))
  const p = 'spec.devices.requests[0].exactly'
  expectErrors(one({ deviceClassName: '' }), [[`${p}.deviceClassName`, /deviceClassName is required/]])
  expectErrors(one({ deviceClassName: 'GPU' }), [[`${p}.deviceClassName`, /DNS subdomain/]])
  expectValid(one({ allocationMode: 'ExactCount', count: 4 }))
  expectValid(one({ count: 0 })) // count is omitempty upstream: 0 means unset, defaulted to 1
  expectValid(one({ allocationMode: 'All' }))
  expectErrors(one({ count: -1 }), [[`${p}.count`, /greater than zero.*is -1/]])
  expectErrors(one({ allocationMode: 'All', count: 2 }), [[`${p}.count`, /must not be set when allocationMode is All/]])
  expectErrors(one({ allocationMode: 'Some' }), [[`${p}.allocationMode`, /unsupported allocationMode "Some": supported values are ExactCount \(the default\) and All/]])
  expectErrors(one({ selectors: Array.from({ length: 33 }, () => ({ cel: { expression: 'true' } })) }), [[`${p}.selectors`, /at most 32 selectors/]])
  // Subrequests get the same checks at their own paths.
  expectErrors(validate(claim({ requests: [{ name: 'a', firstAvailable: [{ name: 's', deviceClassName: '', allocationMode: 'all' }] }] })), [
    ['spec.devices.requests[0].firstAvailable[0].deviceClassName', /required/],
    ['spec.devices.requests[0].firstAvailable[0].allocationMode', /unsupported allocationMode "all"/],
  ])
})

test('tolerations: at most 16, Exists|Equal, Exists without value, known effects', () => {
  const tol = (tolerations: Json[]) => validate(claim({ requests: [exact('gpu', { tolerations })] }))
  const p = 'spec.devices.requests[0].exactly.tolerations'
  expectValid(tol([{ key: 'k', value: 'v' }, { operator: 'Exists' }, { key: 'example.com/x', operator: 'Equal', value: 'v', effect: 'NoExecute', tolerationSeconds: 30 }]))
  expectErrors(tol(Array.from({ length: 17 }, () => ({ operator: 'Exists' }))), [[p, /at most 16 tolerations \(DeviceTolerationsMaxLength = 16\), has 17/]])
  expectErrors(tol([{ key: 'k', operator: 'Exists', value: 'v' }, { key: 'k', operator: 'In' }, { key: 'a b', value: '-v', effect: 'Evict' }]), [
    [`${p}[0].value`, /must be empty for operator Exists/],
    [`${p}[1].operator`, /unsupported toleration operator "In": supported values are Equal, Exists/],
    [`${p}[2].key`, /"a b"/],
    [`${p}[2].value`, /label value/],
    [`${p}[2].effect`, /unsupported toleration effect "Evict"/],
  ])
})

test('capacity requests: keys are qualified names', () => {
  const p = 'spec.devices.requests[0].exactly.capacity.requests'
  expectValid(validate(claim({ requests: [exact('gpu', { capacity: { requests: { memory: '10Gi', 'gpu.nvidia.com/cores': '2' } } })] })))
  expectErrors(validate(claim({ requests: [exact('gpu', { capacity: { requests: { 'mem-ory': '10Gi' } } })] })), [[`${p}[mem-ory]`, /C identifier/]])
})

test('constraints: at most 32, exactly one of matchAttribute/distinctAttribute, fully qualified, references to existing requests', () => {
  const requests = [exact('gpu'), { name: 'nic', firstAvailable: [{ name: 'fast', deviceClassName: 'c' }] }]
  const con = (constraints: Json[]) => validate(claim({ requests, constraints }))
  const p = 'spec.devices.constraints'
  expectValid(con([{ matchAttribute: 'resource.kubernetes.io/pcieRoot' }, { requests: ['gpu', 'nic/fast'], distinctAttribute: 'gpu.nvidia.com/uuid' }]))
  expectErrors(con(Array.from({ length: 33 }, () => ({ matchAttribute: 'a.b/c' }))), [[p, /at most 32 constraints \(DeviceConstraintsMaxSize = 32\), has 33/]])
  expectErrors(con([{}, { matchAttribute: 'a.b/c', distinctAttribute: 'a.b/c' }, { matchAttribute: 'pcieRoot' }, { distinctAttribute: 'a.b/1x' }]), [
    [`${p}[0]`, /exactly one of matchAttribute or distinctAttribute is required/],
    [`${p}[1]`, /found both/],
    [`${p}[2].matchAttribute`, /must be fully qualified/],
    [`${p}[3].distinctAttribute`, /C identifier/],
  ])
  expectErrors(con([{ requests: ['gpu', 'gpu', 'cpu', 'nic/slow', 'gpu/x', 'a/b/c', 'Nic'], matchAttribute: 'a.b/c' }]), [
    [`${p}[0].requests[1]`, /duplicate request reference "gpu"/],
    [`${p}[0].requests[2]`, /"cpu" does not name a request of this claim \(requests: gpu, nic\)/],
    [`${p}[0].requests[3]`, /"nic\/slow" does not name a subrequest of request "nic" \(subrequests: nic\/fast\)/],
    [`${p}[0].requests[4]`, /"gpu\/x" does not name a subrequest of request "gpu" \(it has no firstAvailable subrequests\)/],
    [`${p}[0].requests[5]`, /one '\/'/],
    [`${p}[0].requests[6]`, /"Nic" must be a DNS label/],
    [`${p}[0].requests[6]`, /does not name a request/],
  ])
})

test('claim config: at most 32, references to existing requests, opaque required', () => {
  const p = 'spec.devices.config'
  const opaque = { driver: 'gpu.nvidia.com', parameters: {} }
  expectErrors(validate(claim({ requests: [exact('gpu')], config: Array.from({ length: 33 }, () => ({ opaque })) })), [[p, /at most 32 config entries/]])
  expectErrors(validate(claim({ requests: [exact('gpu')], config: [{ requests: ['tpu'], opaque }, { requests: ['gpu'] }] })), [
    [`${p}[0].requests[0]`, /"tpu" does not name a request/],
    [`${p}[1].opaque`, /opaque is required/],
  ])
})

test('claim status: results at most 32 and well-formed, config sources, reservedFor needs allocation', () => {
  const requests = [exact('gpu')]
  const result = (extra: Json = {}) => ({ request: 'gpu', driver: 'gpu.nvidia.com', pool: 'node-1', device: 'gpu-0', ...extra })
  const withStatus = (status: Json) => validate(claim({ requests }, status))
  const p = 'status.allocation.devices'
  expectErrors(withStatus({ allocation: { devices: { results: Array.from({ length: 33 }, () => result()) } } }), [
    [`${p}.results`, /at most 32 results \(AllocationResultsMaxSize = 32\), has 33/],
  ])
  expectErrors(
    withStatus({
      allocation: {
        devices: {
          results: [
            result({ request: 'tpu', driver: '', pool: 'a//b', device: 'GPU 0', shareID: 'ABC', tolerations: [{ operator: 'Exists', value: 'x' }] }),
            result({ bindingConditions: ['a'] }),
          ],
          config: [{ source: 'FromClass', requests: ['nope'], opaque: { driver: 'gpu.nvidia.com', parameters: 1 } }],
        },
        nodeSelector: { nodeSelectorTerms: [] },
      },
    }),
    [
      [`${p}.results[0].request`, /"tpu" does not name a request/],
      [`${p}.results[0].driver`, /driver name is required/],
      [`${p}.results[0].pool`, /must not be empty/],
      [`${p}.results[0].device`, /DNS label/],
      [`${p}.results[0].shareID`, /RFC 4122 normalized form/],
      [`${p}.results[0].tolerations[0].value`, /must be empty for operator Exists/],
      [`${p}.results[1].bindingFailureConditions`, /required when bindingConditions are set/],
      [`${p}.config[0].requests[0]`, /"nope" does not name a request/],
      [`${p}.config[0].opaque.parameters`, /must be a JSON object, got number/],
      ['status.allocation.nodeSelector.nodeSelectorTerms', /at least one node selector term/],
    ],
  )
  expectErrors(withStatus({ reservedFor: [{ resource: 'pods', name: 'p', uid: 'u1' }] }), [['status.reservedFor', /may only be set when status.allocation is set/]])
  expectErrors(
    withStatus({
      allocation: { devices: { results: [result()] } },
      reservedFor: [{ resource: 'pods', name: 'p', uid: 'u1' }, { resource: '', name: 'q', uid: 'u1' }],
    }),
    [
      ['status.reservedFor[1].resource', /resource is required/],
      ['status.reservedFor[1]', /duplicate consumer uid "u1"/],
    ],
  )
})

test('claim template: only labels and annotations in spec.metadata, claim spec rules under spec.spec', () => {
  const template = (spec: Json) =>
    validateObject(ResourceClaimTemplate.parse({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 't' }, spec }))
  expectErrors(template({ metadata: { name: 'x', labels: { '-bad': 'v' } }, spec: { devices: { requests: [exact('GPU')] } } }), [
    ['spec.metadata.name', /cannot be set in a ResourceClaimTemplate/],
    ['spec.metadata.labels[-bad]', /not a valid label key/],
    ['spec.spec.devices.requests[0].name', /DNS label/],
  ])
})

// ------------------------------------------------------------------ API surface

test('qualifiedNameProblems and fieldErrorsToError', () => {
  assert.deepEqual(qualifiedNameProblems('gpu.nvidia.com/productName', true), [])
  assert.match(qualifiedNameProblems('productName', true)[0], /fully qualified/)
  assert.equal(fieldErrorsToError([]), undefined)
  const err = fieldErrorsToError([{ path: 'spec.driver', message: 'bad' }, { path: 'spec.pool.name', message: 'worse' }], { file: 'x.yaml', document: 2 })
  assert.ok(err)
  assert.equal(err.code, 'INVALID_INPUT')
  assert.equal(err.location.path, 'spec.driver')
  assert.equal(err.describe(), 'x.yaml (document 2): spec.driver: 2 problems:\n  spec.driver: bad\n  spec.pool.name: worse')
})
