import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GpuplaneError } from '../common/errors.ts'
import { decodeWorkloads } from './workload-v1alpha1.ts'

const HEAD = `apiVersion: gpuplane.io/v1alpha1
kind: Workload
metadata: {name: train, namespace: team-a}
`
/** A document before the Workload, so that errors must name document 1. */
const OTHER = `apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
`

/** The INVALID_INPUT error decoding `text` as w.yaml throws, as describe() words it. */
function errorOf(text: string): string {
  let described = ''
  assert.throws(
    () => decodeWorkloads(text, 'w.yaml'),
    (e: unknown) => {
      described = e instanceof GpuplaneError ? e.describe() : String(e)
      return e instanceof GpuplaneError && e.code === 'INVALID_INPUT'
    },
  )
  return described
}

test('decodes a Workload with its location; other kinds and DRA objects are ignored', () => {
  const text = `${OTHER}apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {name: x}
spec: {}
---
${HEAD}spec:
  priority: 10
  resources: {cpu: "8", memory: 64Gi}
  resourceClaims:
  - {name: gpu, resourceClaimTemplateName: one-h100}
  gang: {group: g, minMember: 2}
  isolation: dedicated-nodes
`
  const all = decodeWorkloads(text, 'w.yaml')
  assert.equal(all.length, 1)
  const [w] = all
  assert.deepEqual(w.location, { file: 'w.yaml', document: 2 })
  assert.equal(w.workload.metadata.name, 'train')
  assert.equal(w.workload.spec.priority, 10)
  assert.equal(w.workload.spec.resources?.memory, '64Gi')
  assert.deepEqual(w.workload.spec.gang, { group: 'g', minMember: 2 })
  assert.equal(w.workload.spec.isolation, 'dedicated-nodes')
})

test('errors name file, document and field path', () => {
  assert.equal(errorOf(`${OTHER}${HEAD}spec: {isolation: private}`), 'w.yaml (document 1): spec.isolation: must be one of "shared", "dedicated-nodes", "vm-per-workload"')
  assert.equal(
    errorOf(`${OTHER}${HEAD}spec: {resourceClaims: [{name: gpu, template: x}]}`),
    'w.yaml (document 1): spec.resourceClaims[0]: unknown field "template"; remove it or check the spelling against gpuplane.io/v1alpha1 Workload',
  )
  assert.equal(errorOf(`${OTHER}${HEAD}`), 'w.yaml (document 1): spec: expected object, but the field is missing')
  assert.match(errorOf(`${OTHER}${HEAD}spec: {gang: {group: g}}`), /^w\.yaml \(document 1\): spec\.gang\.minMember: /)
  assert.match(errorOf(`${HEAD.replace('v1alpha1', 'v1beta1')}spec: {}`), /^w\.yaml \(document 0\): apiVersion: apiVersion gpuplane\.io\/v1beta1 is not supported for Workload; use gpuplane\.io\/v1alpha1/)
})
