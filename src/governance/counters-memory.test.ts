import assert from 'node:assert/strict'
import { test } from 'node:test'
import { countersContract } from './counters.contract.ts'
import { MemoryCounters } from './counters-memory.ts'

const clock = { now: Date.UTC(2026, 10, 26, 12, 0, 0) }

countersContract(
  'in-process',
  {
    make: async () => new MemoryCounters(() => clock.now),
    replicas: async (n) => {
      // Replicas of one process share its counters: the same instance n times.
      const c = new MemoryCounters(() => clock.now)
      return Array.from({ length: n }, () => c)
    },
  },
  { propertyRuns: Number(process.env.PROPERTY_RUNS ?? 300) },
)

test('keys expire ttlSeconds after their last increment; adjust keeps the expiry; expired keys read 0', async () => {
  const t = { now: 0 }
  const c = new MemoryCounters(() => t.now)
  await c.reserve([{ key: 'k', amount: 5, limit: 10, ttlSeconds: 60 }])
  t.now = 59_000
  await c.adjust([{ key: 'k', delta: -2, ttlSeconds: 3600 }])
  assert.deepEqual(await c.get(['k']), [3])
  t.now = 60_000
  assert.deepEqual(await c.get(['k']), [0])
  // Expired: the limit applies to a fresh count.
  const r = await c.reserve([{ key: 'k', amount: 10, limit: 10, ttlSeconds: 60 }])
  assert.equal(r.ok, true)
  t.now = 100_000
  await c.reserve([{ key: 'k', amount: 0, limit: 10, ttlSeconds: 1 }])
  assert.deepEqual(await c.get(['k']), [10], 'a zero amount neither writes nor shortens the expiry')
})

test('expired keys of past windows are swept without being read again', async () => {
  const t = { now: 0 }
  const c = new MemoryCounters(() => t.now)
  for (let i = 0; i < 5000; i++) await c.reserve([{ key: `old-${i}`, amount: 1, ttlSeconds: 1 }])
  t.now = 10_000
  for (let i = 0; i < 5000; i++) await c.reserve([{ key: `new-${i}`, amount: 1, ttlSeconds: 60 }])
  const size = (c as unknown as { entries: Map<string, unknown> }).entries.size
  assert.ok(size <= 5000 + 4096, `${size} entries kept`)
})
