// What the gateway does when its shared counters (Redis) are unavailable: refuse (fail-closed) or enforce a per-replica share of each limit locally, per limit class.
//
// Modes per limit class:
// - `fail-closed`: a request that a limit of this class applies to is refused with 503 until the
//   counters are back. The default for tokens and cost: a budget must never be overshot.
// - `local`: each replica enforces floor(limit / replicas) on in-process counters
//   (counters-memory.ts), so the replicas together admit at most the limit from the moment the
//   outage begins. What was counted in Redis before is not known locally: a window that spans the
//   outage may admit up to one more limit in all. The default for requests, where availability
//   is usually worth that.
// Soft limits never refuse: they are counted locally. A request that any fail-closed hard limit
// applies to is refused as a whole, since that limit cannot be checked.
//
// The gateway calls degradedAdmission when Counters.reserve throws UNAVAILABLE, then either sends
// the error (503) or runs the returned plan against its local counters exactly as it runs a plan
// against Redis, and reconciles into the same local counters. It logs and counts in a metric
// every request admitted or refused while degraded.
import { z } from 'zod'
import { LIMIT_CLASSES, type LimitClass } from '../api/tokenpolicy-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { AdmissionPlan } from './admission.ts'
import { isHard } from './policies.ts'

export const OUTAGE_MODES = ['fail-closed', 'local'] as const
export const OutageMode = z.enum(OUTAGE_MODES)
export type OutageMode = z.infer<typeof OutageMode>

/** The outage mode per limit class (gateway configuration); a class left out takes its default. */
export const OutagePolicy = z.strictObject({
  tokens: OutageMode.optional(),
  requests: OutageMode.optional(),
  cost: OutageMode.optional(),
})
export type OutagePolicy = z.infer<typeof OutagePolicy>

export const DEFAULT_OUTAGE_POLICY: Readonly<Record<LimitClass, OutageMode>> = { tokens: 'fail-closed', requests: 'local', cost: 'fail-closed' }

/** The outage mode of each class: the policy's, else the default. */
export function outageModes(policy: OutagePolicy = {}): Record<LimitClass, OutageMode> {
  return { tokens: policy.tokens ?? DEFAULT_OUTAGE_POLICY.tokens, requests: policy.requests ?? DEFAULT_OUTAGE_POLICY.requests, cost: policy.cost ?? DEFAULT_OUTAGE_POLICY.cost }
}

export type DegradedDecision =
  /** Send `error` (UNAVAILABLE, 503). */
  | { action: 'refuse'; error: GpuplaneError; classes: LimitClass[] }
  /** Reserve this plan on the replica's local counters and go on as usual. */
  | { action: 'local'; plan: AdmissionPlan }

/**
 * How to admit `plan` while the shared counters are unavailable, with `replicas` gateway replicas
 * sharing the limits (1 for a single replica).
 */
export function degradedAdmission(plan: AdmissionPlan, policy: OutagePolicy, replicas: number): DegradedDecision {
  if (!Number.isSafeInteger(replicas) || replicas < 1) throw new GpuplaneError('INVALID_INPUT', `replicas must be a whole number of at least 1, got ${replicas}`)
  const modes = outageModes(policy)
  const closed = LIMIT_CLASSES.filter((cls) => modes[cls] === 'fail-closed' && plan.counters.some((c) => isHard(c) && c.class === cls))
  if (closed.length > 0) {
    const policies = [...new Set(plan.counters.filter((c) => isHard(c) && closed.includes(c.class)).map((c) => `${c.namespace}/${c.policy}`))]
    const message = `the token counter store is unavailable and ${closed.join(' and ')} limits fail closed (TokenPolicy ${policies.join(', ')}); the request was not sent, retry shortly`
    return { action: 'refuse', error: new GpuplaneError('UNAVAILABLE', message), classes: closed }
  }
  const counters = plan.counters.map((c) => (isHard(c) ? { ...c, limit: Math.floor(c.limit / replicas), localShareOf: replicas } : c))
  const items = plan.items.map((item, i) => (item.limit === undefined ? item : { ...item, limit: counters[i].limit }))
  return { action: 'local', plan: { ...plan, counters, items } }
}
