import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { GpuplaneError } from '../common/errors.ts'
import { hostsFromClusterText } from './cluster.ts'
import { nodeObject } from './k8s-nodes.ts'
import { publishHost } from './publish.ts'
import { LABEL_VM_HOST, type HostInfo } from './types.ts'

const HEAD = `apiVersion: gpuplane.io/v1alpha1
kind: Cluster
metadata: {name: c}
spec:
`

const hosts = (spec: string): HostInfo[] => hostsFromClusterText(HEAD + spec, 'c.yaml')
const byNode = (list: HostInfo[], node: string): HostInfo => list.find((h) => h.node === node) ?? assert.fail(`no node ${node}`)

function specError(spec: string): string {
  try {
    hosts(spec)
  } catch (e) {
    assert.ok(e instanceof GpuplaneError, String(e))
    assert.equal(e.code, 'INVALID_INPUT')
    return e.describe()
  }
  assert.fail('expected an error')
}

test('hosts with replicas, catalog model, default product name, placement and mode', () => {
  const list = hosts(`  hosts:
  - name: h100
    replicas: 2
    gpus: {model: H100-80GB, count: 8, driverVersion: "580.95.05"}
    topology: {nvlink: nvswitch, numaNodes: 2, gpusPerPcieRoot: 2}
`)
  assert.deepEqual(list.map((h) => h.node), ['h100-0', 'h100-1'])
  const h = list[1]
  assert.equal(h.host, 'h100-1')
  assert.equal(h.mode, 'whole')
  assert.equal(h.gpus.length, 8)
  const g = h.gpus[5]
  assert.equal(g.model, 'H100-80GB')
  assert.equal(g.productName, 'NVIDIA H100 80GB HBM3')
  assert.equal(g.memoryMiB, 81559)
  assert.equal(g.driverVersion, '580.95.05')
  assert.equal(g.numaNode, 1)
  assert.equal(g.nvlinkDomain, 'h100-1-nvl0')
  // 4 roots: 00, 40, 80, c0; GPU 5 is the second GPU below root 2.
  assert.equal(g.pcieRoot, 'pci0000:80')
  assert.equal(g.pciBusId, '0000:82:00.0')
  assert.match(g.uuid, /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  assert.notEqual(list[0].gpus[5].uuid, g.uuid)
  assert.deepEqual(hosts(`  hosts:\n  - {name: h100, replicas: 2, gpus: {model: H100-80GB, count: 8}}\n`)[1].gpus[5].uuid, hosts(`  hosts:\n  - {name: h100, replicas: 2, gpus: {model: H100-80GB, count: 8}}\n`)[1].gpus[5].uuid)
})

test('a product name selects the model and is published as given; PCIe names without NVSwitch', () => {
  const [a] = hosts(`  hosts: [{name: a, gpus: {model: "nvidia h100 pcie", count: 1}}]\n`)
  assert.equal(a.gpus[0].model, 'H100-80GB')
  assert.equal(a.gpus[0].productName, 'NVIDIA H100 PCIe')
  const [b] = hosts(`  hosts: [{name: b, gpus: {model: A100-40GB, count: 2}, topology: {nvlink: pairs}}]\n`)
  assert.equal(b.gpus[0].productName, 'NVIDIA A100-PCIE-40GB')
  const [c] = hosts(`  hosts: [{name: c, gpus: {model: A100-40GB, count: 2, productName: "NVIDIA A800 40GB"}}]\n`)
  assert.equal(c.gpus[0].productName, 'NVIDIA A800 40GB')
})

test('NVLink pairs leave an odd last GPU alone; explicit NUMA and PCIe lists', () => {
  const [h] = hosts(`  hosts:
  - name: p
    gpus: {model: A100-40GB, count: 5}
    topology:
      nvlink: pairs
      numa: [{id: 1, gpus: [0, 1, 2]}, {id: 0, gpus: [3, 4]}]
      pcieRoots: [{name: pci0000:3a, gpus: [0, 4]}, {name: pci0001:00, gpus: [1, 2, 3]}]
`)
  assert.deepEqual(h.gpus.map((g) => g.nvlinkDomain), ['p-nvl0', 'p-nvl0', 'p-nvl1', 'p-nvl1', undefined])
  assert.deepEqual(h.gpus.map((g) => g.numaNode), [1, 1, 1, 0, 0])
  assert.deepEqual(h.gpus.map((g) => g.pcieRoot), ['pci0000:3a', 'pci0001:00', 'pci0001:00', 'pci0001:00', 'pci0000:3a'])
  assert.deepEqual(h.gpus.map((g) => g.pciBusId), ['0000:3b:00.0', '0001:01:00.0', '0001:02:00.0', '0001:03:00.0', '0000:3c:00.0'])
})

test('unknown model: the error names file, document, path and the known models', () => {
  const msg = specError(`  hosts:\n  - {name: a, gpus: {model: T4-16GB, count: 1}}\n  - {name: b, gpus: {model: T4-16GB, count: 1}}\n  - {name: c, gpus: {model: H300, count: 1}}\n`)
  assert.match(msg, /^c\.yaml \(document 0\): spec\.hosts\[2\]\.gpus\.model: unknown GPU model "H300"; known: A100-40GB, .*H100-80GB.*T4-16GB/)
})

test('modes and wiring the model cannot have are errors at their path', () => {
  assert.match(specError(`  hosts: [{name: a, mode: mig-dynamic, gpus: {model: L40S-48GB, count: 1}}]\n`), /spec\.hosts\[0\]\.mode: L40S-48GB does not support MIG/)
  assert.match(specError(`  hosts: [{name: a, gpus: {model: L40S-48GB, count: 2}, gpuOverrides: [{indexes: [1], mode: mig-static, migDevices: [1g.10gb]}]}]\n`), /spec\.hosts\[0\]\.gpuOverrides\[0\]\.mode: L40S-48GB does not support MIG/)
  assert.match(specError(`  hosts: [{name: a, mode: vgpu, gpus: {model: A30-24GB, count: 1}}]\n`), /spec\.hosts\[0\]\.mode: the catalog has no vGPU profiles for A30-24GB/)
  assert.match(specError(`  hosts: [{name: a, gpus: {model: L40S-48GB, count: 2}, topology: {nvlink: nvswitch}}]\n`), /spec\.hosts\[0\]\.topology\.nvlink: L40S-48GB does not come with NVSwitch; the catalog knows none \(PCIe\)/)
  assert.match(specError(`  hosts: [{name: a, gpus: {model: B200-180GB, count: 2}, topology: {nvlink: pairs}}]\n`), /topology\.nvlink: B200-180GB does not come with NVLink bridges/)
})

test('mig-static: declared MIG devices get legal placements; impossible layouts name the entry', () => {
  const [h] = hosts(`  hosts:
  - name: m
    gpus: {model: H100-80GB, count: 2}
    mode: mig-dynamic
    gpuOverrides: [{indexes: [1], mode: mig-static, migDevices: [3g.40gb, 2g.20gb, 1g.10gb, 1g.10gb]}]
`)
  assert.equal(h.mode, 'mig-dynamic')
  assert.equal(h.gpus[0].mode, undefined)
  assert.equal(h.gpus[0].migEnabled, true)
  assert.equal(h.gpus[1].mode, 'mig-static')
  assert.deepEqual(h.gpus[1].migDevices?.map((d) => [d.profile, d.placement.start, d.placement.size]), [['3g.40gb', 4, 4], ['2g.20gb', 0, 2], ['1g.10gb', 2, 1], ['1g.10gb', 3, 1]])
  assert.match(specError(`  hosts: [{name: m, gpus: {model: H100-80GB, count: 1}, gpuOverrides: [{indexes: [0], mode: mig-static, migDevices: [4g.40gb, 4g.40gb]}]}]\n`), /gpuOverrides\[0\]\.migDevices\[1\]: .*4g\.40gb/)
  assert.match(specError(`  hosts: [{name: m, gpus: {model: H100-80GB, count: 1}, gpuOverrides: [{indexes: [0], mode: mig-static, migDevices: [3g.40gb, 9g.90gb]}]}]\n`), /gpuOverrides\[0\]\.migDevices\[1\]: unknown MIG profile "9g\.90gb" for H100-80GB; known: 1g\.10gb/)
  // Publishing offers exactly the declared devices on GPU 1.
  const devices = publishHost(h).flatMap((s) => s.spec.devices ?? []).map((d) => d.name).filter((n) => n.startsWith('gpu-1'))
  assert.deepEqual(devices, ['gpu-1-mig-3g40gb-9-4', 'gpu-1-mig-2g20gb-14-0', 'gpu-1-mig-1g10gb-19-2', 'gpu-1-mig-1g10gb-19-3'])
})

const HYPERVISORS = `  hosts:
  - name: hv
    worker: false
    gpus: {model: A100-80GB, count: 4}
    topology: {nvlink: pairs, numaNodes: 2}
  - name: w
    gpus: {model: H100-80GB, count: 4}
    topology: {nvlink: nvswitch}
    gpuOverrides: [{indexes: [3], mode: mig-static, migDevices: [7g.80gb]}]
  - name: lv
    worker: false
    mode: vgpu
    gpus: {model: L40S-48GB, count: 2}
`

test('passthrough VMs: GPUs move from the host to the VM, renumbered, keeping UUID and NVLink peers', () => {
  const list = hosts(`${HYPERVISORS}  virtualMachines:
  - {name: vm-pair, host: hv, passthroughGpus: [1, 0]}
  - {name: vm-one, host: hv, passthroughGpus: [2], labels: {tier: gold}}
  - {name: vm-w, host: w, passthroughGpus: [3]}
`)
  assert.deepEqual(list.map((h) => h.node), ['w', 'vm-pair', 'vm-one', 'vm-w'])
  const w = byNode(list, 'w')
  assert.deepEqual(w.gpus.map((g) => g.index), [0, 1, 2])
  const pair = byNode(list, 'vm-pair')
  assert.equal(pair.host, 'hv')
  assert.deepEqual(pair.gpus.map((g) => g.index), [0, 1])
  assert.deepEqual(pair.gpus.map((g) => g.nvlinkDomain), ['hv-nvl0', 'hv-nvl0'])
  assert.equal(pair.gpus[0].pcieRoot, undefined)
  assert.equal(pair.gpus[0].numaNode, undefined)
  const one = byNode(list, 'vm-one')
  assert.equal(one.gpus[0].nvlinkDomain, undefined, 'its pair partner stayed on the host')
  assert.deepEqual(one.labels, { tier: 'gold' })
  const vmw = byNode(list, 'vm-w')
  assert.equal(vmw.gpus[0].mode, 'mig-static', 'the host GPU mode comes along')
  assert.deepEqual(vmw.gpus[0].migDevices?.map((d) => d.profile), ['7g.80gb'])
  const slices = publishHost(pair)
  assert.deepEqual(slices.flatMap((s) => s.spec.devices ?? []).map((d) => d.attributes?.['gpuplane.io/host']?.string), ['hv', 'hv'])
})

test('vGPU VMs: one GPU per vGPU with the profile framebuffer, after passthrough GPUs', () => {
  const list = hosts(`${HYPERVISORS}  virtualMachines:
  - {name: v1, host: lv, vgpus: [{gpu: 0, profile: L40S-12C, count: 2}, {gpu: 1, profile: l40s-24c}]}
  - {name: v2, host: lv, vgpus: [{gpu: 0, profile: L40S-12C, count: 2}]}
  - {name: v3, host: hv, passthroughGpus: [3], mode: shared}
`)
  const v1 = byNode(list, 'v1')
  assert.deepEqual(v1.gpus.map((g) => [g.index, g.productName, g.memoryMiB, g.model, g.mode]), [
    [0, 'NVIDIA L40S-12C', 12288, 'L40S-48GB', 'whole'],
    [1, 'NVIDIA L40S-12C', 12288, 'L40S-48GB', 'whole'],
    [2, 'NVIDIA L40S-24C', 24576, 'L40S-48GB', 'whole'],
  ])
  assert.equal(byNode(list, 'v3').gpus[0].mode, 'shared')
  const devices = publishHost(v1).flatMap((s) => s.spec.devices ?? [])
  assert.deepEqual(devices.map((d) => d.capacity?.memory?.value), ['12Gi', '12Gi', '24Gi'])
})

test('vGPU limits: host GPU mode, profiles, equal-size and mixed-size rules', () => {
  const vm = (vgpus: string, extra = '') => `${HYPERVISORS.replace('    mode: vgpu\n', `    mode: vgpu\n${extra}`)}  virtualMachines:\n${vgpus}`
  assert.match(specError(vm('  - {name: v, host: w, vgpus: [{gpu: 0, profile: H100XM-10C}]}\n')), /spec\.virtualMachines\[0\]\.vgpus\[0\]\.gpu: GPU 0 of host w is in mode whole; set the host's mode .* to vgpu/)
  assert.match(specError(vm('  - {name: v, host: lv, vgpus: [{gpu: 0, profile: L40S-13C}]}\n')), /vgpus\[0\]\.profile: unknown vGPU profile "L40S-13C" for L40S-48GB; known: L40S-48C, L40S-24C/)
  assert.match(specError(vm('  - {name: v, host: lv, vgpus: [{gpu: 0, profile: L40S-12C, count: 5}]}\n')), /vgpus\[0\]\.count: GPU 0 of host lv holds at most 4 L40S-12C vGPUs in equal-size mode; the spec gives it 5/)
  assert.match(specError(vm('  - {name: v, host: lv, vgpus: [{gpu: 0, profile: L40S-12C, count: 3}]}\n  - {name: u, host: lv, vgpus: [{gpu: 0, profile: L40S-12C, count: 2}]}\n')), /spec\.virtualMachines\[1\]\.vgpus\[0\]\.count: .*at most 4 .*gives it 5/)
  assert.match(specError(vm('  - {name: v, host: lv, vgpus: [{gpu: 0, profile: L40S-12C}, {gpu: 0, profile: L40S-24C}]}\n')), /vgpus\[1\]\.profile: GPU 0 of host lv is in equal-size vGPU mode and already hosts L40S-12C \(spec\.virtualMachines\[0\]\.vgpus\[0\]\)/)
  const mixed = '    vgpu: {mixedSize: true}\n'
  const ok = hosts(vm('  - {name: v, host: lv, vgpus: [{gpu: 0, profile: L40S-24C}, {gpu: 0, profile: L40S-12C}, {gpu: 0, profile: L40S-8C}]}\n', mixed))
  assert.equal(byNode(ok, 'v').gpus.length, 3)
  assert.match(specError(vm('  - {name: v, host: lv, vgpus: [{gpu: 0, profile: L40S-24C}, {gpu: 0, profile: L40S-16C, count: 2}]}\n', mixed)), /vgpus\[1\]\.count: the vGPUs on GPU 0 of host lv need 57344 MiB of framebuffer, and the GPU has 49152 MiB/)
  assert.match(specError(vm('  - {name: v, host: lv, vgpus: [{gpu: 0, profile: L40S-8C, count: 5}]}\n', mixed)), /holds at most 4 L40S-8C vGPUs in mixed-size mode/)
})

test('vmHosts: each hypervisor becomes a VM host offering its free GPUs, whole or as vGPUs', () => {
  const spec = `${HYPERVISORS.replace('    topology: {nvlink: pairs, numaNodes: 2}\n', '    topology: {nvlink: pairs, numaNodes: 2}\n    mode: mig-dynamic\n    labels: {zone: a}\n')}  virtualMachines:
  - {name: vm-pair, host: hv, passthroughGpus: [0, 1]}
  - {name: v1, host: lv, vgpus: [{gpu: 0, profile: L40S-12C}]}
`
  assert.deepEqual(hosts(spec).map((h) => h.node), ['w', 'vm-pair', 'v1'], 'without the option, hypervisors publish nothing')
  const list = hostsFromClusterText(HEAD + spec, 'c.yaml', { vmHosts: true })
  assert.deepEqual(list.map((h) => h.node), ['hv', 'w', 'lv', 'vm-pair', 'v1'])
  const hv = byNode(list, 'hv')
  assert.equal(hv.host, 'hv')
  assert.deepEqual(hv.labels, { zone: 'a', [LABEL_VM_HOST]: 'true' })
  assert.deepEqual(hv.gpus.map((g) => [g.index, g.mode, g.migEnabled, g.nvlinkDomain]), [[2, 'whole', false, 'hv-nvl1'], [3, 'whole', false, 'hv-nvl1']], 'MIG GPUs are offered whole, for passthrough')
  assert.deepEqual(publishHost(hv).flatMap((sl) => sl.spec.devices ?? []).map((d) => [d.name, d.attributes?.type?.string]), [['gpu-2', 'gpu'], ['gpu-3', 'gpu']])
  const lv = byNode(list, 'lv')
  assert.deepEqual(lv.gpus.map((g) => [g.index, g.mode]), [[1, 'vgpu']], 'a GPU hosting a declared vGPU counts as taken')
  const lvDevices = publishHost(lv).flatMap((sl) => sl.spec.devices ?? [])
  assert.ok(lvDevices.length > 0 && lvDevices.every((d) => d.name.startsWith('gpu-1-vgpu-') && d.attributes?.type?.string === 'vgpu'))
  const node = nodeObject(hv)
  assert.equal(node.metadata.labels[LABEL_VM_HOST], 'true')
  assert.equal(node.metadata.labels['gpuplane.io/virtual-machine'], undefined)
})

test('a VM may not run MIG modes on a GPU without MIG, nor mig-static without declared devices', () => {
  const spec = (vm: string) => `  hosts: [{name: h, worker: false, gpus: {model: L40S-48GB, count: 1}}, {name: g, gpus: {model: H100-80GB, count: 1}}]\n  virtualMachines: [${vm}]\n`
  assert.match(specError(spec('{name: v, host: h, passthroughGpus: [0], mode: mig-dynamic}')), /spec\.virtualMachines\[0\]\.mode: L40S-48GB does not support MIG/)
  assert.match(specError(spec('{name: v, host: g, passthroughGpus: [0], mode: mig-static}')), /spec\.virtualMachines\[0\]\.passthroughGpus\[0\]: mode mig-static publishes the MIG devices that exist/)
  assert.equal(hosts(spec('{name: v, host: g, passthroughGpus: [0], mode: mig-dynamic}'))[1].gpus[0].migEnabled, true)
})

test('two Clusters in one text: nodes of both, names unique across them', () => {
  const one = (name: string) => `${HEAD}  hosts: [{name: ${name}, gpus: {model: T4-16GB, count: 1}}]\n`
  assert.deepEqual(hostsFromClusterText(`${one('a')}---\n${one('b')}`, 'c.yaml').map((h) => h.node), ['a', 'b'])
  assert.throws(
    () => hostsFromClusterText(`${one('a')}---\n${one('a')}`, 'c.yaml'),
    (e: GpuplaneError) => e.describe() === 'c.yaml (document 1): spec: node "a" is also declared by the Cluster in document 0; node names must be unique across Clusters',
  )
})

test('a text without a Cluster is an error that says what to write', () => {
  assert.throws(
    () => hostsFromClusterText('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n', 'x.yaml'),
    (e: GpuplaneError) => e.describe().startsWith('x.yaml: no Cluster object found; write a document with "apiVersion: gpuplane.io/v1alpha1"'),
  )
})

test('examples/cluster-demo.yaml converts, and every node publishes valid slices', () => {
  const file = join(import.meta.dirname, '..', '..', 'examples', 'cluster-demo.yaml')
  const list = hostsFromClusterText(readFileSync(file, 'utf8'), file)
  const names = list.map((h) => h.node)
  assert.equal(new Set(names).size, names.length)
  for (const expected of ['h100-sxm-0', 'a100-pcie-1', 'l40s', 't4-2', 'h100-mig', 'a10-shared', 'l40s-vgpu', 'vm-a100-pair', 'vm-l40s-12c-a', 'vm-mixed-small']) assert.ok(names.includes(expected), expected)
  for (const hypervisor of ['hv-l40s-equal', 'hv-l40s-mixed', 'hv-a100']) assert.ok(!names.includes(hypervisor), hypervisor)
  assert.equal(byNode(list, 'h100-sxm-1').gpus.length, 7)
  for (const h of list) if (h.gpus.length > 0) assert.ok(publishHost(h).length > 0, h.node)
})
