import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GpuplaneError } from '../common/errors.ts'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { ISSUE_EXAMPLE } from '../../test/governance-example.ts'
import { decodeAgents } from './agent-v1alpha1.ts'
import { decodeModels } from './model-v1alpha1.ts'
import { decodeTokenPolicies, DEFAULT_TOKEN_POLICY_MODE } from './tokenpolicy-v1alpha1.ts'

const HEAD = `apiVersion: gpuplane.io/v1alpha1
kind: TokenPolicy
metadata: {name: p, namespace: team-a}
`

function decodeError(text: string): GpuplaneError {
  return expectGpuplaneError(() => decodeTokenPolicies(text, 'policies.yaml'))
}

test("the issue's example TokenPolicy decodes as written, comment included; the three kinds read from one file", () => {
  const [d] = decodeTokenPolicies(ISSUE_EXAMPLE, 'gateway.yaml')
  assert.deepEqual(d.location, { file: 'gateway.yaml', document: 2 })
  assert.deepEqual(d.policy.metadata, { name: 'team-a-daily', namespace: 'team-a' })
  assert.deepEqual(d.policy.spec, {
    selector: { agent: 'support-bot' },
    mode: 'hard-reject',
    limits: [
      { window: 'day', tokens: 200000 },
      { window: 'minute', requests: 600 },
    ],
  })
  assert.equal(typeof d.policy.spec.limits[0].tokens, 'number')
  assert.equal(decodeModels(ISSUE_EXAMPLE).length + decodeAgents(ISSUE_EXAMPLE).length, 2)
})

test('every window, class and mode; several classes in one limit; cost in dollars; mode defaults to hard-reject', () => {
  const [d] = decodeTokenPolicies(`${HEAD}spec:
  selector: {model: llama-3.1-8b}
  mode: hard-clamp
  limits:
  - {window: minute, tokens: 10000, requests: 60}
  - {window: hour, cost: 0.5}
  - {window: day, tokens: 0}
  - {window: month, cost: 1000, requests: 100000}
`)
  assert.deepEqual(d.policy.spec.limits, [
    { window: 'minute', tokens: 10000, requests: 60 },
    { window: 'hour', cost: 0.5 },
    { window: 'day', tokens: 0 },
    { window: 'month', cost: 1000, requests: 100000 },
  ])
  for (const mode of ['hard-reject', 'hard-clamp', 'soft']) {
    assert.equal(decodeTokenPolicies(`${HEAD}spec: {mode: ${mode}, limits: [{window: day, tokens: 1}]}`)[0].policy.spec.mode, mode)
  }
  const [bare] = decodeTokenPolicies(`${HEAD}spec: {limits: [{window: day, tokens: 1}]}`)
  assert.equal(bare.policy.spec.mode, undefined)
  assert.equal(bare.policy.spec.selector, undefined)
  assert.equal(DEFAULT_TOKEN_POLICY_MODE, 'hard-reject')
})

test('shape and rule errors name file, document and the field to change', () => {
  const cases: Array<[string, string]> = [
    ['spec: {limits: []}', 'spec.limits: must have at least 1 limit, e.g. [{window: day, tokens: 200000}]'],
    ['spec: {}', 'spec.limits: expected array, but the field is missing'],
    ['spec: {limits: [{window: week, tokens: 1}]}', 'spec.limits[0].window: must be one of "minute", "hour", "day", "month"'],
    ['spec: {limits: [{window: day}]}', 'spec.limits[0]: a limit needs tokens, requests or cost (e.g. {window: day, tokens: 200000})'],
    ['spec: {limits: [{window: day, tokens: -1}]}', 'spec.limits[0].tokens: must be a whole number from 0 to 1125899906842624'],
    ['spec: {limits: [{window: day, tokens: 1.5}]}', 'spec.limits[0].tokens: expected a whole number'],
    ['spec: {limits: [{window: day, requests: many}]}', 'spec.limits[0].requests: expected a whole number'],
    ['spec: {limits: [{window: day, cost: 0.0000001}]}', 'spec.limits[0].cost: must have at most 6 decimals'],
    ['spec: {limits: [{window: day, cost: -5}]}', 'spec.limits[0].cost: must be a dollar amount from 0 to 1000000000'],
    ['spec: {limits: [{window: day, cost: "$5"}]}', 'spec.limits[0].cost: expected a dollar amount such as 0.15 or 2'],
    ['spec: {limits: [{window: day, tokens: 1, burst: 2}]}', 'spec.limits[0]: unknown field "burst"'],
    ['spec: {limits: [{window: day, tokens: 1}, {window: day, tokens: 2}]}', 'spec.limits[1].tokens: tokens per day is already limited at limits[0]; keep the one you mean'],
    ['spec: {limits: [{window: day, tokens: 1, requests: 5}, {window: day, requests: 2}]}', 'spec.limits[1].requests: requests per day is already limited at limits[0]'],
    ['spec: {mode: strict, limits: [{window: day, tokens: 1}]}', 'spec.mode: must be one of "hard-reject", "hard-clamp", "soft"'],
    ['spec: {selector: {agent: Bot_1}, limits: [{window: day, tokens: 1}]}', 'spec.selector.agent: "Bot_1" must be a DNS subdomain'],
    ['spec: {selector: {namespace: x}, limits: [{window: day, tokens: 1}]}', 'spec.selector: unknown field "namespace"; remove it or check the spelling against gpuplane.io/v1alpha1 TokenPolicy'],
  ]
  for (const [spec, expected] of cases) {
    const e = decodeError(HEAD + spec)
    assert.equal(e.code, 'INVALID_INPUT')
    assert.ok(e.describe().startsWith(`policies.yaml (document 0): ${expected}`), `${e.describe()}\n  expected to start with: ${expected}`)
  }
})

test('policies inside a List carry their item path; the same namespace/name twice is an error', () => {
  const item = `- apiVersion: gpuplane.io/v1alpha1\n  kind: TokenPolicy\n  metadata: {name: p, namespace: team-a}\n  spec: {limits: [{window: day, tokens: -1}]}\n`
  const e = decodeError(`apiVersion: v1\nkind: List\nitems:\n${item}`)
  assert.equal(e.describe(), 'policies.yaml (document 0): items[0].spec.limits[0].tokens: must be a whole number from 0 to 1125899906842624')
  const ok = `${HEAD}spec: {limits: [{window: day, tokens: 1}]}\n`
  assert.equal(decodeError(`${ok}---\n${ok}`).describe(), 'policies.yaml (document 1): metadata.name: TokenPolicy "team-a/p" is declared twice (first in document 0); keep one')
})
