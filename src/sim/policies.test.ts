// Tests of the placement policies on hand-made clusters: each policy's node and GPU choice as the FGD artifact scores them, ties, and gpuplane's extra terms.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MILLI_PER_GPU, type TaskShape, workloadMixFromCounts, type WorkloadMix } from '../scheduler/fragmentation.ts'
import { type PodShape, SimCluster, type SimNode } from './cluster.ts'
import { bestFitScore, clusteringScore, dotProductScore, packingScore } from './policies-paper.ts'
import { createPolicy, type PolicyName } from './policies.ts'
import { demandRatios, modelPressure } from './policy-gpuplane.ts'
import { Random } from './random.ts'
import { podKind } from './trace.ts'

const node = (name: string, gpuCount: number, cpuMilli = 64000, model = 'G2', memoryMiB = 1 << 20): SimNode => ({ name, cpuMilli, memoryMiB, gpuCount, model })

let nextId = 0
/** A pod shape; `models` restricts GPU models (bits follow the cluster's sorted model list, given as `all`). */
function shape(cpuMilli: number, gpuCount: number, gpuMilli: number, opts: { models?: string[]; all?: string[]; memoryMiB?: number } = {}): PodShape {
  const task: TaskShape = { cpuMilli, gpuCount, gpuMilliPerGpu: gpuMilli, ...(opts.models ? { gpuModels: opts.models } : {}) }
  let modelMask = 0
  for (const m of opts.models ?? []) modelMask |= 1 << (opts.all ?? []).indexOf(m)
  return { id: nextId++, cpuMilli, gpuCount, gpuMilli, memoryMiB: opts.memoryMiB ?? 0, kind: podKind({ gpuCount, gpuMilli }), restricted: (opts.models ?? []).length > 0, modelMask, task }
}

/** A whole-GPU task as the only typical shape: F is the free milli of partly used GPUs. */
const WHOLE_MIX = workloadMixFromCounts([{ task: { cpuMilli: 1000, gpuCount: 1, gpuMilliPerGpu: MILLI_PER_GPU }, count: 1 }])

function setup(nodes: SimNode[], mix: WorkloadMix = WHOLE_MIX, shapes: PodShape[] = []) {
  const cluster = new SimCluster(nodes, mix)
  const make = (name: PolicyName, seed = 1) => createPolicy(name, { cluster, rng: new Random(seed), mix, shapes: shapes.map((s) => ({ shape: s, count: 1 })) })
  return { cluster, make }
}

/** The engine's choice: the highest score among feasible nodes, the lowest index among equals (or the policy's own pick). */
function choose(c: SimCluster, policy: ReturnType<ReturnType<typeof setup>['make']>, s: PodShape, memoryMiB = 0): { node: number; gpu: number } {
  const feasible: number[] = []
  let best = -Infinity
  let node = -1
  for (let n = 0; n < c.size; n++) {
    if (!c.fits(n, s, memoryMiB)) continue
    feasible.push(n)
    const v = policy.score(n, s)
    if (v > best) {
      best = v
      node = n
    }
  }
  if (policy.pick && feasible.length > 0) node = feasible[policy.pick(Int32Array.from(feasible), feasible.length)]
  return { node, gpu: node >= 0 && s.kind === 'share' ? policy.gpu(node, s) : -1 }
}

function place(c: SimCluster, n: number, s: PodShape, gpu = -1): void {
  c.place(n, s, 0, s.kind === 'share' && gpu < 0 ? c.gpuStart[n] : gpu)
}

test('dotprod: the smallest dot product of free and requested (CPU, GPU) wins', () => {
  const { cluster, make } = setup([node('big', 8, 64000), node('small', 1, 8000)])
  const pod = shape(4000, 1, 1000)
  // big: 100·(1 − (0.5·0.03125 + 1·0.125)/2) = 92.97; small: 100·(1 − (0.0625·0.03125 + 0.125·0.125)/2) = 99.12.
  assert.deepEqual([dotProductScore(cluster, 0, pod), dotProductScore(cluster, 1, pod)], [92, 99])
  assert.equal(choose(cluster, make('dotprod'), pod).node, 1)
})

test('clustering: nodes running only the same GPU kind, then mixed, then idle, then other kinds', () => {
  const { cluster, make } = setup([node('share', 2), node('whole', 2), node('idle', 2), node('mixed', 8)])
  const share = shape(1000, 1, 300)
  const whole = shape(1000, 1, 1000)
  place(cluster, 0, share)
  place(cluster, 1, whole)
  place(cluster, 3, share)
  place(cluster, 3, whole)
  // base ⌊25·(8000 − free milli)/8000⌋: share node 1700 free → 19, whole node 1000 → 21, idle 2000 →
  // 18, mixed 6700 → 4; then + 75 (only the pod's kind), 0 (only others), 25 (idle), 50 (both).
  assert.deepEqual([0, 1, 2, 3].map((n) => clusteringScore(cluster, n, share)), [19 + 75, 21 + 0, 18 + 25, 4 + 50])
  assert.equal(choose(cluster, make('clustering'), share).node, 0)
  assert.equal(choose(cluster, make('clustering'), whole).node, 1)
  assert.equal(choose(cluster, make('clustering'), shape(1000, 2, 1000)).node, 2, 'a 2-GPU pod prefers the idle node to nodes of other kinds')
  assert.equal(clusteringScore(cluster, 3, shape(1000, 0, 0)), 0, 'CPU-only pods score 0 everywhere')
})

test('packing: partly used GPUs first, then used nodes, then the smallest idle node', () => {
  const { cluster, make } = setup([node('idle8', 8), node('idle2', 2), node('used', 4)])
  const share = shape(1000, 1, 400)
  const whole = shape(1000, 1, 1000)
  assert.deepEqual([packingScore(cluster, 0, whole), packingScore(cluster, 1, whole)], [25, 31])
  assert.equal(choose(cluster, make('packing'), share).node, 1, 'an idle 2-GPU node beats an idle 8-GPU node')
  place(cluster, 2, shape(1000, 1, 500))
  // used: the share fits the GPU with 500 free: 100 − ⌊⌊500·100/1000⌋/10⌋ = 95.
  assert.equal(packingScore(cluster, 2, share), 95)
  assert.deepEqual(choose(cluster, make('packing'), share), { node: 2, gpu: cluster.gpuStart[2] })
  assert.equal(packingScore(cluster, 2, whole), 49)
  assert.equal(choose(cluster, make('packing'), whole).node, 2)
})

test('bestfit: the least leftover CPU and GPU wins; the tightest GPU inside the node', () => {
  const { cluster, make } = setup([node('roomy', 8, 96000), node('tight', 2, 16000)])
  const share = shape(2000, 1, 300)
  assert.ok(bestFitScore(cluster, 1, share) > bestFitScore(cluster, 0, share))
  place(cluster, 0, shape(1000, 1, 600))
  place(cluster, 0, shape(1000, 1, 200), cluster.gpuStart[0] + 1)
  // GPU 0 has 400 free, GPU 1 800, the others 1000: the tightest that fits 300 is GPU 0.
  assert.equal(make('bestfit').gpu(0, share), cluster.gpuStart[0])
})

test('fgd: the node and GPU where the target workload fragments least', () => {
  const { cluster, make } = setup([node('fresh', 2), node('partly', 2)])
  place(cluster, 1, shape(1000, 1, 400), cluster.gpuStart[1] + 1) // partly: [1000, 600], F = 600
  const share = shape(1000, 1, 500)
  // fresh GPU 0 → [500, 1000]: Δ = +500, score ⌊100·σ(−0.5)⌋ = 37; partly GPU 1 → [1000, 100]: Δ = −500, score 62.
  const fgd = make('fgd')
  assert.deepEqual([fgd.score(0, share), fgd.score(1, share)], [37, 62])
  assert.deepEqual(choose(cluster, fgd, share), { node: 1, gpu: cluster.gpuStart[1] + 1 })
})

test('ties go to the lowest node index (the tie-break rank) for every scored policy', () => {
  for (const name of ['dotprod', 'clustering', 'packing', 'bestfit', 'fgd', 'gpuplane'] as const) {
    const { cluster, make } = setup([node('a', 4), node('b', 4), node('c', 4)])
    assert.equal(choose(cluster, make(name), shape(2000, 1, 1000)).node, 0, name)
  }
})

test('random: only feasible nodes, reproducible per seed, spread over them', () => {
  const { cluster, make } = setup([node('full', 1), node('a', 2), node('b', 2), node('cpu', 0)])
  place(cluster, 0, shape(1000, 1, 1000))
  const pod = shape(1000, 1, 1000)
  const picks = (seed: number) => {
    const p = make('random', seed)
    return Array.from({ length: 40 }, () => choose(cluster, p, pod).node)
  }
  assert.ok(picks(1).every((n) => n === 1 || n === 2))
  assert.deepEqual(picks(5), picks(5))
  assert.deepEqual(new Set(picks(1)), new Set([1, 2]))
  assert.equal(choose(cluster, make('random'), shape(1000, 0, 0)).node >= 0, true)
})

test('hard filters: memory, CPU, GPU model, whole free GPUs for multi-GPU pods', () => {
  const all = ['G2', 'T4']
  const { cluster } = setup([node('g2', 4, 16000, 'G2', 1000), node('t4', 2, 64000, 'T4')])
  assert.equal(cluster.fits(0, shape(1000, 1, 500), 2000), false, 'memory')
  assert.equal(cluster.fits(0, shape(20000, 1, 500), 0), false, 'CPU')
  assert.equal(cluster.fits(0, shape(1000, 1, 500, { models: ['T4'], all }), 0), false, 'model')
  assert.equal(cluster.fits(1, shape(1000, 1, 500, { models: ['T4'], all }), 0), true)
  assert.equal(cluster.fits(1, shape(1000, 0, 0, { models: ['G2'], all }), 0), true, 'CPU-only pods ignore gpu_spec')
  place(cluster, 0, shape(1000, 1, 100))
  assert.equal(cluster.fits(0, shape(1000, 4, 1000), 0), false, 'a partly used GPU is not free for a whole-GPU pod')
  assert.equal(cluster.fits(0, shape(1000, 3, 1000), 0), true)
})

test('gpuplane: CPU-heavy pods avoid nodes whose CPU its GPUs still need; ratios and model pressure', () => {
  const gpuPod = shape(12000, 1, 1000, { memoryMiB: 40960 })
  const cpuPod = shape(60000, 0, 0)
  const mix = workloadMixFromCounts([{ task: gpuPod.task, count: 1 }])
  const { cluster, make } = setup([node('gpu-rich', 8, 96000), node('cpu-rich', 8, 400000)], mix, [gpuPod, cpuPod])
  // FGD sees no change on either node (12 CPUs still fit the typical pod): the tie goes to node 0,
  // whose GPUs then keep only 36 CPUs for 8 GPUs. gpuplane counts 5 GPUs stranded there.
  assert.equal(choose(cluster, make('fgd'), cpuPod).node, 0)
  assert.equal(choose(cluster, make('gpuplane'), cpuPod).node, 1)
  assert.deepEqual(demandRatios([{ shape: gpuPod, count: 3 }, { shape: cpuPod, count: 9 }]), { cpuPerGpuMilli: 12, memoryMiBPerGpuMilli: 40.96 })

  const all = ['G2', 'T4']
  const { cluster: c2 } = setup([node('g2', 8), node('t4a', 2, 64000, 'T4'), node('t4b', 2, 64000, 'T4')])
  // T4-only pods need 3 of the 4 T4 GPUs; pods that may run on G2 or T4 spread 1 GPU by capacity (8:4).
  const pressure = modelPressure(c2, [
    { shape: shape(1000, 1, 1000, { models: ['T4'], all }), count: 3 },
    { shape: shape(1000, 1, 1000, { models: ['G2', 'T4'], all }), count: 3 },
    { shape: shape(1000, 1, 1000), count: 100 },
  ])
  assert.deepEqual([...pressure].map((x) => Math.round(x * 1000) / 1000), [0.25, 1])
})
