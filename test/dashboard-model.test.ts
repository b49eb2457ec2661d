// The dashboard's pure parts without a browser: the SSE parser of its watch streams, the Cluster view's model of the demo cluster (MIG, shares, vGPUs on hosts, hypervisors and VMs), and the reading of the utilization API.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { hostsFromClusterText } from '../src/inventory/cluster.ts'
import { nodeObject } from '../src/inventory/k8s-nodes.ts'
import { publishHost } from '../src/inventory/publish.ts'
import type { KubeObject } from '../web/src/types.ts'
import { SseParser } from '../web/src/sse.ts'
import { clusterModel, quantity, shortProfile, type Gpu, type ModelGroup, type NodeView } from '../web/src/views/cluster-model.ts'
import { windowEnd, windowStart } from '../web/src/views/governance-window.ts'
import { utilPoints } from '../web/src/views/utilization-series.ts'

test('SseParser: messages split across chunks, CRLF, comments, id-only and multi-line data', () => {
  const p = new SseParser()
  const text = ': watching Workload\r\n\r\nid: 7\ndata: {"type":"ADDED",\ndata: "object":1}\n\nid: 9\n\n'
  const out = [...text].flatMap((ch) => p.push(ch))
  assert.deepEqual(out, [{ comment: 'watching Workload' }, { id: '7', data: '{"type":"ADDED",\n"object":1}' }, { id: '9' }], 'one message per blank line, data lines joined')
  assert.deepEqual(p.push('data: x'), [], 'an unfinished message waits for its blank line')
  assert.deepEqual(p.push('\n\n'), [{ data: 'x' }], 'and completes with it')
})

test('quantity: Kubernetes quantities as numbers', () => {
  assert.equal(quantity('24Gi'), 24 * 2 ** 30, 'binary suffix')
  assert.equal(quantity('500m'), 0.5, 'milli')
  assert.equal(quantity('64'), 64, 'plain number')
  assert.ok(Number.isNaN(quantity('12 apples')), 'garbage is NaN')
})

function demoSlices(): KubeObject[] {
  const hosts = hostsFromClusterText(readFileSync(new URL('../examples/cluster-demo.yaml', import.meta.url), 'utf8'))
  // As the browser gets them: JSON, where the in-process bigint attributes are numbers.
  return JSON.parse(JSON.stringify(hosts.flatMap((h) => publishHost(h)), (_k, v) => (typeof v === 'bigint' ? Number(v) : v))) as KubeObject[]
}

function claim(namespace: string, name: string, workload: string, results: Array<{ pool: string; device: string; consumedCapacity?: Record<string, string> }>): KubeObject {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name, namespace },
    status: { allocation: { devices: { results: results.map((r) => ({ request: 'r', driver: 'gpu.nvidia.com', ...r })) } }, reservedFor: [{ apiGroup: 'gpuplane.io', resource: 'workloads', name: workload }] },
  }
}

test('clusterModel: the demo cluster by GPU model, MIG blocks at their placements, shares, NVLink domains, holders', () => {
  const slices = demoSlices()
  const nodeNames = [...new Set(slices.map((s) => s.spec.nodeName as string))]
  const nodes = nodeNames.map((name) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: name.startsWith('h100') ? { 'gpuplane.io/gpu-model': 'H100-80GB' } : {} } })) as KubeObject[]
  const mig = slices.flatMap((s) => (s.spec.devices ?? []) as Array<{ name: string; attributes: Record<string, { string?: string; int?: number }> }>).find((d) => d.name.startsWith('gpu-0-mig-') && d.attributes.profile?.string === '3g.40gb' && d.attributes['gpuplane.io/migPlacementStart']?.int === 4)
  assert.ok(mig, 'the demo offers a 3g.40gb at placement 4 on h100-mig gpu-0')
  const claims = [
    claim('inference', 'embed-mig', 'embed', [{ pool: 'h100-mig', device: mig.name }]),
    claim('research', 'nb', 'notebook', [{ pool: 'a10-shared', device: 'gpu-0', consumedCapacity: { memory: '6Gi' } }]),
    claim('research', 'pre', 'pretrain', [{ pool: 'h100-sxm-0', device: 'gpu-3' }]),
  ]
  const groups = clusterModel(nodes, slices, claims)
  const h100 = groups.find((g) => g.model === 'H100-80GB')
  assert.ok(h100, 'nodes are grouped under their gpu-model label')
  const gpu = (node: string, label: string): Gpu => {
    const found = groups.flatMap((g) => g.nodes).find((n) => n.name === node)?.domains.flatMap((d) => d.gpus).find((g) => g.label === label)
    assert.ok(found, `${node} ${label} is drawn`)
    return found
  }
  const dynamic = gpu('h100-mig', 'gpu-0')
  assert.equal(dynamic.memorySlices, 8, 'an H100 has 8 memory slices')
  assert.deepEqual(dynamic.partitions.map((p) => [p.label, p.slices, p.holders.map((h) => `${h.namespace}/${h.workload}`)]), [['3g.40gb', [4, 8], ['inference/embed']]], 'a dynamic MIG GPU shows only its allocated partition, at its placement')
  const fixed = gpu('h100-mig', 'gpu-7')
  assert.deepEqual(fixed.partitions.map((p) => [p.label, p.slices]).sort(), [['1g.10gb', [2, 3]], ['1g.10gb', [3, 4]], ['2g.20gb', [0, 2]], ['3g.40gb', [4, 8]]], 'a fixed MIG layout shows every device, free ones too')
  const shared = gpu('a10-shared', 'gpu-0')
  assert.equal(shared.partitions[0].fraction, 0.25, 'a 6Gi share of a 24Gi A10 takes a quarter')
  const whole = gpu('h100-sxm-0', 'gpu-3')
  assert.deepEqual(whole.holders.map((h) => h.workload), ['pretrain'], 'a whole GPU names its holder')
  const sxm = groups.flatMap((g) => g.nodes).find((n) => n.name === 'h100-sxm-0')
  assert.deepEqual(sxm?.domains.map((d) => [d.domain, d.gpus.length]), [['h100-sxm-0-nvl0', 8]], 'the NVSwitch host is one NVLink domain of 8 GPUs')
  const pairs = groups.flatMap((g) => g.nodes).find((n) => n.name === 'a100-pcie-0')
  assert.equal(pairs?.domains.length, 4, 'bridged A100 pairs are four domains')
})

/** A Cluster spec as the server publishes it: its Nodes (with their labels) and ResourceSlices as JSON, and the Cluster object itself. */
function published(text: string): { nodes: KubeObject[]; slices: KubeObject[]; cluster: KubeObject } {
  const hosts = hostsFromClusterText(text)
  const json = <T>(x: T): T => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)))
  return { nodes: json(hosts.map((h) => nodeObject(h))) as KubeObject[], slices: json(hosts.flatMap((h) => (h.gpus.length ? publishHost(h) : []))) as KubeObject[], cluster: parseYaml(text) as KubeObject }
}

function finder(groups: ModelGroup[]) {
  const node = (name: string): NodeView => {
    const found = groups.flatMap((g) => g.nodes).find((n) => n.name === name)
    assert.ok(found, `${name} is drawn`)
    return found
  }
  const gpu = (name: string, label: string): Gpu => {
    const found = node(name).domains.flatMap((d) => d.gpus).find((g) => g.label === label)
    assert.ok(found, `${name} ${label} is drawn`)
    return found
  }
  const group = (model: string): ModelGroup => {
    const found = groups.find((g) => g.model === model)
    assert.ok(found, `the ${model} group is drawn`)
    return found
  }
  return { node, gpu, group }
}

test('shortProfile: what a narrow block shows of a profile', () => {
  assert.equal(shortProfile('L40S-12C'), '12C', 'a vGPU type keeps its size and series')
  assert.equal(shortProfile('A100D-20C'), '20C')
  assert.equal(shortProfile('1g.10gb'), '1g', 'a MIG profile keeps its compute slices')
  assert.equal(shortProfile('3g.40gb+me'), '3g')
})

test('clusterModel: vGPUs of the demo cluster, each physical GPU once, hypervisors drawn from the Cluster spec', () => {
  const demo = published(readFileSync(new URL('../examples/cluster-demo.yaml', import.meta.url), 'utf8'))
  const claims = [
    claim('batch', 'render-0-gpu', 'render-0', [{ pool: 'l40s-vgpu', device: 'gpu-0-vgpu-l40s-12c-0' }]),
    claim('batch', 'render-1-gpu', 'render-1', [{ pool: 'l40s-vgpu', device: 'gpu-0-vgpu-l40s-12c-1' }]),
    claim('inference', 'vdi-gpu', 'vdi', [{ pool: 'vm-l40s-24c', device: 'gpu-0' }]),
    claim('research', 'small-gpu', 'small', [{ pool: 'vm-mixed-small', device: 'gpu-1' }]),
  ]
  const groups = clusterModel(demo.nodes, demo.slices, claims, [demo.cluster])
  const { node, gpu, group } = finder(groups)

  // Counts: physical GPUs, each once; vGPUs in VMs apart.
  const l40s = group('L40S-48GB')
  assert.deepEqual([l40s.nodeCount, l40s.hypervisorCount, l40s.gpuCount, l40s.vgpuCount], [7, 2, 11, 8], 'L40S: 7 nodes (2 hosts, 5 VMs), 2 hypervisors, 4 + 4 + 2 + 1 physical GPUs, 8 vGPUs in VMs')
  assert.deepEqual([group('A100-80GB').gpuCount, group('A100-80GB').hypervisorCount], [4, 1], 'the A100 hypervisor: 3 GPUs in VMs and 1 left, 4 physical GPUs')
  assert.equal(group('H100-80GB').gpuCount, 24, 'h100-sxm-1 keeps 7 GPUs and vm-h100 has the 8th')
  const hosts = demo.cluster.spec.hosts as Array<{ gpus: { model: string; count: number }; replicas?: number }>
  for (const g of groups) {
    const declared = hosts.filter((h) => h.gpus.model === g.model).reduce((n, h) => n + h.gpus.count * (h.replicas ?? 1), 0)
    assert.equal(g.gpuCount, declared, `${g.model}: as many GPUs as the spec declares`)
  }

  // The equal-size hypervisor: GPU 0 split among two VMs, GPU 1 half given to a VM.
  const hv = node('hv-l40s-equal')
  assert.equal(hv.kind, 'hypervisor', 'a host that is no node is drawn as a hypervisor')
  const g0 = gpu('hv-l40s-equal', 'gpu-0')
  assert.deepEqual(g0.partitions.map((p) => [p.type, p.label, p.node, p.fraction, p.holders.length]), [
    ['vgpu', 'L40S-12C', 'vm-l40s-12c-a', 0.25, 0],
    ['vgpu', 'L40S-12C', 'vm-l40s-12c-a', 0.25, 0],
    ['vgpu', 'L40S-12C', 'vm-l40s-12c-b', 0.25, 0],
    ['vgpu', 'L40S-12C', 'vm-l40s-12c-b', 0.25, 0],
  ], 'four free 12C vGPUs of two VMs, a quarter of the framebuffer each')
  assert.equal(g0.memoryBytes, 48 * 2 ** 30, 'the vGPU framebuffer of an L40S')
  const g1 = gpu('hv-l40s-equal', 'gpu-1')
  assert.deepEqual(g1.partitions.map((p) => [p.type, p.label, p.fraction, p.holders.map((h) => `${h.namespace}/${h.workload}`)]), [
    ['vgpu', 'L40S-24C', 0.5, ['inference/vdi']],
    ['capacity', '24 GiB unassigned', 0.5, []],
  ], 'the held 24C names its holder; the rest of the framebuffer has no vGPU')
  assert.equal(g1.partitions[0].attributes.productName, 'NVIDIA L40S-24C', "a VM's vGPU block carries the VM device's own attributes")
  assert.equal(g1.partitions[0].device, 'gpu-0')
  const mixed = gpu('hv-l40s-mixed', 'gpu-0')
  assert.deepEqual(mixed.partitions.map((p) => [p.label, p.node, p.holders.map((h) => h.namespace)]), [
    ['L40S-24C', 'vm-mixed-big', []],
    ['L40S-12C', 'vm-mixed-small', []],
    ['L40S-8C', 'vm-mixed-small', ['research']],
    ['4 GiB unassigned', undefined, []],
  ], 'a mixed-size GPU: 24 + 12 + 8 of 48 GiB over two VMs')
  assert.ok(mixed.mode.includes('mixed-size'), 'the GPU says its vGPU mode')

  // VMs: their vGPUs are references to the physical GPU, not GPUs; passthrough GPUs are physical.
  const vmA = node('vm-l40s-12c-a')
  assert.deepEqual([vmA.kind, vmA.gpuCount, vmA.vgpuCount], ['vm', 0, 2], 'a VM with two vGPUs has no physical GPU')
  assert.deepEqual([gpu('vm-l40s-12c-a', 'gpu-1').physical, gpu('vm-l40s-12c-a', 'gpu-1').vgpu], [{ host: 'hv-l40s-equal', gpu: 'gpu-0' }, { profile: 'L40S-12C', fraction: 0.25 }])
  assert.deepEqual(gpu('vm-l40s-24c', 'gpu-0').holders.map((h) => h.workload), ['vdi'], "the VM's vGPU names its holder too")
  assert.deepEqual(gpu('vm-a100-pair', 'gpu-1').physical, { host: 'hv-a100', gpu: 'gpu-1' }, 'a passthrough GPU knows its host GPU')
  assert.deepEqual(node('vm-a100-pair').domains.map((d) => [d.domain, d.gpus.length]), [['hv-a100-nvl0', 2]], 'the bridged pair keeps its NVLink domain in the VM')
  const a100 = node('hv-a100')
  assert.deepEqual(a100.passthrough, [{ vm: 'vm-a100-pair', gpus: ['gpu-0', 'gpu-1'] }, { vm: 'vm-a100-single', gpus: ['gpu-2'] }], 'the hypervisor says where its GPUs went')
  assert.deepEqual(a100.domains.map((d) => [d.domain, d.gpus.map((g) => g.label)]), [['hv-a100-nvl1', ['gpu-3']]], 'and draws the GPU no VM has, in its NVLink domain')
  assert.ok(gpu('hv-a100', 'gpu-3').note, 'which no node offers')
  assert.deepEqual(node('h100-sxm-1').passthrough, [{ vm: 'vm-h100', gpus: ['gpu-7'] }], 'a worker host lists its GPU passed through to a VM')
  // Within a model, each host is followed by its VMs.
  assert.deepEqual(l40s.nodes.map((n) => n.name), ['hv-l40s-equal', 'vm-l40s-12c-a', 'vm-l40s-12c-b', 'vm-l40s-24c', 'hv-l40s-mixed', 'vm-mixed-big', 'vm-mixed-small', 'l40s', 'l40s-vgpu'])

  // The worker vGPU host (equal-size): held 12Cs, then the free 12Cs that still fit; GPUs without vGPUs offer every profile.
  const w0 = gpu('l40s-vgpu', 'gpu-0')
  assert.deepEqual(w0.partitions.map((p) => [p.type, p.label, p.fraction, p.holders.map((h) => h.workload)]), [
    ['vgpu', 'L40S-12C', 0.25, ['render-0']],
    ['vgpu', 'L40S-12C', 0.25, ['render-1']],
    ['vgpu', 'L40S-12C', 0.25, []],
    ['vgpu', 'L40S-12C', 0.25, []],
  ], 'equal-size mode: beside 12Cs only more 12Cs fit, drawn free')
  assert.deepEqual([w0.partitions[2].attributes.type, w0.partitions[2].attributes.profile, w0.partitions[2].device], ['vgpu', 'L40S-12C', 'gpu-0-vgpu-l40s-12c-2'], 'a free vGPU is a real device, with its attributes')
  assert.equal(w0.attributes.type, undefined, "the GPU's attributes are not a vGPU's")
  assert.equal(w0.attributes.profile, undefined)
  assert.equal(w0.attributes.uuid, w0.partitions[0].attributes.parentUUID, "the GPU's UUID is its vGPUs' parent UUID")
  const w1 = gpu('l40s-vgpu', 'gpu-1')
  assert.deepEqual(w1.partitions.map((p) => [p.type, p.label, p.fraction]), [['capacity', '48 GiB free', 1]], 'a GPU without vGPUs is free as a whole')
  assert.ok(w1.partitions[0].offers?.includes('L40S-48C × 1') && w1.partitions[0].offers.includes('L40S-12C × 4'), `it offers every profile: ${w1.partitions[0].offers}`)
  assert.deepEqual([node('l40s-vgpu').gpuCount, node('l40s-vgpu').vgpuCount], [4, 0], 'its GPUs are physical GPUs')

  // Without the Cluster specs the model cannot place VMs' vGPUs: they stay GPUs of their VMs, and hypervisors are not drawn.
  const blind = clusterModel(demo.nodes, demo.slices, claims)
  assert.equal(blind.find((g) => g.model === 'L40S-48GB')?.gpuCount, 16, 'without specs, the 8 vGPUs in VMs count as GPUs')
  assert.ok(!blind.flatMap((g) => g.nodes).some((n) => n.kind === 'hypervisor'), 'and no hypervisor is drawn')
})

test('clusterModel: a mixed-size vGPU worker host offers what still fits beside its vGPUs', () => {
  const text = `apiVersion: gpuplane.io/v1alpha1
kind: Cluster
metadata: {name: mixed}
spec:
  hosts:
    - name: vg
      gpus: {model: L40S-48GB, count: 1}
      mode: vgpu
      vgpu: {mixedSize: true}
`
  const c = published(text)
  const device = (c.slices.flatMap((s) => s.spec.devices ?? []) as Array<{ name: string }>).find((d) => d.name.startsWith('gpu-0-vgpu-l40s-24c-'))
  assert.ok(device, 'a 24C is published')
  const groups = clusterModel(c.nodes, c.slices, [claim('research', 'big', 'big', [{ pool: 'vg', device: device.name }])], [c.cluster])
  const g = finder(groups).gpu('vg', 'gpu-0')
  assert.deepEqual(g.partitions.map((p) => [p.type, p.label, p.fraction]), [['vgpu', 'L40S-24C', 0.5], ['capacity', '24 GiB free', 0.5]], 'the held 24C and the free rest')
  const offers = g.partitions[1].offers ?? []
  assert.ok(offers.includes('L40S-24C × 1') && offers.includes('L40S-12C × 2'), `the rest offers what fits in 24 GiB: ${offers}`)
  assert.ok(!offers.some((o) => o.startsWith('L40S-48C')), 'and not the 48C')
  assert.ok(g.mode.includes('mixed-size'))
})

test('utilPoints: reads the telemetry API series into points', () => {
  const data = { from: 0, to: 120_000, step: 60_000, by: 'model', series: [{ key: 'H100-80GB', points: [{ time: 0, allocated: 2, used: 0.5 }, { time: 60_000, allocated: 2, used: 1 }] }] }
  assert.deepEqual(utilPoints(data), [
    { time: 0, group: 'H100-80GB', allocated: 2, used: 0.5 },
    { time: 60_000, group: 'H100-80GB', allocated: 2, used: 1 },
  ], 'one point per series point, keyed by the series')
})

test('windowStart: the calendar windows of token caps, in UTC', () => {
  const t = Date.UTC(2026, 10, 26, 20, 17, 42, 5)
  assert.equal(windowStart('minute', t), Date.UTC(2026, 10, 26, 20, 17), 'minute')
  assert.equal(windowStart('hour', t), Date.UTC(2026, 10, 26, 20), 'hour')
  assert.equal(windowStart('day', t), Date.UTC(2026, 10, 26), 'day')
  assert.equal(windowStart('month', t), Date.UTC(2026, 10, 1), 'month')
  assert.equal(windowEnd('month', t), Date.UTC(2026, 11, 1), 'the month ends at the next one')
  assert.equal(windowEnd('hour', t), Date.UTC(2026, 10, 26, 21), 'the hour ends at the next one')
})
