import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GpuplaneError } from '../common/errors.ts'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { ISSUE_EXAMPLE } from '../../test/governance-example.ts'
import { dollarsToMicro } from './governance-fields.ts'
import { decodeModels, DEFAULT_TEMPLATE_OVERHEAD, templateOverheadOf } from './model-v1alpha1.ts'

const HEAD = `apiVersion: gpuplane.io/v1alpha1
kind: Model
metadata: {name: m}
`
const SPEC = `spec:
  upstream: {baseURL: "http://127.0.0.1:8000/v1", model: up}
  pricing: {inputPerMTok: 1, outputPerMTok: 2}
  maxTokens: 100
  namespaces: [team-a]
`

function decodeError(text: string): GpuplaneError {
  return expectGpuplaneError(() => decodeModels(text, 'models.yaml'))
}

test("the issue's example Model decodes as written; YAML numbers become numbers, prices exact micro-dollars", () => {
  const [d] = decodeModels(ISSUE_EXAMPLE, 'gateway.yaml')
  assert.deepEqual(d.location, { file: 'gateway.yaml', document: 0 })
  const m = d.model
  assert.equal(m.metadata.name, 'llama-3.1-8b')
  assert.deepEqual(m.spec.upstream, { baseURL: 'http://127.0.0.1:8000/v1', model: 'meta-llama/Llama-3.1-8B-Instruct', apiKeyEnv: 'VLLM_API_KEY' })
  assert.deepEqual(m.spec.pricing, { inputPerMTok: 0.1, outputPerMTok: 0.2 })
  assert.equal(dollarsToMicro(m.spec.pricing.inputPerMTok), 100_000)
  assert.equal(dollarsToMicro(m.spec.pricing.outputPerMTok), 200_000)
  assert.equal(m.spec.maxTokens, 4096)
  assert.equal(typeof m.spec.maxTokens, 'number')
  assert.deepEqual(m.spec.namespaces, ['team-a'])
  assert.equal(m.spec.defaultMaxTokens, undefined)
  assert.deepEqual(templateOverheadOf(m), DEFAULT_TEMPLATE_OVERHEAD)
})

test('optional fields: defaultMaxTokens, templateOverhead with perMediaPart, no apiKeyEnv', () => {
  const [d] = decodeModels(`${HEAD}${SPEC}  defaultMaxTokens: 50\n  templateOverhead: {perMessage: 4, perRequest: 30, perMediaPart: 1500}\n`)
  assert.equal(d.model.spec.defaultMaxTokens, 50)
  assert.deepEqual(templateOverheadOf(d.model), { perMessage: 4, perRequest: 30, perMediaPart: 1500 })
  assert.equal(d.model.spec.upstream.apiKeyEnv, undefined)
  assert.deepEqual(decodeModels(`${HEAD}${SPEC.replace('[team-a]', '[]')}`)[0].model.spec.namespaces, [])
})

test('shape and rule errors name file, document and the field to change', () => {
  const cases: Array<[string, string]> = [
    [SPEC.replace('http://127.0.0.1:8000/v1', 'localhost:8000'), 'spec.upstream.baseURL: "localhost:8000" must be an http:// or https:// URL'],
    [SPEC.replace('http://127.0.0.1:8000/v1', 'not a url'), 'spec.upstream.baseURL: "not a url" is not a URL; write e.g. http://127.0.0.1:8000/v1'],
    [SPEC.replace('http://127.0.0.1:8000/v1', 'http://h/v1?x=1'), 'spec.upstream.baseURL: "http://h/v1?x=1" must not have a query or fragment'],
    [SPEC.replace('model: up', 'model: ""'), 'spec.upstream.model: must name the upstream model'],
    [SPEC.replace('model: up', 'model: up, apiKeyEnv: 1KEY'), 'spec.upstream.apiKeyEnv: must be an environment variable name'],
    [SPEC.replace('model: up', 'model: up, apiKey: sk-1'), 'spec.upstream: unknown field "apiKey"; remove it or check the spelling against gpuplane.io/v1alpha1 Model'],
    [SPEC.replace('inputPerMTok: 1', 'inputPerMTok: -1'), 'spec.pricing.inputPerMTok: must be a dollar amount from 0 to 10000'],
    [SPEC.replace('inputPerMTok: 1', 'inputPerMTok: 0.0000001'), 'spec.pricing.inputPerMTok: must have at most 6 decimals'],
    [SPEC.replace('inputPerMTok: 1', 'inputPerMTok: cheap'), 'spec.pricing.inputPerMTok: expected a dollar amount such as 0.15 or 2'],
    [SPEC.replace('pricing: {inputPerMTok: 1, outputPerMTok: 2}', 'pricing: {inputPerMTok: 1}'), 'spec.pricing.outputPerMTok: expected a dollar amount such as 0.15 or 2, but the field is missing'],
    [SPEC.replace('maxTokens: 100', 'maxTokens: 0'), 'spec.maxTokens: must be a whole number from 1 to 10000000'],
    [SPEC.replace('maxTokens: 100', 'maxTokens: 1.5'), 'spec.maxTokens: expected a whole number'],
    [SPEC.replace('  maxTokens: 100\n', ''), 'spec.maxTokens: expected a whole number, but the field is missing'],
    [`${SPEC}  defaultMaxTokens: 101\n`, 'spec.defaultMaxTokens: 101 exceeds maxTokens (100); lower it or raise maxTokens'],
    [`${SPEC}  templateOverhead: {perMessage: 4}\n`, 'spec.templateOverhead.perRequest: expected a whole number, but the field is missing'],
    [`${SPEC}  templateOverhead: {perMessage: -1, perRequest: 0}\n`, 'spec.templateOverhead.perMessage: must be a whole number of tokens from 0 to 1000000'],
    [SPEC.replace('[team-a]', '[team-a, team-a]'), 'spec.namespaces[1]: namespace "team-a" is listed twice (also at namespaces[0]); keep one'],
    [SPEC.replace('[team-a]', '[Team_A]'), 'spec.namespaces[0]: "Team_A" must be a DNS label'],
    [SPEC.replace('  namespaces: [team-a]\n', ''), 'spec.namespaces: expected array, but the field is missing'],
  ]
  for (const [spec, expected] of cases) {
    const e = decodeError(HEAD + spec)
    assert.equal(e.code, 'INVALID_INPUT')
    assert.ok(e.describe().startsWith(`models.yaml (document 0): ${expected}`), `${e.describe()}\n  expected to start with: ${expected}`)
  }
})

test('metadata: a DNS-subdomain name is required, no namespace; a name declared twice is an error', () => {
  const meta = (m: string) => decodeError(`apiVersion: gpuplane.io/v1alpha1\nkind: Model\nmetadata: ${m}\n${SPEC}`).describe()
  assert.equal(meta('{}'), 'models.yaml (document 0): metadata.name: a Model needs a name (a DNS subdomain, e.g. llama-3.1-8b)')
  assert.match(meta('{name: Llama/8B}'), /metadata\.name: "Llama\/8B" must be a DNS subdomain/)
  assert.equal(meta('{name: m, namespace: team-a}'), 'models.yaml (document 0): metadata.namespace: a Model is cluster-scoped; remove metadata.namespace')
  assert.equal(decodeError(`${HEAD}${SPEC}---\n${HEAD}${SPEC}`).describe(), 'models.yaml (document 1): metadata.name: Model "m" is declared twice (first in document 0); keep one')
})
