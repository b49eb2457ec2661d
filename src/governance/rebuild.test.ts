import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeTokenPolicies, type TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { MemoryCounters } from './counters-memory.ts'
import { countersFromLedger, type UsageRecord } from './rebuild.ts'
import { WINDOW_TTL_SLACK_SECONDS } from './windows.ts'

const NOW = Date.parse('2026-11-26T13:45:30Z')
const policies: TokenPolicy[] = decodeTokenPolicies(`apiVersion: gpuplane.io/v1alpha1
kind: TokenPolicy
metadata: {name: ns-wide, namespace: team-a}
spec: {limits: [{window: day, tokens: 1000000, cost: 10}, {window: minute, requests: 100}]}
---
apiVersion: gpuplane.io/v1alpha1
kind: TokenPolicy
metadata: {name: bot, namespace: team-a}
spec: {selector: {agent: bot}, mode: soft, limits: [{window: month, tokens: 5000000}]}
`).map((d) => d.policy)

const record = (time: string, agent: string, prompt: number, completion: number, extra: Partial<UsageRecord> = {}): UsageRecord => ({
  time: Date.parse(time),
  namespace: 'team-a',
  agent,
  model: 'm',
  promptTokens: prompt,
  completionTokens: completion,
  costMicro: prompt + 2 * completion,
  ...extra,
})

test("counters are the sums of the ledger's records inside each current window, per covering policy", () => {
  const records = [
    record('2026-11-26T13:45:10Z', 'bot', 100, 50), // this minute, day, month
    record('2026-11-26T09:00:00Z', 'other', 10, 5), // this day and month
    record('2026-11-25T23:59:59Z', 'bot', 1000, 1000), // yesterday: this month only (bot's policy)
    record('2026-10-31T12:00:00Z', 'bot', 7, 7), // last month: nothing
    record('2026-11-26T13:45:20Z', 'bot', 0, 0, { requests: 0 }), // released before the upstream
    record('2026-11-26T13:45:25Z', 'bot', 1, 1, { namespace: 'team-b' }), // another namespace: no policy here
  ]
  const entries = countersFromLedger(records, policies, NOW)
  const byKey = Object.fromEntries(entries.map((e) => [e.key, e.value]))
  assert.deepEqual(byKey, {
    'tp/team-a/bot/0/tokens/2026-11-01T00:00:00Z': 150 + 2000,
    'tp/team-a/ns-wide/0/tokens/2026-11-26T00:00:00Z': 150 + 15,
    'tp/team-a/ns-wide/0/cost/2026-11-26T00:00:00Z': 200 + 20,
    'tp/team-a/ns-wide/1/requests/2026-11-26T13:45:00Z': 1,
  })
  const minute = entries.find((e) => e.key.includes('/requests/'))
  assert.equal(minute?.ttlSeconds, 30 + WINDOW_TTL_SLACK_SECONDS)
})

test('rebuilding raises lost counters and keeps those that hold more (reservations in flight)', async () => {
  const counters = new MemoryCounters(() => NOW)
  await counters.adjust([{ key: 'tp/team-a/ns-wide/0/tokens/2026-11-26T00:00:00Z', delta: 900, ttlSeconds: 60 }])
  await counters.rebuild(countersFromLedger([record('2026-11-26T13:45:10Z', 'x', 100, 50)], policies, NOW))
  assert.deepEqual(await counters.get(['tp/team-a/ns-wide/0/tokens/2026-11-26T00:00:00Z', 'tp/team-a/ns-wide/0/cost/2026-11-26T00:00:00Z', 'tp/team-a/ns-wide/1/requests/2026-11-26T13:45:00Z']), [900, 200, 1])
})
