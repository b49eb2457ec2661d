// Tests of the pod list parser: both trace layouts, pod kinds, and errors that name file and line.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GpuplaneError } from '../common/errors.ts'
import { parsePodList, podGpuMilli, podKind } from './trace.ts'

const ELEVEN = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0
openb-pod-0001,6000,12288,1,460,V100M16|V100M32,LS,Running,427061,12902960,427061

openb-pod-0002,88000,327680,8,1000,nan,Burstable,Succeeded,9437497,10769854,
openb-pod-0003,4000,0,0,0,,BE,Pending,1,2,
`
const FIVE = 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\nopenb-pod-0000,12000,16384,2,1000\r\nopenb-pod-0001,6000,12288,1,460\n'

test('11-column pod lists: requests, gpu_spec split, nan and blank lines, line numbers', () => {
  const pods = parsePodList(ELEVEN, 'pods.csv')
  assert.deepEqual(
    pods.map((p) => [p.name, p.cpuMilli, p.memoryMiB, p.gpuCount, p.gpuMilli, p.gpuSpec, p.line]),
    [
      ['openb-pod-0000', 12000, 16384, 1, 1000, [], 2],
      ['openb-pod-0001', 6000, 12288, 1, 460, ['V100M16', 'V100M32'], 3],
      ['openb-pod-0002', 88000, 327680, 8, 1000, [], 5],
      ['openb-pod-0003', 4000, 0, 0, 0, [], 6],
    ],
  )
  assert.deepEqual(pods.map(podKind), ['whole', 'share', 'multi', 'cpu'])
  assert.deepEqual(pods.map(podGpuMilli), [1000, 460, 8000, 0])
})

test('5-column pod lists (the multigpu files) and CRLF line ends', () => {
  const pods = parsePodList(FIVE)
  assert.deepEqual(pods.map((p) => [p.gpuCount, p.gpuMilli, p.gpuSpec]), [[2, 1000, []], [1, 460, []]])
})

test('errors are INVALID_INPUT with the file and line', () => {
  const fails = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parsePodList(text, 'p.csv'),
      (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT' && e.location.file === 'p.csv' && pattern.test(e.describe()),
    )
  const head = 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\n'
  fails('name,cpu_milli,num_gpu\n', /line 1: the header lacks columns memory_mib, gpu_milli/)
  fails(`${head}a,1000,1,1,abc\n`, /line 2: column gpu_milli: expected a whole number, got "abc"/)
  fails(`${head}a,1000,1,1,500\nb,-5,1,1,500\n`, /line 3: column cpu_milli/)
  fails(`${head}a,1000,1,1,1500\n`, /line 2: column gpu_milli: 1500 is more than one GPU/)
  fails(`${head}a,1000,1,2,500\n`, /line 2: num_gpu 2 with gpu_milli 500: a pod with several GPUs takes them whole/)
  fails(`${head}a,1000,1,0,500\n`, /line 2: num_gpu 0 with gpu_milli 500/)
  fails(`${head}a,1000,1,1,500\na,1000,1,1,500\n`, /line 3: column name: pod a is listed twice \(lines 2 and 3\)/)
  fails(`${head}`, /the pod list has no pods/)
})
