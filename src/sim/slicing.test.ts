// Tests of --slicing: MIG profile rounding and placements, equal-size vGPUs, the catalog mapping and its assumptions.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GpuplaneError } from '../common/errors.ts'
import { createSlicer } from './slicing.ts'

test('mig: a share takes the smallest profile whose compute and memory both reach it', () => {
  const { slicer, described } = createSlicer('mig', ['G2'], 1)
  assert.deepEqual(described, [{ model: 'G2', catalogModel: 'A100-80GB', profiles: ['1g.10gb', '1g.20gb', '2g.20gb', '3g.40gb', '4g.40gb', '7g.80gb'], assumption: "no MIG of its own in the catalog: given A100-80GB's geometry" }])
  // held = 1000 − ⌊1000·min(free memory slices/8, free compute slices/7)⌋ on an empty GPU.
  const held = [50, 125, 140, 250, 300, 470, 500, 810, 1000].map((milli) => slicer.held(milli, 0))
  // 1g.10gb (1/8, 1/7) ×2, 1g.20gb (2/8, 1/7), 2g.20gb (2/8, 2/7), 3g.40gb (4/8, 3/7), 4g.40gb (4/8, 4/7) ×2, 7g ×2.
  assert.deepEqual(held, [143, 143, 250, 286, 500, 572, 572, 1000, 1000])
})

test('mig: instances go to free legal positions; compute and memory slices run out', () => {
  const { slicer } = createSlicer('mig', ['G2'], 2)
  for (let i = 0; i < 7; i++) assert.ok(slicer.fits(0, 100, 0), `1g.10gb #${i + 1}`)
  let free = 0
  for (let i = 0; i < 7; i++) free = slicer.take(0, 100, 0)
  assert.equal(free, 0, 'seven 1g instances use every compute slice')
  assert.equal(slicer.fits(0, 100, 0), false)
  // 4g.40gb takes slices 0–3; 3g.40gb still fits at 4–7; then nothing does.
  assert.equal(slicer.take(1, 470, 0), 428)
  assert.equal(slicer.fits(1, 470, 0), false, 'a second 4g has no legal position')
  assert.equal(slicer.take(1, 300, 0), 0)
  assert.equal(slicer.fits(1, 50, 0), false)
})

test('mig: a catalog model with MIG of its own is used as it is (--gpu-model); unknown models are errors', () => {
  const { described } = createSlicer('mig', ['G2', 'T4'], 1, { G2: 'A100-40GB' })
  assert.deepEqual(described[0], { model: 'G2', catalogModel: 'A100-40GB', profiles: ['1g.5gb', '1g.10gb', '2g.10gb', '3g.20gb', '4g.20gb', '7g.40gb'] })
  assert.match(described[1].assumption ?? '', /no MIG of its own/)
  assert.throws(() => createSlicer('mig', ['G2'], 1, { G2: 'Z9000' }), (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT' && /unknown catalog GPU model "Z9000"/.test(e.message))
})

test('vgpu: equal-size splits from the catalog (T4: 1, 2, 4), a GPU keeps one size, others split 1/2/4/8', () => {
  const { slicer, described } = createSlicer('vgpu', ['G2', 'T4'], 3)
  assert.deepEqual(described, [
    { model: 'G2', profiles: ['1/1', '1/2', '1/4', '1/8'], assumption: 'no vGPU profiles in the catalog: split into 1, 2, 4, 8' },
    { model: 'T4', catalogModel: 'T4-16GB', profiles: ['1/1', '1/2', '1/4'] },
  ])
  assert.deepEqual([slicer.held(470, 1), slicer.held(200, 1), slicer.held(110, 1), slicer.held(110, 0), slicer.held(600, 1)], [500, 250, 250, 125, 1000])
  assert.equal(slicer.take(0, 470, 1), 500, 'the GPU is now split in halves')
  assert.equal(slicer.fits(0, 200, 1), false, 'a quarter cannot join halves')
  assert.equal(slicer.fits(0, 300, 1), true)
  assert.equal(slicer.take(0, 300, 1), 0)
  assert.equal(slicer.fits(0, 300, 1), false)
  assert.equal(slicer.take(1, 1000, 1), 0, 'a whole GPU')
  assert.equal(slicer.fits(2, 200, 1), true, 'an unused GPU takes any size')
})
