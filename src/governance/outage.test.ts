import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeModels } from '../api/model-v1alpha1.ts'
import { decodeTokenPolicies, type TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { isGpuplaneError } from '../common/errors.ts'
import { ISSUE_EXAMPLE } from '../../test/governance-example.ts'
import { decideAdmission, planAdmission, type AdmissionPlan } from './admission.ts'
import { MemoryCounters } from './counters-memory.ts'
import { DEFAULT_OUTAGE_POLICY, degradedAdmission, OutagePolicy, outageModes } from './outage.ts'
import { parseInferenceRequest } from './requests.ts'

const NOW = Date.parse('2026-11-26T13:45:30Z')
const [MODEL] = decodeModels(ISSUE_EXAMPLE).map((d) => d.model)

function plan(...specs: string[]): AdmissionPlan {
  const policies: TokenPolicy[] = specs.map((spec, i) => decodeTokenPolicies(`apiVersion: gpuplane.io/v1alpha1\nkind: TokenPolicy\nmetadata: {name: p${i}, namespace: team-a}\nspec: ${spec}\n`)[0].policy)
  const request = parseInferenceRequest('chat', { model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 10 })
  return planAdmission({ request, model: MODEL, namespace: 'team-a', agent: 'support-bot', policies, now: NOW, promptEstimate: () => 5 })
}

test('defaults: tokens and cost fail closed, requests degrade to a local share; the config overrides per class', () => {
  assert.deepEqual(DEFAULT_OUTAGE_POLICY, { tokens: 'fail-closed', requests: 'local', cost: 'fail-closed' })
  assert.deepEqual(outageModes({ requests: 'fail-closed', tokens: 'local' }), { tokens: 'local', requests: 'fail-closed', cost: 'fail-closed' })
  assert.throws(() => OutagePolicy.parse({ tokens: 'fail-open' }))
})

test('a request under a fail-closed token or cost limit is refused with 503 naming the classes and policies', () => {
  const d = degradedAdmission(plan('{limits: [{window: day, tokens: 1000}, {window: minute, requests: 10}]}', '{limits: [{window: month, cost: 5}]}'), {}, 4)
  assert.equal(d.action, 'refuse')
  if (d.action !== 'refuse') return
  assert.deepEqual(d.classes, ['tokens', 'cost'])
  assert.ok(isGpuplaneError(d.error) && d.error.code === 'UNAVAILABLE' && d.error.httpStatus === 503)
  assert.equal(d.error.message, 'the token counter store is unavailable and tokens and cost limits fail closed (TokenPolicy team-a/p0, team-a/p1); the request was not sent, retry shortly')
})

test('local: each replica enforces floor(limit / replicas) of every hard limit on its own counters; soft limits only count', async () => {
  const p = plan('{limits: [{window: minute, requests: 10}]}', '{mode: soft, limits: [{window: day, tokens: 100}]}')
  const d = degradedAdmission(p, {}, 4)
  assert.equal(d.action, 'local')
  if (d.action !== 'local') return
  assert.deepEqual(d.plan.items.map((i) => i.limit), [2, undefined])
  assert.deepEqual(d.plan.counters.map((c) => [c.limit, c.localShareOf]), [[2, 4], [100, undefined]])
  assert.equal(p.items[0].limit, 10, 'the original plan is unchanged')
  const local = new MemoryCounters(() => NOW)
  const run = async () => decideAdmission(d.plan, await local.reserve(d.plan.items, d.plan.options), NOW)
  assert.equal((await run()).admitted, true)
  assert.equal((await run()).admitted, true)
  const third = await run()
  assert.ok(!third.admitted)
  if (!third.admitted) assert.match(third.rejection.message, /allows 2 requests per minute \(this replica's share of the limit while the counter store is unavailable, 1\/4\)/)
  // With every class local, tokens are shared too; one replica keeps the whole limit.
  const tokens = degradedAdmission(plan('{limits: [{window: day, tokens: 1001}]}'), { tokens: 'local' }, 2)
  assert.deepEqual(tokens.action === 'local' && tokens.plan.items.map((i) => i.limit), [500])
  const single = degradedAdmission(plan('{limits: [{window: day, requests: 7}]}'), {}, 1)
  assert.deepEqual(single.action === 'local' && single.plan.items.map((i) => i.limit), [7])
})

test('a request no hard limit applies to goes ahead; replicas must be a whole number of at least 1', () => {
  assert.equal(degradedAdmission(plan(), {}, 3).action, 'local')
  assert.equal(degradedAdmission(plan('{mode: soft, limits: [{window: day, cost: 1}]}'), {}, 3).action, 'local')
  for (const replicas of [0, 1.5, Number.NaN]) assert.throws(() => degradedAdmission(plan(), {}, replicas), (e) => isGpuplaneError(e) && e.code === 'INVALID_INPUT')
})
