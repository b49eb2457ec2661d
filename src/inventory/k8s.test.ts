import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GpuplaneError } from '../common/errors.ts'
import { readK8sDump } from './k8s.ts'

// As `kubectl get resourceslices,deviceclasses -o yaml` writes it, with a v1beta1 slice.
const DUMP = `apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: resource.k8s.io/v1beta1
  kind: ResourceSlice
  metadata: {name: node-1-gpu.nvidia.com-abcde, uid: "1234", resourceVersion: "77"}
  spec:
    driver: gpu.nvidia.com
    nodeName: node-1
    pool: {name: node-1, generation: 1, resourceSliceCount: 1}
    devices:
    - name: gpu-0
      basic:
        attributes:
          productName: {string: NVIDIA H100 80GB HBM3}
        capacity:
          memory: {value: 80Gi}
- apiVersion: resource.k8s.io/v1
  kind: DeviceClass
  metadata: {name: gpu.nvidia.com}
  spec:
    selectors:
    - cel: {expression: "device.driver == 'gpu.nvidia.com'"}
- apiVersion: resource.k8s.io/v1
  kind: ResourceClaim
  metadata: {name: c, namespace: default}
  spec: {devices: {requests: [{name: g, exactly: {deviceClassName: gpu.nvidia.com}}]}}
- apiVersion: v1
  kind: Node
  metadata: {name: node-1, labels: {zone: a}}
`

test('passes slices and classes through normalised to v1, with Nodes; claims are left out', () => {
  const dump = readK8sDump([{ text: DUMP, file: 'd.yaml' }])
  assert.equal(dump.slices.length, 1)
  assert.equal(dump.slices[0].apiVersion, 'resource.k8s.io/v1')
  assert.deepEqual(dump.slices[0].spec.devices?.[0].attributes, { productName: { string: 'NVIDIA H100 80GB HBM3' } })
  assert.equal(dump.slices[0].spec.devices?.[0].capacity?.memory?.value, '80Gi')
  assert.deepEqual(dump.classes.map((c) => c.metadata.name), ['gpu.nvidia.com'])
  assert.deepEqual(dump.nodes.map((n) => (n.metadata as { name: string }).name), ['node-1'])
})

test('invalid objects fail with file, document and item path; checks run on every object', () => {
  const bad = DUMP.replace('name: gpu-0', 'name: GPU_0')
  assert.throws(() => readK8sDump([{ text: bad, file: 'd.yaml' }]), (e: GpuplaneError) => e.describe().startsWith('d.yaml (document 0): items[0].spec.devices[0].name:'))
  const check = (o: { kind: string }) => (o.kind === 'DeviceClass' ? [{ path: 'spec.selectors[0].cel.expression', message: 'nope' }] : [])
  assert.throws(() => readK8sDump([{ text: DUMP, file: 'd.yaml' }], [check]), (e: GpuplaneError) => e.describe() === 'd.yaml (document 0): items[1].spec.selectors[0].cel.expression: nope')
})

test('a dump without slices or classes is an error naming the files', () => {
  assert.throws(() => readK8sDump([{ text: 'apiVersion: v1\nkind: List\nitems: []\n', file: 'e.yaml' }]), (e: GpuplaneError) => e.code === 'INVALID_INPUT' && e.describe().startsWith('e.yaml: no ResourceSlices or DeviceClasses found'))
})
