// Tests of the utilization parsers against the real nvidia-smi reads in test/fixtures/nvidia-smi and the DCGM text in test/fixtures/dcgm (synthetic, see its README).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { GpuplaneError } from '../common/errors.ts'
import { inventoryFromNvidiaSmi } from '../inventory/nvidia-smi.ts'
import { migDeviceName } from '../inventory/publish.ts'
import type { HostInfo } from '../inventory/types.ts'
import { parsePrometheusText, samplesFromDcgm } from './dcgm.ts'
import { deviceMapFromHost, parseComputeApps, parseNvidiaSmiTimestamp, parseQueryGpu, samplesFromQuery } from './nvidia-smi-query.ts'

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures')
const read = (path: string): string => readFileSync(join(FIXTURES, path), 'utf8')
const MIB = 1024 * 1024

function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT' && pattern.test(e.message + ' ' + JSON.stringify(e.location)), `INVALID_INPUT matching ${pattern}`)
}

describe('nvidia-smi --query-gpu', () => {
  test('reads the H200 query with units in header and values', () => {
    const [row] = parseQueryGpu(read('nvidia-smi/h200-passthrough/query-gpu.csv'))
    assert.deepEqual(row, {
      index: 0,
      uuid: 'GPU-247420ef-5061-c4d8-5cb1-c933f0299a49',
      name: 'NVIDIA H200',
      memTotalBytes: 143771 * MIB,
      memUsedBytes: 0,
      smUtil: 0,
      memUtil: 0,
      powerWatts: 80.07,
    })
  })

  test('a row without utilization or memory use (the H100 inventory query) gives no sample rather than a zero', () => {
    const rows = parseQueryGpu(read('nvidia-smi/h100-passthrough/query-gpu.csv'))
    assert.equal(rows[0].memTotalBytes, 81559 * MIB, 'memory.total read')
    const { samples, skipped } = samplesFromQuery(rows, [], { node: 'n', time: 1 })
    assert.equal(samples.length, 0, 'no sample')
    assert.equal(skipped.length, 1, 'reported as skipped')
  })

  test('the H200 series under load reads as a burst at 100% then 20 GB held at 0%', () => {
    const rows = parseQueryGpu(read('nvidia-smi/h200-passthrough/util-under-load.csv'))
    assert.equal(rows.length, 62, '62 readings')
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i].time! > rows[i - 1].time!, `time increases at row ${i}`)
    assert.equal(rows[0].time, Date.UTC(2026, 10, 26, 14, 12, 59, 314), 'timestamp read as UTC')
    assert.equal(Math.max(...rows.map((r) => r.smUtil!)), 100, 'the burst reaches 100%')
    const tail = rows.slice(-10)
    assert.ok(tail.every((r) => r.smUtil === 0 && r.memUsedBytes === 20085 * MIB), 'then 20085 MiB held at 0%')
    const { samples } = samplesFromQuery(rows, [], { node: 'h200', time: 0 })
    assert.equal(samples.length, 62, 'every row is a sample')
    assert.equal(samples[0].device, 'gpu-0', 'named gpu-<index> without an inventory map')
    assert.equal(samples[0].time, rows[0].time, 'recorded timestamps kept')
  })

  test('the H100 duty-cycle series reads every row', () => {
    const rows = parseQueryGpu(read('nvidia-smi/h100-passthrough/util-duty-cycle.csv'))
    assert.equal(rows.length, 79, '79 readings')
    assert.ok(rows.some((r) => r.smUtil! > 0 && r.smUtil! < 100), 'partial duty readings present')
    assert.equal(rows.at(-1)!.powerWatts, 122.5, 'power in watts')
  })

  test('reads csv,nounits (units from the header), [N/A] and [Not Supported] as unknown', () => {
    const text = 'index, uuid, utilization.gpu [%], memory.used [MiB], memory.total [MiB], power.draw [W]\n0, GPU-x, 37, 1024, 81559, [N/A]\n1, GPU-y, [N/A], 5, 81559, [Not Supported]\n'
    const rows = parseQueryGpu(text)
    assert.deepEqual(rows[0], { index: 0, uuid: 'GPU-x', smUtil: 37, memUsedBytes: 1024 * MIB, memTotalBytes: 81559 * MIB }, 'no power')
    const { samples, skipped } = samplesFromQuery(rows, [], { node: 'n', time: 42 })
    assert.deepEqual(samples.map((s) => [s.device, s.time, s.smUtil]), [['gpu-0', 42, 37]], 'the MIG-mode row ([N/A] utilization) is skipped')
    assert.equal(skipped[0].index, 1, 'skipped row named')
  })

  test('rejects output it cannot read, naming the line', () => {
    invalid(() => parseQueryGpu(''), /empty output/)
    invalid(() => parseQueryGpu('uuid, utilization.gpu [%]\nGPU-x, 5 %\n'), /no "index" column/)
    invalid(() => parseQueryGpu('index, utilization.gpu [%]\n0, 5 %, 7\n'), /line 2/)
    invalid(() => parseQueryGpu('index, utilization.gpu [%]\n0, busy\n'), /expected a number/)
    invalid(() => parseQueryGpu('index, memory.used\n0, 5 furlongs\n'), /unknown size unit/)
  })

  test('timestamps shift by the host offset', () => {
    assert.equal(parseNvidiaSmiTimestamp('2026/11/26 14:12:59.3', 60), Date.UTC(2026, 10, 26, 13, 12, 59, 300), 'UTC+1 host')
    assert.equal(parseNvidiaSmiTimestamp('yesterday'), undefined, 'not a timestamp')
  })
})

describe('nvidia-smi --query-compute-apps', () => {
  // Not recorded on the fixture machines: the table below is written in the documented format.
  test('reads processes and joins them to their GPU by UUID', () => {
    const apps = parseComputeApps('gpu_uuid, pid, used_memory [MiB]\nGPU-x, 4242, 20080 MiB\nGPU-x, 4243, [N/A]\nGPU-z, 9, 1 MiB\n')
    assert.deepEqual(apps, [{ gpuUuid: 'GPU-x', pid: 4242, usedBytes: 20080 * MIB }, { gpuUuid: 'GPU-x', pid: 4243 }, { gpuUuid: 'GPU-z', pid: 9, usedBytes: MIB }])
    const rows = parseQueryGpu('index, uuid, utilization.gpu [%], memory.used [MiB], memory.total [MiB]\n0, GPU-x, 90 %, 20085 MiB, 143771 MiB\n')
    const { samples } = samplesFromQuery(rows, apps, { node: 'n', time: 1 })
    assert.deepEqual(samples[0].processes, [{ pid: 4242, usedBytes: 20080 * MIB }, { pid: 4243, usedBytes: 0 }], 'the GPU-x processes only')
  })

  test('no processes', () => {
    assert.deepEqual(parseComputeApps('gpu_uuid, pid, used_memory [MiB]\n'), [], 'header only')
    assert.deepEqual(parseComputeApps('No running processes found\n'), [], 'the message nvidia-smi prints')
    invalid(() => parseComputeApps('pid\n1\n'), /gpu_uuid and pid/)
  })
})

describe('device names', () => {
  test('a GPU UUID maps to the name the inventory publishes for it', () => {
    const { host } = inventoryFromNvidiaSmi({ xml: read('nvidia-smi/h200-passthrough/nvidia-smi-q.xml'), node: 'h200' })
    const map = deviceMapFromHost(host, migDeviceName)
    assert.equal(map.byUuid.get('GPU-247420ef-5061-c4d8-5cb1-c933f0299a49'), 'gpu-0', 'UUID -> gpu-0')
    const rows = parseQueryGpu(read('nvidia-smi/h200-passthrough/query-gpu.csv'))
    const { samples } = samplesFromQuery(rows, [], { node: 'h200', time: 7, map, useOwnClock: true })
    assert.deepEqual(samples[0], { time: 7, node: 'h200', device: 'gpu-0', uuid: 'GPU-247420ef-5061-c4d8-5cb1-c933f0299a49', smUtil: 0, memUsedBytes: 0, memTotalBytes: 143771 * MIB, powerWatts: 80.07 })
  })
})

describe('a real read by the agent on an H200 (test/fixtures/nvidia-smi/h200-device)', () => {
  test('the agent\'s own --query-gpu columns parse and name the GPU as the inventory publishes it', () => {
    const { host } = inventoryFromNvidiaSmi({ xml: read('nvidia-smi/h200-device/nvidia-smi-q.xml'), node: 'h200-device' })
    const map = deviceMapFromHost(host, migDeviceName)
    const rows = parseQueryGpu(read('nvidia-smi/h200-device/query-gpu-agent.csv'))
    assert.equal(rows.length, 1, 'one GPU')
    const { samples, skipped } = samplesFromQuery(rows, parseComputeApps(read('nvidia-smi/h200-device/compute-apps.csv')), { node: 'h200-device', time: 1, map, useOwnClock: true })
    assert.deepEqual(skipped, [], 'nothing skipped')
    assert.deepEqual(samples, [{ time: 1, node: 'h200-device', device: 'gpu-0', uuid: 'GPU-80dcfe62-e563-29ba-160f-546f61f15b70', smUtil: 0, memUsedBytes: 0, memTotalBytes: 143771 * MIB, powerWatts: 82.78 }], 'the idle H200 as read')
  })

  test('the compute-apps header nvidia-smi really prints (used_gpu_memory) gives each process its memory', () => {
    const header = read('nvidia-smi/h200-device/compute-apps.csv').trim()
    assert.equal(header, 'gpu_uuid, pid, used_gpu_memory [MiB]', 'the recorded header, for an idle GPU')
    // The process row is written in that header's format (the recorded GPU had no process).
    const apps = parseComputeApps(`${header}\nGPU-80dcfe62-e563-29ba-160f-546f61f15b70, 4242, 20080 MiB\n`)
    assert.deepEqual(apps, [{ gpuUuid: 'GPU-80dcfe62-e563-29ba-160f-546f61f15b70', pid: 4242, usedBytes: 20080 * MIB }], 'memory read from used_gpu_memory')
  })
})

/** The host of the DCGM fixture: the real H100 and an A100 with two MIG devices (GPU instances 1 and 9). */
function dcgmHost(): HostInfo {
  return {
    node: 'gpu-node-1',
    gpus: [
      { index: 0, uuid: 'GPU-a450c0d7-7a54-d5d0-306d-87b34a97c57c', productName: 'NVIDIA H100 80GB HBM3' },
      {
        index: 1,
        uuid: 'GPU-11111111-2222-3333-4444-555555555555',
        productName: 'NVIDIA A100-SXM4-80GB',
        migEnabled: true,
        migDevices: [
          { profile: '3g.40gb', profileId: 9, gpuInstanceId: 1, computeInstanceId: 0, placement: { start: 4, size: 4 } },
          { profile: '1g.10gb', profileId: 19, gpuInstanceId: 9, computeInstanceId: 0, placement: { start: 0, size: 1 } },
        ],
      },
    ],
  }
}

describe('DCGM exporter', () => {
  test('parses the Prometheus text format: labels with escapes, timestamps, special values, comments', () => {
    const series = parsePrometheusText('# HELP x y\nm{a="q\\"uote",b="line\\nbreak"} 1.5 1700000000000\nn NaN\no +Inf\n')
    assert.deepEqual(series[0], { name: 'm', labels: { a: 'q"uote', b: 'line\nbreak' }, value: 1.5, timestamp: 1700000000000 })
    assert.ok(Number.isNaN(series[1].value), 'NaN')
    assert.equal(series[2].value, Infinity, '+Inf')
    invalid(() => parsePrometheusText('m{a="x} 1\n'), /unterminated/)
    invalid(() => parsePrometheusText('m{a=x} 1\n'), /="value"/)
    invalid(() => parsePrometheusText('m 1 3x\n'), /line 1/)
    invalid(() => parsePrometheusText('m 1 2 3\n'), /optional timestamp/)
  })

  test('whole GPUs and MIG devices become samples named as the inventory names them', () => {
    const series = parsePrometheusText(read('dcgm/dcgm-exporter-metrics.txt'))
    const map = deviceMapFromHost(dcgmHost(), migDeviceName)
    const { samples, skipped } = samplesFromDcgm(series, { node: 'gpu-node-1', time: 5, map })
    assert.deepEqual(skipped, [], 'nothing skipped')
    const byDevice = Object.fromEntries(samples.map((s) => [s.device, s]))
    assert.deepEqual(byDevice['gpu-0'], {
      time: 5,
      node: 'gpu-node-1',
      device: 'gpu-0',
      uuid: 'GPU-a450c0d7-7a54-d5d0-306d-87b34a97c57c',
      smUtil: 65.23,
      memUsedBytes: 21000 * MIB,
      memTotalBytes: 81000 * MIB,
      powerWatts: 512.25,
    }, 'SM_ACTIVE (ratio) wins over GPU_UTIL')
    const mig = byDevice[migDeviceName(1, '3g.40gb', 9, 4)]
    assert.equal(mig?.smUtil, 42, 'MIG device 3g.40gb at 42%')
    assert.equal(mig?.memUsedBytes, 10000 * MIB, 'its framebuffer')
    assert.equal(byDevice[migDeviceName(1, '1g.10gb', 19, 0)]?.smUtil, 0, 'the idle 1g device')
  })

  test('without an inventory, MIG devices cannot be named and are reported skipped; GPU_UTIL is the fallback', () => {
    const text = read('dcgm/dcgm-exporter-metrics.txt').split('\n').filter((l) => !l.startsWith('DCGM_FI_PROF_SM_ACTIVE{gpu="0"')).join('\n')
    const { samples, skipped } = samplesFromDcgm(parsePrometheusText(text), { node: 'n', time: 5 })
    assert.deepEqual(samples.map((s) => [s.device, s.smUtil]), [['gpu-0', 87]], 'GPU_UTIL when SM_ACTIVE is absent')
    assert.equal(skipped.length, 2, 'two MIG devices skipped')
  })
})
