// gpuplane.io/v1alpha1 Model: an approved model of the AI gateway (upstream, prices, max-tokens ceiling, template overhead, namespaces); zod schema and decoding with file/document/path errors.
//
// A Model is cluster-scoped. Its name is the model name clients send (`"model": "llama-3.1-8b"`);
// the gateway forwards to `upstream.baseURL` with `upstream.model` in its place. Only agents of the
// namespaces listed may call it, and only if the agent lists it too (agent-v1alpha1.ts).
//
// `maxTokens` is a ceiling: a request asking for more completion tokens is lowered to it, and a
// request that asks for none gets `defaultMaxTokens` (else `maxTokens`). The gateway always sends
// the effective value upstream, so that what it reserves bounds what the upstream may generate.
//
// `templateOverhead` bounds the tokens the model's prompt template adds to the text of a request
// (special tokens, role headers, a default system prompt, tool instructions); see
// src/governance/bound.ts for how the gateway bounds prompt tokens with it.
//
// Example:
//
//   apiVersion: gpuplane.io/v1alpha1
//   kind: Model
//   metadata: {name: llama-3.1-8b}
//   spec:
//     upstream: {baseURL: "http://127.0.0.1:8000/v1", model: meta-llama/Llama-3.1-8B-Instruct, apiKeyEnv: VLLM_API_KEY}
//     pricing: {inputPerMTok: 0.10, outputPerMTok: 0.20}
//     maxTokens: 4096
//     defaultMaxTokens: 1024
//     templateOverhead: {perMessage: 8, perRequest: 256}
//     namespaces: [team-a]
import { z } from 'zod'
import type { ErrorLocation } from '../common/errors.ts'
import type { Foreign } from './decode.ts'
import { decodeKind, GPUPLANE_V1ALPHA1, parseKind, type KindDecoder } from './decode-kind.ts'
import { clusterScopedMeta, describeNumberIssue, dollars, NamespaceName, refuseDuplicates } from './governance-fields.ts'
import { Count } from './meta.ts'

/**
 * Largest `maxTokens` ceiling: 10 million, ten times the longest context windows offered today, so
 * that every token amount of a request stays an exact integer in counters (below 2^53).
 */
export const MAX_TOKENS_CEILING = 10_000_000
/** Highest price per million tokens, in dollars: far above any offered, so that a typo in the unit stands out. */
export const MAX_PRICE_PER_MTOK = 10_000
/** Most tokens a template may add per message or per request; a larger value is a unit mistake. */
export const MAX_TEMPLATE_OVERHEAD = 1_000_000

/**
 * Template overhead when a Model sets none: 8 tokens around each message (OpenAI documents 3 or 4
 * for its chat format; Llama 3 and ChatML templates add 4 to 5 besides the role), and 256 once per
 * request (Llama 3.1 adds about 30 tokens of header and default system text, and up to about 100
 * more of tool instructions when tools are given; Qwen 2.5 about 25, and about 110 with tools).
 */
export const DEFAULT_TEMPLATE_OVERHEAD = { perMessage: 8, perRequest: 256 } as const

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

const PositiveTokens = Count.refine((n) => n >= 1 && n <= MAX_TOKENS_CEILING, `must be a whole number from 1 to ${MAX_TOKENS_CEILING}`)
const Overhead = Count.refine((n) => n >= 0 && n <= MAX_TEMPLATE_OVERHEAD, `must be a whole number of tokens from 0 to ${MAX_TEMPLATE_OVERHEAD}`)

/** Where the gateway sends a Model's requests: an OpenAI-compatible API. */
export const ModelUpstream = z.strictObject({
  /** Base URL of the OpenAI-compatible API, up to and including `/v1` (e.g. `http://127.0.0.1:8000/v1`). */
  baseURL: z.string().superRefine((v, ctx) => {
    let url: URL
    try {
      url = new URL(v)
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a URL; write e.g. http://127.0.0.1:8000/v1` })
      return
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `"${v}" must be an http:// or https:// URL` })
    if (url.search !== '' || url.hash !== '') ctx.addIssue({ code: 'custom', message: `"${v}" must not have a query or fragment; write the base URL only` })
  }),
  /** Model name the upstream knows, sent in place of the Model's name (e.g. `meta-llama/Llama-3.1-8B-Instruct`). */
  model: z.string().min(1, 'must name the upstream model, e.g. meta-llama/Llama-3.1-8B-Instruct'),
  /** Environment variable of the gateway holding the upstream's API key (sent as a Bearer token); absent: none is sent. */
  apiKeyEnv: z.string().regex(ENV_NAME, 'must be an environment variable name: letters, digits and _, not starting with a digit').optional(),
})
export type ModelUpstream = z.infer<typeof ModelUpstream>

/** Prices in dollars per million tokens, at most 6 decimals (exact micro-dollars per million tokens). */
export const ModelPricing = z.strictObject({
  /** Dollars per million prompt (input) tokens. */
  inputPerMTok: dollars(MAX_PRICE_PER_MTOK),
  /** Dollars per million completion (output) tokens. */
  outputPerMTok: dollars(MAX_PRICE_PER_MTOK),
})
export type ModelPricing = z.infer<typeof ModelPricing>

/** Tokens the model's prompt template adds to the text of a request, at most. */
export const TemplateOverhead = z.strictObject({
  /** Tokens around each message (and each prompt or input of a completions or embeddings batch), besides its text. */
  perMessage: Overhead,
  /** Tokens once per request: begin-of-text, generation prompt, a default system prompt, tool instructions. */
  perRequest: Overhead,
  /**
   * Tokens an image, audio or file content part may cost at most. Absent: requests with such parts
   * are refused, because their tokens cannot be bounded from their bytes.
   */
  perMediaPart: Overhead.optional(),
})
export type TemplateOverhead = z.infer<typeof TemplateOverhead>

const ModelSpecFields = z.strictObject({
  upstream: ModelUpstream,
  pricing: ModelPricing,
  /** Most completion tokens a request may ask for; larger requests are lowered to it. */
  maxTokens: PositiveTokens,
  /** Completion tokens of a request that names none; default `maxTokens`. At most `maxTokens`. */
  defaultMaxTokens: PositiveTokens.optional(),
  /** The prompt template's overhead; default DEFAULT_TEMPLATE_OVERHEAD. */
  templateOverhead: TemplateOverhead.optional(),
  /** Namespaces whose agents may call the model (each once); an empty list approves it for none. */
  namespaces: z.array(NamespaceName),
})

export const ModelSpec = ModelSpecFields.superRefine((spec, ctx) => {
  if (spec.defaultMaxTokens !== undefined && spec.defaultMaxTokens > spec.maxTokens) {
    ctx.addIssue({ code: 'custom', path: ['defaultMaxTokens'], message: `${spec.defaultMaxTokens} exceeds maxTokens (${spec.maxTokens}); lower it or raise maxTokens` })
  }
  const seen = new Map<string, number>()
  spec.namespaces.forEach((ns, i) => {
    const first = seen.get(ns)
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['namespaces', i], message: `namespace "${ns}" is listed twice (also at namespaces[${first}]); keep one` })
    else seen.set(ns, i)
  })
})
export type ModelSpec = z.infer<typeof ModelSpec>

export const Model = z.strictObject({
  apiVersion: z.literal(GPUPLANE_V1ALPHA1),
  kind: z.literal('Model'),
  /** `name` (a DNS subdomain, required) is the model name clients send; a Model is cluster-scoped. */
  metadata: clusterScopedMeta('Model', 'llama-3.1-8b'),
  spec: ModelSpec,
  status: z.looseObject({}).optional(),
})
export type Model = z.infer<typeof Model>

/** A decoded Model with where it came from; `location.path` is the object's own path (e.g. `items[0]` in a List). */
export interface DecodedModel {
  model: Model
  location: ErrorLocation
}

const MODEL_DECODER: KindDecoder<typeof Model> = { kind: 'Model', schema: Model, describe: describeNumberIssue }

/**
 * Reads the Model objects of a YAML/JSON text (multi-document, `kind: List` too); other kinds are
 * ignored (DRA objects are checked first, as decodeText does). A name declared twice is an error
 * at the second. Throws GpuplaneError (INVALID_INPUT) naming file, document and field path.
 */
export function decodeModels(text: string, file?: string): DecodedModel[] {
  const out = decodeKind(text, file, MODEL_DECODER).map(({ object, location }) => ({ model: object, location }))
  refuseDuplicates('Model', out.map((d) => ({ key: d.model.metadata.name as string, location: d.location })))
  return out
}

/** Shape and rule checks of one Model read by decodeText. */
export function parseModel(f: Foreign): DecodedModel {
  const { object, location } = parseKind(f, MODEL_DECODER)
  return { model: object, location }
}

/** The template overhead of a Model: its own, else DEFAULT_TEMPLATE_OVERHEAD. */
export function templateOverheadOf(model: Model): TemplateOverhead {
  return model.spec.templateOverhead ?? DEFAULT_TEMPLATE_OVERHEAD
}
