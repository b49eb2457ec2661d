import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeAgents, type Agent } from '../api/agent-v1alpha1.ts'
import { decodeModels, type Model } from '../api/model-v1alpha1.ts'
import { decodeTokenPolicies } from '../api/tokenpolicy-v1alpha1.ts'
import { isGpuplaneError, type ErrorCode } from '../common/errors.ts'
import { EXAMPLE_KEY, EXAMPLE_KEY_HASH, ISSUE_EXAMPLE } from '../../test/governance-example.ts'
import { authenticate, authorizeModel, buildRegistry, hashAgentKey, modelsFor, policiesOf } from './access.ts'

const models = decodeModels(ISSUE_EXAMPLE).map((d) => d.model)
const agents = decodeAgents(ISSUE_EXAMPLE).map((d) => d.agent)
const policies = decodeTokenPolicies(ISSUE_EXAMPLE).map((d) => d.policy)

function model(name: string, namespaces: string[]): Model {
  return decodeModels(`apiVersion: gpuplane.io/v1alpha1\nkind: Model\nmetadata: {name: ${name}}\nspec: {upstream: {baseURL: "http://u/v1", model: x}, pricing: {inputPerMTok: 1, outputPerMTok: 1}, maxTokens: 10, namespaces: [${namespaces.join(', ')}]}\n`)[0].model
}
function agent(ns: string, name: string, key: string, models: string[], disabled = false): Agent {
  return decodeAgents(`apiVersion: gpuplane.io/v1alpha1\nkind: Agent\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: {keyHashes: ["${hashAgentKey(key)}"], models: [${models.join(', ')}], disabled: ${disabled}}\n`)[0].agent
}
const fails = (code: ErrorCode, pattern: RegExp) => (e: unknown) => isGpuplaneError(e) && e.code === code && pattern.test(e.message)

test('hashAgentKey is what agents list: sha256 and the lowercase hex digest', () => {
  assert.equal(hashAgentKey('test'), 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08')
  assert.equal(hashAgentKey(EXAMPLE_KEY), EXAMPLE_KEY_HASH)
})

test("the issue's example: the agent's key authenticates it; the model is authorized; its policies are found", () => {
  const registry = buildRegistry({ models, agents, policies })
  assert.deepEqual(registry.problems, [])
  const id = authenticate(registry, EXAMPLE_KEY)
  assert.deepEqual([id.namespace, id.name], ['team-a', 'support-bot'])
  assert.equal(authorizeModel(registry, id, 'llama-3.1-8b').metadata.name, 'llama-3.1-8b')
  assert.deepEqual(modelsFor(registry, id).map((m) => m.metadata.name), ['llama-3.1-8b'])
  assert.deepEqual(policiesOf(registry, 'team-a').map((p) => p.metadata.name), ['team-a-daily'])
  assert.deepEqual(policiesOf(registry, 'team-b'), [])
})

test('401 for a missing, unknown or revoked key; 403 for a disabled agent', () => {
  const registry = buildRegistry({ models, agents: [...agents, agent('team-a', 'off', 'k-off', ['llama-3.1-8b'], true)], policies })
  assert.throws(() => authenticate(registry, undefined), fails('UNAUTHORIZED', /missing agent key: send it as "Authorization: Bearer <key>"/))
  assert.throws(() => authenticate(registry, ''), fails('UNAUTHORIZED', /missing agent key/))
  assert.throws(() => authenticate(registry, `${EXAMPLE_KEY}x`), fails('UNAUTHORIZED', /unknown or revoked agent key/))
  assert.throws(() => authenticate(registry, EXAMPLE_KEY_HASH), fails('UNAUTHORIZED', /unknown or revoked/), 'the hash is not a key')
  assert.throws(() => authenticate(registry, 'k-off'), fails('FORBIDDEN', /agent team-a\/off is disabled/))
  // Revoking: the key's hash is removed from the agent.
  const revoked = buildRegistry({ models, agents: [{ ...agents[0], spec: { ...agents[0].spec, keyHashes: [] } }], policies })
  assert.throws(() => authenticate(revoked, EXAMPLE_KEY), fails('UNAUTHORIZED', /unknown or revoked/))
})

test('404 for an unknown model; 403 for a model not approved for the namespace or not in the agent\'s list', () => {
  const registry = buildRegistry({
    models: [...models, model('shared', ['team-a', 'team-b']), model('b-only', ['team-b']), model('unlisted', ['team-a'])],
    agents: [...agents, agent('team-b', 'b-bot', 'k-b', ['shared', 'b-only', 'llama-3.1-8b'])],
    policies,
  })
  const a = authenticate(registry, EXAMPLE_KEY)
  const b = authenticate(registry, 'k-b')
  assert.throws(() => authorizeModel(registry, a, 'gpt-5'), fails('NOT_FOUND', /model "gpt-5" does not exist/))
  assert.throws(() => authorizeModel(registry, a, 'b-only'), fails('FORBIDDEN', /model "b-only" is not approved for namespace team-a/))
  assert.throws(() => authorizeModel(registry, a, 'unlisted'), fails('FORBIDDEN', /agent team-a\/support-bot may not use model "unlisted"; add it to the Agent's spec.models/))
  // An agent of team-b listing team-a's model still cannot use it.
  assert.throws(() => authorizeModel(registry, b, 'llama-3.1-8b'), fails('FORBIDDEN', /not approved for namespace team-b/))
  assert.equal(authorizeModel(registry, b, 'shared').metadata.name, 'shared')
  assert.deepEqual(modelsFor(registry, b).map((m) => m.metadata.name), ['b-only', 'shared'])
  assert.equal(authorizeModel(registry, b, 'shared').spec.namespaces.includes('team-b'), true)
})

test('a key hash listed by two agents is refused for both, and reported', () => {
  const registry = buildRegistry({ models, agents: [agent('team-a', 'one', 'same', ['llama-3.1-8b']), agent('team-b', 'two', 'same', []), agent('team-a', 'three', 'other', [])], policies })
  assert.throws(() => authenticate(registry, 'same'), fails('UNAUTHORIZED', /unknown or revoked/))
  assert.equal(authenticate(registry, 'other').name, 'three')
  assert.equal(registry.problems.length, 1)
  assert.match(registry.problems[0], /is listed by several agents \(team-a\/one, team-b\/two\); that key is refused until only one lists it/)
})
