import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import { Redis } from 'ioredis'
import { isGpuplaneError } from '../../common/errors.ts'
import { countersContract } from '../../governance/counters.contract.ts'
import type { Counters } from '../../governance/counters.ts'
import { ADJUST_DELAY_MS, RedisCounters } from './counters.ts'

const URL = process.env.GPUPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379'
const RUN = `gpuplane-test:${randomBytes(6).toString('hex')}:`
const made: Counters[] = []
let spaces = 0

async function connect(prefix: string): Promise<RedisCounters> {
  const c = await RedisCounters.connect(URL, { prefix })
  made.push(c)
  return c
}

/** Deletes every key of this test run. */
async function removeRunKeys(): Promise<number> {
  const admin = new Redis(URL)
  let removed = 0
  try {
    let cursor = '0'
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${RUN}*`, 'COUNT', 1000)
      if (keys.length > 0) removed += await admin.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    admin.disconnect()
  }
  return removed
}

after(async () => {
  await Promise.all(made.map((c) => c.close()))
  await removeRunKeys()
})

countersContract(
  'Redis',
  {
    make: () => connect(`${RUN}${spaces++}:`),
    replicas: async (n) => {
      const prefix = `${RUN}${spaces++}:`
      return Promise.all(Array.from({ length: n }, () => connect(prefix)))
    },
  },
  { propertyRuns: Number(process.env.PROPERTY_RUNS ?? 60) },
)

test('Redis keys get their TTL from the increment that creates them; later increments, adjust and rebuild keep it; keys live under the prefix', async () => {
  const prefix = `${RUN}ttl:`
  const c = await connect(prefix)
  const admin = new Redis(URL)
  const ttlOf = (key: string) => admin.ttl(`${prefix}${key}`)
  try {
    await c.reserve([{ key: 'tp/x/0', amount: 3, limit: 10, ttlSeconds: 120 }])
    const ttl = await ttlOf('tp/x/0')
    assert.ok(ttl > 110 && ttl <= 120, `ttl ${ttl}`)
    // The key names its window: a later request's TTL (its window end seen from later) does not move it.
    await c.reserve([{ key: 'tp/x/0', amount: 1, limit: 10, ttlSeconds: 5000 }])
    await c.adjust([{ key: 'tp/x/0', delta: -1, ttlSeconds: 5000 }])
    await c.rebuild([{ key: 'tp/x/0', value: 9, ttlSeconds: 5000 }])
    const after = await ttlOf('tp/x/0')
    assert.ok(after > 110 && after <= 120, `ttl ${after} after increment, adjust and rebuild`)
    assert.equal(await admin.get(`${prefix}tp/x/0`), '9')
    // Taking away more than it holds leaves 0, still expiring.
    assert.deepEqual(await c.adjust([{ key: 'tp/x/0', delta: -50, ttlSeconds: 5000 }]), [0])
    assert.equal(await admin.get(`${prefix}tp/x/0`), '0')
    const floored = await ttlOf('tp/x/0')
    assert.ok(floored > 110 && floored <= 120, `ttl ${floored} after an adjust below 0`)
    await c.adjust([{ key: 'created', delta: 4, ttlSeconds: 30 }])
    const created = await ttlOf('created')
    assert.ok(created > 20 && created <= 30, `ttl ${created} of a key created by adjust`)
    // A negative or zero delta on an absent key creates nothing (no key without a TTL is left).
    assert.deepEqual(await c.adjust([{ key: 'absent', delta: -4, ttlSeconds: 30 }, { key: 'absent0', delta: 0, ttlSeconds: 30 }]), [0, 0])
    assert.equal(await admin.exists(`${prefix}absent`, `${prefix}absent0`), 0)
  } finally {
    admin.disconnect()
  }
})

test('integers past 14 digits cross the Lua boundary exactly', async () => {
  const c = await connect(`${RUN}big:`)
  const big = 2 ** 50 + 12_345
  const r = await c.reserve([{ key: 'k', amount: big, limit: 2 ** 51, ttlSeconds: 60 }])
  assert.deepEqual(r, { ok: true, units: 0, amounts: [big], values: [big] })
  assert.deepEqual(await c.adjust([{ key: 'k', delta: -12_345, ttlSeconds: 60 }]), [2 ** 50])
  await c.rebuild([{ key: 'k', value: 2 ** 50 + 1, ttlSeconds: 60 }])
  assert.deepEqual(await c.get(['k']), [2 ** 50 + 1])
})

test('an unreachable Redis is UNAVAILABLE, at connect and for commands after it goes away, without hanging', async () => {
  const started = performance.now()
  await assert.rejects(RedisCounters.connect('redis://:secret@127.0.0.1:1', { connectTimeoutMs: 500 }), (e) => {
    assert.ok(isGpuplaneError(e) && e.code === 'UNAVAILABLE', String(e))
    assert.ok(!e.message.includes('secret'), 'the password is not in the message')
    return true
  })
  const c = await RedisCounters.connect(URL, { prefix: `${RUN}down:`, onError: () => {} })
  await c.close()
  await assert.rejects(c.reserve([{ key: 'k', amount: 1, limit: 5, ttlSeconds: 60 }]), (e) => isGpuplaneError(e) && e.code === 'UNAVAILABLE')
  await assert.rejects(c.adjust([{ key: 'k', delta: -1, ttlSeconds: 60 }]), (e) => isGpuplaneError(e) && e.code === 'UNAVAILABLE')
  await assert.rejects(c.get(['k']), (e) => isGpuplaneError(e) && e.code === 'UNAVAILABLE')
  assert.ok(performance.now() - started < 3000, 'failures are fast')
})

test('an adjustment waits at most ADJUST_DELAY_MS for company, rides with a reservation asked meanwhile, and close() sends it rather than dropping it', async () => {
  const prefix = `${RUN}delay:`
  const c = await RedisCounters.connect(URL, { prefix })
  const admin = new Redis(URL)
  try {
    await c.reserve([{ key: 'k', amount: 10, limit: 100, ttlSeconds: 60 }])
    // Alone: applied within the delay (and its promise says so).
    const started = performance.now()
    assert.deepEqual(await c.adjust([{ key: 'k', delta: -4, ttlSeconds: 60 }]), [6])
    assert.ok(performance.now() - started < ADJUST_DELAY_MS + 200, 'not held past the delay')
    // Asked before a reservation: applied before it, in the same call.
    const adjusted = c.adjust([{ key: 'k', delta: -6, ttlSeconds: 60 }])
    const reserved = await c.reserve([{ key: 'k', amount: 95, limit: 100, ttlSeconds: 60 }])
    assert.equal(reserved.ok, true, 'the reservation saw the adjustment asked before it')
    assert.deepEqual(await adjusted, [0])
    // Waiting when the counters close: sent, not lost.
    const last = c.adjust([{ key: 'k', delta: -5, ttlSeconds: 60 }])
    await c.close()
    assert.deepEqual(await last, [90])
    assert.equal(await admin.get(`${prefix}k`), '90')
  } finally {
    admin.disconnect()
  }
})
