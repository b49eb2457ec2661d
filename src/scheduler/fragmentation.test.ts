// Tests of FGD's fragmentation measure and gradient: hand-computed cases, the FGD authors' own
// expected values, properties, and the authors' simulator run (data in test/fixtures/fgd).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import fc from 'fast-check'
import { GpuplaneError } from '../common/errors.ts'
import {
  applyPlacement,
  bestPlacement,
  candidatePlacements,
  classifyTask,
  clusterFragmentation,
  fgdScore,
  fitsNode,
  FRAG_CATEGORIES,
  fragmentationGradient,
  fragmentationGradientScaled,
  freeGpuMilli,
  type GpuNodeState,
  nodeFragmentation,
  nodeFragmentationBreakdown,
  nodeFragmentationScaled,
  parseGpuSpec,
  simulatorNodeFragmentation,
  taskFragmentation,
  type TaskShape,
  typicalWorkloadMix,
  validateTaskShape,
  type WorkloadMix,
  workloadMix,
  workloadMixFromCounts,
} from './fragmentation.ts'

const gpuTask = (cpuMilli: number, gpuMilliPerGpu: number, gpuCount = 1, gpuModels?: string[]): TaskShape => ({ cpuMilli, gpuCount, gpuMilliPerGpu, ...(gpuModels ? { gpuModels } : {}) })
const cpuTask = (cpuMilli: number): TaskShape => ({ cpuMilli, gpuCount: 0, gpuMilliPerGpu: 0 })
const node = (gpuMilliFree: number[], cpuMilliFree: number, gpuModel = 'T4'): GpuNodeState => ({ gpuMilliFree, cpuMilliFree, gpuModel })
/** Rows [cpu, milli per GPU, GPU count, gpu_spec, popularity %] as a mix. */
const mixOf = (rows: [number, number, number, string, number][]): WorkloadMix =>
  workloadMix(rows.map(([cpu, milli, n, spec, pct]) => ({ task: { cpuMilli: cpu, gpuMilliPerGpu: milli, gpuCount: n, gpuModels: parseGpuSpec(spec) }, popularity: pct / 100 })))

// A small mix, computed by hand below: A shares half a GPU, B takes a whole GPU, C is CPU-only.
const A = gpuTask(4000, 500)
const B = gpuTask(8000, 1000)
const C = cpuTask(2000)
const small = workloadMix([
  { task: A, popularity: 0.5 },
  { task: B, popularity: 0.3 },
  { task: C, popularity: 0.2 },
])

test('hand-computed F_n(m) and F_n(M)', () => {
  const n = node([1000, 600, 300, 0], 32000)
  // free 1900. A fits (GPUs 0, 1 hold 500): too small 300 + 0. B fits (GPU 0): too small 600 + 300.
  // C asks no GPU: all 1900 are useless to it.
  assert.equal(taskFragmentation(n, A), 300)
  assert.equal(taskFragmentation(n, B), 900)
  assert.equal(taskFragmentation(n, C), 1900)
  assert.equal(nodeFragmentation(n, small), 0.5 * 300 + 0.3 * 900 + 0.2 * 1900) // 800
  assert.equal(nodeFragmentationScaled(n, small), 800 * 1_000_000)
})

test('hand-computed gradients and the best GPU for a sharing task', () => {
  const n = node([1000, 600, 300, 0], 32000)
  assert.deepEqual(candidatePlacements(n, A), [{ gpuIndices: [0] }, { gpuIndices: [1] }])
  // On GPU 0 -> [500, 600, 300, 0]: A 300, B lacks a whole GPU (1400), C 1400: F = 150+420+280 = 850.
  assert.equal(fragmentationGradient(n, A, { gpuIndices: [0] }, small), 50)
  // On GPU 1 -> [1000, 100, 300, 0]: A 400, B 400, C 1400: F = 200+120+280 = 600.
  assert.equal(fragmentationGradient(n, A, { gpuIndices: [1] }, small), -200)
  const best = bestPlacement(n, A, small)
  assert.deepEqual(best, { placement: { gpuIndices: [1] }, gradient: -200, gradientScaled: -200e6, score: 54 })
  assert.equal(fgdScore(50), 48) // ⌊100·sigmoid(−0.05)⌋
  assert.equal(fgdScore(0), 50)
})

// The FGD authors' expected values (kubernetes-scheduler-simulator pkg/utils/frag_test.go,
// `TestNodeGpuShareFragAmount*`), with their typical-pod lists as data.
const AUTHORS_MIX_GPU: [number, number, number, string, number][] = [
  [6000, 465, 1, '', 9.33], [8000, 440, 1, '2080', 9.15], [8000, 475, 1, 'T4', 8.76], [8000, 440, 1, 'P100', 8.72],
  [2000, 465, 1, '', 8.68], [12000, 900, 1, '', 8.65], [4000, 900, 1, '', 8.43], [16000, 678, 1, 'T4', 8.36],
  [8000, 500, 1, '', 8.29], [6000, 511, 1, '', 8.11], [14000, 1000, 2, '2080', 0.54], [4000, 1000, 1, '2080', 0.43],
  [32000, 1000, 2, 'T4', 0.43], [16000, 1000, 1, 'V100M16', 0.4], [64000, 1000, 2, '', 0.4], [10000, 1000, 2, '', 0.4],
  [11400, 1000, 1, 'T4', 0.36], [16000, 1000, 1, 'T4', 0.36], [4000, 1000, 2, '', 0.36], [14000, 1000, 2, 'V100M16', 0.36],
  [8000, 1000, 4, '', 0.36], [16000, 1000, 2, '', 0.32], [2000, 1000, 1, 'T4', 0.32], [6000, 1000, 1, '', 0.32],
  [4000, 1000, 1, '', 0.32], [5000, 1000, 1, '', 0.32], [32000, 1000, 4, 'V100M16', 0.32], [32000, 1000, 2, '', 0.32],
  [24000, 1000, 8, '2080', 0.32], [40000, 1000, 4, '', 0.29], [32000, 1000, 8, '', 0.29], [32000, 1000, 1, 'T4', 0.29],
  [16000, 1000, 1, '', 0.25], [7000, 1000, 1, 'V100M16', 0.25], [24000, 1000, 1, 'T4', 0.25],
]
const AUTHORS_MIX_WITH_CPU: [number, number, number, string, number][] = [
  [15700, 1000, 1, '', 28.69], [11900, 1000, 1, '', 18.93], [11400, 1000, 1, '', 12.27], [1000, 0, 0, '', 7.36],
  [18710, 1000, 1, '', 4.85], [8200, 1000, 1, '', 3.79], [16400, 1000, 1, '', 3.31], [9810, 1000, 1, '', 1.97],
  [15200, 1000, 1, '', 1.87], [11200, 1000, 1, '', 1.81], [14200, 1000, 1, '', 1.76], [12000, 0, 0, '', 1.65],
  [14900, 1000, 1, '', 1.39], [60200, 1000, 4, '', 1.23], [64200, 1000, 8, '', 1.07], [32200, 1000, 4, '', 1.01],
  [17400, 1000, 2, '', 0.91], [30200, 1000, 2, '', 0.69], [16000, 1000, 1, '', 0.64], [15000, 1000, 1, '', 0.59],
  [64000, 1000, 8, '', 0.53], [15000, 0, 0, '', 0.53], [11910, 1000, 1, '', 0.53], [120200, 1000, 8, '', 0.48],
  [11300, 1000, 1, '', 0.37], [30000, 1000, 2, '', 0.32], [9800, 1000, 1, '', 0.32], [8000, 1000, 1, '', 0.32],
  [2000, 1000, 1, '', 0.27], [2000, 80, 1, '', 0.27], [1000, 1000, 1, '', 0.27],
]

test("the FGD authors' expected values (GPU model restrictions, CPU-short nodes)", () => {
  const mix = mixOf(AUTHORS_MIX_GPU)
  const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 0.01, `${actual} != ${expected}`)
  near(nodeFragmentation(node([200, 1000, 1000, 500], 1000, '1080'), mix), 2566.62)
  near(nodeFragmentation(node([1000, 1000, 1000, 1000], 1000, '1080'), mix), 3802.4)
  near(nodeFragmentation(node(Array(8).fill(1000), 1000, '1080'), mix), 7604.8)
  const cpuShort = node([200, 1000, 1000, 500], 1000, '1080')
  assert.equal(classifyTask(cpuShort, gpuTask(6000, 465)), 'q4-lack-cpu')
  near(nodeFragmentation(cpuShort, mixOf([AUTHORS_MIX_GPU[0]])), 251.91) // 2700 free × 9.33%
})

test("the FGD authors' expected values (CPU-only task types, CPU-exhausted node)", () => {
  const mix = mixOf(AUTHORS_MIX_WITH_CPU)
  const near = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 0.01, `${actual} != ${expected}`)
  // Empty 8-GPU node: CPU-only types (9.54%) and the two types needing more than 64 CPUs hold it all.
  near(nodeFragmentation(node(Array(8).fill(1000), 64000, 'P100'), mix), 887.2)
  near(nodeFragmentation(node([1000, 1000, 1000, 1000, 0, 0, 0, 0], 32000, 'P100'), mix), 554.4)
  near(nodeFragmentation(node([1000, 1000, 1000, 1000, 0, 0, 0, 0], 0, 'P100'), mix), 4000) // all free GPU is fragment
})

test('edge cases: empty, full, CPU-exhausted nodes; zero-GPU, model-restricted and multi-GPU tasks', () => {
  const cpuNode: GpuNodeState = { gpuMilliFree: [], cpuMilliFree: 64000 }
  assert.equal(nodeFragmentation(cpuNode, small), 0)
  assert.equal(nodeFragmentation(node([0, 0, 0, 0], 64000), small), 0)
  assert.equal(nodeFragmentation(node([1000, 1000], 0), small), 2000)
  assert.equal(classifyTask(node([1000], 0), C), 'xr-lack-cpu')
  assert.equal(classifyTask(node([1000], 9000), C), 'xl-satisfied')
  assert.equal(taskFragmentation(node([1000], 9000), C), 1000)

  const v100Only = gpuTask(1000, 500, 1, ['V100M16', 'V100M32'])
  assert.equal(classifyTask(node([1000, 700], 64000, 'T4'), v100Only), 'no-access')
  assert.equal(taskFragmentation(node([1000, 700], 64000, 'T4'), v100Only), 1700)
  assert.equal(taskFragmentation(node([1000, 700], 64000, 'V100M32'), v100Only), 0)
  assert.equal(classifyTask({ gpuMilliFree: [], cpuMilliFree: 1 }, v100Only), 'no-access')
  assert.deepEqual(candidatePlacements(node([1000], 64000, 'T4'), v100Only), [])
  assert.equal(fitsNode({ gpuMilliFree: [], cpuMilliFree: 4000 }, C), true) // GPU rules never bind a CPU-only task

  const twoGpus = gpuTask(16000, 1000, 2)
  const n = node([1000, 400, 1000, 1000], 64000)
  assert.equal(classifyTask(n, twoGpus), 'q3-satisfied')
  assert.equal(taskFragmentation(n, twoGpus), 400)
  assert.equal(classifyTask(node([1000, 400, 1000, 1000], 64000), gpuTask(1000, 1000, 4)), 'q2-lack-gpu')
  assert.equal(classifyTask(node([400], 0), gpuTask(1000, 1000, 4)), 'q1-lack-both')
  assert.deepEqual(candidatePlacements(n, twoGpus), [{ gpuIndices: [0, 2] }])
  assert.deepEqual(applyPlacement(n, twoGpus, { gpuIndices: [0, 2] }).gpuMilliFree, [0, 400, 0, 1000])
  assert.deepEqual(candidatePlacements(node([1000, 999], 64000), twoGpus), [])
  assert.deepEqual(candidatePlacements(n, C), [{ gpuIndices: [] }])
  assert.equal(bestPlacement(node([1000], 100), A, small), undefined)
})

test('memory is a placement filter but never part of the measure', () => {
  const n: GpuNodeState = { gpuMilliFree: [1000], cpuMilliFree: 8000, memoryBytesFree: 1024, gpuModel: 'T4' }
  const big = { ...A, memoryBytes: 4096 }
  assert.equal(taskFragmentation(n, big), taskFragmentation(n, A))
  assert.equal(fitsNode(n, big), false)
  assert.equal(applyPlacement(n, { ...A, memoryBytes: 1000 }, { gpuIndices: [0] }).memoryBytesFree, 24)
})

test('invalid placements and shapes are INVALID_INPUT errors', () => {
  const n = node([1000, 300], 8000)
  const code = (f: () => unknown) => assert.throws(f, (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT')
  code(() => applyPlacement(n, A, { gpuIndices: [1] })) // 300 free < 500
  code(() => applyPlacement(n, A, { gpuIndices: [2] }))
  code(() => applyPlacement(n, A, { gpuIndices: [] }))
  code(() => applyPlacement(node([1000, 1000], 8000), gpuTask(1000, 1000, 2), { gpuIndices: [0, 0] }))
  code(() => applyPlacement(node([1000], 100), A, { gpuIndices: [0] }))
  code(() => validateTaskShape(gpuTask(1000, 500, 2)))
  code(() => validateTaskShape({ cpuMilli: 1, gpuCount: 1, gpuMilliPerGpu: 0 }))
  code(() => validateTaskShape(gpuTask(1000, 1001)))
  code(() => workloadMix([{ task: A, popularity: 0.7 }, { task: B, popularity: 0.7 }]))
})

test('typical workload: most frequent shapes up to the threshold, memory ignored, counts exact', () => {
  const tasks: TaskShape[] = [
    ...Array(5).fill({ ...A, memoryBytes: 1 }), ...Array(5).fill(A),
    ...Array(6).fill(B), ...Array(2).fill(C), gpuTask(3000, 1000, 1, ['T4']), gpuTask(3000, 1000, 1, ['A10']),
  ]
  // 20 tasks: A 10, B 6, C 2, then two singles that tie on count and sort by spec, descending.
  // 90% is reached exactly by A, B, C (18 of 20); 91% needs the first single too.
  assert.deepEqual(typicalWorkloadMix(tasks, { popularityThresholdPercent: 90 }).tasks, [A, B, C])
  const mix = typicalWorkloadMix(tasks, { popularityThresholdPercent: 91 })
  assert.deepEqual(mix.tasks, [A, B, C, gpuTask(3000, 1000, 1, ['T4'])])
  assert.deepEqual([mix.weights, mix.scale, mix.totalTasks, mix.distinctShapes], [[10, 6, 2, 1], 19, 20, 5])
  assert.deepEqual(typicalWorkloadMix(tasks, { includeCpuOnly: false, popularityThresholdPercent: 50 }).weights, [10])
})

/** Random shapes and states within the rules. */
const arbTask: fc.Arbitrary<TaskShape> = fc.oneof(
  fc.record({ cpuMilli: fc.integer({ min: 0, max: 64000 }), gpuCount: fc.constant(0), gpuMilliPerGpu: fc.constant(0) }),
  fc.record({ cpuMilli: fc.integer({ min: 0, max: 64000 }), gpuCount: fc.constant(1), gpuMilliPerGpu: fc.integer({ min: 1, max: 1000 }) }),
  fc.record({ cpuMilli: fc.integer({ min: 0, max: 64000 }), gpuCount: fc.integer({ min: 1, max: 8 }), gpuMilliPerGpu: fc.constant(1000), gpuModels: fc.subarray(['T4', 'A10', 'V100M16']) }),
)
const arbNode: fc.Arbitrary<GpuNodeState> = fc.record({
  gpuMilliFree: fc.array(fc.oneof(fc.constant(1000), fc.constant(0), fc.integer({ min: 0, max: 1000 })), { maxLength: 8 }),
  cpuMilliFree: fc.integer({ min: 0, max: 96000 }),
  gpuModel: fc.constantFrom('T4', 'A10', 'V100M16', ''),
})
const arbMix: fc.Arbitrary<WorkloadMix> = fc.oneof(
  fc.array(fc.record({ task: arbTask, count: fc.integer({ min: 0, max: 2000 }) }), { maxLength: 12 }).map(workloadMixFromCounts),
  fc.array(fc.record({ task: arbTask, w: fc.double({ min: 0, max: 1, noNaN: true }) }), { maxLength: 12 }).map((es) => {
    const sum = es.reduce((s, e) => s + e.w, 0) || 1
    return workloadMix(es.map((e) => ({ task: e.task, popularity: Math.min(1, e.w / sum) })))
  }),
)

test('property: 0 <= F_n(M) <= free GPU, invariant under GPU order, breakdown consistent', () => {
  fc.assert(
    fc.property(arbNode, arbMix, (n, mix) => {
      const scaled = nodeFragmentationScaled(n, mix)
      assert.ok(Number.isSafeInteger(scaled) && scaled >= 0 && scaled <= freeGpuMilli(n) * mix.scale)
      assert.equal(nodeFragmentationScaled({ ...n, gpuMilliFree: [...n.gpuMilliFree].reverse() }, mix), scaled)
      const b = nodeFragmentationBreakdown(n, mix)
      assert.equal(FRAG_CATEGORIES.filter((c) => c !== 'q3-satisfied').reduce((s, c) => s + b[c], 0), scaled)
      assert.equal(FRAG_CATEGORIES.reduce((s, c) => s + b[c], 0), freeGpuMilli(n) * mix.weights.reduce((x, y) => x + y, 0))
      // Float popularities vs ppm-rounded weights: at most 0.5e-6 per task type (plus renormalisation).
      assert.ok(Math.abs(simulatorNodeFragmentation(n, mix) - scaled / mix.scale) <= 1e-6 * (1 + mix.tasks.length * freeGpuMilli(n)))
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 400) },
  )
})

test('property: placing never makes free capacity negative; gradient = after − before; best is minimal', () => {
  fc.assert(
    fc.property(arbNode, arbTask, arbMix, (n, task, mix) => {
      const candidates = candidatePlacements(n, task)
      assert.equal(fitsNode(n, task), candidates.length > 0)
      for (const p of candidates) {
        const after = applyPlacement(n, task, p)
        assert.ok(after.cpuMilliFree >= 0 && after.gpuMilliFree.every((g) => g >= 0 && g <= 1000))
        assert.equal(freeGpuMilli(n) - freeGpuMilli(after), task.gpuCount * task.gpuMilliPerGpu)
        const g = fragmentationGradientScaled(n, task, p, mix)
        assert.equal(g, nodeFragmentationScaled(after, mix) - nodeFragmentationScaled(n, mix))
        assert.ok(Math.abs(fragmentationGradient(n, task, p, mix) - (nodeFragmentation(after, mix) - nodeFragmentation(n, mix))) < 1e-6)
      }
      const best = bestPlacement(n, task, mix)
      assert.equal(best === undefined, candidates.length === 0)
      if (best) {
        for (const p of candidates) assert.ok(best.gradientScaled <= fragmentationGradientScaled(n, task, p, mix))
        assert.deepEqual(bestPlacement(n, task, mix), best)
        const bySim = bestPlacement(n, task, mix, { ranking: 'fgd-score' })!
        assert.ok(bySim.score >= best.score && bySim.score >= 0 && bySim.score <= 100)
      }
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 400) },
  )
})

test('property: cluster fragmentation is the sum over nodes; rate within [0, 1]', () => {
  fc.assert(
    fc.property(fc.array(arbNode, { maxLength: 6 }), arbMix, (nodes, mix) => {
      const c = clusterFragmentation(nodes, mix)
      assert.equal(c.fragmentedScaled, nodes.reduce((s, n) => s + nodeFragmentationScaled(n, mix), 0))
      assert.equal(c.freeGpuMilli, nodes.reduce((s, n) => s + freeGpuMilli(n), 0))
      assert.ok(c.rate >= 0 && c.rate <= 1)
    }),
  )
})

// The default trace's typical workload (35 shapes covering 7,766 of 8,152 pods; test/fixtures/fgd/
// typical_pods.csv), as rows [cpu, milli per GPU, GPU count, count].
const DEFAULT_TYPICAL = [
  [3152, 810, 1, 1047], [11300, 1000, 1, 874], [11400, 1000, 1, 599], [3152, 1000, 1, 470], [11908, 470, 1, 388],
  [12500, 0, 0, 366], [8000, 470, 1, 360], [12000, 1000, 1, 326], [32000, 0, 0, 290], [18708, 1000, 1, 255],
  [11908, 650, 1, 237], [4000, 320, 1, 232], [9810, 1000, 1, 195], [8000, 0, 0, 185], [8000, 1000, 1, 164],
  [4000, 1000, 1, 159], [15700, 1000, 1, 158], [11908, 1000, 1, 153], [16000, 1000, 1, 150], [4000, 230, 1, 122],
  [15400, 0, 0, 120], [6000, 460, 1, 120], [16500, 0, 0, 95], [14200, 1000, 1, 93], [24200, 1000, 1, 84],
  [3152, 590, 1, 75], [8000, 320, 1, 72], [4152, 550, 1, 72], [11900, 1000, 1, 55], [4000, 160, 1, 54],
  [4152, 370, 1, 45], [4000, 220, 1, 43], [8200, 1000, 1, 41], [15200, 1000, 1, 36], [4152, 810, 1, 31],
]

test("simulator-compatible score: float noise turns an exact zero gradient into 49 (the simulator's choice)", () => {
  // Rebuild the trace's counts: the 35 shapes plus 386 rarer pods, so popularities are the
  // simulator's floats (count/8152)/(7766/8152).
  const tasks: TaskShape[] = DEFAULT_TYPICAL.flatMap(([cpu, milli, n, count]) => Array<TaskShape>(count).fill({ cpuMilli: cpu, gpuMilliPerGpu: milli, gpuCount: n }))
  for (let i = 0; i < 386; i++) tasks.push(cpuTask(200000 + i))
  const mix = typicalWorkloadMix(tasks)
  assert.deepEqual([mix.tasks.length, mix.scale, mix.totalTasks], [35, 7766, 8152])
  // Node openb-node-0484 at event 3975 of the authors' seed-42 run, and pod openb-pod-3051.
  const n = node([190, 0, 190, 0, 0, 0, 190, 190], 24992, 'V100M16')
  const best = bestPlacement(n, cpuTask(15400), mix, { ranking: 'fgd-score' })!
  assert.equal(best.gradientScaled, 0)
  assert.equal(best.score, 49)
})

const FIXTURES = new URL('../../test/fixtures/fgd/', import.meta.url)
const fixture = (p: string) => new URL(p.split('/').pop()!, FIXTURES)
const csvRows = (p: string) => readFileSync(fixture(p), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','))

test("replays the FGD authors' seed-42 run: typical pods, every GPU choice and the fragmentation curve", () => {
  const nodes = new Map<string, GpuNodeState>()
  for (const [sn, cpu, mem, gpu, model] of csvRows('alibaba-gpu-v2023/csv/openb_node_list_gpu_node.csv')) {
    nodes.set(sn, { cpuMilliFree: +cpu, memoryBytesFree: +mem * 2 ** 20, gpuMilliFree: Array<number>(+gpu).fill(1000), gpuModel: model })
  }
  const pods = new Map<string, TaskShape>()
  for (const [name, cpu, mem, num, milli, spec] of csvRows('alibaba-gpu-v2023/csv/openb_pod_list_default.csv')) {
    pods.set(name, { cpuMilli: +cpu, memoryBytes: +mem * 2 ** 20, gpuCount: +num, gpuMilliPerGpu: +milli, gpuModels: parseGpuSpec(spec) })
  }
  const mix = typicalWorkloadMix([...pods.values()])
  const expected = csvRows('fgd-artifact-results/typical_pods.csv').filter((r) => r[0] === 'openb_pod_list_default')
  assert.deepEqual(mix.tasks.map((t, i) => [t.cpuMilli, t.gpuMilliPerGpu, t.gpuCount, mix.weights[i]]), expected.map((r) => [+r[2], +r[3], +r[4], +r[6]]))

  // The golden file names the node of every pod; the GPU inside it is ours to choose. The
  // cluster's fragmentation after each event must match the simulator's (printed to 0.01).
  const perNode = new Map([...nodes].map(([k, v]) => [k, nodeFragmentationScaled(v, mix)]))
  let total = [...perNode.values()].reduce((a, b) => a + b, 0)
  for (const [event, pod, prefixedNode, fragMilli] of csvRows('fgd-artifact-results/golden_default_FGD_seed42.csv')) {
    const task = pods.get(pod.replace(/-tuned-\d+$/, ''))!
    if (prefixedNode) {
      const name = prefixedNode.slice(5) // drop the run's random 4-digit prefix
      const before = nodes.get(name)!
      const choice = bestPlacement(before, task, mix, { ranking: 'fgd-score' })
      assert.ok(choice, `event ${event}: ${pod} does not fit ${name}`)
      const after = applyPlacement(before, task, choice.placement)
      nodes.set(name, after)
      const v = nodeFragmentationScaled(after, mix)
      total += v - perNode.get(name)!
      perNode.set(name, v)
    }
    assert.ok(Math.abs(total / mix.scale - +fragMilli) <= 0.0051, `event ${event}: ${total / mix.scale} vs ${fragMilli}`)
  }
})
