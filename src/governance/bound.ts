// Upper bounds on the tokens a request may use: the prompt bound, the effective max_tokens and the number of completions it may generate.
//
// Why UTF-8 bytes bound prompt tokens. A byte-level BPE tokenizer (GPT-2, tiktoken's cl100k and
// o200k, Llama 3, Qwen, Mistral's Tekken) splits text into pieces and encodes each piece as a
// sequence of tokens from a vocabulary of byte strings; every ordinary token stands for at least
// one byte of the input, and merges only ever join bytes, so a text of B bytes is encoded in at
// most B tokens whatever the merges. The tokens that stand for no input byte are special tokens
// (begin-of-text, role headers, end-of-turn) and the text of the template itself (a default system
// prompt, tool instructions): the Model's `templateOverhead` bounds those, per message and per
// request. Hence, for every message m, tokens(m) <= bytes(m) + perMessage, and a request's prompt
// is at most the sum of those plus perRequest. (SentencePiece tokenizers with byte fallback keep
// the property: a piece covers at least one character, an unknown character falls back to its
// bytes; their dummy-prefix space is one more token per text, which perMessage covers.)
//
// What counts as a message's bytes: its role, its name and every other string field, its text
// content parts, and the JSON of any structured field (tool calls, function calls) written with
// 4-space indentation, the most spacious rendering common chat templates use (Llama 3.1's
// `tojson(indent=4)`; compact and `", "`-separated JSON are shorter), plus, for a string that
// holds JSON (tool-call arguments), that JSON re-rendered the same way, since templates may parse
// it. Tool and function definitions count as messages of their own; `response_format`,
// `tool_choice`, `documents` and `chat_template_kwargs` count by their JSON. A media part (image,
// audio, video, file) costs the Model's `perMediaPart`; a Model without it refuses media.
//
// The bound assumes the template renders each field once; a template that repeats request text
// needs a larger perRequest. It is 2 to 4 times the real count for English text: it is what the
// gateway reserves before the call, and reconcile releases the difference after it.
import type { Model } from '../api/model-v1alpha1.ts'
import { templateOverheadOf } from '../api/model-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { ChatCompletionRequest, ChatMessage, InferenceRequest, PromptInput } from './requests.ts'

/** Content part types whose tokens come from media, not from text: each costs the Model's perMediaPart. */
export const MEDIA_PART_TYPES: ReadonlySet<string> = new Set(['image_url', 'input_audio', 'audio_url', 'video_url', 'file'])

/** Chat request fields that templates may render into the prompt, counted by their JSON. */
const RENDERED_CHAT_FIELDS = ['response_format', 'tool_choice', 'function_call', 'documents', 'chat_template_kwargs'] as const

/**
 * Bytes of a string in UTF-8, as the upstream receives it (a lone surrogate becomes U+FFFD, 3
 * bytes). Node's native count does exactly that, and is some 30 times faster than a JavaScript
 * loop on a long prompt (the bound is computed on the gateway's hot path).
 */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8')
}

/**
 * An upper bound on the prompt tokens the upstream will count for the request, for byte-level
 * BPE tokenizers and a Model whose templateOverhead covers its template (see the file header).
 * Token-id prompts and inputs count exactly. Throws INVALID_INPUT (with the part's path) for a
 * media part when the Model sets no perMediaPart, and for content parts of unknown types.
 */
export function promptBound(request: InferenceRequest, model: Model): number {
  const overhead = templateOverheadOf(model)
  switch (request.endpoint) {
    case 'chat':
      return chatTextBound(request.body, model) + overhead.perRequest
    case 'completions': {
      const suffix = utf8Length(request.body.suffix ?? '')
      return promptItems(request.body.prompt).reduce((sum, item) => sum + itemBound(item) + suffix + overhead.perMessage, overhead.perRequest)
    }
    case 'embeddings':
      return promptItems(request.body.input).reduce((sum, item) => sum + itemBound(item) + overhead.perMessage, overhead.perRequest)
  }
}

/**
 * Completion tokens per completion: the request's `max_completion_tokens` (chat; else
 * `max_tokens`) capped by the Model's `maxTokens`, or the Model's default when it names none;
 * 0 for embeddings.
 */
export function effectiveMaxTokens(request: InferenceRequest, model: Model): number {
  if (request.endpoint === 'embeddings') return 0
  const requested = request.endpoint === 'chat' ? (request.body.max_completion_tokens ?? request.body.max_tokens) : request.body.max_tokens
  if (requested === null || requested === undefined) return model.spec.defaultMaxTokens ?? model.spec.maxTokens
  return Math.min(requested, model.spec.maxTokens)
}

/**
 * How many completions of up to max_tokens each the request may generate: `n` for chat; for
 * completions, `max(n, best_of)` per prompt (best_of candidates are all generated and billed);
 * 0 for embeddings.
 */
export function completionCount(request: InferenceRequest): number {
  switch (request.endpoint) {
    case 'chat':
      return request.body.n ?? 1
    case 'completions':
      return promptItems(request.body.prompt).length * Math.max(request.body.n ?? 1, request.body.best_of ?? 1)
    case 'embeddings':
      return 0
  }
}

/**
 * The body to send upstream with max_tokens set to `maxTokens` (a shallow copy): every max-tokens
 * field the client wrote is set (chat: `max_completion_tokens`, `max_tokens`), and `max_tokens`
 * when it wrote none, so that the upstream's own default never applies. Embeddings are unchanged.
 */
export function withMaxTokens(request: InferenceRequest, maxTokens: number): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request.body }
  if (request.endpoint === 'embeddings') return body
  const fields = request.endpoint === 'chat' ? (['max_completion_tokens', 'max_tokens'] as const) : (['max_tokens'] as const)
  const written = fields.filter((f) => body[f] !== undefined && body[f] !== null)
  for (const f of written.length > 0 ? written : (['max_tokens'] as const)) body[f] = maxTokens
  return body
}

/** The prompts (completions) or inputs (embeddings) of a request, each as text or token ids. */
export function promptItems(input: PromptInput): Array<string | number[]> {
  if (typeof input === 'string') return [input]
  if (input.length === 0) return []
  if (typeof input[0] === 'number') return [input as number[]]
  return input as Array<string | number[]>
}

function itemBound(item: string | number[]): number {
  return typeof item === 'string' ? utf8Length(item) : item.length
}

function chatTextBound(body: ChatCompletionRequest, model: Model): number {
  const { perMessage } = templateOverheadOf(model)
  let bytes = 0
  body.messages.forEach((m, i) => {
    bytes += perMessage + messageBytes(m, i, model)
  })
  for (const list of [body.tools, body.functions]) {
    for (const def of list ?? []) bytes += perMessage + structuredBytes(def)
  }
  for (const field of RENDERED_CHAT_FIELDS) {
    const v = (body as Record<string, unknown>)[field]
    if (v !== undefined && v !== null) bytes += structuredBytes(v)
  }
  return bytes
}

function messageBytes(message: ChatMessage, index: number, model: Model): number {
  let bytes = 0
  for (const [field, value] of Object.entries(message)) {
    if (field === 'content') bytes += contentBytes(message.content, index, model)
    else if (typeof value === 'string') bytes += utf8Length(value)
    else if (value !== undefined && value !== null) bytes += structuredBytes(value)
  }
  return bytes
}

function contentBytes(content: ChatMessage['content'], index: number, model: Model): number {
  if (typeof content === 'string') return utf8Length(content)
  if (!content) return 0
  let bytes = 0
  content.forEach((part, j) => {
    if (part.type === 'text') bytes += utf8Length(part.text as string)
    else if (part.type === 'refusal') bytes += utf8Length(part.refusal as string)
    else bytes += mediaPartBound(part.type, `messages[${index}].content[${j}]`, model)
  })
  return bytes
}

function mediaPartBound(type: string, path: string, model: Model): number {
  if (!MEDIA_PART_TYPES.has(type)) {
    throw new GpuplaneError('INVALID_INPUT', `content part type "${type}" is not supported by the gateway; use text, refusal or one of ${[...MEDIA_PART_TYPES].join(', ')}`, { path: `${path}.type` })
  }
  const perMediaPart = templateOverheadOf(model).perMediaPart
  if (perMediaPart === undefined) {
    throw new GpuplaneError('INVALID_INPUT', `model ${model.metadata.name as string} does not accept ${type} parts: the gateway cannot bound their tokens unless the Model sets spec.templateOverhead.perMediaPart`, { path })
  }
  return perMediaPart
}

/**
 * Bytes of a structured value as templates may render it: its JSON with 4-space indentation, plus,
 * for each string inside that holds a JSON object or array, that JSON rendered the same way.
 */
export function structuredBytes(value: unknown): number {
  return utf8Length(JSON.stringify(value, null, 4) ?? '') + embeddedJsonBytes(value)
}

function embeddedJsonBytes(value: unknown): number {
  if (typeof value === 'string') {
    const t = value.trimStart()
    if (t[0] !== '{' && t[0] !== '[') return 0
    try {
      return structuredBytes(JSON.parse(value) as unknown)
    } catch {
      return 0
    }
  }
  if (typeof value !== 'object' || value === null) return 0
  let bytes = 0
  for (const v of Array.isArray(value) ? value : Object.values(value)) bytes += embeddedJsonBytes(v)
  return bytes
}

