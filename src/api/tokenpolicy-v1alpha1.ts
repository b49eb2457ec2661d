// gpuplane.io/v1alpha1 TokenPolicy: token, request and cost limits per window for a namespace's agents and models, and what to do at the limit; zod schema and decoding with file/document/path errors.
//
// A TokenPolicy is namespaced and covers the requests of its namespace's agents, narrowed by its
// selector to one agent and/or one model. Every policy that covers a request applies: a request is
// admitted only if it fits every limit of every covering hard policy (src/governance/policies.ts).
//
// Windows are fixed calendar windows in UTC (the minute, hour, day or calendar month a request
// starts in), not sliding ones: a limit resets at the start of the next window. `tokens` counts
// prompt and completion tokens together; `requests` counts requests; `cost` is in dollars, from
// the Model's prices.
//
// Modes:
// - `hard-reject`: a request that may not fit is refused (429), before it reaches the model;
// - `hard-clamp`: a request's max_tokens is lowered to what is left, and it is refused only when
//   not even one completion token is left;
// - `soft`: every request is admitted and counted; going over is reported, not enforced.
//
// Example:
//
//   apiVersion: gpuplane.io/v1alpha1
//   kind: TokenPolicy
//   metadata: {name: team-a-daily, namespace: team-a}
//   spec:
//     selector: {agent: support-bot}   # optional; without it the policy covers the whole namespace
//     mode: hard-reject
//     limits:
//     - {window: day, tokens: 200000}
//     - {window: minute, requests: 600}
import { z } from 'zod'
import type { ErrorLocation } from '../common/errors.ts'
import type { Foreign } from './decode.ts'
import { decodeKind, GPUPLANE_V1ALPHA1, parseKind, type KindDecoder } from './decode-kind.ts'
import { describeNumberIssue, dollars, namespacedMeta, ObjectName, refuseDuplicates } from './governance-fields.ts'
import { Count } from './meta.ts'

/** The windows a limit counts over, shortest first. */
export const LIMIT_WINDOWS = ['minute', 'hour', 'day', 'month'] as const
export const LimitWindow = z.enum(LIMIT_WINDOWS)
export type LimitWindow = z.infer<typeof LimitWindow>

/** What a limit counts. */
export const LIMIT_CLASSES = ['tokens', 'requests', 'cost'] as const
export type LimitClass = (typeof LIMIT_CLASSES)[number]

export const TOKEN_POLICY_MODES = ['hard-reject', 'hard-clamp', 'soft'] as const
export const TokenPolicyMode = z.enum(TOKEN_POLICY_MODES)
export type TokenPolicyMode = z.infer<typeof TokenPolicyMode>
/** The mode of a policy that names none: the strict one. */
export const DEFAULT_TOKEN_POLICY_MODE: TokenPolicyMode = 'hard-reject'

/**
 * Largest token or request limit: 2^50, so that a counter plus one request's amount stays an exact
 * integer (below 2^53) in JavaScript and in Redis's Lua.
 */
export const MAX_LIMIT_COUNT = 2 ** 50
/** Largest cost limit in dollars: a billion, 10^15 micro-dollars, below 2^50 micro-dollars. */
export const MAX_COST_LIMIT = 1_000_000_000

const LimitCount = Count.refine((n) => n >= 0 && n <= MAX_LIMIT_COUNT, `must be a whole number from 0 to ${MAX_LIMIT_COUNT}`)

/** One limit: at most this many tokens, requests and/or dollars per window (at least one of them). */
export const TokenLimit = z
  .strictObject({
    window: LimitWindow,
    /** Prompt plus completion tokens per window. */
    tokens: LimitCount.optional(),
    /** Requests per window. */
    requests: LimitCount.optional(),
    /** Dollars per window (at most 6 decimals), from the Model's prices. */
    cost: dollars(MAX_COST_LIMIT).optional(),
  })
  .refine((l) => l.tokens !== undefined || l.requests !== undefined || l.cost !== undefined, 'a limit needs tokens, requests or cost (e.g. {window: day, tokens: 200000})')
export type TokenLimit = z.infer<typeof TokenLimit>

/** Which requests of the namespace the policy covers; an empty selector covers them all. */
export const TokenPolicySelector = z.strictObject({
  /** Only this Agent's requests. */
  agent: ObjectName.optional(),
  /** Only requests for this Model. */
  model: ObjectName.optional(),
})
export type TokenPolicySelector = z.infer<typeof TokenPolicySelector>

const TokenPolicySpecFields = z.strictObject({
  /** Absent: the whole namespace. */
  selector: TokenPolicySelector.optional(),
  /** Default `hard-reject`. */
  mode: TokenPolicyMode.optional(),
  limits: z.array(TokenLimit).min(1, 'must have at least 1 limit, e.g. [{window: day, tokens: 200000}]'),
})

export const TokenPolicySpec = TokenPolicySpecFields.superRefine((spec, ctx) => {
  const seen = new Map<string, number>()
  spec.limits.forEach((limit, i) => {
    for (const cls of LIMIT_CLASSES) {
      if (limit[cls] === undefined) continue
      const key = `${limit.window}/${cls}`
      const first = seen.get(key)
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['limits', i, cls], message: `${cls} per ${limit.window} is already limited at limits[${first}]; keep the one you mean` })
      else seen.set(key, i)
    }
  })
})
export type TokenPolicySpec = z.infer<typeof TokenPolicySpec>

export const TokenPolicy = z.strictObject({
  apiVersion: z.literal(GPUPLANE_V1ALPHA1),
  kind: z.literal('TokenPolicy'),
  /** `name` (a DNS subdomain, required) and the namespace whose requests the policy limits. */
  metadata: namespacedMeta('TokenPolicy', 'team-a-daily'),
  spec: TokenPolicySpec,
  status: z.looseObject({}).optional(),
})
export type TokenPolicy = z.infer<typeof TokenPolicy>

/** A decoded TokenPolicy with where it came from; `location.path` is the object's own path (e.g. `items[0]` in a List). */
export interface DecodedTokenPolicy {
  policy: TokenPolicy
  location: ErrorLocation
}

const TOKEN_POLICY_DECODER: KindDecoder<typeof TokenPolicy> = { kind: 'TokenPolicy', schema: TokenPolicy, describe: describeNumberIssue }

/**
 * Reads the TokenPolicy objects of a YAML/JSON text (multi-document, `kind: List` too); other kinds
 * are ignored. The same namespace/name twice is an error at the second; `defaultNamespace` stands
 * for an absent metadata.namespace in that check. Throws GpuplaneError (INVALID_INPUT) naming file,
 * document and field path.
 */
export function decodeTokenPolicies(text: string, file?: string, defaultNamespace = 'default'): DecodedTokenPolicy[] {
  const out = decodeKind(text, file, TOKEN_POLICY_DECODER).map(({ object, location }) => ({ policy: object, location }))
  refuseDuplicates('TokenPolicy', out.map((d) => ({ key: `${d.policy.metadata.namespace ?? defaultNamespace}/${d.policy.metadata.name as string}`, location: d.location })))
  return out
}

/** Shape and rule checks of one TokenPolicy read by decodeText. */
export function parseTokenPolicy(f: Foreign): DecodedTokenPolicy {
  const { object, location } = parseKind(f, TOKEN_POLICY_DECODER)
  return { policy: object, location }
}
