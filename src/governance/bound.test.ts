import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { encode as encodeCl100k } from 'gpt-tokenizer/encoding/cl100k_base'
import { encode as encodeO200k, encodeChat } from 'gpt-tokenizer/encoding/o200k_base'
import { decodeModels, DEFAULT_TEMPLATE_OVERHEAD, type Model } from '../api/model-v1alpha1.ts'
import { isGpuplaneError } from '../common/errors.ts'
import { completionCount, effectiveMaxTokens, promptBound, structuredBytes, utf8Length, withMaxTokens } from './bound.ts'
import { estimatePromptTokens } from './estimate.ts'
import { parseInferenceRequest, type Endpoint } from './requests.ts'

function model(extra = '', maxTokens = 4096): Model {
  return decodeModels(`apiVersion: gpuplane.io/v1alpha1
kind: Model
metadata: {name: m}
spec:
  upstream: {baseURL: "http://127.0.0.1:8000/v1", model: up}
  pricing: {inputPerMTok: 0.1, outputPerMTok: 0.2}
  maxTokens: ${maxTokens}
  namespaces: [team-a]
${extra}`)[0].model
}
const M = model()
const req = (endpoint: Endpoint, body: object) => parseInferenceRequest(endpoint, body)
const chat = (body: object) => req('chat', { model: 'm', ...body })
const AS_TEXT = { disallowedSpecial: new Set<string>() }
const { perMessage, perRequest } = DEFAULT_TEMPLATE_OVERHEAD

test('utf8Length is the UTF-8 length the upstream receives, lone surrogates as U+FFFD', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => utf8Length(s) === Buffer.byteLength(s, 'utf8')),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 500) },
  )
  assert.equal(utf8Length('\ud800'), 3)
  assert.equal(utf8Length('a\udc00b'), 5)
  assert.equal(utf8Length('😀'), 4)
})

test('byte-level BPE never needs more tokens than UTF-8 bytes (o200k and cl100k, any Unicode, special-token text included)', () => {
  const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 }), fc.constantFrom('<|endoftext|>', '<|im_start|>user', '   \n\n\t', '🏳️‍🌈👨‍👩‍👧', '中文字符测试'))
  fc.assert(
    fc.property(text, (s) => {
      const bytes = Buffer.byteLength(s, 'utf8')
      return encodeO200k(s, AS_TEXT).length <= bytes && encodeCl100k(s, AS_TEXT).length <= bytes
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 400) },
  )
})

test("chat bound: bytes of every message field plus the template overhead; it covers OpenAI's own chat encoding", () => {
  const r = chat({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', name: 'ana', content: 'Héllo' }] })
  // system(6) + Be brief.(9); user(4) + ana(3) + Héllo(6)
  assert.equal(promptBound(r, M), 15 + 13 + 2 * perMessage + perRequest)
  const message = fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: fc.string({ unit: 'grapheme', maxLength: 200 }).filter((s) => !s.includes('<|')) })
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), (messages) => {
      const real = encodeChat(messages, 'gpt-4o').length
      return real <= promptBound(chat({ messages }), M)
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 200) },
  )
})

/**
 * Llama 3.1's chat template with tools in the first user message, as its tokenizer would count it:
 * each special token 1, each text segment at most its o200k count (byte-level BPE, as Llama 3's).
 */
function llama31Tokens(messages: Array<{ role: string; content: string }>, tools: object[]): number {
  let specials = 1 // <|begin_of_text|>
  const texts: string[] = []
  const turn = (role: string, body: string) => {
    specials += 3 // <|start_header_id|> <|end_header_id|> <|eot_id|>
    texts.push(role, '\n\n', body)
  }
  turn('system', `Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n${messages[0].role === 'system' ? messages[0].content : ''}`)
  const rest = messages[0].role === 'system' ? messages.slice(1) : messages
  rest.forEach((m, i) => {
    const toolText =
      i === 0 && tools.length > 0
        ? 'Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n' +
          tools.map((t) => JSON.stringify(t, null, 4) + '\n\n').join('')
        : ''
    turn(m.role, toolText + m.content)
  })
  specials += 2 // generation prompt
  texts.push('assistant', '\n\n')
  return specials + texts.reduce((sum, t) => sum + encodeO200k(t, AS_TEXT).length, 0)
}

test('the default template overhead covers Llama 3.1 with its default system text and tool instructions', () => {
  const tool = { type: 'function', function: { name: 'get_weather', description: 'Weather of a city — température', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] } } }
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 80 }), { minLength: 1, maxLength: 5 }), fc.nat(3), (contents, nTools) => {
      const messages = contents.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content }))
      const tools = Array.from({ length: nTools }, () => tool)
      return llama31Tokens(messages, tools) <= promptBound(chat({ messages, ...(nTools > 0 ? { tools } : {}) }), M)
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 200) },
  )
})

test('structured fields count by their 4-space JSON, and JSON held in strings (tool-call arguments) once more re-rendered', () => {
  const call = { id: 'c1', type: 'function', function: { name: 'f', arguments: '{"city":"Oslo"}' } }
  const expected = utf8Length(JSON.stringify([call], null, 4)) + utf8Length(JSON.stringify({ city: 'Oslo' }, null, 4))
  assert.equal(structuredBytes([call]), expected)
  const r = chat({ messages: [{ role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'c1', content: 'sunny' }] })
  assert.equal(promptBound(r, M), 9 + expected + 4 + 2 + 5 + 2 * perMessage + perRequest)
  const withFormat = chat({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' }, tool_choice: 'auto' })
  assert.equal(promptBound(withFormat, M), 5 + perMessage + perRequest + structuredBytes({ type: 'json_object' }) + structuredBytes('auto'))
})

test('content parts: text and refusal count their bytes; media costs perMediaPart, or is refused without it; unknown types are refused', () => {
  const parts = [{ type: 'text', text: 'abc' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }, { type: 'refusal', refusal: 'no' }]
  const r = chat({ messages: [{ role: 'user', content: parts }] })
  assert.equal(promptBound(r, model('  templateOverhead: {perMessage: 3, perRequest: 10, perMediaPart: 1000}\n')), 4 + 3 + 1000 + 2 + 3 + 10)
  assert.throws(() => promptBound(r, M), (e) => isGpuplaneError(e) && e.code === 'INVALID_INPUT' && e.location.path === 'messages[0].content[1]' && /spec\.templateOverhead\.perMediaPart/.test(e.message))
  const odd = chat({ messages: [{ role: 'user', content: [{ type: 'image_embeds', image_embeds: 'AAAA' }] }] })
  assert.throws(() => promptBound(odd, M), (e) => isGpuplaneError(e) && e.location.path === 'messages[0].content[0].type')
})

test('completions and embeddings: text by bytes, token ids exactly, overhead per prompt or input', () => {
  assert.equal(promptBound(req('completions', { model: 'm', prompt: 'héllo' }), M), 6 + perMessage + perRequest)
  assert.equal(promptBound(req('completions', { model: 'm', prompt: ['ab', 'cde'], suffix: 'zz' }), M), 2 + 3 + 2 * 2 + 2 * perMessage + perRequest)
  assert.equal(promptBound(req('completions', { model: 'm', prompt: [1, 2, 3] }), M), 3 + perMessage + perRequest)
  assert.equal(promptBound(req('embeddings', { model: 'm', input: [[1, 2], [3, 4, 5]] }), M), 5 + 2 * perMessage + perRequest)
  assert.equal(promptBound(req('embeddings', { model: 'm', input: ['a', 'bb'] }), M), 3 + 2 * perMessage + perRequest)
  assert.equal(promptBound(req('embeddings', { model: 'm', input: [] }), M), perRequest)
})

test('effective max_tokens: the request\'s (max_completion_tokens first) capped by the ceiling, else the default; 0 for embeddings', () => {
  const withDefault = model('  defaultMaxTokens: 256\n')
  const cases: Array<[object, number, number]> = [
    [{}, 4096, 256],
    [{ max_tokens: 100 }, 100, 100],
    [{ max_tokens: 10_000 }, 4096, 4096],
    [{ max_completion_tokens: 50, max_tokens: 2000 }, 50, 50],
    [{ max_tokens: null }, 4096, 256],
    [{ max_tokens: 0 }, 0, 0],
  ]
  for (const [fields, plain, defaulted] of cases) {
    const r = chat({ messages: [{ role: 'user', content: 'x' }], ...fields })
    assert.equal(effectiveMaxTokens(r, M), plain, JSON.stringify(fields))
    assert.equal(effectiveMaxTokens(r, withDefault), defaulted, JSON.stringify(fields))
  }
  assert.equal(effectiveMaxTokens(req('completions', { model: 'm', prompt: 'x', max_tokens: 7 }), M), 7)
  assert.equal(effectiveMaxTokens(req('embeddings', { model: 'm', input: 'x' }), M), 0)
})

test('completions generated: n for chat, prompts × max(n, best_of) for completions, none for embeddings', () => {
  assert.equal(completionCount(chat({ messages: [{ role: 'user', content: 'x' }] })), 1)
  assert.equal(completionCount(chat({ messages: [{ role: 'user', content: 'x' }], n: 3 })), 3)
  assert.equal(completionCount(req('completions', { model: 'm', prompt: ['a', 'b'], n: 2, best_of: 5 })), 10)
  assert.equal(completionCount(req('completions', { model: 'm', prompt: [1, 2, 3] })), 1)
  assert.equal(completionCount(req('embeddings', { model: 'm', input: ['a', 'b'] })), 0)
})

test('withMaxTokens sets every max-tokens field the client wrote, else max_tokens, and keeps the rest of the body', () => {
  const base = { messages: [{ role: 'user', content: 'x' }], temperature: 0.2, stream: true }
  assert.deepEqual(withMaxTokens(chat(base), 9), { model: 'm', ...base, max_tokens: 9 })
  assert.deepEqual(withMaxTokens(chat({ ...base, max_completion_tokens: 100 }), 9), { model: 'm', ...base, max_completion_tokens: 9 })
  assert.deepEqual(withMaxTokens(chat({ ...base, max_completion_tokens: 100, max_tokens: 50 }), 9), { model: 'm', ...base, max_completion_tokens: 9, max_tokens: 9 })
  assert.deepEqual(withMaxTokens(req('completions', { model: 'm', prompt: 'p', max_tokens: null }), 4), { model: 'm', prompt: 'p', max_tokens: 4 })
  assert.deepEqual(withMaxTokens(req('embeddings', { model: 'm', input: 'p' }), 4), { model: 'm', input: 'p' })
})

test('request checks name the field; fields that defeat the bound are refused', () => {
  const cases: Array<[Endpoint, unknown, string, RegExp]> = [
    ['chat', [], '', /must be a JSON object/],
    ['chat', { model: 'm' }, 'messages', /expected array, but the field is missing/],
    ['chat', { model: 'm', messages: [] }, 'messages', /at least 1 message/],
    ['chat', { model: 'm', messages: [{ content: 'x' }] }, 'messages[0].role', /expected string, but the field is missing/],
    ['chat', { model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', /a string, an array of content parts, or null/],
    ['chat', { model: 'm', messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages[0].content[0].text', /a text part needs text/],
    ['chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: -1 }, 'max_tokens', /0 or more/],
    ['chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 1.5 }, 'max_tokens', /whole number/],
    ['chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], n: 500 }, 'n', /at most 128/],
    ['chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], chat_template: '{{ x }}' }, 'chat_template', /may not replace the model's chat template/],
    ['chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], mm_processor_kwargs: {} }, 'mm_processor_kwargs', /processes media/],
    ['completions', { model: 'm', prompt_embeds: 'AAAA', prompt: '' }, 'prompt_embeds', /prompt embeddings/],
    ['completions', { model: 'm', prompt: [1, 'a'] }, 'prompt', /array of token ids/],
    ['embeddings', { input: 'x' }, 'model', /expected string, but the field is missing/],
  ]
  for (const [endpoint, body, path, message] of cases) {
    assert.throws(() => parseInferenceRequest(endpoint, body), (e) => isGpuplaneError(e) && e.code === 'INVALID_INPUT' && (e.location.path ?? '') === path && message.test(e.message), JSON.stringify(body))
  }
})

test('the estimate counts with o200k as OpenAI documents, and is below the bound', () => {
  const r = chat({ messages: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'Hello there <|endoftext|>' }] })
  const text = (s: string) => encodeO200k(s, AS_TEXT).length
  assert.equal(estimatePromptTokens(r), 3 + 3 + text('system') + text('You are helpful.') + 3 + text('user') + text('Hello there <|endoftext|>'))
  assert.ok(estimatePromptTokens(r) < promptBound(r, M))
  assert.equal(estimatePromptTokens(req('embeddings', { model: 'm', input: [[1, 2, 3], [4]] })), 4)
  assert.equal(estimatePromptTokens(req('embeddings', { model: 'm', input: ['hi', 'there'] })), text('hi') + text('there'))
})
