// The agent's send queue: batches keep their seq and samples until acknowledged, the buffer drops the oldest unsent samples when full (never the batch in flight), backoff stays in bounds.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { backoffMs, SampleBuffer } from './agent-buffer.ts'
import type { UtilizationSample } from './types.ts'

const s = (time: number): UtilizationSample => ({ time, node: 'n', device: 'gpu-0', smUtil: 1, memUsedBytes: 0, memTotalBytes: 1 })
const times = (b: { samples: UtilizationSample[] } | undefined) => b?.samples.map((x) => x.time)

describe('SampleBuffer', () => {
  it('retries the same batch until it is acknowledged, then cuts the next with the next seq', () => {
    const b = new SampleBuffer(10, 2)
    b.push([s(1), s(2), s(3)])
    const first = b.next()
    assert.deepEqual([first?.seq, times(first)], [1, [1, 2]], 'first batch')
    b.push([s(4)])
    assert.deepEqual(b.next(), first, 'a retry is the same batch')
    b.ack(1)
    const second = b.next()
    assert.deepEqual([second?.seq, times(second)], [2, [3, 4]], 'next batch')
    b.ack(2)
    assert.equal(b.next(), undefined, 'empty')
  })

  it('drops the oldest pending samples when full, never the batch in flight, and counts them', () => {
    const b = new SampleBuffer(4, 2)
    b.push([s(1), s(2)])
    b.next()
    assert.equal(b.push([s(3), s(4), s(5), s(6)]), 2, 'two dropped')
    assert.equal(b.dropped, 2, 'counted')
    assert.deepEqual(times(b.next()), [1, 2], 'the batch in flight kept')
    b.ack(1)
    assert.deepEqual(times(b.next()), [5, 6], 'the newest pending kept')
  })

  it('never holds more than its capacity, and every sample is sent or dropped exactly once (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 7 }).map((n) => ({ push: n })), fc.constant({ send: true }), fc.constant({ fail: true }))), (ops) => {
        const b = new SampleBuffer(8, 3)
        let t = 0
        const sent: number[] = []
        for (const op of ops) {
          if ('push' in op) b.push(Array.from({ length: op.push }, () => s(t++)))
          else {
            const batch = b.next()
            if (batch && 'send' in op) {
              sent.push(...times(batch)!)
              b.ack(batch.seq)
            }
          }
          assert.ok(b.size <= 8, 'within capacity')
        }
        for (let batch = b.next(); batch; batch = b.next()) {
          sent.push(...times(batch)!)
          b.ack(batch.seq)
        }
        assert.equal(sent.length + b.dropped, t, 'sent + dropped = pushed')
        assert.deepEqual(sent, [...sent].sort((x, y) => x - y), 'sent in order')
        assert.equal(new Set(sent).size, sent.length, 'none twice')
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 100) },
    )
  })

  it('backs off exponentially with jitter, between the base and the cap', () => {
    assert.equal(backoffMs(0, () => 1), 500, 'first retry at the base')
    assert.equal(backoffMs(3, () => 1), 4000, '0.5 s x 2^3')
    assert.equal(backoffMs(20, () => 1), 30_000, 'capped at 30 s')
    assert.equal(backoffMs(20, () => 0), 500, 'jitter down to the base')
  })
})
