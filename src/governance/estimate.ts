// The estimate of a request's prompt tokens with an OpenAI tokenizer (o200k_base through gpt-tokenizer): what users are shown, and what `soft` policies count.
//
// This is an estimate, not a bound: models with other tokenizers (Llama, Qwen, Mistral) count
// differently, in either direction, and their templates add their own tokens. Admission of hard
// policies uses bound.ts, which cannot undercount; the estimate is what a user can relate to
// ("about 1,200 tokens"). It follows OpenAI's documented chat counting: 3 tokens per message, 1
// more for a name, 3 to prime the reply. Media parts count nothing here. Importing this file
// loads the tokenizer's ranks (about 0.3 s, once per process).
import { encode } from 'gpt-tokenizer/encoding/o200k_base'
import { promptItems } from './bound.ts'
import type { ChatMessage, InferenceRequest } from './requests.ts'

/** OpenAI's chat counting (openai-cookbook, "How to count tokens with tiktoken"). */
export const ESTIMATE_TOKENS_PER_MESSAGE = 3
export const ESTIMATE_TOKENS_PER_NAME = 1
export const ESTIMATE_TOKENS_PER_REPLY = 3

/** Special-token text in user input (`<|endoftext|>`) is counted as the text it is, never refused. */
const AS_TEXT = { disallowedSpecial: new Set<string>() }

/** Tokens of a text with o200k_base. */
export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : encode(text, AS_TEXT).length
}

/** Estimated prompt tokens of a request (chat messages, tools, prompts, inputs); token-id prompts count exactly. */
export function estimatePromptTokens(request: InferenceRequest): number {
  switch (request.endpoint) {
    case 'chat': {
      let tokens = ESTIMATE_TOKENS_PER_REPLY
      for (const m of request.body.messages) tokens += ESTIMATE_TOKENS_PER_MESSAGE + messageTokens(m)
      for (const def of [...(request.body.tools ?? []), ...(request.body.functions ?? [])]) tokens += countTextTokens(JSON.stringify(def) ?? '')
      return tokens
    }
    case 'completions':
      return promptItems(request.body.prompt).reduce((sum, item) => sum + itemTokens(item), 0)
    case 'embeddings':
      return promptItems(request.body.input).reduce((sum, item) => sum + itemTokens(item), 0)
  }
}

function itemTokens(item: string | number[]): number {
  return typeof item === 'string' ? countTextTokens(item) : item.length
}

function messageTokens(message: ChatMessage): number {
  let tokens = 0
  for (const [field, value] of Object.entries(message)) {
    if (field === 'content') tokens += contentTokens(message.content)
    else if (typeof value === 'string') tokens += countTextTokens(value) + (field === 'name' ? ESTIMATE_TOKENS_PER_NAME : 0)
    else if (value !== undefined && value !== null) tokens += countTextTokens(JSON.stringify(value) ?? '')
  }
  return tokens
}

function contentTokens(content: ChatMessage['content']): number {
  if (typeof content === 'string') return countTextTokens(content)
  let tokens = 0
  for (const part of content ?? []) {
    if (part.type === 'text' && typeof part.text === 'string') tokens += countTextTokens(part.text)
    else if (part.type === 'refusal' && typeof part.refusal === 'string') tokens += countTextTokens(part.refusal)
  }
  return tokens
}
