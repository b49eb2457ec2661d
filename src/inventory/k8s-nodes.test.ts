import assert from 'node:assert/strict'
import { test } from 'node:test'
import { labelValueProblems } from '../api/names.ts'
import { labelValue, nodeObject } from './k8s-nodes.ts'

test('labels of a host node: hostname, host, GPU product, count, memory and model from the catalog', () => {
  const node = nodeObject({ node: 'n1', gpus: [{ index: 0, uuid: 'GPU-1', productName: 'NVIDIA H100 80GB HBM3' }], labels: { zone: 'a', 'nvidia.com/gpu.count': '9' } })
  assert.deepEqual(node, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: 'n1',
      labels: {
        'kubernetes.io/hostname': 'n1',
        'gpuplane.io/host': 'n1',
        'gpuplane.io/gpu-model': 'H100-80GB',
        'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
        'nvidia.com/gpu.count': '9',
        'nvidia.com/gpu.memory': '81559',
        zone: 'a',
      },
    },
  })
})

test('a VM node names its host and says it is a VM; CPU and memory become capacity', () => {
  const node = nodeObject({ node: 'vm', host: 'hv', gpus: [] }, { cpuMilli: 1500, memoryMiB: 2048 })
  assert.equal(node.metadata.labels['gpuplane.io/host'], 'hv')
  assert.equal(node.metadata.labels['gpuplane.io/virtual-machine'], 'true')
  assert.equal(node.metadata.labels['nvidia.com/gpu.count'], undefined)
  assert.deepEqual(node.status, { capacity: { cpu: '1500m', memory: '2048Mi' }, allocatable: { cpu: '1500m', memory: '2048Mi' } })
  assert.deepEqual(nodeObject({ node: 'x', gpus: [] }, { cpuMilli: 64000 }).status?.capacity, { cpu: '64' })
})

test('labelValue makes any text a valid label value', () => {
  for (const s of ['NVIDIA A100-SXM4-40GB', ' (weird) name! ', 'x'.repeat(80) + '-', '---', 'Tesla V100-SXM2-16GB']) {
    assert.deepEqual(labelValueProblems(labelValue(s)), [], s)
  }
  assert.equal(labelValue('NVIDIA A100 80GB PCIe'), 'NVIDIA-A100-80GB-PCIe')
})
