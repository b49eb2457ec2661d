// Tests of per-event metrics: the artifact's binning by integer arrived load, failure counts, aggregation over seeds, and the cluster's incremental bookkeeping.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MILLI_PER_GPU, workloadMixFromCounts } from '../scheduler/fragmentation.ts'
import { type PodShape, SimCluster, type Slicer } from './cluster.ts'
import { aggregateCurves, MetricsRecorder, roundHalfEven, type SeedCurves } from './metrics.ts'
import { createPolicy, POLICY_NAMES } from './policies.ts'
import { Random } from './random.ts'
import { createSlicer } from './slicing.ts'
import { podKind } from './trace.ts'

test("roundHalfEven is Python's round", () => {
  assert.deepEqual([0.5, 1.5, 2.5, 99.5, 100.5, 100.49, 7.2].map(roundHalfEven), [0, 2, 2, 100, 100, 100, 7])
})

/** A cluster stand-in with just what MetricsRecorder reads: 10 GPUs. */
function fakeCluster(allocated: number, frag = 0, busyGpus = 2) {
  return { totalGpus: 10, capacityGpuMilli: 10_000, allocatedGpuMilli: allocated, heldGpuMilli: allocated, fragTotal: frag, mix: { scale: 1 }, busyGpus, dedicatedGpus: busyGpus } as unknown as SimCluster
}

test('binning: mean over the events of a bin, ±1 neighbours for an empty bin, none beyond', () => {
  const r = new MetricsRecorder(40)
  r.record(fakeCluster(1000), 1000, undefined) // arrived 10%
  r.record(fakeCluster(1000), 1040, 'whole') // 10.4% → bin 10; a 1-GPU pod failed
  r.record(fakeCluster(2000, 500), 3000, undefined) // 30%
  r.record(fakeCluster(2000, 500), 3100, 'share') // 31%
  const c = r.curves()
  assert.equal(c.values.allocatedPct[10], 10)
  assert.equal(c.values.allocatedPct[20], null, 'no event within ±1')
  assert.equal(c.values.allocatedPct[29], 20, 'bin 29 is empty: the events of bins 28..30')
  assert.equal(c.values.allocatedPct[32], 20)
  assert.equal(c.values.fragPct[30], 5)
  assert.equal(c.values.fragRatePct[30], (500 / 8000) * 100)
  assert.equal(c.values.busyGpuUtilizationPct[10], 50)
  assert.deepEqual([c.failed.whole[9], c.failed.whole[10], c.failed.whole[35], c.failed.share[30], c.failed.share[31]], [0, 1, 1, 0, 1])
  assert.deepEqual(r.failed, { cpu: 0, share: 1, whole: 1, multi: 0 })
})

test('aggregation over seeds: means, median, population sd; bins where some seed has a value', () => {
  const curve = (allocated: (number | null)[]): SeedCurves => {
    const values = Object.fromEntries(['allocatedPct', 'heldPct', 'fragPct', 'fragRatePct', 'busyGpuPct', 'busyGpuUtilizationPct', 'dedicatedGpuPct', 'dedicatedUtilizationPct'].map((s) => [s, allocated])) as SeedCurves['values']
    return { values, failed: { cpu: [0, 0, 0], share: [0, 1, 2], whole: [0, 0, 4], multi: [0, 0, 0] } }
  }
  const points = aggregateCurves([curve([null, 90, 96]), curve([null, 94, 98]), curve([null, null, 97])])
  assert.deepEqual(points.map((p) => p.arrivedPct), [1, 2])
  assert.equal(points[0].unallocatedPct, 8)
  assert.equal(points[0].unallocatedSd, 2)
  assert.equal(points[1].unallocatedMedian, 3)
  assert.equal(points[1].failedPods.whole, 4)
})

const arbNode = fc.record({ gpuCount: fc.constantFrom(0, 1, 2, 4, 8), cpuMilli: fc.integer({ min: 1000, max: 64000 }), memoryMiB: fc.integer({ min: 1000, max: 400_000 }), model: fc.constantFrom('G2', 'T4') })
const arbPod = fc.oneof(
  fc.record({ cpuMilli: fc.integer({ min: 100, max: 16000 }), gpuCount: fc.constant(0), gpuMilli: fc.constant(0), mem: fc.integer({ min: 0, max: 64000 }) }),
  fc.record({ cpuMilli: fc.integer({ min: 100, max: 16000 }), gpuCount: fc.constant(1), gpuMilli: fc.integer({ min: 1, max: 999 }), mem: fc.integer({ min: 0, max: 64000 }) }),
  fc.record({ cpuMilli: fc.integer({ min: 100, max: 16000 }), gpuCount: fc.integer({ min: 1, max: 4 }), gpuMilli: fc.constant(MILLI_PER_GPU), mem: fc.integer({ min: 0, max: 64000 }) }),
)

test('property: placements never oversubscribe and the incremental totals match a recount (every policy, every slicing)', () => {
  fc.assert(
    fc.property(fc.array(arbNode, { minLength: 1, maxLength: 6 }), fc.array(arbPod, { maxLength: 40 }), fc.constantFrom(...POLICY_NAMES), fc.constantFrom('none', 'mig', 'vgpu'), (nodeSpecs, pods, policyName, slicing) => {
      const nodes = nodeSpecs.map((n, i) => ({ name: `n${i}`, ...n, gpuCount: i === 0 && nodeSpecs.every((x) => x.gpuCount === 0) ? 1 : n.gpuCount }))
      const shapes: PodShape[] = pods.map((p, id) => ({ id, cpuMilli: p.cpuMilli, gpuCount: p.gpuCount, gpuMilli: p.gpuMilli, memoryMiB: p.mem, kind: podKind(p), restricted: false, modelMask: 0, task: { cpuMilli: p.cpuMilli, gpuCount: p.gpuCount, gpuMilliPerGpu: p.gpuMilli } }))
      const mix = workloadMixFromCounts(shapes.map((s) => ({ task: s.task, count: 1 })))
      const probe = new SimCluster(nodes, mix)
      const slicer: Slicer | undefined = slicing === 'none' ? undefined : createSlicer(slicing, probe.models, probe.totalGpus).slicer
      const c = new SimCluster(nodes, mix, slicer)
      const policy = createPolicy(policyName, { cluster: c, rng: new Random(3), mix, shapes: shapes.map((shape) => ({ shape, count: 1 })) })
      let requested = 0
      shapes.forEach((s, i) => {
        let best = -Infinity
        let node = -1
        for (let n = 0; n < c.size; n++) {
          if (!c.fits(n, s, pods[i].mem)) continue
          const v = policy.score(n, s)
          if (v > best) [best, node] = [v, n]
        }
        if (node < 0) return
        const gpu = s.kind === 'share' ? policy.gpu(node, s) : -1
        if (s.kind === 'share') assert.ok(gpu >= c.gpuStart[node] && gpu < c.gpuStart[node + 1] && c.gpuFits(gpu, node, s), `${policyName} chose a GPU that does not fit`)
        c.place(node, s, pods[i].mem, gpu)
        requested += s.gpuCount * s.gpuMilli
      })
      let fragTotal = 0
      let free = 0
      let busy = 0
      for (let n = 0; n < c.size; n++) {
        assert.ok(c.cpuFree[n] >= 0 && c.memFree[n] >= 0)
        let full = 0
        let max = 0
        for (let g = c.gpuStart[n]; g < c.gpuStart[n + 1]; g++) {
          assert.ok(c.gpuFree[g] >= 0 && c.gpuFree[g] <= MILLI_PER_GPU)
          free += c.gpuFree[g]
          if (c.gpuFree[g] === MILLI_PER_GPU) full++
          else busy++
          max = Math.max(max, c.gpuFree[g])
        }
        assert.deepEqual([c.fullFree[n], c.maxFree[n]], [full, max])
        assert.equal(c.frag[n], c.nodeFrag(n))
        fragTotal += c.frag[n]
      }
      assert.equal(c.fragTotal, fragTotal)
      assert.equal(c.allocatedGpuMilli, requested)
      assert.equal(c.heldGpuMilli, c.capacityGpuMilli - free)
      assert.ok(c.heldGpuMilli >= c.allocatedGpuMilli, 'profiles hold at least the request')
      assert.equal(c.busyGpus, busy)
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 150) },
  )
})
