// Tests of attribute(): examples of each way a sample is split, and properties over generated samples and intervals.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { attribute } from './attribution.ts'
import type { AllocationInterval, UtilizationSample } from './types.ts'

/** Property runs: modest by default, more with PROPERTY_RUNS. */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 200)
const GB = 1024 ** 3

function sample(extra: Partial<UtilizationSample> = {}): UtilizationSample {
  return { time: 1000, node: 'n1', device: 'gpu-0', uuid: 'GPU-0', smUtil: 80, memUsedBytes: 10 * GB, memTotalBytes: 80 * GB, ...extra }
}

function interval(extra: Partial<AllocationInterval> = {}): AllocationInterval {
  return { node: 'n1', device: 'gpu-0', gpuModel: 'H100-80GB', namespace: 'team-a', workload: 'w1', share: 1, gpuUuid: 'GPU-0', from: 0, ...extra }
}

describe('attribute', () => {
  it('charges a whole GPU to its holder and an unallocated one to nobody', () => {
    const [held] = attribute([sample()], [interval()])
    assert.equal(held!.namespace, 'team-a', 'holder namespace')
    assert.equal(held!.usedPercent, 80, 'a lone whole-GPU holder used all of smUtil')
    const free = attribute([sample({ device: 'gpu-1', uuid: 'GPU-1' })], [interval()])
    assert.deepEqual(free.map((s) => [s.namespace, s.share, s.usedPercent]), [[undefined, 0, 80]], 'unallocated: one sample, share 0, no holder')
  })

  it('uses the interval that covers the time: [from, to)', () => {
    const ivs = [interval({ workload: 'old', from: 0, to: 1000 }), interval({ workload: 'new', from: 1000 })]
    assert.deepEqual(attribute([sample({ time: 999 }), sample({ time: 1000 })], ivs).map((s) => s.workload), ['old', 'new'], 'boundary goes to the later holder')
  })

  it('splits a shared GPU by process memory where processes name their workload', () => {
    const ivs = [interval({ workload: 'a', share: 0.5 }), interval({ workload: 'b', share: 0.5 })]
    const s = sample({ smUtil: 90, processes: [{ pid: 1, usedBytes: 30 * GB, namespace: 'team-a', workload: 'a' }, { pid: 2, usedBytes: 10 * GB, namespace: 'team-a', workload: 'b' }, { pid: 3, usedBytes: 5 * GB }] })
    const out = attribute([s], ivs)
    assert.deepEqual(out.map((x) => [x.workload, x.usedPercent]), [['a', 60], ['b', 20]], 'by memory of 45 GB; the unnamed 5 GB is nobody\'s')
  })

  it('splits a shared GPU by share without process information', () => {
    const ivs = [interval({ device: 'gpu-0-vgpu-0', workload: 'a', share: 0.25 }), interval({ device: 'gpu-0-vgpu-1', workload: 'b', share: 0.5 })]
    const out = attribute([sample({ smUtil: 60 })], ivs)
    assert.deepEqual(out.map((x) => [x.workload, x.share, x.usedPercent]), [['a', 0.25, 20], ['b', 0.5, 40]], 'GPU sample joined by uuid, split 1:2')
  })

  it('charges a MIG device sampled on its own smUtil × share of the GPU', () => {
    const mig = interval({ device: 'gpu-0-mig-3g-40gb-0', share: 3 / 7, partition: true })
    const [own] = attribute([sample({ device: 'gpu-0-mig-3g-40gb-0', uuid: 'MIG-1', smUtil: 70 })], [mig])
    assert.ok(Math.abs(own!.usedPercent - 30) < 1e-9, `70% of a 3/7 partition is 30% of the GPU, got ${own!.usedPercent}`)
    const [gpu] = attribute([sample({ smUtil: 30 })], [mig])
    assert.equal(gpu!.usedPercent, 30, 'a GPU-level sample with one MIG holder: all its use is that holder\'s')
  })
})

const holderArb = fc.record({
  device: fc.constantFrom('gpu-0', 'gpu-1', 'gpu-0-mig-a', 'gpu-0-vgpu-1'),
  namespace: fc.constantFrom('a', 'b'),
  workload: fc.constantFrom('w1', 'w2', 'w3'),
  share: fc.double({ min: 0, max: 1, noNaN: true }),
  partition: fc.boolean(),
  from: fc.integer({ min: 0, max: 100 }),
  length: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
})

const sampleArb = fc.record({
  time: fc.integer({ min: 0, max: 200 }),
  device: fc.constantFrom('gpu-0', 'gpu-1', 'gpu-0-mig-a', 'gpu-0-vgpu-1', 'gpu-2'),
  smUtil: fc.double({ min: 0, max: 100, noNaN: true }),
  withProcesses: fc.boolean(),
  processes: fc.array(fc.record({ pid: fc.nat(), usedBytes: fc.nat({ max: 1000 }), namespace: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }), workload: fc.option(fc.constantFrom('w1', 'w2', 'w4'), { nil: undefined }) }), { maxLength: 4 }),
})

describe('attribute properties', () => {
  it('never charges more than the device\'s smUtil, and accounts for every sample once', () => {
    fc.assert(
      fc.property(fc.array(holderArb, { maxLength: 8 }), fc.array(sampleArb, { maxLength: 20 }), (hs, ss) => {
        const intervals: AllocationInterval[] = hs.map((h) => ({ node: 'n1', device: h.device, gpuModel: 'H100-80GB', namespace: h.namespace, workload: h.workload, share: h.share, partition: h.partition && h.device.includes('mig'), gpuUuid: h.device.startsWith('gpu-0') ? 'GPU-0' : 'GPU-1', from: h.from, ...(h.length !== undefined ? { to: h.from + h.length } : {}) }))
        const samples: UtilizationSample[] = ss.map((s, i) => ({ time: s.time, node: 'n1', device: s.device, uuid: s.device === 'gpu-0' ? 'GPU-0' : s.device === 'gpu-1' ? 'GPU-1' : undefined, smUtil: s.smUtil, memUsedBytes: i, memTotalBytes: 100, ...(s.withProcesses ? { processes: s.processes } : {}) }))
        const out = attribute(samples, intervals)
        // Every output is one of the inputs (memUsedBytes carries the input's index), in input order, each input at least once.
        const seen = out.map((o) => o.memUsedBytes)
        assert.deepEqual([...new Set(seen)], samples.map((_, i) => i), 'each sample appears, in order')
        for (let i = 0; i < samples.length; i++) {
          const mine = out.filter((o) => o.memUsedBytes === i)
          const total = mine.reduce((sum, o) => sum + o.usedPercent, 0)
          assert.ok(total <= samples[i]!.smUtil + 1e-9, `sample ${i}: charged ${total} > smUtil ${samples[i]!.smUtil}`)
          assert.ok(mine.every((o) => o.usedPercent >= 0 && o.share >= 0 && o.share <= 1), 'no negative use, shares within [0, 1]')
          const holders = new Set(mine.map((o) => `${o.namespace}/${o.workload}`))
          assert.equal(holders.size, mine.length, `sample ${i}: no holder charged twice`)
          if (mine.some((o) => o.namespace === undefined)) assert.equal(mine.length, 1, 'an unallocated sample is alone')
        }
      }),
      { numRuns: RUNS },
    )
  })
})
