// Tests of idle classification: the real H200 series (a burst, then 20 GB held at 0%), a generated 2-hour series under the default policy, and the Namespace idle policy's validation and defaults.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { decodeNamespaces, parseDuration, resolveIdlePolicy } from '../api/namespace-v1alpha1.ts'
import { attribute } from './attribution.ts'
import { classifyIdle, seriesOf, type IdleState } from './idle.ts'
import type { AllocationInterval, UtilizationSample } from './types.ts'

const H200_CSV = new URL('../../test/fixtures/nvidia-smi/h200-passthrough/util-under-load.csv', import.meta.url)
const MiB = 1024 * 1024

/** Minimal reader of `nvidia-smi --query-gpu=timestamp,index,utilization.gpu,utilization.memory,memory.used,memory.total,... --format=csv` (timestamps read as UTC). */
function readQueryCsv(text: string, node: string): UtilizationSample[] {
  const [header, ...rows] = text.trim().split('\n')
  assert.match(header!, /^timestamp, index, utilization.gpu/, 'the fixture has the expected columns')
  return rows.map((line) => {
    const [ts, index, gpu, , used, total, power] = line.split(',').map((f) => f.trim())
    const time = Date.parse(`${ts!.replaceAll('/', '-').replace(' ', 'T')}Z`)
    return { time, node, device: `gpu-${index}`, uuid: 'GPU-247420ef-5061-c4d8-5cb1-c933f0299a49', smUtil: parseFloat(gpu!), memUsedBytes: parseFloat(used!) * MiB, memTotalBytes: parseFloat(total!) * MiB, powerWatts: parseFloat(power!) }
  })
}

/** The distinct states one after another (busy, busy, idle → busy, idle). */
function transitions(states: IdleState[]): string[] {
  return states.map((s) => s.state).filter((s, i, all) => i === 0 || all[i - 1] !== s)
}

describe('the real H200 series', () => {
  const samples = readQueryCsv(readFileSync(H200_CSV, 'utf8'), 'h200')
  // The workload holds the GPU from its first sample with memory in use (its process started):
  // before that the GPU held nothing, and those samples are nobody's.
  const start = samples.find((s) => s.memUsedBytes >= 100 * MiB)!.time
  const holding: AllocationInterval = { node: 'h200', device: 'gpu-0', gpuModel: 'H200-141GB', namespace: 'team-a', workload: 'matmul', share: 1, gpuUuid: samples[0]!.uuid, from: start }
  const attributed = attribute(samples, [holding])
  const mine = attributed.filter((s) => s.workload === 'matmul')
  // A 2 s window suits the 12 s series sampled every 200 ms (the 30 m default is tried on a generated series below).
  const policy = { smUtilBelow: 5, forMs: 2000 }
  const options = (now: number) => ({ now, maxGapMs: 1000, staleMs: 1000 })

  it('charges the samples before the process started to nobody', () => {
    assert.equal(attributed.length, samples.length, 'one attributed sample per reading (one holder at most)')
    assert.equal(attributed.filter((s) => s.namespace === undefined).length, 15, 'the 15 readings before memory was in use are unallocated')
  })

  it('is busy through the burst, then idle since the burst ended', () => {
    const states = mine.map((s) => classifyIdle(seriesOf(mine), policy, options(s.time)))
    assert.deepEqual(transitions(states), ['busy', 'idle'], 'busy then idle, never back')
    const last = states[states.length - 1]!
    assert.equal(last.state, 'idle', 'idle at the end of the series')
    const burstEnd = mine.find((s, i) => i > 0 && s.smUtil === 0 && mine[i - 1]!.smUtil === 100)!.time
    assert.equal(last.state === 'idle' && last.since, burstEnd, 'idle since the first 0% reading after the burst (14:13:08.406)')
    assert.equal(new Date(burstEnd).toISOString(), '2026-11-26T14:13:08.406Z', 'the burst ends where the fixture says')
    // Holding 20 GB does not make it busy: memory is not use.
    assert.ok(mine.some((s) => s.memUsedBytes > 19_000 * MiB && s.smUtil === 0), 'the series holds 20 GB at 0%')
  })

  it('is busy (not yet idle) during the first low second, and unknown once the samples stop', () => {
    const early = classifyIdle(seriesOf(mine), policy, options(start + 500))
    assert.equal(early.state, 'busy', `half a second of 0% after the start is not idle yet: ${JSON.stringify(early)}`)
    const after = classifyIdle(seriesOf(mine), policy, options(mine[mine.length - 1]!.time + 5000))
    assert.equal(after.state, 'unknown', 'no samples for 5 s: unknown, never idle')
  })
})

describe('a generated 2-hour series under the default policy (5% for 30 minutes)', () => {
  const policy = resolveIdlePolicy({})
  const t0 = Date.UTC(2026, 10, 1)
  const STEP = 10_000
  // An hour of training (60–100%), then an hour at 0–3%, one sample every 10 s.
  const series = Array.from({ length: 720 }, (_, i) => ({ time: t0 + i * STEP, util: i < 360 ? 60 + ((i * 37) % 41) : (i * 7) % 4 }))
  const at = (ms: number) => classifyIdle(series, policy, { now: t0 + ms })

  it('has the documented defaults', () => {
    assert.deepEqual(policy, { smUtilBelow: 5, forMs: 30 * 60_000, action: 'flag', gracePeriodMs: 10 * 60_000, reclaim: 'preempt' }, 'defaults')
  })

  it('is busy for the first 90 minutes and idle since the 60th after', () => {
    assert.equal(at(30 * 60_000).state, 'busy', 'training')
    const low = at(80 * 60_000)
    assert.deepEqual(low, { state: 'busy', lastBusy: t0 + 359 * STEP, lowSince: t0 + 360 * STEP }, '20 minutes low is not 30')
    const idle = at(120 * 60_000 - STEP)
    assert.deepEqual(idle, { state: 'idle', since: t0 + 360 * STEP, idleMs: 359 * STEP }, 'idle since the end of training')
    const states = series.map((p) => classifyIdle(series, policy, { now: p.time }))
    assert.deepEqual(transitions(states), ['busy', 'idle'], 'one transition')
    assert.equal(states.findIndex((s) => s.state === 'idle'), 360 + 180, 'idle exactly 30 minutes after the last busy sample')
  })

  it('does not count a gap in the samples as idle time', () => {
    const gapped = series.filter((p) => p.time < t0 + 95 * 60_000 || p.time > t0 + 105 * 60_000)
    const s = classifyIdle(gapped, policy, { now: t0 + 120 * 60_000 - STEP })
    assert.deepEqual(s.state === 'busy' && s.lowSince !== undefined && s.lowSince > t0 + 105 * 60_000, true, `a 10-minute gap restarts the window: ${JSON.stringify(s)}`)
    assert.equal(classifyIdle([], policy, { now: t0 }).state, 'unknown', 'no samples: unknown')
  })
})

describe('the Namespace idle policy', () => {
  const ns = (idle: string) => `apiVersion: gpuplane.io/v1alpha1\nkind: Namespace\nmetadata: {name: team-a}\nspec:\n  idle: ${idle}\n`

  it('decodes and resolves every field', () => {
    const [d] = decodeNamespaces(ns('{smUtilBelow: 10, for: 1h30m, action: reclaim, gracePeriod: 90s, reclaim: preempt}'))
    assert.deepEqual(resolveIdlePolicy(d!.namespace.spec.idle!), { smUtilBelow: 10, forMs: 90 * 60_000, action: 'reclaim', gracePeriodMs: 90_000, reclaim: 'preempt' }, 'resolved')
    assert.equal(parseDuration('500ms'), 500, 'ms')
    assert.equal(parseDuration('2h'), 7_200_000, 'h')
    assert.equal(parseDuration('30'), undefined, 'a bare number is not a duration')
  })

  it('refuses bad values at their field path, and says shrink is not implemented', () => {
    const cases: Array<[string, RegExp, string]> = [
      ['{smUtilBelow: 0}', /above 0/, 'spec.idle.smUtilBelow'],
      ['{for: 30}', /not a duration/, 'spec.idle.for'],
      ['{for: 1ms}', /from 1s to 720h/, 'spec.idle.for'],
      ['{action: kill}', /flag|reclaim/, 'spec.idle.action'],
      ['{action: reclaim, reclaim: shrink}', /shrink .* not implemented/, 'spec.idle.reclaim'],
      ['{gracePeriod: 10m}', /only to action: reclaim/, 'spec.idle.gracePeriod'],
      ['{every: 5m}', /every/, 'spec.idle'],
    ]
    for (const [idle, message, path] of cases) {
      const e = expectGpuplaneError(() => decodeNamespaces(ns(idle), 'ns.yaml'))
      assert.match(e.message, message, `${idle}: ${e.message}`)
      assert.ok((e.location.path ?? '').startsWith(path), `${idle}: path ${e.location.path} starts with ${path}`)
    }
  })
})
