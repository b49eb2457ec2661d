// What tokens cost, in whole micro-dollars computed with integers (never floats), from a Model's prices.
//
// A price of P dollars per million tokens is P micro-dollars per token, which is fractional for
// cheap models (0.10 $/MTok is 0.1 µ$ per token). Costs are therefore computed exactly from the
// price in micro-dollars per million tokens and rounded up, separately for the prompt and the
// completion: cost(p, c) = ceil(p * in / 10^6) + ceil(c * out / 10^6) µ$. Rounding up keeps a cost
// cap from being overshot by rounding, and rounding each part separately makes the cost of a
// request a sum of a prompt term and a completion term, which is what lets hard-clamp find the
// largest max_tokens that fits a cost limit (counters.ts).
import { dollarsToMicro, MICRO_DOLLARS_PER_DOLLAR } from '../api/governance-fields.ts'
import type { Model } from '../api/model-v1alpha1.ts'

const TOKENS_PER_MTOK = 1_000_000n

/** A Model's prices in whole micro-dollars per million tokens. */
export interface Prices {
  inputMicroPerMTok: number
  outputMicroPerMTok: number
}

const pricesByModel = new WeakMap<Model, Prices>()

/**
 * The prices of a Model (its dollars per million tokens, exactly, as micro-dollars per million
 * tokens), worked out once per Model object (objects are replaced, not changed, when edited).
 * Shared: do not modify.
 */
export function pricesOf(model: Model): Prices {
  let prices = pricesByModel.get(model)
  if (prices === undefined) {
    prices = { inputMicroPerMTok: dollarsToMicro(model.spec.pricing.inputPerMTok), outputMicroPerMTok: dollarsToMicro(model.spec.pricing.outputPerMTok) }
    pricesByModel.set(model, prices)
  }
  return prices
}

/** Micro-dollars of `tokens` at `microPerMTok`, rounded up. */
export function tokensCostMicro(tokens: number, microPerMTok: number): number {
  const product = BigInt(tokens) * BigInt(microPerMTok)
  return Number((product + TOKENS_PER_MTOK - 1n) / TOKENS_PER_MTOK)
}

/** Micro-dollars of a request's prompt and completion tokens: each part rounded up. */
export function costMicro(prices: Prices, promptTokens: number, completionTokens: number): number {
  return tokensCostMicro(promptTokens, prices.inputMicroPerMTok) + tokensCostMicro(completionTokens, prices.outputMicroPerMTok)
}

/** Micro-dollars as dollars for people (a number with up to 6 decimals). */
export function microToDollars(micro: number): number {
  return micro / MICRO_DOLLARS_PER_DOLLAR
}
