import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GpuplaneError } from '../common/errors.ts'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { decodeText } from './decode.ts'
import type { ResourceClaim, ResourceSlice } from './resource-v1.ts'

const SLICE = `
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: node-1-gpu}
spec:
  driver: gpu.example.com
  pool: {name: node-1, generation: 0, resourceSliceCount: 1}
  nodeName: node-1
  devices:
  - name: gpu-0
    attributes:
      model: {string: H100}
      index: {int: 9007199254740993}
    capacity:
      memory: {value: 80Gi}
`

function decodeError(text: string, file = 'f.yaml'): GpuplaneError {
  return expectGpuplaneError(() => decodeText(text, file))
}

test('reads multi-document YAML and keeps int64 attributes exact', () => {
  const { objects } = decodeText(`${SLICE}\n---\n# comment only\n---\napiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata: {name: gpu.example.com}\nspec: {}\n`, 'x.yaml')
  assert.equal(objects.length, 2)
  const slice = objects[0].object as ResourceSlice
  assert.equal(slice.spec.devices![0].attributes!.index.int, 9007199254740993n)
  assert.deepEqual(objects[1].location, { file: 'x.yaml', document: 2 })
})

test('reads JSON and kind: List as kubectl get -o yaml writes it', () => {
  const list = { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: [{ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'a' }, spec: {} }, { apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'b' }, spec: {} }] }
  const { objects } = decodeText(JSON.stringify(list), 'list.json')
  assert.deepEqual(objects.map((o) => o.object.metadata.name), ['a', 'b'])
  assert.equal(objects[1].location.path, 'items[1]')
})

test('errors name file, document and field path', () => {
  const bad = SLICE.replace('memory: {value: 80Gi}', 'memory: {value: 80Gx}')
  const e = decodeError(`apiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata: {name: a}\nspec: {}\n---\n${bad}`)
  assert.equal(e.code, 'INVALID_INPUT')
  assert.equal(e.location.file, 'f.yaml')
  assert.equal(e.location.document, 1)
  assert.equal(e.location.path, 'spec.devices[0].capacity.memory.value')
  assert.match(e.describe(), /^f\.yaml \(document 1\): spec\.devices\[0\]\.capacity\.memory\.value: .*80Gx/)
})

test('unknown fields are refused with their name', () => {
  const e = decodeError(SLICE.replace('nodeName: node-1', 'nodeName: node-1\n  nodname: x'))
  assert.equal(e.location.path, 'spec')
  assert.match(e.message, /unknown field "nodname"/)
})

test('List items carry their index in the path', () => {
  const e = decodeError(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'ok' }, spec: {} }, { apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'x' }, spec: { selectors: 'nope' } }] }))
  assert.equal(e.location.path, 'items[1].spec.selectors')
})

test('v1beta1 is normalised the way upstream does; errors point at the v1beta1 field', () => {
  const v1beta1 = `
apiVersion: resource.k8s.io/v1beta1
kind: ResourceClaim
metadata: {name: c, namespace: ns}
spec:
  devices:
    requests:
    - name: gpu
      deviceClassName: gpu.example.com
      count: 2
---
apiVersion: resource.k8s.io/v1beta1
kind: ResourceSlice
metadata: {name: s}
spec:
  driver: gpu.example.com
  pool: {name: p, generation: 1, resourceSliceCount: 1}
  nodeName: n
  devices:
  - name: gpu-0
    basic:
      attributes: {model: {string: A100}}
`
  const { objects } = decodeText(v1beta1, 'b.yaml')
  const claim = objects[0].object as ResourceClaim
  assert.equal(claim.apiVersion, 'resource.k8s.io/v1')
  assert.deepEqual(claim.spec.devices!.requests![0], { name: 'gpu', exactly: { deviceClassName: 'gpu.example.com', count: 2 } })
  const slice = objects[1].object as ResourceSlice
  assert.equal(slice.spec.devices![0].attributes!.model.string, 'A100')

  const e = decodeError(v1beta1.replace('count: 2', 'count: two'))
  assert.equal(e.location.path, 'spec.devices.requests[0].count')
  const e2 = decodeError(v1beta1.replace('model: {string: A100}', 'model: {strin: A100}'))
  assert.equal(e2.location.path, 'spec.devices[0].basic.attributes.model')
})

test('v1beta2 has the v1 shape', () => {
  const { objects } = decodeText(SLICE.replace('resource.k8s.io/v1', 'resource.k8s.io/v1beta2'))
  assert.equal(objects[0].object.apiVersion, 'resource.k8s.io/v1')
})

test('an unsupported version of a DRA kind is refused; other kinds pass through untouched', () => {
  const e = decodeError(SLICE.replace('resource.k8s.io/v1', 'resource.k8s.io/v1alpha3'))
  assert.equal(e.location.path, 'apiVersion')
  const { objects, foreign } = decodeText('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n')
  assert.equal(objects.length, 0)
  assert.equal(foreign[0].kind, 'Pod')
})

test('YAML syntax errors and non-object documents are invalid input', () => {
  assert.equal(decodeError('a: [1, 2').code, 'INVALID_INPUT')
  assert.match(decodeError('- 1\n- 2\n').message, /apiVersion and kind/)
  assert.match(decodeError('kind: DeviceClass\n').message, /apiVersion is required/)
})
