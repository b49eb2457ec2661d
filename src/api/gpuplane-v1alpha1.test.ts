import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GpuplaneError } from '../common/errors.ts'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { decodeClusters, hostNames } from './gpuplane-v1alpha1.ts'

const HEAD = `apiVersion: gpuplane.io/v1alpha1
kind: Cluster
metadata: {name: c}
`

function decodeError(text: string, file = 'c.yaml'): GpuplaneError {
  return expectGpuplaneError(() => decodeClusters(text, file))
}

test('decodes a Cluster with defaults left unset, and keeps int fields as numbers', () => {
  const [c] = decodeClusters(`${HEAD}spec:
  hosts:
  - name: h100
    replicas: 2
    gpus: {model: H100-80GB, count: 8}
    topology: {nvlink: nvswitch, numaNodes: 2}
  virtualMachines:
  - {name: vm-1, host: h100-1, passthroughGpus: [0, 1]}
`, 'c.yaml')
  assert.equal(c.cluster.spec.hosts[0].gpus.count, 8)
  assert.equal(c.cluster.spec.hosts[0].replicas, 2)
  assert.equal(c.cluster.spec.hosts[0].mode, undefined)
  assert.deepEqual(c.cluster.spec.virtualMachines?.[0].passthroughGpus, [0, 1])
  assert.deepEqual(c.location, { file: 'c.yaml', document: 0 })
})

test('hostNames expands replicas as <name>-<i> from 0', () => {
  assert.deepEqual(hostNames({ name: 'a' }), ['a'])
  assert.deepEqual(hostNames({ name: 'a', replicas: 3 }), ['a-0', 'a-1', 'a-2'])
})

test('other documents are decoded and ignored; Clusters inside a List are found with their item path', () => {
  const text = `apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {name: x}
spec: {}
---
apiVersion: v1
kind: List
items:
- ${HEAD.trim().split('\n').join('\n  ')}
  spec:
    hosts: [{name: a, gpus: {model: T4-16GB, count: 1}}]
`
  const [c] = decodeClusters(text, 'l.yaml')
  assert.deepEqual(c.location, { file: 'l.yaml', document: 1, path: 'items[0]' })
  const e = decodeError(text.replace('count: 1', 'count: 0'), 'l.yaml')
  assert.equal(e.describe(), 'l.yaml (document 1): items[0].spec.hosts[0].gpus.count: must be 1 or more')
})

test('shape errors name file, document and field path', () => {
  const cases: Array<[string, string]> = [
    [`spec:\n  hosts: [{name: a, gpus: {model: T4-16GB, count: 1}, gpu: {}}]`, 'spec.hosts[0]: unknown field "gpu"'],
    [`spec:\n  hosts: [{name: A_B, gpus: {model: T4-16GB, count: 1}}]`, 'spec.hosts[0].name: "A_B" must be a DNS subdomain'],
    [`spec:\n  hosts: [{name: a, gpus: {count: 1}}]`, 'spec.hosts[0].gpus.model: expected string, but the field is missing'],
    [`spec:\n  hosts: [{name: a, mode: partial, gpus: {model: T4-16GB, count: 1}}]`, 'spec.hosts[0].mode: must be one of "whole", "mig-static"'],
    [`spec:\n  hosts: [{name: a, gpus: {model: T4-16GB, count: 65}}]`, 'spec.hosts[0].gpus.count: must be at most 64'],
    [`spec:\n  hosts: []`, 'spec.hosts: must declare at least one host'],
    [`spec:\n  hosts: [{name: a, gpus: {model: T4-16GB, count: 1}, topology: {nvlink: ring}}]`, 'spec.hosts[0].topology.nvlink: must be one of "nvswitch", "pairs", "none"'],
    [`spec:\n  hosts: [{name: a, gpus: {model: T4-16GB, count: 2}, topology: {pcieRoots: [{name: PCI0, gpus: [0, 1]}]}}]`, 'spec.hosts[0].topology.pcieRoots[0].name: must be pci<domain>:<bus>'],
    [`spec:\n  hosts: [{name: a, gpus: {model: T4-16GB, count: 1}, shared: {memoryStep: lots}}]`, 'spec.hosts[0].shared.memoryStep: "lots" is not a valid quantity'],
    [`spec:\n  hosts: [{name: a, gpus: {model: T4-16GB, count: 1}, labels: {"bad key!": x}}]`, 'spec.hosts[0].labels[bad key!]: label key "bad key!"'],
  ]
  for (const [spec, expected] of cases) {
    const e = decodeError(HEAD + spec)
    assert.equal(e.code, 'INVALID_INPUT')
    assert.ok(e.describe().startsWith(`c.yaml (document 0): ${expected}`), `${e.describe()}\n  expected to start with: ${expected}`)
  }
})

test('an unsupported apiVersion for Cluster is an error at apiVersion', () => {
  const e = decodeError(HEAD.replace('v1alpha1', 'v1beta1') + 'spec: {hosts: [{name: a, gpus: {model: T4-16GB, count: 1}}]}')
  assert.match(e.describe(), /^c\.yaml \(document 0\): apiVersion: apiVersion gpuplane\.io\/v1beta1 is not supported for Cluster; use gpuplane\.io\/v1alpha1/)
})
