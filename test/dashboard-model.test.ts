// The dashboard's pure parts without a browser: the SSE parser of its watch streams, the Cluster view's model of the demo cluster, and the reading of the utilization API.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { hostsFromClusterText } from '../src/inventory/cluster.ts'
import { publishHost } from '../src/inventory/publish.ts'
import type { KubeObject } from '../web/src/types.ts'
import { SseParser } from '../web/src/sse.ts'
import { clusterModel, quantity, type Gpu } from '../web/src/views/cluster-model.ts'
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
