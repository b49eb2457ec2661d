// The OpenAI-compatible request bodies the gateway admits (chat completions, completions, embeddings): zod schemas of the fields that admission reads, with field-path errors.
//
// Only the fields that decide what a request may cost are checked; every other field passes
// through untouched (the schemas are loose), so the gateway forwards what the client sent. Fields
// that would make the prompt bound meaningless are refused: `chat_template` (a template supplied
// by the client may repeat the text any number of times), `mm_processor_kwargs` (may raise the
// tokens per image), `prompt_embeds` (embeddings of any length); so are content parts of a type
// the bound does not know (bound.ts).
import { z } from 'zod'
import { formatPath } from '../api/decode.ts'
import { GpuplaneError } from '../common/errors.ts'

/** Most completions one request may ask for per prompt (`n`, `best_of`): OpenAI's own limit for `n`. */
export const MAX_CHOICES = 128

/** The endpoints admission knows, by the path clients call. */
export const ENDPOINT_PATHS = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
} as const
export type Endpoint = (typeof ENDPOINT_PATHS)[keyof typeof ENDPOINT_PATHS]

const Tokens = z.number().int().nonnegative('must be 0 or more')
const OptionalTokens = Tokens.nullable().optional()
const Choices = z.number().int().min(1, 'must be 1 or more').max(MAX_CHOICES, `must be at most ${MAX_CHOICES}`).nullable().optional()

/** A content part: text, a refusal (assistant messages), or media (image, audio, video, file). */
export const ContentPart = z.looseObject({ type: z.string(), text: z.unknown().optional(), refusal: z.unknown().optional() }).superRefine((part, ctx) => {
  if (part.type === 'text' && typeof part.text !== 'string') ctx.addIssue({ code: 'custom', path: ['text'], message: 'a text part needs text (a string)' })
  if (part.type === 'refusal' && typeof part.refusal !== 'string') ctx.addIssue({ code: 'custom', path: ['refusal'], message: 'a refusal part needs refusal (a string)' })
})
export type ContentPart = z.infer<typeof ContentPart>

export const ChatMessage = z.looseObject({
  role: z.string().min(1, 'must name the role, e.g. user'),
  content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  name: z.string().optional(),
})
export type ChatMessage = z.infer<typeof ChatMessage>

/** POST /v1/chat/completions. */
export const ChatCompletionRequest = z.looseObject({
  model: z.string().min(1, 'must name a model'),
  messages: z.array(ChatMessage).min(1, 'must have at least 1 message'),
  max_tokens: OptionalTokens,
  max_completion_tokens: OptionalTokens,
  n: Choices,
  tools: z.array(z.unknown()).nullable().optional(),
  functions: z.array(z.unknown()).nullable().optional(),
  stream: z.boolean().nullable().optional(),
})
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>

/** A prompt or an embeddings input: text, texts, token ids, or lists of token ids. */
export const PromptInput = z.union([z.string(), z.array(z.string()), z.array(Tokens), z.array(z.array(Tokens))])
export type PromptInput = z.infer<typeof PromptInput>

/** POST /v1/completions. */
export const CompletionRequest = z.looseObject({
  model: z.string().min(1, 'must name a model'),
  prompt: PromptInput,
  suffix: z.string().nullable().optional(),
  max_tokens: OptionalTokens,
  n: Choices,
  best_of: Choices,
  stream: z.boolean().nullable().optional(),
})
export type CompletionRequest = z.infer<typeof CompletionRequest>

/** POST /v1/embeddings. */
export const EmbeddingRequest = z.looseObject({
  model: z.string().min(1, 'must name a model'),
  input: PromptInput,
})
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>

/** A request body checked for its endpoint. */
export type InferenceRequest =
  | { endpoint: 'chat'; body: ChatCompletionRequest }
  | { endpoint: 'completions'; body: CompletionRequest }
  | { endpoint: 'embeddings'; body: EmbeddingRequest }

const SCHEMAS = { chat: ChatCompletionRequest, completions: CompletionRequest, embeddings: EmbeddingRequest } as const

/** Request fields refused whatever the endpoint, with the reason. */
const REFUSED_FIELDS: Record<string, string> = {
  chat_template: 'a request may not replace the model\'s chat template (the gateway could not bound the tokens it adds); remove it',
  mm_processor_kwargs: 'a request may not change how the model processes media (the gateway bounds each media part by the Model\'s perMediaPart); remove it',
  prompt_embeds: 'a request may not send prompt embeddings (the gateway cannot bound their tokens); send text or token ids',
}

/**
 * Checks a parsed JSON body for its endpoint. Throws GpuplaneError INVALID_INPUT (400) whose path
 * names the field, e.g. `messages[2].content`.
 */
export function parseInferenceRequest(endpoint: Endpoint, body: unknown): InferenceRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GpuplaneError('INVALID_INPUT', 'the request body must be a JSON object')
  }
  for (const [field, reason] of Object.entries(REFUSED_FIELDS)) {
    if (field in body) throw new GpuplaneError('INVALID_INPUT', reason, { path: field })
  }
  if (endpoint === 'chat') {
    const plain = plainChatRequest(body as Record<string, unknown>)
    if (plain !== undefined) return { endpoint, body: plain }
  }
  const parsed = SCHEMAS[endpoint].safeParse(body, { reportInput: true })
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new GpuplaneError('INVALID_INPUT', describeRequestIssue(issue), { path: formatPath(issue.path) })
  }
  return { endpoint, body: parsed.data } as InferenceRequest
}

const CHAT_KEYS = Object.keys(ChatCompletionRequest.shape)
const MESSAGE_KEYS = Object.keys(ChatMessage.shape)

/**
 * The gateway's hot path for the usual chat request (text messages): what ChatCompletionRequest
 * would return for it, built without zod (several times faster), or undefined when the body is
 * anything else (then zod checks it and names what is wrong). It accepts only bodies the schema
 * accepts and returns what the schema returns: copies with the schema's keys first, in its order,
 * then the others as they came (the key order of the JSON sent upstream).
 */
function plainChatRequest(body: Record<string, unknown>): ChatCompletionRequest | undefined {
  const { model, messages } = body
  if (typeof model !== 'string' || model === '' || !Array.isArray(messages) || messages.length === 0) return undefined
  if (!optionalTokens(body.max_tokens) || !optionalTokens(body.max_completion_tokens) || !optionalChoices(body.n)) return undefined
  if (!optionalArray(body.tools) || !optionalArray(body.functions) || !(body.stream === undefined || body.stream === null || typeof body.stream === 'boolean')) return undefined
  const copies: Record<string, unknown>[] = []
  for (const m of messages as unknown[]) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return undefined
    const { role, content, name } = m as Record<string, unknown>
    if (typeof role !== 'string' || role === '' || !(content === undefined || content === null || typeof content === 'string') || !(name === undefined || typeof name === 'string')) return undefined
    const copy = schemaOrder(m as Record<string, unknown>, MESSAGE_KEYS)
    if (copy === undefined) return undefined
    copies.push(copy)
  }
  const out = schemaOrder(body, CHAT_KEYS)
  if (out === undefined) return undefined
  out.messages = copies
  if (Array.isArray(body.tools)) out.tools = [...(body.tools as unknown[])]
  if (Array.isArray(body.functions)) out.functions = [...(body.functions as unknown[])]
  return out as ChatCompletionRequest
}

/** A copy of `o` with `keys` first (those it has), then its other keys; undefined for a `__proto__` key (left to zod). */
function schemaOrder(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> | undefined {
  if (Object.hasOwn(o, '__proto__')) return undefined
  const out: Record<string, unknown> = {}
  for (const k of keys) if (Object.hasOwn(o, k)) out[k] = o[k]
  for (const k of Object.keys(o)) if (!keys.includes(k)) out[k] = o[k]
  return out
}

function optionalTokens(v: unknown): boolean {
  return v === undefined || v === null || (Number.isSafeInteger(v) && (v as number) >= 0)
}

function optionalChoices(v: unknown): boolean {
  return v === undefined || v === null || (Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= MAX_CHOICES)
}

function optionalArray(v: unknown): boolean {
  return v === undefined || v === null || Array.isArray(v)
}

function describeRequestIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected === 'int' ? 'a whole number' : issue.expected}${issue.input === undefined ? ', but the field is missing' : ''}`
    case 'invalid_union':
      return issue.path[issue.path.length - 1] === 'content'
        ? 'expected a string, an array of content parts, or null'
        : 'expected a string, an array of strings, an array of token ids, or an array of arrays of token ids'
    default:
      return issue.message
  }
}
