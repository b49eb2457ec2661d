import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { LIMIT_WINDOWS } from '../api/tokenpolicy-v1alpha1.ts'
import { costMicro, tokensCostMicro } from './cost.ts'
import { limitKey } from './policies.ts'
import { counterExpired, counterTtlSeconds, WINDOW_TTL_SLACK_SECONDS, windowLabel, windowSpan } from './windows.ts'

const at = (iso: string) => Date.parse(iso)

test('windows are the UTC minute, hour, day and calendar month of an instant', () => {
  const now = at('2026-11-26T13:45:30.250Z')
  assert.deepEqual(windowSpan('minute', now), { start: at('2026-11-26T13:45:00Z'), end: at('2026-11-26T13:46:00Z') })
  assert.deepEqual(windowSpan('hour', now), { start: at('2026-11-26T13:00:00Z'), end: at('2026-11-26T14:00:00Z') })
  assert.deepEqual(windowSpan('day', now), { start: at('2026-11-26T00:00:00Z'), end: at('2026-11-27T00:00:00Z') })
  assert.deepEqual(windowSpan('month', now), { start: at('2026-11-01T00:00:00Z'), end: at('2026-12-01T00:00:00Z') })
  assert.deepEqual(windowSpan('month', at('2026-12-31T23:59:59.999Z')), { start: at('2026-12-01T00:00:00Z'), end: at('2027-01-01T00:00:00Z') })
  assert.deepEqual(windowSpan('month', at('2028-02-29T12:00:00Z')), { start: at('2028-02-01T00:00:00Z'), end: at('2028-03-01T00:00:00Z') })
  // The first instant of a window belongs to it, the last millisecond before the end too.
  assert.equal(windowSpan('day', at('2026-11-27T00:00:00Z')).start, at('2026-11-27T00:00:00Z'))
  assert.equal(windowSpan('minute', at('2026-11-26T13:45:59.999Z')).start, at('2026-11-26T13:45:00Z'))
})

test('every instant lies in its window, and consecutive windows tile time', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.constantFrom(...LIMIT_WINDOWS), (now, w) => {
      const span = windowSpan(w, now)
      const next = windowSpan(w, span.end)
      return span.start <= now && now < span.end && next.start === span.end && windowSpan(w, span.end - 1).start === span.start
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 2000) },
  )
})

test('counter keys and TTLs: window start to the second in UTC; alive until the end plus slack', () => {
  const start = at('2026-11-26T00:00:00Z')
  assert.equal(windowLabel(start), '2026-11-26T00:00:00Z')
  assert.equal(limitKey('team-a', 'team-a-daily', 0, 'tokens', start), 'tp/team-a/team-a-daily/0/tokens/2026-11-26T00:00:00Z')
  const end = at('2026-11-27T00:00:00Z')
  assert.equal(counterTtlSeconds(end, end - 1500), 2 + WINDOW_TTL_SLACK_SECONDS)
  assert.equal(counterTtlSeconds(end, end + WINDOW_TTL_SLACK_SECONDS * 1000 + 5000), 1)
  assert.equal(counterExpired(end, end + WINDOW_TTL_SLACK_SECONDS * 1000 - 1), false)
  assert.equal(counterExpired(end, end + WINDOW_TTL_SLACK_SECONDS * 1000), true)
})

test('cost: whole micro-dollars, each part rounded up, exact far beyond 2^53 intermediate products', () => {
  const prices = { inputMicroPerMTok: 100_000, outputMicroPerMTok: 200_000 } // $0.10 and $0.20 per MTok
  assert.equal(costMicro(prices, 0, 0), 0)
  assert.equal(costMicro(prices, 1, 1), 2) // 0.1 µ$ and 0.2 µ$, each rounded up
  assert.equal(costMicro(prices, 10, 5), 2)
  assert.equal(costMicro(prices, 1_000_000, 1_000_000), 300_000)
  assert.equal(tokensCostMicro(10_000_000, 10_000_000_000), 100_000_000_000) // 10M tokens at $10,000/MTok = $100,000
  fc.assert(
    fc.property(fc.nat(100_000_000), fc.nat(10_000_000_000), (tokens, price) => {
      const exact = (BigInt(tokens) * BigInt(price) + 999_999n) / 1_000_000n
      return BigInt(tokensCostMicro(tokens, price)) === exact
    }),
  )
})
