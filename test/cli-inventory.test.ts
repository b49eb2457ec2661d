// End-to-end tests of `gpuplane inventory`: every verb's output, its errors and exit codes, and its output fed to `gpuplane allocate`.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { cli, tmp } from './cli-helpers.ts'

const ROOT = join(import.meta.dirname, '..')
const DEMO = join(ROOT, 'examples', 'cluster-demo.yaml')
const TRACE = join(ROOT, 'test', 'fixtures', 'trace', 'openb_node_list_gpu_node.head50.csv')
const SMI = join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'h100-passthrough')


type Obj = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: Record<string, unknown> }
const docs = (yaml: string): Obj[] => parseAllDocuments(yaml).map((d) => d.toJS() as Obj)
const kinds = (objs: Obj[]) => objs.map((o) => o.kind)
const devicesOf = (o: Obj) => (o.spec?.devices ?? []) as Array<{ name: string; attributes: Record<string, { string?: string; int?: number }> }>

/** Runs `gpuplane allocate -o json` on the files; returns the report. */
async function allocate(files: string[]): Promise<{ code: number; report: { allocated: Array<{ metadata: { name: string }; status: { allocation: { devices: { results: Array<{ pool: string; device: string }> } } } }>; unallocatable: unknown[] }; err: string }> {
  const r = await cli(['allocate', ...files.flatMap((f) => ['-f', f]), '-o', 'json'])
  return { code: r.code, report: JSON.parse(r.out || '{"allocated": [], "unallocatable": []}'), err: r.err }
}

const claim = (name: string, cls: string, count: number, expression?: string, extra = '') => `---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: ${name}, namespace: team}
spec:
  devices:
    requests:
    - name: gpu
      exactly:
        deviceClassName: ${cls}
        count: ${count}${expression ? `\n        selectors:\n        - cel: {expression: "${expression}"}` : ''}
${extra}`

test('cluster: Nodes first, then slices; VM slices name their physical host', async () => {
  const r = await cli(['inventory', 'cluster', '-f', DEMO])
  assert.equal(r.code, 0, r.err)
  const objs = docs(r.out)
  const firstSlice = kinds(objs).indexOf('ResourceSlice')
  assert.ok(firstSlice > 0 && kinds(objs).slice(0, firstSlice).every((k) => k === 'Node'))
  assert.ok(kinds(objs).slice(firstSlice).every((k) => k === 'ResourceSlice'))
  const nodes = objs.filter((o) => o.kind === 'Node')
  assert.equal(nodes.length, 19)
  const vm = nodes.find((n) => n.metadata.name === 'vm-l40s-12c-a')!
  assert.equal(vm.metadata.labels?.['gpuplane.io/host'], 'hv-l40s-equal')
  assert.equal(vm.metadata.labels?.['gpuplane.io/virtual-machine'], 'true')
  assert.equal(vm.metadata.labels?.['nvidia.com/gpu.product'], 'NVIDIA-L40S-12C')
  const vmSlices = objs.filter((o) => o.kind === 'ResourceSlice' && (o.spec as { nodeName: string }).nodeName === 'vm-l40s-12c-a')
  const devices = vmSlices.flatMap(devicesOf)
  assert.equal(devices.length, 2)
  assert.ok(devices.every((d) => d.attributes['gpuplane.io/host'].string === 'hv-l40s-equal'))
  const json = await cli(['inventory', 'cluster', '-f', DEMO, '-o', 'json', '--node', 'h100-sxm-0', '--no-node-objects', '--classes'])
  const list = JSON.parse(json.out)
  assert.equal(list.kind, 'List')
  assert.deepEqual([...new Set(list.items.map((o: Obj) => o.kind))], ['DeviceClass', 'ResourceSlice'])
})

test('cluster output + claims through allocate: NVLink sets, MIG, vGPU, shared memory, VM nodes', async () => {
  const r = await cli(['inventory', 'cluster', '-f', DEMO, '--classes'])
  assert.equal(r.code, 0, r.err)
  const inventory = tmp('cluster.yaml', r.out)
  const claims = tmp(
    'claims.yaml',
    claim('eight-h100', 'gpu.nvidia.com', 8, "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'", '    constraints:\n    - matchAttribute: gpuplane.io/nvlinkDomain\n') +
      claim('a100-pair', 'gpu.nvidia.com', 2, "device.attributes['gpu.nvidia.com'].productName.startsWith('NVIDIA A100')", '    constraints:\n    - matchAttribute: gpuplane.io/nvlinkDomain\n') +
      claim('mig-3g', 'mig.nvidia.com', 1, "device.attributes['gpu.nvidia.com'].profile == '3g.40gb'") +
      claim('vgpu', 'vgpu.gpuplane.io', 1) +
      claim('on-a-vm', 'gpu.nvidia.com', 1, "device.attributes['gpuplane.io'].host == 'hv-l40s-mixed'"),
  )
  const { code, report, err } = await allocate([inventory, claims])
  assert.equal(code, 0, err + JSON.stringify(report.unallocatable))
  const where = new Map(report.allocated.map((c) => [c.metadata.name, c.status.allocation.devices.results.map((x) => `${x.pool}/${x.device}`)]))
  assert.equal(where.get('eight-h100')?.length, 8)
  assert.ok(where.get('eight-h100')!.every((d) => d.startsWith('h100-sxm-0/')), 'h100-sxm-1 gave a GPU to a VM, so only host 0 has 8')
  assert.deepEqual(where.get('a100-pair'), ['a100-pcie-0/gpu-0', 'a100-pcie-0/gpu-1'])
  assert.match(where.get('mig-3g')![0], /^h100-mig\/gpu-0-mig-3g40gb-9-/)
  assert.match(where.get('vgpu')![0], /^l40s-vgpu\/gpu-0-vgpu-l40s-/)
  assert.equal(where.get('on-a-vm')![0], 'vm-mixed-big/gpu-0')
})

test('cluster: invalid specs exit 2 naming file, document and path', async () => {
  const spec = `apiVersion: gpuplane.io/v1alpha1
kind: Cluster
metadata: {name: c}
spec:
  hosts:
  - {name: a, gpus: {model: T4-16GB, count: 1}}
  - {name: b, gpus: {model: T4-16GB, count: 1}}
  - {name: c, gpus: {model: H300, count: 1}}
`
  const file = tmp('spec.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n---\n' + spec)
  const r = await cli(['inventory', 'cluster', '-f', file])
  assert.equal(r.code, 2)
  assert.ok(r.err.startsWith(`error: ${file} (document 1): spec.hosts[2].gpus.model: unknown GPU model "H300"; known: A100-40GB,`), r.err)
  const shape = await cli(['inventory', 'cluster', '-f', tmp('s.yaml', spec.replace('count: 1}}\n  - {name: b', 'count: 1}, colour: red}\n  - {name: b'))])
  assert.equal(shape.code, 2)
  assert.match(shape.err, /\(document 0\): spec\.hosts\[0\]: unknown field "colour"/)
  const missing = await cli(['inventory', 'cluster', '-f', '/nonexistent/spec.yaml'])
  assert.equal(missing.code, 2)
  assert.match(missing.err, /cannot read \/nonexistent\/spec\.yaml \(given with -f\)/)
  const unknownNode = await cli(['inventory', 'cluster', '-f', DEMO, '--node', 'nope'])
  assert.equal(unknownNode.code, 2)
  assert.match(unknownNode.err, /no node named "nope" in the input; nodes: h100-sxm-0, h100-sxm-1/)
})

test('nvidia-smi: the real H100 read, default and explicit modes, allocate accepts it', async () => {
  const args = ['inventory', 'nvidia-smi', '--xml', join(SMI, 'nvidia-smi-q.xml'), '--mig-profiles', join(SMI, 'mig-lgip.txt'), '--mig-placements', join(SMI, 'mig-lgipp.txt'), '--topo', join(SMI, 'topo-m.txt'), '--node', 'gpu-node-1']
  const r = await cli(args)
  assert.equal(r.code, 0, r.err)
  const objs = docs(r.out)
  assert.deepEqual(kinds(objs), ['Node', 'ResourceSlice'])
  assert.equal(objs[0].metadata.labels?.['nvidia.com/gpu.product'], 'NVIDIA-H100-80GB-HBM3')
  assert.deepEqual(devicesOf(objs[1]).map((d) => d.name), ['gpu-0'])
  const dynamic = docs((await cli([...args, '--mode', 'mig-dynamic'])).out)
  assert.ok(dynamic.flatMap(devicesOf).some((d) => d.name.startsWith('gpu-0-mig-1g10gb-19-')))
  const file = tmp('node.yaml', (await cli([...args, '--classes'])).out)
  const { code, report } = await allocate([file, tmp('c.yaml', claim('one', 'gpu.nvidia.com', 1))])
  assert.equal(code, 0)
  assert.deepEqual(report.allocated[0].status.allocation.devices.results.map((x) => `${x.pool}/${x.device}`), ['gpu-node-1/gpu-0'])
})

test('nvidia-smi: bad input exits 2 naming the file', async () => {
  const bad = tmp('bad.xml', '<nvidia_smi_log><gpu></nvidia_smi_log>')
  const r = await cli(['inventory', 'nvidia-smi', '--xml', bad])
  assert.equal(r.code, 2)
  assert.ok(r.err.startsWith(`error: ${bad}`), r.err)
  const lgip = tmp('lgip.txt', 'nonsense\n')
  const r2 = await cli(['inventory', 'nvidia-smi', '--xml', join(SMI, 'nvidia-smi-q.xml'), '--mig-profiles', lgip])
  assert.equal(r2.code, 2)
  assert.ok(r2.err.startsWith(`error: ${lgip}`), r2.err)
  const mode = await cli(['inventory', 'nvidia-smi', '--xml', join(SMI, 'nvidia-smi-q.xml'), '--mode', 'partial'])
  assert.equal(mode.code, 2)
  const missing = await cli(['inventory', 'nvidia-smi'])
  assert.equal(missing.code, 2)
  assert.match(missing.err, /--xml/)
})

test('trace: every node of the fixture, CPU and memory as Node capacity, --node, and allocate on it', async () => {
  const r = await cli(['inventory', 'trace', '--nodes', TRACE])
  assert.equal(r.code, 0, r.err)
  const objs = docs(r.out)
  assert.equal(objs.filter((o) => o.kind === 'Node').length, 51)
  assert.equal(objs.filter((o) => o.kind === 'ResourceSlice').length, 51)
  const g3 = objs.find((o) => o.kind === 'Node' && o.metadata.name === 'openb-node-0022') as Obj & { status: { capacity: Record<string, string> } }
  assert.deepEqual(g3.status.capacity, { cpu: '128', memory: '786432Mi' })
  assert.equal(g3.metadata.labels?.['gpuplane.io/trace-gpu-model'], 'G3')
  const one = await cli(['inventory', 'trace', '--nodes', TRACE, '--node', 'openb-node-0035', '--classes'])
  assert.deepEqual(kinds(docs(one.out)), ['Node', 'DeviceClass', 'DeviceClass', 'DeviceClass', 'DeviceClass', 'ResourceSlice'])
  const { code, report } = await allocate([tmp('t.yaml', one.out), tmp('c.yaml', claim('t4s', 'gpu.nvidia.com', 4, "device.attributes['gpu.nvidia.com'].productName == 'Tesla T4'"))])
  assert.equal(code, 0)
  assert.equal(report.allocated[0].status.allocation.devices.results.length, 4)
})

test('trace: shared mode needs memory; undisclosed types are mapped with --gpu-model; errors exit 2', async () => {
  const shared = await cli(['inventory', 'trace', '--nodes', TRACE, '--mode', 'shared'])
  assert.equal(shared.code, 2)
  assert.match(shared.err, /openb_node_list_gpu_node\.head50\.csv: host openb-node-0022 GPU 0: shared mode needs the GPU's memory.*--gpu-model CODE=MODEL/)
  const mapped = await cli(['inventory', 'trace', '--nodes', TRACE, '--mode', 'shared', '--gpu-model', 'G2=A100-80GB', 'G3=H100-80GB', '--node', 'openb-node-0022'])
  assert.equal(mapped.code, 0, mapped.err)
  const slice = docs(mapped.out)[1]
  assert.equal(devicesOf(slice)[0].attributes.productName.string, 'NVIDIA H100 80GB HBM3')
  const badMap = await cli(['inventory', 'trace', '--nodes', TRACE, '--gpu-model', 'G2'])
  assert.equal(badMap.code, 2)
  assert.match(badMap.err, /--gpu-model G2: write CODE=MODEL/)
  const badCsv = await cli(['inventory', 'trace', '--nodes', tmp('n.csv', 'sn,cpu_milli,memory_mib,gpu,model\na,1,1,two,T4\n')])
  assert.equal(badCsv.code, 2)
  assert.match(badCsv.err, /n\.csv: rows\[0\]\.gpu: expected a whole number, got "two" \(line 2\)/)
})

test('k8s: a dump of the cluster output passes through unchanged; invalid dumps exit 2', async () => {
  const published = await cli(['inventory', 'cluster', '-f', DEMO, '--classes', '--node', 'a10-shared'])
  const dump = tmp('dump.yaml', published.out)
  const r = await cli(['inventory', 'k8s', '-f', dump])
  assert.equal(r.code, 0, r.err)
  assert.deepEqual(docs(r.out), docs(published.out))
  const beta = tmp(
    'beta.yaml',
    `apiVersion: v1
kind: List
items:
- apiVersion: resource.k8s.io/v1beta1
  kind: ResourceSlice
  metadata: {name: s}
  spec:
    driver: gpu.example.com
    nodeName: n
    pool: {name: n, generation: 1, resourceSliceCount: 1}
    devices: [{name: gpu-0, basic: {attributes: {model: {string: X}}}}]
`,
  )
  const v1 = await cli(['inventory', 'k8s', '-f', beta, '-o', 'json'])
  assert.equal(v1.code, 0, v1.err)
  const item = JSON.parse(v1.out).items[0]
  assert.equal(item.apiVersion, 'resource.k8s.io/v1')
  assert.deepEqual(item.spec.devices[0], { name: 'gpu-0', attributes: { model: { string: 'X' } } })
  const badCel = await cli(['inventory', 'k8s', '-f', tmp('c.yaml', 'apiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata: {name: x}\nspec:\n  selectors:\n  - cel: {expression: "device.driver =="}\n')])
  assert.equal(badCel.code, 2)
  assert.match(badCel.err, /c\.yaml \(document 0\): spec\.selectors\[0\]\.cel\.expression/)
  const empty = await cli(['inventory', 'k8s', '-f', tmp('e.yaml', 'apiVersion: v1\nkind: List\nitems: []\n')])
  assert.equal(empty.code, 2)
})

test('classes: the four DeviceClasses, in YAML and JSON', async () => {
  const r = await cli(['inventory', 'classes'])
  assert.equal(r.code, 0)
  assert.deepEqual(docs(r.out).map((o) => o.metadata.name), ['gpu.nvidia.com', 'mig.nvidia.com', 'vgpu.gpuplane.io', 'shared.gpuplane.io'])
  assert.equal(JSON.parse((await cli(['inventory', 'classes', '-o', 'json'])).out).items.length, 4)
})

test('--help of every verb documents its input, output, exit codes and an example', async () => {
  for (const verb of ['nvidia-smi', 'cluster', 'trace', 'k8s', 'classes']) {
    const r = await cli(['inventory', verb, '--help'])
    assert.equal(r.code, 0)
    assert.match(r.out, /Example/, verb)
    if (verb !== 'classes') assert.match(r.out, /Exit codes:/, verb)
  }
  const cluster = (await cli(['inventory', 'cluster', '--help'])).out
  for (const field of ['replicas', 'worker', 'gpus.model', 'topology.nvlink', 'topology.numaNodes', 'topology.pcieRoots', 'gpuOverrides', 'vgpu.mixedSize', 'shared.memoryStep', 'virtualMachines', 'passthroughGpus', 'vgpus']) {
    assert.ok(cluster.includes(field), field)
  }
  assert.match((await cli(['inventory', 'trace', '--help'])).out, /G2 +Alibaba G2 \[assumption: undisclosed model\]/)
  const top = await cli(['inventory', '--help'])
  assert.equal(top.code, 0)
  assert.match(top.out, /nvidia-smi.*\n.*cluster/s)
})
