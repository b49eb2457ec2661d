// End-to-end tests of `gpuplane schedule` and `gpuplane defrag`: the examples, round trips, output formats, exit codes and input errors.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { cli, tmp } from './cli-helpers.ts'

const ROOT = join(import.meta.dirname, '..')
const EXAMPLES = join(ROOT, 'examples')

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown>; status?: Record<string, unknown> }
const docs = (yaml: string): Obj[] => parseAllDocuments(yaml).map((d) => d.toJS() as Obj)
const workloadStatus = (objs: Obj[]) => Object.fromEntries(objs.filter((o) => o.kind === 'Workload').map((o) => [o.metadata.name, o.status]))

/** The Nodes, DeviceClasses and ResourceSlices of a Cluster spec, written to a temp file once per spec. */
const clusters = new Map<string, Promise<string>>()
function publish(spec: string): Promise<string> {
  if (!clusters.has(spec)) {
    clusters.set(
      spec,
      cli(['inventory', 'cluster', '-f', join(EXAMPLES, spec), '--classes']).then((r) => {
        assert.equal(r.code, 0, r.err)
        return tmp('cluster.yaml', r.out)
      }),
    )
  }
  return clusters.get(spec)!
}

/** A workload asking for `gpus` GPUs of gpu.nvidia.com, optionally placed (with its claim) on `placed.node` holding `placed.devices`. */
function workload(name: string, gpus: number, opts: { priority?: number; namespace?: string; placed?: { node: string; devices: string[] } } = {}): string {
  const ns = opts.namespace ?? 'research'
  const request = `{name: gpu, exactly: {deviceClassName: gpu.nvidia.com, count: ${gpus}}}`
  let text = `---
apiVersion: gpuplane.io/v1alpha1
kind: Workload
metadata: {name: ${name}, namespace: ${ns}}
spec:
  priority: ${opts.priority ?? 0}
  resourceClaims:
    - name: gpus
      spec: {devices: {requests: [${request}]}}
`
  if (opts.placed) {
    const results = opts.placed.devices.map((d) => `{request: gpu, driver: gpu.nvidia.com, pool: ${opts.placed!.node}, device: ${d}}`).join(', ')
    text += `status: {nodeName: ${opts.placed.node}}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: ${name}-gpus, namespace: ${ns}}
spec: {devices: {requests: [${request}]}}
status: {allocation: {devices: {results: [${results}]}}}
`
  }
  return text
}

test('schedule: the README example places every workload but the one too big, and its output schedules to the same placement', async () => {
  const cluster = await publish('cluster-demo.yaml')
  const first = await cli(['schedule', '-f', cluster, '-f', join(EXAMPLES, 'workloads-demo.yaml')])
  assert.equal(first.code, 3, first.err)
  const status = workloadStatus(docs(first.out))
  assert.deepEqual(status['llm-pretrain'], { phase: 'Scheduled', nodeName: 'h100-sxm-0' })
  assert.deepEqual(status['too-big'], { phase: 'Pending', reason: '15 nodes: no gpu.nvidia.com device matches (need 9); 4 nodes: insufficient NVIDIA H100 80GB HBM3 (need 9, best has 7 free)' })
  assert.match(first.err, /^workload research\/too-big pending: 15 nodes: no gpu\.nvidia\.com device matches/m)
  const claim = docs(first.out).find((o) => o.kind === 'ResourceClaim' && o.metadata.name === 'ocr-1-gpu')
  assert.equal((claim?.status as { allocation: { devices: { results: Array<{ pool: string }> } } }).allocation.devices.results[0]?.pool, 't4-0')

  const again = await cli(['schedule', '-f', cluster, '-f', tmp('placed.yaml', first.out)])
  assert.equal(again.code, 3, again.err)
  assert.equal(again.out, first.out)
})

test('schedule: exit 0 when all are placed; -o json is a List that reads back; -o table is aligned', async () => {
  const cluster = await publish('defrag-demo.yaml')
  const input = tmp('w.yaml', workload('a', 2) + workload('b', 8, { priority: 5 }))
  const json = await cli(['schedule', '-f', cluster, '-f', input, '-o', 'json'])
  assert.equal(json.code, 0, json.err)
  const list = JSON.parse(json.out) as { kind: string; items: Obj[] }
  assert.equal(list.kind, 'List')
  assert.deepEqual(workloadStatus(list.items), { a: { phase: 'Scheduled', nodeName: 'dgx-1' }, b: { phase: 'Scheduled', nodeName: 'dgx-0' } })
  const back = await cli(['schedule', '-f', cluster, '-f', tmp('placed.json', json.out), '-o', 'json'])
  assert.equal(back.code, 0, back.err)
  assert.equal(back.out, json.out)

  const table = await cli(['schedule', '-f', cluster, '-f', input, '-o', 'table'])
  assert.equal(table.code, 0, table.err)
  assert.deepEqual(table.out.split('\n'), [
    'NAMESPACE  NAME  PRIORITY  NODE   DEVICES                                          REASON',
    'research   a     0         dgx-1  gpu-0,gpu-1                                      -',
    'research   b     5         dgx-0  gpu-0,gpu-1,gpu-2,gpu-3,gpu-4,gpu-5,gpu-6,gpu-7  -',
    '',
  ])
})

test('schedule: a placed workload keeps its devices; preemption evicts a lower priority unless --no-preemption', async () => {
  const cluster = await publish('defrag-demo.yaml')
  const placed = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `gpu-${i}`)
  const input = tmp('w.yaml', workload('low', 8, { placed: { node: 'dgx-0', devices: placed } }) + workload('fill', 8, { placed: { node: 'dgx-1', devices: placed }, priority: 100 }) + workload('high', 8, { priority: 10 }))
  const preempting = await cli(['schedule', '-f', cluster, '-f', input])
  assert.equal(preempting.code, 3, preempting.err)
  const status = workloadStatus(docs(preempting.out))
  assert.deepEqual(status.high, { phase: 'Scheduled', nodeName: 'dgx-0' })
  assert.deepEqual(status.low, { phase: 'Pending', reason: 'preempted by research/high' })
  // A preempted workload's claim is not printed: it has no allocation any more.
  assert.equal(docs(preempting.out).some((o) => o.metadata.name === 'low-gpus'), false)

  const polite = await cli(['schedule', '-f', cluster, '-f', input, '--no-preemption', '-o', 'table'])
  assert.equal(polite.code, 3)
  assert.match(polite.out, /^research +low +0 +dgx-0 +gpu-0,.*gpu-7 +-$/m)
  assert.match(polite.out, /^research +high +10 +- +- +2 nodes: insufficient NVIDIA H100 80GB HBM3 \(need 8, best has 0 free\); 1 node: insufficient NVIDIA L40S \(need 8, best has 4 free\)$/m)
})

test('defrag: the dry run proposes the moves of the example and changes nothing; --apply prints the placement after them', async () => {
  const cluster = await publish('defrag-demo.yaml')
  const demo = join(EXAMPLES, 'defrag-demo.yaml')
  const dry = await cli(['defrag', '-f', cluster, '-f', demo])
  assert.equal(dry.code, 0, dry.err)
  assert.deepEqual(dry.out.split('\n').slice(0, 3), [
    'MOVE  WORKLOAD           PRIORITY  FROM   TO     FOR                GAINS',
    '1     research/notebook  0         dgx-0  dgx-1  research/pretrain  1 GPU freed on dgx-0; NVLink domain dgx-0-nvl0 whole',
    '2     research/eval      10        dgx-1  l40s   research/finetune  2 GPUs freed on dgx-1',
  ])
  assert.equal(dry.err, 'dry run: 2 moves proposed; 2 pending workloads would be placed; rerun with --apply to emit the new placement\n')
  const yaml = await cli(['defrag', '-f', cluster, '-f', demo, '-o', 'yaml'])
  assert.deepEqual((docs(yaml.out)[0] as unknown as { placed: unknown[] }).placed, [
    { workload: 'research/pretrain', node: 'dgx-0', moves: 1 },
    { workload: 'research/finetune', node: 'dgx-1', moves: 1 },
  ])

  const applied = await cli(['defrag', '-f', cluster, '-f', demo, '--apply', '-o', 'yaml'])
  assert.equal(applied.code, 0, applied.err)
  assert.equal(applied.err, 'applied: 2 moves, 2 pending workloads placed\n')
  const status = workloadStatus(docs(applied.out))
  assert.deepEqual(Object.fromEntries(Object.entries(status).map(([k, v]) => [k, v?.nodeName])), { notebook: 'dgx-1', eval: 'l40s', serve: 'dgx-1', batch: 'l40s', pretrain: 'dgx-0', finetune: 'dgx-1' })
  const after = tmp('applied.yaml', applied.out)
  const check = await cli(['schedule', '-f', cluster, '-f', after, '-o', 'table'])
  assert.equal(check.code, 0, check.err)
  const nothing = await cli(['defrag', '-f', cluster, '-f', after])
  assert.equal(nothing.code, 0)
  assert.equal(nothing.err, 'nothing to do: no workload is pending\n')
})

test('defrag: exit 3 and the reason per node class when no move can help', async () => {
  const cluster = await publish('defrag-demo.yaml')
  const placed = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `gpu-${i}`)
  const input = tmp('w.yaml', workload('vip', 8, { placed: { node: 'dgx-0', devices: placed }, priority: 100 }) + workload('big', 9))
  const r = await cli(['defrag', '-f', cluster, '-f', input, '-o', 'json'])
  assert.equal(r.code, 3)
  const plan = JSON.parse(r.out) as { moves: unknown[]; unhelpable: Array<{ workload: string; reason: string }> }
  assert.deepEqual(plan.moves, [])
  assert.deepEqual(plan.unhelpable, [{ workload: 'research/big', reason: '2 nodes: insufficient NVIDIA H100 80GB HBM3 (need 9, best has 8 free); 1 node: insufficient NVIDIA L40S (need 9, best has 4 free); defrag: 3 nodes: no workload there may move (higher priority, gang members, or disruption budget spent)' }])
  assert.match(r.err, /^workload research\/big cannot be helped: 2 nodes: insufficient NVIDIA H100 80GB HBM3/m)
})

test('invalid input: exit 2, naming the file, the document and the field', async () => {
  const cluster = await publish('defrag-demo.yaml')
  const cases: Array<[string, string, RegExp]> = [
    ['unknown node', workload('w', 1, { placed: { node: 'nowhere', devices: ['gpu-0'] } }), /w\.yaml \(document 0\): status\.nodeName: cannot restore workload research\/w on node nowhere: node nowhere is not in the cluster/],
    ['device of another node', workload('w', 1, { placed: { node: 'dgx-0', devices: ['gpu-0'] } }).replace('nodeName: dgx-0', 'nodeName: dgx-1'), /w\.yaml \(document 0\): status\.nodeName: workload research\/w runs on node dgx-1, but ResourceClaim research\/w-gpus holds device gpu\.nvidia\.com\/dgx-0\/gpu-0, which no ResourceSlice publishes for that node/],
    ['device held twice', workload('a', 1, { placed: { node: 'dgx-0', devices: ['gpu-0'] } }) + workload('b', 1, { placed: { node: 'dgx-0', devices: ['gpu-0'] } }), /w\.yaml \(document 2\): status\.nodeName: cannot restore workload research\/b on node dgx-0: device gpu\.nvidia\.com\/dgx-0\/gpu-0 is already allocated/],
    ['placed without its claim', workload('w', 1) + 'status: {nodeName: dgx-0}\n', /w\.yaml \(document 0\): spec\.resourceClaims\[0\]: workload research\/w runs on node dgx-0 \(status\.nodeName\), but ResourceClaim research\/w-gpus is not in the input with status\.allocation/],
    ['allocated claim of a pending workload', workload('w', 1, { placed: { node: 'dgx-0', devices: ['gpu-0'] } }).replace('status: {nodeName: dgx-0}\n', ''), /w\.yaml \(document 0\): spec\.resourceClaims\[0\]: ResourceClaim research\/w-gpus has status\.allocation, but its workload research\/w has no status\.nodeName/],
    ['unknown field', workload('w', 1).replace('priority: 0', 'priority: 0\n  replicas: 2'), /w\.yaml \(document 0\): spec: unknown field "replicas"/],
    ['declared twice', workload('w', 1) + workload('w', 2), /w\.yaml \(document 1\): metadata\.name: Workload research\/w is declared twice/],
  ]
  for (const [name, text, message] of cases) {
    for (const verb of ['schedule', 'defrag']) {
      const r = await cli([verb, '-f', cluster, '-f', tmp('w.yaml', text)])
      assert.equal(r.code, 2, `${verb} ${name}: ${r.err}`)
      assert.match(r.err, message, `${verb} ${name}`)
    }
  }
})

test('--help of both verbs says what they read, print and exit with', async () => {
  for (const verb of ['schedule', 'defrag']) {
    const r = await cli([verb, '--help'])
    assert.equal(r.code, 0)
    assert.match(r.out, /status\.nodeName/)
    assert.match(r.out, /Exit codes:\n {2}0 .*\n {2}1 {2}internal error\n {2}2 {2}invalid input/)
  }
})
