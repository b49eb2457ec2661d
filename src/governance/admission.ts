// Admission by reservation: the counters to reserve for a request (planAdmission), and what the counter's answer means for it (decideAdmission).
//
// The gateway's sequence, with `counters` a Counters (counters.ts):
//
//   const plan = planAdmission({ request, model, namespace, agent, policies, now })
//   const result = await counters.reserve(plan.items, plan.options)   // no I/O when plan.items is empty
//   const decision = decideAdmission(plan, result, now)
//   if (!decision.admitted) → 429 with decision.rejection.{body, headers}
//   else forward withMaxTokens(request, decision.maxTokens), add decision.headers to the response,
//        and afterwards apply reconcile(decision.reservation, usage, now).adjustments (reconcile.ts)
//
// What is reserved, per counter of every covering policy: for hard policies, the prompt bound
// (bound.ts) plus max_tokens for each completion, in tokens, and their cost in micro-dollars
// (cost.ts); 1 request. That is provably no less than the upstream will report, so admitted
// requests can never take a counter past its limit. Soft policies count the prompt estimate
// (estimate.ts) instead of the bound and are never checked. With a hard-clamp policy, max_tokens is
// left to the counter, which picks the largest value from CLAMP_MIN_TOKENS up to the effective
// max_tokens that fits every hard-clamp limit, atomically with the rest (counters.ts).
import type { Model } from '../api/model-v1alpha1.ts'
import type { TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { completionCount, effectiveMaxTokens, promptBound } from './bound.ts'
import { costMicro, pricesOf, tokensCostMicro, type Prices } from './cost.ts'
import { estimatePromptTokens } from './estimate.ts'
import type { ReserveItem, ReserveOptions, ReserveResult, UnitRate } from './counters.ts'
import { isHard, requestCounters, type LimitCounter } from './policies.ts'
import { rateLimitHeaders, rejectionFor, type Rejection } from './rejection.ts'
import type { InferenceRequest } from './requests.ts'
import { counterTtlSeconds } from './windows.ts'

/** Fewest completion tokens hard-clamp lowers max_tokens to; with less room left the request is refused. */
export const CLAMP_MIN_TOKENS = 1

const MICRO_PER_MTOK_DEN = 1_000_000

/** What planAdmission needs to know about a request. */
export interface AdmissionInput {
  request: InferenceRequest
  /** The Model the request names (already authorized for the agent: access.ts). */
  model: Model
  /** The agent's namespace and name. */
  namespace: string
  agent: string
  /** TokenPolicies to consider (those of the namespace, or all): the covering ones apply. */
  policies: readonly TokenPolicy[]
  /** Milliseconds since the epoch: picks the windows. */
  now: number
  /** The prompt estimate; called only when a soft policy applies. Default: estimate.ts's estimatePromptTokens of the request. */
  promptEstimate?: () => number
}

/** The reservation to make for a request: pass `items` and `options` to Counters.reserve. */
export interface AdmissionPlan {
  /** The counter of each item, in item order. */
  counters: LimitCounter[]
  items: ReserveItem[]
  options: ReserveOptions
  /** The request's prompt bound (tokens). */
  promptBound: number
  /** The prompt tokens soft counters count (the estimate), when a soft policy applies. */
  promptEstimate?: number
  /** Effective max_tokens per completion, before any clamp. */
  maxTokens: number
  /** Completions the request may generate, max_tokens each. */
  completions: number
  prices: Prices
}

/** The admitted reservation: what reconcile needs. */
export interface Reservation {
  counters: LimitCounter[]
  /** What was added to each counter. */
  reserved: number[]
  promptBound: number
  /** max_tokens per completion as admitted (after a clamp). */
  maxTokens: number
  completions: number
  prices: Prices
}

export type AdmissionDecision =
  | {
      admitted: true
      /** max_tokens to send upstream (bound.ts withMaxTokens): the effective value, or less if clamped. */
      maxTokens: number
      clamped: boolean
      reservation: Reservation
      /** `x-ratelimit-*` headers for the response. */
      headers: Record<string, string>
      /** Soft counters the request took past their limit (log them; the request goes ahead). */
      softExceeded: LimitCounter[]
    }
  | { admitted: false; rejection: Rejection }

/**
 * The counters to reserve for a request under the policies that cover it. Throws INVALID_INPUT
 * (from bound.ts) for requests whose prompt cannot be bounded for this Model. No covering policy:
 * no items (the request is admitted without counting).
 */
export function planAdmission(input: AdmissionInput): AdmissionPlan {
  const { request, model, now } = input
  const counters = requestCounters(input.policies, input.namespace, input.agent, model.metadata.name as string, now)
  const bound = promptBound(request, model)
  const maxTokens = effectiveMaxTokens(request, model)
  const completions = completionCount(request)
  const prices = pricesOf(model)
  const estimate = counters.some((c) => !isHard(c)) ? (input.promptEstimate ? input.promptEstimate() : estimatePromptTokens(request)) : undefined
  const clamp = maxTokens > 0 && counters.some((c) => c.mode === 'hard-clamp') ? { min: Math.min(CLAMP_MIN_TOKENS, maxTokens), max: maxTokens } : undefined
  const ctx: ItemContext = { maxTokens, completions, prices, clamped: clamp !== undefined, now }
  const items: ReserveItem[] = []
  for (const c of counters) items.push(reserveItem(c, isHard(c) ? bound : (estimate as number), ctx))
  return { counters, items, options: clamp ? { clamp } : {}, promptBound: bound, promptEstimate: estimate, maxTokens, completions, prices }
}

interface ItemContext {
  maxTokens: number
  completions: number
  prices: Prices
  /** Whether the completion part is left to the counter's clamp (per unit) rather than added whole. */
  clamped: boolean
  now: number
}

function reserveItem(counter: LimitCounter, promptTokens: number, ctx: ItemContext): ReserveItem {
  // Built as one literal (no spreads of partial objects): this runs for every counter of every request.
  const item: ReserveItem = { key: counter.key, amount: 0, ttlSeconds: counterTtlSeconds(counter.resetAt, ctx.now) }
  if (isHard(counter)) item.limit = counter.limit
  switch (counter.class) {
    case 'requests':
      item.amount = 1
      return item
    case 'tokens':
      if (!ctx.clamped) {
        item.amount = promptTokens + ctx.completions * ctx.maxTokens
        return item
      }
      item.amount = promptTokens
      item.perUnit = { num: ctx.completions, den: 1 }
      break
    case 'cost':
      if (!ctx.clamped) {
        item.amount = costMicro(ctx.prices, promptTokens, ctx.completions * ctx.maxTokens)
        return item
      }
      item.amount = tokensCostMicro(promptTokens, ctx.prices.inputMicroPerMTok)
      item.perUnit = reduced(ctx.completions * ctx.prices.outputMicroPerMTok, MICRO_PER_MTOK_DEN)
      break
  }
  if (counter.mode === 'hard-clamp') item.clamps = true
  return item
}

/** num/den in lowest terms (smaller numbers in the counter's arithmetic). */
function reduced(num: number, den: number): UnitRate {
  let a = num
  let b = den
  while (b !== 0) [a, b] = [b, a % b]
  return a === 0 ? { num: 0, den: 1 } : { num: num / a, den: den / a }
}

/**
 * What the counter's answer means for the request: admitted, with the max_tokens to send and the
 * reservation to reconcile later, or refused, with the 429 to send.
 */
export function decideAdmission(plan: AdmissionPlan, result: ReserveResult, now: number): AdmissionDecision {
  if (!result.ok) return { admitted: false, rejection: rejectionFor(plan, result, now) }
  const maxTokens = plan.options.clamp ? result.units : plan.maxTokens
  const softExceeded = plan.counters.filter((c, i) => !isHard(c) && result.values[i] > c.limit)
  return {
    admitted: true,
    maxTokens,
    clamped: maxTokens < plan.maxTokens,
    reservation: { counters: plan.counters, reserved: result.amounts, promptBound: plan.promptBound, maxTokens, completions: plan.completions, prices: plan.prices },
    headers: rateLimitHeaders(plan.counters, result.values, now),
    softExceeded,
  }
}
