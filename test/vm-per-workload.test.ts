// End to end: hypervisors published as VM hosts (`gpuplane inventory cluster --vm-hosts`), vm-per-workload workloads placed there, and their VM plans added to the Cluster, which then publishes those VMs.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeText } from '../src/api/decode.ts'
import type { Namespace } from '../src/api/namespace-v1alpha1.ts'
import type { ResourceClaimSpec, ResourceSlice } from '../src/api/resource-v1.ts'
import type { Workload } from '../src/api/workload-v1alpha1.ts'
import { deviceClasses } from '../src/inventory/publish.ts'
import { LABEL_VM_HOST } from '../src/scheduler/plugins-isolation.ts'
import { defaultProfile, Scheduler } from '../src/scheduler/scheduler.ts'
import { clusterView, schedNodeFromObject } from '../src/scheduler/view.ts'
import { cli, tmp } from './cli-helpers.ts'

const SPEC = `apiVersion: gpuplane.io/v1alpha1
kind: Cluster
metadata: {name: vms}
spec:
  hosts:
  - {name: w, gpus: {model: H100-80GB, count: 2}}
  - {name: hv-a100, worker: false, gpus: {model: A100-80GB, count: 4}, topology: {nvlink: pairs}}
  - {name: hv-l40s, worker: false, mode: vgpu, gpus: {model: L40S-48GB, count: 1}}
  virtualMachines:
  - {name: vm-old, host: hv-a100, passthroughGpus: [0]}
`

/** The Nodes and ResourceSlices that `gpuplane inventory cluster` prints for `spec`, with `args`. */
async function inventory(spec: string, ...args: string[]): Promise<{ nodes: Array<Record<string, unknown>>; slices: ResourceSlice[] }> {
  const r = await cli(['inventory', 'cluster', '-f', tmp('cluster.yaml', spec), ...args])
  assert.equal(r.code, 0, r.err)
  const { objects, foreign } = decodeText(r.out, 'inventory.yaml')
  return { nodes: foreign.filter((f) => f.kind === 'Node').map((f) => f.raw), slices: objects.flatMap((o) => (o.object.kind === 'ResourceSlice' ? [o.object] : [])) }
}

const nameOf = (node: Record<string, unknown>) => (node.metadata as { name: string }).name
const devicesOn = (slices: ResourceSlice[], node: string) => slices.filter((s) => s.spec.nodeName === node).flatMap((s) => s.spec.devices ?? [])

function workload(name: string, spec: ResourceClaimSpec): Workload {
  return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name, namespace: 'secure' }, spec: { resources: { cpu: '8', memory: '32Gi' }, resourceClaims: [{ name: 'g', spec }] } }
}

test('inventory --vm-hosts, vm-per-workload placement, and the plans published back as VMs', async () => {
  const plain = await inventory(SPEC)
  assert.deepEqual(plain.nodes.map(nameOf), ['w', 'vm-old'], 'without --vm-hosts hypervisors publish nothing')
  const { nodes, slices } = await inventory(SPEC, '--vm-hosts')
  assert.deepEqual(nodes.map(nameOf), ['w', 'hv-a100', 'hv-l40s', 'vm-old'])
  assert.deepEqual(nodes.map((n) => (n.metadata as { labels: Record<string, string> }).labels[LABEL_VM_HOST]), [undefined, 'true', 'true', undefined])
  assert.deepEqual(devicesOn(slices, 'hv-a100').map((d) => d.name), ['gpu-1', 'gpu-2', 'gpu-3'], 'GPU 0 went to vm-old')

  // The topology score cannot read the numaNode attribute (a bigint) that these hosts publish; binpack decides here.
  const namespaces = [{ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name: 'secure' }, spec: { isolation: 'vm-per-workload' } } as Namespace]
  const s = new Scheduler(clusterView({ nodes: nodes.map(schedNodeFromObject), slices, classes: deviceClasses(), namespaces }), defaultProfile({ binpack: 1 }))
  const pair = s.scheduleOne(workload('train', { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: 2 } }], constraints: [{ matchAttribute: 'gpuplane.io/nvlinkDomain' }] } }))
  assert.ok(pair.ok && pair.vm, !pair.ok ? pair.reason : 'no plan')
  assert.deepEqual(pair.vm, { virtualMachine: { name: 'vm-secure-train', host: 'hv-a100', passthroughGpus: [2, 3], mode: 'whole' }, cpu: '8', memory: '32Gi' })
  const small = s.scheduleOne(workload('infer', { devices: { requests: [{ name: 'v', exactly: { deviceClassName: 'vgpu.gpuplane.io', selectors: [{ cel: { expression: "device.attributes['gpu.nvidia.com'].profile == 'L40S-24C'" } }] } }] } }))
  assert.ok(small.ok && small.vm)
  assert.deepEqual(small.vm.virtualMachine, { name: 'vm-secure-infer', host: 'hv-l40s', vgpus: [{ gpu: 0, profile: 'L40S-24C' }] })

  const given = pair.allocations.flatMap((a) => a.devices?.results ?? []).map((r) => devicesOn(slices, r.pool).find((d) => d.name === r.device)?.attributes?.uuid?.string)
  const entries = [pair.vm.virtualMachine, small.vm.virtualMachine].map((vm) => `  - ${JSON.stringify(vm)}\n`).join('')
  const after = await inventory(SPEC + entries, '--vm-hosts')
  assert.deepEqual(after.nodes.map(nameOf), ['w', 'hv-a100', 'hv-l40s', 'vm-old', 'vm-secure-train', 'vm-secure-infer'])
  assert.deepEqual(devicesOn(after.slices, 'vm-secure-train').map((d) => d.attributes?.uuid?.string), given, 'the VM publishes the very GPUs the workload was given')
  assert.deepEqual(devicesOn(after.slices, 'vm-secure-infer').map((d) => d.attributes?.productName?.string), ['NVIDIA L40S-24C'])
  assert.deepEqual(devicesOn(after.slices, 'hv-a100').map((d) => d.name), ['gpu-1'])
  assert.deepEqual(devicesOn(after.slices, 'hv-l40s'), [])

  const help = await cli(['inventory', 'cluster', '--help'])
  assert.match(help.out, /--vm-hosts/)
  assert.match(help.out, /VM hosts \(--vm-hosts\)/)
})
