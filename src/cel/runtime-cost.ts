// The per-evaluation cost budget: cel-go's CostLimit, rebuilt for cel-js (which tracks no cost).
//
// Evaluation is synchronous and single-threaded, so one module-level budget serves every
// evaluation: matches() resets it, comprehension steps and library functions whose cost depends on
// their input charge it. Once exceeded it stays exceeded for the rest of the evaluation, because
// cel-js swallows errors inside `&&`, `||` and quantifier macros (CEL's commutative error
// semantics) and would otherwise let `expensive || true` succeed.

/**
 * resource.k8s.io/v1 types.go: CELSelectorExpressionMaxCost. Validation rejects selectors whose
 * estimated cost exceeds it; the scheduler passes it to cel.CostLimit for every evaluation.
 */
export const CEL_SELECTOR_EXPRESSION_MAX_COST = 1_000_000

/** Thrown by charge() when the budget runs out; one instance, so throwing in a loop allocates nothing. */
export class CostLimitExceeded extends Error {
  constructor() {
    super('operation cancelled: actual cost limit exceeded')
    this.name = 'CostLimitExceeded'
  }
}

const COST_LIMIT_EXCEEDED = new CostLimitExceeded()

let remaining = CEL_SELECTOR_EXPRESSION_MAX_COST
let exceeded = false

/** Starts a fresh budget for one evaluation. */
export function resetBudget(limit: number = CEL_SELECTOR_EXPRESSION_MAX_COST): void {
  remaining = limit
  exceeded = false
}

/** Whether the current evaluation ran out of budget (even if cel-js swallowed the error). */
export function budgetExceeded(): boolean {
  return exceeded
}

/** Spends `cost` units; throws once the budget is gone. */
export function charge(cost: number): void {
  remaining -= cost
  if (remaining < 0) {
    exceeded = true
    throw COST_LIMIT_EXCEEDED
  }
}

/** The message of a cost-limit failure, as upstream words it. */
export const COST_LIMIT_MESSAGE = COST_LIMIT_EXCEEDED.message
