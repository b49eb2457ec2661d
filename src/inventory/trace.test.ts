import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { GpuplaneError } from '../common/errors.ts'
import { publishHost } from './publish.ts'
import { parseTraceNodes, TRACE_MODELS, traceModelOverrides, traceNodeToHost } from './trace.ts'

const FIXTURE = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'trace', 'openb_node_list_gpu_node.head50.csv')

function traceError(text: string): string {
  try {
    parseTraceNodes(text, 'n.csv')
  } catch (e) {
    assert.ok(e instanceof GpuplaneError)
    assert.equal(e.code, 'INVALID_INPUT')
    return e.describe()
  }
  assert.fail('expected an error')
}

test('parses the fixture: 51 nodes, every model known, lines counted from the header', () => {
  const nodes = parseTraceNodes(readFileSync(FIXTURE, 'utf8'), FIXTURE)
  assert.equal(nodes.length, 51)
  assert.deepEqual(nodes[0], { name: 'openb-node-0000', cpuMilli: 64000, memoryMiB: 262144, gpuCount: 2, model: 'P100', line: 2 })
  assert.deepEqual(new Set(nodes.map((n) => n.model)), new Set(['P100', 'G3', 'V100M32', 'V100M16', 'G2', 'T4', 'A10']))
  for (const n of nodes) assert.ok(n.model in TRACE_MODELS)
})

test('columns in any order, CRLF, CPU-only rows ("nan" or empty model)', () => {
  const nodes = parseTraceNodes('model,gpu,sn,memory_mib,cpu_milli\r\nT4,2,a,1024,8000\r\nnan,0,b,2048,4000\r\n,0,c,1,1\r\n', 'n.csv')
  assert.deepEqual(nodes.map((n) => [n.name, n.model, n.gpuCount, n.cpuMilli]), [['a', 'T4', 2, 8000], ['b', '', 0, 4000], ['c', '', 0, 1]])
  assert.equal(traceNodeToHost(nodes[1]).gpus.length, 0)
})

test('errors name the file, the row and column, and the line', () => {
  assert.equal(traceError('sn,cpu_milli,gpu\n'), 'n.csv: header: the header lacks columns memory_mib, model; expected sn,cpu_milli,memory_mib,gpu,model as in openb_node_list_gpu_node.csv (line 1)')
  assert.equal(traceError('sn,cpu_milli,memory_mib,gpu,model\na,1,1,2,T4\nb,1,1,x,T4\n'), 'n.csv: rows[1].gpu: expected a whole number, got "x" (line 3)')
  assert.match(traceError('sn,cpu_milli,memory_mib,gpu,model\na,1,1,2,H300\n'), /^n\.csv: rows\[0\]\.model: unknown GPU model "H300" \(line 2\); known trace models: T4, A10, V100M16, V100M32, P100, G1, G2, G3/)
  assert.equal(traceError('sn,cpu_milli,memory_mib,gpu,model\na,1,1,2,\n'), 'n.csv: rows[0].model: node a has 2 GPUs but no model (line 2)')
  assert.equal(traceError('sn,cpu_milli,memory_mib,gpu,model\na,1,1,2,T4\na,1,1,2,T4\n'), 'n.csv: rows[1].sn: node a is listed twice (lines 2 and 3); node names must be unique')
})

test('hosts: catalog models where the catalog has them, nominal memory otherwise, undisclosed codes without memory', () => {
  const [t4, v100, g2] = parseTraceNodes('sn,cpu_milli,memory_mib,gpu,model\nt,1000,1,2,T4\nv,1000,1,4,V100M32\ng,1000,1,8,G2\n')
  const t = traceNodeToHost(t4)
  assert.equal(t.mode, 'whole')
  assert.deepEqual(t.gpus.map((g) => [g.index, g.model, g.productName]), [[0, 'T4-16GB', 'Tesla T4'], [1, 'T4-16GB', 'Tesla T4']])
  assert.deepEqual(t.labels, { 'gpuplane.io/trace-gpu-model': 'T4' })
  const v = traceNodeToHost(v100, { mode: 'shared' })
  assert.equal(v.mode, 'shared')
  assert.equal(v.gpus[0].model, undefined, 'V100 is not in the catalog')
  assert.equal(v.gpus[0].memoryMiB, 32768)
  assert.equal(publishHost(v)[0].spec.devices?.[0].capacity?.memory?.value, '32Gi')
  const g = traceNodeToHost(g2)
  assert.equal(g.gpus[0].productName, 'Alibaba G2')
  assert.equal(g.gpus[0].memoryMiB, undefined)
  const mapped = traceNodeToHost(g2, { models: traceModelOverrides({ G2: 'A100-80GB' }, '--gpu-model') })
  assert.deepEqual([mapped.gpus[0].model, mapped.gpus[0].productName], ['A100-80GB', 'NVIDIA A100-SXM4-80GB'])
  assert.throws(() => traceModelOverrides({ G2: 'Z9' }, '--gpu-model'), /--gpu-model: unknown GPU model "Z9" for trace model G2; known: A100-40GB/)
  assert.notEqual(traceNodeToHost(t4).gpus[0].uuid, traceNodeToHost(t4).gpus[1].uuid)
})
