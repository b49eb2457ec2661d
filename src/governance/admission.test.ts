import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeModels, type Model } from '../api/model-v1alpha1.ts'
import { decodeTokenPolicies, type TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { ISSUE_EXAMPLE } from '../../test/governance-example.ts'
import { decideAdmission, planAdmission, type AdmissionDecision, type AdmissionPlan } from './admission.ts'
import { costMicro } from './cost.ts'
import { MemoryCounters } from './counters-memory.ts'
import { reconcile, reservedUsage, usageFromText } from './reconcile.ts'
import { formatDuration } from './rejection.ts'
import { parseInferenceRequest, type Endpoint } from './requests.ts'
import { WINDOW_TTL_SLACK_SECONDS } from './windows.ts'

const NOW = Date.parse('2026-11-26T13:45:30Z')
const DAY = 'tp/team-a/team-a-daily/0/tokens/2026-11-26T00:00:00Z'
const MINUTE = 'tp/team-a/team-a-daily/1/requests/2026-11-26T13:45:00Z'
const [MODEL] = decodeModels(ISSUE_EXAMPLE).map((d) => d.model)
const EXAMPLE_POLICIES = decodeTokenPolicies(ISSUE_EXAMPLE).map((d) => d.policy)
/** The bound of HELLO: user(4) + Hello(5) + perMessage 8 + perRequest 256. */
const HELLO = { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 100 }
const HELLO_BOUND = 273

function policies(...specs: string[]): TokenPolicy[] {
  return specs.flatMap((spec, i) => decodeTokenPolicies(`apiVersion: gpuplane.io/v1alpha1\nkind: TokenPolicy\nmetadata: {name: p${i}, namespace: team-a}\nspec: ${spec}\n`).map((d) => d.policy))
}

interface PlanOptions {
  endpoint?: Endpoint
  agent?: string
  namespace?: string
  policies?: TokenPolicy[]
  model?: Model
  now?: number
  estimate?: number
}

function plan(body: object, o: PlanOptions = {}): AdmissionPlan {
  const request = parseInferenceRequest(o.endpoint ?? 'chat', { model: 'llama-3.1-8b', ...body })
  return planAdmission({
    request,
    model: o.model ?? MODEL,
    namespace: o.namespace ?? 'team-a',
    agent: o.agent ?? 'support-bot',
    policies: o.policies ?? EXAMPLE_POLICIES,
    now: o.now ?? NOW,
    promptEstimate: () => o.estimate ?? assert.fail('the estimate is only computed for soft policies'),
  })
}

async function admit(counters: MemoryCounters, p: AdmissionPlan, now = NOW): Promise<AdmissionDecision> {
  return decideAdmission(p, await counters.reserve(p.items, p.options), now)
}

function admitted(d: AdmissionDecision): Extract<AdmissionDecision, { admitted: true }> {
  assert.ok(d.admitted, d.admitted ? '' : d.rejection.message)
  return d
}

function refused(d: AdmissionDecision): Extract<AdmissionDecision, { admitted: false }> {
  assert.ok(!d.admitted, 'expected a refusal')
  return d
}

test("the issue's policy: one counter per limit, keyed by window, the bound plus max_tokens reserved, TTL to the window's end plus slack", () => {
  const p = plan(HELLO)
  assert.deepEqual(p.items, [
    { key: DAY, ttlSeconds: 36_870 + WINDOW_TTL_SLACK_SECONDS, limit: 200_000, amount: HELLO_BOUND + 100 },
    { key: MINUTE, ttlSeconds: 30 + WINDOW_TTL_SLACK_SECONDS, limit: 600, amount: 1 },
  ])
  assert.deepEqual(p.options, {})
  assert.deepEqual([p.promptBound, p.maxTokens, p.completions], [HELLO_BOUND, 100, 1])
  assert.deepEqual(p.counters.map((c) => [c.policy, c.index, c.class, c.window, c.mode, c.resetAt]), [
    ['team-a-daily', 0, 'tokens', 'day', 'hard-reject', Date.parse('2026-11-27T00:00:00Z')],
    ['team-a-daily', 1, 'requests', 'minute', 'hard-reject', Date.parse('2026-11-26T13:46:00Z')],
  ])
  // Without max_tokens the Model's ceiling applies; n completions multiply it.
  assert.equal(plan({ messages: HELLO.messages, n: 3 }).items[0].amount, HELLO_BOUND + 3 * 4096)
})

test('which policies apply: the selector narrows to an agent and a model; other namespaces never apply', () => {
  const all = policies('{limits: [{window: day, tokens: 1000}]}', '{selector: {model: llama-3.1-8b}, limits: [{window: hour, requests: 5}]}', '{selector: {model: other}, limits: [{window: hour, requests: 5}]}')
  const neighbour = decodeTokenPolicies(`apiVersion: gpuplane.io/v1alpha1\nkind: TokenPolicy\nmetadata: {name: b, namespace: team-b}\nspec: {limits: [{window: day, tokens: 1}]}\n`)[0].policy
  const keys = (o: PlanOptions) => plan(HELLO, o).counters.map((c) => `${c.namespace}/${c.policy}/${c.class}`)
  assert.deepEqual(keys({ policies: [...EXAMPLE_POLICIES, ...all, neighbour] }), ['team-a/p0/tokens', 'team-a/p1/requests', 'team-a/team-a-daily/tokens', 'team-a/team-a-daily/requests'])
  assert.deepEqual(keys({ agent: 'other-bot', policies: [...EXAMPLE_POLICIES, ...all, neighbour] }), ['team-a/p0/tokens', 'team-a/p1/requests'])
  assert.deepEqual(keys({ namespace: 'team-b', policies: [...EXAMPLE_POLICIES, ...all, neighbour] }), ['team-b/b/tokens'])
  assert.deepEqual(plan(HELLO, { policies: [] }).items, [])
})

test('admitted: the reservation is counted and x-ratelimit headers report the tightest limits', async () => {
  const counters = new MemoryCounters(() => NOW)
  const d = admitted(await admit(counters, plan(HELLO)))
  assert.equal(d.maxTokens, 100)
  assert.equal(d.clamped, false)
  assert.deepEqual(d.reservation.reserved, [HELLO_BOUND + 100, 1])
  assert.deepEqual(d.headers, {
    'x-ratelimit-limit-tokens': '200000',
    'x-ratelimit-remaining-tokens': String(200_000 - HELLO_BOUND - 100),
    'x-ratelimit-reset-tokens': '10h14m30s',
    'x-ratelimit-limit-requests': '600',
    'x-ratelimit-remaining-requests': '599',
    'x-ratelimit-reset-requests': '30s',
  })
  assert.deepEqual(await counters.get([DAY, MINUTE]), [HELLO_BOUND + 100, 1])
  assert.deepEqual(['0s', '17ms', '1s', '6m0s', '1h0m1s', '744h0m0s'], [0, 17, 1000, 360_000, 3_601_000, 31 * 86_400_000].map(formatDuration))
})

test('refused: a 429 naming the policy, limit, window and reset, with headers and retry-after; nothing is counted', async () => {
  const counters = new MemoryCounters(() => NOW)
  await counters.adjust([{ key: DAY, delta: 199_700, ttlSeconds: 60 }])
  const { rejection: r } = refused(await admit(counters, plan(HELLO)))
  assert.equal(r.status, 429)
  assert.equal(r.neverFits, false)
  assert.equal(
    r.message,
    `TokenPolicy team-a/team-a-daily allows 200000 tokens per day (spec.limits[0]); 199700 tokens used or reserved, this request may use up to 373 tokens (a prompt bound of ${HELLO_BOUND} and 100 completion tokens); the day resets at 2026-11-27T00:00:00.000Z`,
  )
  assert.deepEqual(r.body.error.limit, { policy: 'team-a/team-a-daily', index: 0, class: 'tokens', window: 'day', mode: 'hard-reject', unit: 'tokens', limit: 200_000, used: 199_700, requested: 373, resetAt: '2026-11-27T00:00:00.000Z' })
  assert.deepEqual([r.body.error.type, r.body.error.code], ['tokens', 'TOKEN_CAP_EXCEEDED'])
  assert.equal(r.headers['x-ratelimit-remaining-tokens'], '300')
  assert.equal(r.headers['x-ratelimit-remaining-requests'], '600')
  assert.equal(r.headers['retry-after'], '36870')
  assert.deepEqual(await counters.get([DAY, MINUTE]), [199_700, 0])
})

test('a request larger than the whole limit says so and gets no retry-after; request limits say how many were made', async () => {
  const counters = new MemoryCounters(() => NOW)
  const small = policies('{limits: [{window: minute, requests: 1}, {window: minute, tokens: 300}]}')
  const { rejection: big } = refused(await admit(counters, plan(HELLO, { policies: small })))
  assert.equal(big.neverFits, true)
  assert.match(big.message, /this request may use up to 373 tokens .*, more than the whole limit: shorten the prompt or lower max_tokens$/)
  assert.equal(big.headers['retry-after'], undefined)
  admitted(await admit(counters, plan({ messages: HELLO.messages, max_tokens: 1 }, { policies: small })))
  const { rejection: again } = refused(await admit(counters, plan({ messages: HELLO.messages, max_tokens: 1 }, { policies: small })))
  assert.equal(again.message, 'TokenPolicy team-a/p0 allows 1 request per minute (spec.limits[0]); 1 request so far, this request is one more; the minute resets at 2026-11-26T13:46:00.000Z')
})

test('hard-clamp lowers max_tokens to the headroom, atomically; a hard-reject limit must still fit the clamped request', async () => {
  const counters = new MemoryCounters(() => NOW)
  const clamp = policies('{mode: hard-clamp, limits: [{window: minute, tokens: 1000}]}')
  const p = plan({ messages: HELLO.messages }, { policies: clamp })
  assert.deepEqual(p.options, { clamp: { min: 1, max: 4096 } })
  assert.deepEqual(p.items[0], { key: 'tp/team-a/p0/0/tokens/2026-11-26T13:45:00Z', ttlSeconds: 30 + WINDOW_TTL_SLACK_SECONDS, limit: 1000, amount: HELLO_BOUND, perUnit: { num: 1, den: 1 }, clamps: true })
  const first = admitted(await admit(counters, p))
  assert.deepEqual([first.maxTokens, first.clamped], [1000 - HELLO_BOUND, true])
  // The first used 30 tokens; the next gets what is left after its own bound.
  await counters.adjust(reconcile(first.reservation, { promptTokens: 10, completionTokens: 20 }, NOW).adjustments)
  assert.equal(admitted(await admit(counters, p)).maxTokens, 1000 - 30 - HELLO_BOUND)
  const { rejection } = refused(await admit(counters, p))
  assert.match(rejection.message, /allows 1000 tokens per minute .* not even 1 completion token fits; this request may use up to 274 tokens/)

  const mixed = policies('{mode: hard-clamp, limits: [{window: minute, tokens: 1000}]}', '{limits: [{window: day, tokens: 800}]}')
  const fresh = new MemoryCounters(() => NOW)
  const { rejection: r } = refused(await admit(fresh, plan({ messages: HELLO.messages }, { policies: mixed })))
  assert.deepEqual([r.counter.policy, r.needed], ['p1', 1000])
})

test('hard-clamp on cost picks the largest max_tokens whose cost fits, in exact micro-dollars', async () => {
  const counters = new MemoryCounters(() => NOW)
  const p = plan({ messages: HELLO.messages }, { policies: policies('{mode: hard-clamp, limits: [{window: hour, cost: 0.0001}]}') })
  const d = admitted(await admit(counters, p))
  const prices = { inputMicroPerMTok: 100_000, outputMicroPerMTok: 200_000 }
  assert.equal(d.maxTokens, 360)
  assert.ok(costMicro(prices, HELLO_BOUND, d.maxTokens) <= 100 && costMicro(prices, HELLO_BOUND, d.maxTokens + 1) > 100)
  assert.deepEqual(await counters.get([p.items[0].key]), [100])
  const { rejection } = refused(await admit(counters, p))
  assert.deepEqual([rejection.body.error.limit.unit, rejection.body.error.limit.limit, rejection.body.error.limit.used], ['USD', 0.0001, 0.0001])
  assert.match(rejection.message, /allows \$0\.0001 per hour .* this request may use up to \$0\.000029;/)
})

test('soft policies admit everything, count the estimate, and report going over', async () => {
  const counters = new MemoryCounters(() => NOW)
  const soft = policies('{mode: soft, limits: [{window: day, tokens: 150}]}')
  const p = plan(HELLO, { policies: soft, estimate: 7 })
  assert.deepEqual(p.items, [{ key: 'tp/team-a/p0/0/tokens/2026-11-26T00:00:00Z', ttlSeconds: 36_870 + WINDOW_TTL_SLACK_SECONDS, amount: 107 }])
  const first = admitted(await admit(counters, p))
  assert.deepEqual(first.softExceeded, [])
  assert.deepEqual(first.headers, {}, 'soft limits are not advertised as rate limits')
  const second = admitted(await admit(counters, p))
  assert.deepEqual(second.softExceeded.map((c) => c.policy), ['p0'])
  // Reconciled to the actual usage, whatever the estimate was.
  await counters.adjust(reconcile(second.reservation, { promptTokens: 12, completionTokens: 40 }, NOW).adjustments)
  assert.deepEqual(await counters.get([p.items[0].key]), [107 + 52])
})

test('embeddings reserve their prompt bound only, and are never clamped', () => {
  const p = plan({ input: ['abc', 'de'] }, { endpoint: 'embeddings', policies: policies('{mode: hard-clamp, limits: [{window: day, tokens: 1000}]}') })
  assert.deepEqual(p.options, {})
  assert.deepEqual([p.items[0].amount, p.maxTokens, p.completions], [5 + 2 * 8 + 256, 0, 0])
})

test('reconcile releases the unused part, never below actual; flags usage above the bound; skips expired windows', async () => {
  const counters = new MemoryCounters(() => NOW)
  const withCost = [...EXAMPLE_POLICIES, ...policies('{limits: [{window: month, cost: 5}]}')]
  const d = admitted(await admit(counters, plan(HELLO, { policies: withCost })))
  const keys = d.reservation.counters.map((c) => c.key)
  assert.deepEqual(await counters.get(keys), [costMicro(d.reservation.prices, HELLO_BOUND, 100), HELLO_BOUND + 100, 1])
  const r = reconcile(d.reservation, { promptTokens: 9, completionTokens: 30 }, NOW)
  assert.equal(r.boundExceeded, false)
  await counters.adjust(r.adjustments)
  assert.deepEqual(await counters.get(keys), [costMicro(d.reservation.prices, 9, 30), 39, 1])

  assert.equal(reconcile(d.reservation, { promptTokens: HELLO_BOUND + 1, completionTokens: 0 }, NOW).boundExceeded, true)
  assert.equal(reconcile(d.reservation, { promptTokens: 0, completionTokens: 101 }, NOW).boundExceeded, true)
  const released = reconcile(d.reservation, { promptTokens: 0, completionTokens: 0, requests: 0 }, NOW).adjustments
  assert.deepEqual(released.map((a) => a.delta), [-d.reservation.reserved[0], -(HELLO_BOUND + 100), -1])
  // Long after the minute (and its slack) ended, only the day and month counters are adjusted.
  const late = reconcile(d.reservation, { promptTokens: 9, completionTokens: 30 }, NOW + 16 * 60_000).adjustments
  assert.deepEqual(late.map((a) => a.key), [keys[0], keys[1]])
  assert.ok(keys[2].includes('/requests/'))
  assert.deepEqual(usageFromText(d.reservation, 50), { promptTokens: HELLO_BOUND, completionTokens: 51 })
  assert.deepEqual(usageFromText(d.reservation, 5000), { promptTokens: HELLO_BOUND, completionTokens: 100 })
  assert.deepEqual(reservedUsage(d.reservation), { promptTokens: HELLO_BOUND, completionTokens: 100 })
})

test('end to end: concurrent requests of random sizes, reserved then reconciled, never take the tokens used past the cap', async () => {
  const cap = 20_000
  const request = fc.record({ words: fc.nat(400), maxTokens: fc.integer({ min: 1, max: 3000 }), usedShare: fc.double({ min: 0, max: 1, noNaN: true }) })
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: 50, maxLength: 200 }), fc.constantFrom('hard-reject', 'hard-clamp'), async (requests, mode) => {
      const counters = new MemoryCounters(() => NOW)
      const capped = policies(`{mode: ${mode}, limits: [{window: day, tokens: ${cap}}]}`)
      const plans = requests.map((r) => plan({ messages: [{ role: 'user', content: 'word '.repeat(r.words) }], max_tokens: r.maxTokens }, { policies: capped }))
      const decisions = await Promise.all(plans.map((p) => admit(counters, p)))
      const [reservedTotal] = await counters.get([plans[0].items[0].key])
      assert.ok(reservedTotal <= cap, `reserved ${reservedTotal}`)
      let used = 0
      await Promise.all(
        decisions.map(async (d, i) => {
          if (!d.admitted) return
          const usage = { promptTokens: Math.floor(d.reservation.promptBound * requests[i].usedShare), completionTokens: Math.floor(d.maxTokens * requests[i].usedShare) }
          used += usage.promptTokens + usage.completionTokens
          await counters.adjust(reconcile(d.reservation, usage, NOW).adjustments)
        }),
      )
      const [final] = await counters.get([plans[0].items[0].key])
      assert.equal(final, used)
      assert.ok(used <= cap)
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 40) },
  )
})
