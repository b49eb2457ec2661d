import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GpuplaneError } from '../common/errors.ts'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { EXAMPLE_KEY_HASH, ISSUE_EXAMPLE, ISSUE_EXAMPLE_AS_WRITTEN } from '../../test/governance-example.ts'
import { decodeAgents } from './agent-v1alpha1.ts'

const HASH = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
const HEAD = `apiVersion: gpuplane.io/v1alpha1
kind: Agent
metadata: {name: bot, namespace: team-a}
`

function decodeError(text: string): GpuplaneError {
  return expectGpuplaneError(() => decodeAgents(text, 'agents.yaml'))
}

test("the issue's example Agent decodes as written once its key hash is filled in", () => {
  const [d] = decodeAgents(ISSUE_EXAMPLE, 'gateway.yaml')
  assert.deepEqual(d.location, { file: 'gateway.yaml', document: 1 })
  assert.deepEqual(d.agent.metadata, { name: 'support-bot', namespace: 'team-a' })
  assert.deepEqual(d.agent.spec, { keyHashes: [EXAMPLE_KEY_HASH], models: ['llama-3.1-8b'] })
  // As written, the hash is a placeholder: the error says what to put there.
  const e = expectGpuplaneError(() => decodeAgents(ISSUE_EXAMPLE_AS_WRITTEN, 'gateway.yaml'))
  assert.match(e.describe(), /^gateway\.yaml \(document 1\): spec\.keyHashes\[0\]: must be "sha256:" and the 64 hex digits of the key's SHA-256 \(gpuplane key hash prints it\); never write the key itself$/)
})

test('key hashes: uppercase hex is kept lowercase; disabled; an empty key list is allowed (every key revoked)', () => {
  const [d] = decodeAgents(`${HEAD}spec: {keyHashes: ["${HASH.toUpperCase().replace('SHA256', 'sha256')}"], models: [m], disabled: true}`)
  assert.deepEqual(d.agent.spec.keyHashes, [HASH])
  assert.equal(d.agent.spec.disabled, true)
  assert.deepEqual(decodeAgents(`${HEAD}spec: {keyHashes: [], models: []}`)[0].agent.spec, { keyHashes: [], models: [] })
})

test('shape and rule errors name file, document and the field to change', () => {
  const cases: Array<[string, string]> = [
    ['spec: {keyHashes: ["sk-live-123"], models: [m]}', 'spec.keyHashes[0]: must be "sha256:" and the 64 hex digits'],
    [`spec: {keyHashes: ["${HASH.slice(0, -1)}"], models: [m]}`, 'spec.keyHashes[0]: must be "sha256:"'],
    [`spec: {keyHashes: ["${HASH.replace('sha256', 'md5')}"], models: [m]}`, 'spec.keyHashes[0]: must be "sha256:"'],
    [`spec: {keyHashes: ["${HASH}", "${HASH}"], models: [m]}`, 'spec.keyHashes[1]: this key hash is listed twice (also at keyHashes[0]); keep one'],
    [`spec: {keyHashes: ["${HASH}"], models: [m, m]}`, 'spec.models[1]: model "m" is listed twice (also at models[0]); keep one'],
    [`spec: {keyHashes: ["${HASH}"], models: [Big/Model]}`, 'spec.models[0]: "Big/Model" must be a DNS subdomain'],
    [`spec: {keyHashes: ["${HASH}"]}`, 'spec.models: expected array, but the field is missing'],
    [`spec: {keyHashes: ["${HASH}"], models: [], disabled: "yes"}`, 'spec.disabled: expected boolean'],
    [`spec: {keys: ["${HASH}"], keyHashes: [], models: []}`, 'spec: unknown field "keys"; remove it or check the spelling against gpuplane.io/v1alpha1 Agent'],
  ]
  for (const [spec, expected] of cases) {
    const e = decodeError(HEAD + spec)
    assert.equal(e.code, 'INVALID_INPUT')
    assert.ok(e.describe().startsWith(`agents.yaml (document 0): ${expected}`), `${e.describe()}\n  expected to start with: ${expected}`)
  }
})

test('metadata: names and namespaces are checked; the same namespace/name twice is an error, in different namespaces it is not', () => {
  const doc = (meta: string) => `apiVersion: gpuplane.io/v1alpha1\nkind: Agent\nmetadata: ${meta}\nspec: {keyHashes: [], models: []}\n`
  assert.equal(decodeError(doc('{namespace: team-a}')).describe(), 'agents.yaml (document 0): metadata.name: an Agent needs a name (a DNS subdomain, e.g. support-bot)')
  assert.match(decodeError(doc('{name: bot, namespace: Team.A}')).describe(), /metadata\.namespace: "Team\.A" must be a DNS label/)
  assert.equal(decodeAgents(doc('{name: bot, namespace: a}') + '---\n' + doc('{name: bot, namespace: b}')).length, 2)
  assert.equal(decodeError(doc('{name: bot}') + '---\n' + doc('{name: bot, namespace: default}')).describe(), 'agents.yaml (document 1): metadata.name: Agent "default/bot" is declared twice (first in document 0); keep one')
})
