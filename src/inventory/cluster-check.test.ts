import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GpuplaneError } from '../common/errors.ts'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { hostsFromClusterText } from './cluster.ts'

const HEAD = `apiVersion: gpuplane.io/v1alpha1
kind: Cluster
metadata: {name: c}
`

function decodeError(text: string, file = 'c.yaml'): GpuplaneError {
  return expectGpuplaneError(() => hostsFromClusterText(text, file))
}

test('cross-field rules: index ranges, overrides, NUMA/PCIe coverage, node names, VM GPUs', () => {
  const host = (extra: string, count = 4) => `  - {name: h, gpus: {model: H100-80GB, count: ${count}}${extra}}\n`
  const cases: Array<[string, string]> = [
    [host(', gpuOverrides: [{indexes: [4], mode: shared}]'), 'spec.hosts[0].gpuOverrides[0].indexes[0]: GPU index 4 is out of range: the host has 4 GPUs (0..3)'],
    [host(', gpuOverrides: [{indexes: [1], mode: shared}, {indexes: [1], mode: whole}]'), 'spec.hosts[0].gpuOverrides[1].indexes[0]: GPU 1 is already overridden by gpuOverrides[0]'],
    [host(', gpuOverrides: [{indexes: [1], mode: mig-static}]'), 'spec.hosts[0].gpuOverrides[0].migDevices: mode mig-static publishes the MIG devices that exist'],
    [host(', gpuOverrides: [{indexes: [1], mode: whole, migDevices: [1g.10gb]}]'), 'spec.hosts[0].gpuOverrides[0].migDevices: migDevices lists existing MIG devices and applies to mode mig-static only'],
    [host(', mode: mig-static, gpuOverrides: [{indexes: [0, 1], mode: mig-static, migDevices: [7g.80gb]}]'), 'spec.hosts[0].mode: mode mig-static publishes the MIG devices that exist; give GPUs 2, 3 a gpuOverrides entry'],
    [host(', topology: {numa: [{id: 0, gpus: [0, 1]}, {id: 1, gpus: [2]}]}'), 'spec.hosts[0].topology.numa: GPU 3 is not listed'],
    [host(', topology: {numa: [{id: 0, gpus: [0, 1]}, {id: 1, gpus: [1, 2, 3]}]}'), 'spec.hosts[0].topology.numa[1].gpus[0]: GPU 1 is listed twice'],
    [host(', topology: {numa: [{id: 0, gpus: [0, 1]}, {id: 0, gpus: [2, 3]}]}'), 'spec.hosts[0].topology.numa[1].id: NUMA node 0 is listed twice'],
    [host(', topology: {numaNodes: 2, numa: [{id: 0, gpus: [0, 1, 2, 3]}]}'), 'spec.hosts[0].topology.numaNodes: give either numaNodes'],
    [host(', topology: {numaNodes: 5}'), 'spec.hosts[0].topology.numaNodes: 5 NUMA nodes for 4 GPUs'],
    [host(', topology: {pcieRoots: [{name: pci0000:00, gpus: [0, 1]}, {name: pci0000:00, gpus: [2, 3]}]}'), 'spec.hosts[0].topology.pcieRoots[1].name: PCIe root pci0000:00 is listed twice'],
    [host(', topology: {gpusPerPcieRoot: 2, pcieRoots: [{name: pci0000:00, gpus: [0, 1, 2, 3]}]}'), 'spec.hosts[0].topology.gpusPerPcieRoot: give either gpusPerPcieRoot or pcieRoots'],
    [host('') + '  - {name: h, gpus: {model: T4-16GB, count: 1}}\n', 'spec.hosts[1].name: host name "h" is already used by spec.hosts[0]'],
    [host(', replicas: 2') + '  - {name: h-1, gpus: {model: T4-16GB, count: 1}}\n', 'spec.hosts[1].name: host name "h-1" is already used by spec.hosts[0]'],
    [host('') + '  virtualMachines: [{name: h, host: h, passthroughGpus: [0]}]\n', 'spec.virtualMachines[0].name: node name "h" is already used by spec.hosts[0]'],
    [host('') + '  virtualMachines: [{name: v, host: g, passthroughGpus: [0]}]\n', 'spec.virtualMachines[0].host: no host named "g"; known hosts: h'],
    [host('') + '  virtualMachines: [{name: v, host: h}]\n', 'spec.virtualMachines[0]: a virtual machine needs passthroughGpus or vgpus'],
    [host('') + '  virtualMachines: [{name: v, host: h, passthroughGpus: [4]}]\n', 'spec.virtualMachines[0].passthroughGpus[0]: GPU index 4 is out of range: host h has 4 GPUs'],
    [host('') + '  virtualMachines: [{name: v, host: h, passthroughGpus: [0]}, {name: w, host: h, passthroughGpus: [1, 0]}]\n', 'spec.virtualMachines[1].passthroughGpus[1]: GPU 0 of host h is already given to virtual machine v (passthrough)'],
    [host('') + '  virtualMachines: [{name: v, host: h, vgpus: [{gpu: 0, profile: x}]}, {name: w, host: h, passthroughGpus: [0]}]\n', 'spec.virtualMachines[1].passthroughGpus[0]: GPU 0 of host h is already given to virtual machine v (vGPU)'],
    [host('') + '  virtualMachines: [{name: v, host: h, passthroughGpus: [0], vgpus: [{gpu: 0, profile: x}]}]\n', 'spec.virtualMachines[0].vgpus[0].gpu: GPU 0 of host h is given to virtual machine v (passthrough)'],
    [host('') + '  virtualMachines: [{name: v, host: h, mode: vgpu, passthroughGpus: [0]}]\n', 'spec.virtualMachines[0].mode: a virtual machine cannot publish vGPUs'],
  ]
  for (const [hosts, expected] of cases) {
    const e = decodeError(`${HEAD}spec:\n  hosts:\n${hosts}`)
    assert.ok(e.describe().startsWith(`c.yaml (document 0): ${expected}`), `${e.describe()}\n  expected to start with: ${expected}`)
  }
})

test('two VMs may share one GPU through vGPUs', () => {
  const hosts = hostsFromClusterText(`${HEAD}spec:
  hosts: [{name: h, mode: vgpu, gpus: {model: L40S-48GB, count: 1}}]
  virtualMachines:
  - {name: v, host: h, vgpus: [{gpu: 0, profile: L40S-12C}]}
  - {name: w, host: h, vgpus: [{gpu: 0, profile: L40S-12C, count: 2}]}
`)
  assert.deepEqual(hosts.map((h) => [h.node, h.gpus.length]), [['h', 0], ['v', 1], ['w', 2]])
})
