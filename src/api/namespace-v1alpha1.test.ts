import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GpuplaneError } from '../common/errors.ts'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { decodeNamespaces, DEFAULT_FAIR_SHARE_WEIGHT, DEFAULT_ISOLATION } from './namespace-v1alpha1.ts'

const HEAD = `apiVersion: gpuplane.io/v1alpha1
kind: Namespace
metadata: {name: team-a}
`

function decodeError(text: string, file = 'ns.yaml'): GpuplaneError {
  return expectGpuplaneError(() => decodeNamespaces(text, file))
}

test('decodes every field; defaults are left unset; YAML integers become numbers', () => {
  const [d] = decodeNamespaces(`${HEAD}spec:
  quota:
    gpus: 8
    gpuMemory: 640Gi
    models: [{model: H100-80GB, gpus: 4}, {model: A100-40GB, gpus: 8}]
    cpu: "64"
    memory: 512Gi
  cohort: research
  borrowingLimit: {gpus: 4, models: [{model: H100-80GB, gpus: 2}]}
  lendingLimit: {gpus: 6, gpuMemory: 320Gi}
  fairShareWeight: 2
  isolation: dedicated-nodes
  disruptionBudget: {maxPreemptions: 2, windowSeconds: 3600}
  priorityClass: batch-low
`, 'ns.yaml')
  const spec = d.namespace.spec
  assert.deepEqual(d.location, { file: 'ns.yaml', document: 0 })
  assert.equal(spec.quota?.gpus, 8)
  assert.equal(spec.quota?.gpuMemory, '640Gi')
  assert.deepEqual(spec.quota?.models, [{ model: 'H100-80GB', gpus: 4 }, { model: 'A100-40GB', gpus: 8 }])
  assert.equal(spec.fairShareWeight, 2)
  assert.equal(typeof spec.fairShareWeight, 'number')
  assert.equal(spec.isolation, 'dedicated-nodes')
  assert.deepEqual(spec.disruptionBudget, { maxPreemptions: 2, windowSeconds: 3600 })
  assert.equal(spec.priorityClass, 'batch-low')

  const [bare] = decodeNamespaces(`${HEAD}spec: {}`)
  assert.equal(bare.namespace.spec.fairShareWeight, undefined)
  assert.equal(bare.namespace.spec.isolation, undefined)
  assert.equal(DEFAULT_FAIR_SHARE_WEIGHT, 1)
  assert.equal(DEFAULT_ISOLATION, 'shared')
})

test('fractional weights with up to 3 decimals and every isolation level are accepted', () => {
  for (const w of ['0.5', '1.25', '0.001', '1000000']) {
    const [d] = decodeNamespaces(`${HEAD}spec: {fairShareWeight: ${w}}`)
    assert.equal(d.namespace.spec.fairShareWeight, Number(w))
  }
  for (const iso of ['shared', 'dedicated-nodes', 'vm-per-workload']) {
    assert.equal(decodeNamespaces(`${HEAD}spec: {isolation: ${iso}}`)[0].namespace.spec.isolation, iso)
  }
})

test('core v1 Namespaces and DRA objects are ignored; Namespaces inside a List carry their item path', () => {
  const text = `apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {name: x}
spec: {}
---
apiVersion: v1
kind: List
items:
- ${HEAD.trim().split('\n').join('\n  ')}
  spec: {quota: {gpus: 1}}
`
  const all = decodeNamespaces(text, 'l.yaml')
  assert.equal(all.length, 1)
  assert.deepEqual(all[0].location, { file: 'l.yaml', document: 2, path: 'items[0]' })
  const e = decodeError(text.replace('gpus: 1', 'gpus: -1'), 'l.yaml')
  assert.equal(e.describe(), 'l.yaml (document 2): items[0].spec.quota.gpus: must be 0 or more')
})

test('shape and rule errors name file, document and the field to change', () => {
  const cases: Array<[string, string]> = [
    ['spec: {quota: {gpu: 1}}', 'spec.quota: unknown field "gpu"'],
    ['spec: {quota: {gpus: -1}}', 'spec.quota.gpus: must be 0 or more'],
    ['spec: {quota: {gpus: two}}', 'spec.quota.gpus: expected a whole number'],
    ['spec: {quota: {gpus: 1.5}}', 'spec.quota.gpus: expected a whole number'],
    ['spec: {quota: {gpuMemory: lots}}', 'spec.quota.gpuMemory: "lots" is not a valid quantity'],
    ['spec: {quota: {gpuMemory: -1Gi}}', 'spec.quota.gpuMemory: must not be negative'],
    ['spec: {quota: {cpu: {a: 1}}}', 'spec.quota.cpu: expected a quantity such as 80Gi, 64 or 500m'],
    ['spec: {quota: {models: [{model: H100-80GB, gpus: 1}, {model: H100-80GB, gpus: 2}]}}', 'spec.quota.models[1].model: model "H100-80GB" is listed twice (also at quota.models[0])'],
    ['spec: {quota: {models: [{model: "", gpus: 1}]}}', 'spec.quota.models[0].model: must name a GPU model'],
    ['spec: {quota: {gpus: 2, models: [{model: H100-80GB, gpus: 4}]}}', 'spec.quota.models[0].gpus: 4 H100-80GB GPUs exceed quota.gpus (2)'],
    ['spec: {quota: {gpus: 4}, borrowingLimit: {gpus: 2}}', 'spec.borrowingLimit: borrowingLimit needs a cohort to borrow from; set spec.cohort'],
    ['spec: {quota: {gpus: 4}, lendingLimit: {gpus: 2}}', 'spec.lendingLimit: lendingLimit needs a cohort to lend to'],
    ['spec: {cohort: c, quota: {gpus: 4}, lendingLimit: {gpus: 5}}', 'spec.lendingLimit.gpus: lends more than the quota (4)'],
    ['spec: {cohort: c, quota: {gpuMemory: 320Gi}, lendingLimit: {gpuMemory: 400Gi}}', 'spec.lendingLimit.gpuMemory: lends more than the quota (320Gi)'],
    ['spec: {cohort: c, quota: {gpus: 4}, borrowingLimit: {cpu: "8"}}', 'spec.borrowingLimit.cpu: quota.cpu is not set, so cpu is not limited and cannot be borrowed'],
    ['spec: {cohort: c, quota: {gpus: 4}, lendingLimit: {models: [{model: A100-40GB, gpus: 1}]}}', 'spec.lendingLimit.models[0].model: model "A100-40GB" has no quota in quota.models'],
    ['spec: {cohort: c, quota: {models: [{model: A100-40GB, gpus: 1}]}, lendingLimit: {models: [{model: A100-40GB, gpus: 2}]}}', 'spec.lendingLimit.models[0].gpus: lends more A100-40GB GPUs than the quota (1)'],
    ['spec: {cohort: Research}', 'spec.cohort: "Research" must be a DNS subdomain'],
    ['spec: {fairShareWeight: 0}', 'spec.fairShareWeight: must be a number from 0.001 to 1000000'],
    ['spec: {fairShareWeight: 1.2345}', 'spec.fairShareWeight: must have at most 3 decimals'],
    ['spec: {fairShareWeight: heavy}', 'spec.fairShareWeight: expected a number such as 1 or 0.5'],
    ['spec: {isolation: private}', 'spec.isolation: must be one of "shared", "dedicated-nodes", "vm-per-workload"'],
    ['spec: {disruptionBudget: {maxPreemptions: 1}}', 'spec.disruptionBudget.windowSeconds: expected a whole number, but the field is missing'],
    ['spec: {disruptionBudget: {maxPreemptions: 1, windowSeconds: 0}}', 'spec.disruptionBudget.windowSeconds: must be 1 or more'],
    ['spec: {disruptionBudget: {maxPreemptions: 1, windowSeconds: 3600000000}}', 'spec.disruptionBudget.windowSeconds: must be at most 31536000 (one year)'],
    ['spec: {disruptionBudget: {maxPreemptions: -1, windowSeconds: 60}}', 'spec.disruptionBudget.maxPreemptions: must be 0 or more'],
    ['spec: {priorityClass: Batch_Low}', 'spec.priorityClass: "Batch_Low" must be a DNS subdomain'],
    ['spec: {tier: gold}', 'spec: unknown field "tier"; remove it or check the spelling against gpuplane.io/v1alpha1 Namespace'],
    ['', 'spec: expected object, but the field is missing'],
  ]
  for (const [spec, expected] of cases) {
    const e = decodeError(HEAD + spec)
    assert.equal(e.code, 'INVALID_INPUT')
    assert.ok(e.describe().startsWith(`ns.yaml (document 0): ${expected}`), `${e.describe()}\n  expected to start with: ${expected}`)
  }
})

test('metadata: a DNS-label name is required and a Namespace has no namespace', () => {
  const meta = (m: string) => decodeError(`apiVersion: gpuplane.io/v1alpha1\nkind: Namespace\nmetadata: ${m}\nspec: {}`).describe()
  assert.equal(meta('{}'), 'ns.yaml (document 0): metadata.name: a Namespace needs a name (a DNS label, e.g. team-a)')
  assert.match(meta('{name: team.a}'), /^ns\.yaml \(document 0\): metadata\.name: "team\.a" must be a DNS label/)
  assert.equal(meta('{name: a, namespace: b}'), 'ns.yaml (document 0): metadata.namespace: a Namespace is cluster-scoped; remove metadata.namespace')
})

test('a name declared twice is an error at the second declaration', () => {
  const e = decodeError(`${HEAD}spec: {}\n---\n${HEAD}spec: {}`)
  assert.equal(e.describe(), 'ns.yaml (document 1): metadata.name: Namespace "team-a" is declared twice (first in document 0); keep one')
})

test('an unsupported apiVersion for Namespace is an error at apiVersion', () => {
  const e = decodeError(HEAD.replace('v1alpha1', 'v1beta1') + 'spec: {}')
  assert.match(e.describe(), /^ns\.yaml \(document 0\): apiVersion: apiVersion gpuplane\.io\/v1beta1 is not supported for Namespace; use gpuplane\.io\/v1alpha1/)
})
