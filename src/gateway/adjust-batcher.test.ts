// AdjustBatcher: reconciliations of one event-loop turn go out as one adjust call with same-sign deltas summed; mixed signs and lone requests go out as they are; failures reach every caller.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AdjustItem, Counters } from '../governance/counters.ts'
import { MemoryCounters } from '../governance/counters-memory.ts'
import { AdjustBatcher } from './adjust-batcher.ts'

/** MemoryCounters that record each adjust call (and can be made to fail). */
function recording(fail = false): { counters: Counters; calls: AdjustItem[][]; memory: MemoryCounters } {
  const memory = new MemoryCounters(() => 0)
  const calls: AdjustItem[][] = []
  const counters = Object.assign(Object.create(memory) as MemoryCounters, {
    adjust(items: readonly AdjustItem[]) {
      calls.push(items.map((i) => ({ ...i })))
      return fail ? Promise.reject(new Error('redis down')) : memory.adjust(items)
    },
  })
  return { counters, calls, memory }
}

const item = (key: string, delta: number, ttlSeconds = 60): AdjustItem => ({ key, delta, ttlSeconds })

test('releases settled in one turn go out as one call, deltas summed per key, with the same end values', async () => {
  const { counters, calls, memory } = recording()
  await memory.reserve([{ key: 'a', amount: 100, ttlSeconds: 60 }, { key: 'b', amount: 10, ttlSeconds: 60 }])
  const batcher = new AdjustBatcher(counters)
  await Promise.all([batcher.adjust([item('a', -30), item('b', -2)]), batcher.adjust([item('a', -20, 90)]), batcher.adjust([item('b', -20)])])
  assert.deepEqual(calls, [[item('a', -50, 90), item('b', -22)]], 'one call, summed, the longest TTL')
  assert.deepEqual(await memory.get(['a', 'b']), [50, 0], 'b clamps at 0 as it would applied piecewise')
})

test('a key with deltas of both signs: each request adjusts on its own, in order', async () => {
  const { counters, calls } = recording()
  const batcher = new AdjustBatcher(counters)
  await Promise.all([batcher.adjust([item('a', -5)]), batcher.adjust([item('a', 7)])])
  assert.deepEqual(calls, [[item('a', -5)], [item('a', 7)]])
})

test('a lone request goes out unchanged; later turns make later calls', async () => {
  const { counters, calls } = recording()
  const batcher = new AdjustBatcher(counters)
  await batcher.adjust([item('a', 3), item('b', -1)])
  await batcher.adjust([item('a', -1)])
  assert.deepEqual(calls, [[item('a', 3), item('b', -1)], [item('a', -1)]])
})

test('a failed call rejects every request of the batch', async () => {
  const { counters } = recording(true)
  const batcher = new AdjustBatcher(counters)
  const results = await Promise.allSettled([batcher.adjust([item('a', -1)]), batcher.adjust([item('a', -2)])])
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
    'each settlement sees the failure (and logs it)',
  )
})
