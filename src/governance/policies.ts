// Which TokenPolicies cover a request, and the counters of their limits in the current windows: key, limit in counter units, window and reset time.
//
// A policy covers a request of (namespace, agent, model) when it is in that namespace and its
// selector's agent and model, where given, are the request's. All covering policies apply at once.
//
// Counter keys are `tp/<namespace>/<policy>/<limit index>/<class>/<window start>`, e.g.
// `tp/team-a/team-a-daily/0/tokens/2026-11-26T00:00:00Z`: one counter per limit, class and window,
// the same on every replica for the same instant. Names are DNS labels and subdomains, so `/`
// cannot occur inside a part. A limit's counter units are tokens, requests, or micro-dollars.
import { dollarsToMicro } from '../api/governance-fields.ts'
import { DEFAULT_TOKEN_POLICY_MODE, LIMIT_CLASSES, type LimitClass, type LimitWindow, type TokenPolicy, type TokenPolicyMode } from '../api/tokenpolicy-v1alpha1.ts'
import { windowLabel, windowSpan } from './windows.ts'

/** The namespace of a namespaced object that names none, as kubectl and the CLI default it. */
export const DEFAULT_NAMESPACE = 'default'

/** One counter of one limit of one policy in the window of a given instant. */
export interface LimitCounter {
  namespace: string
  /** The policy's name. */
  policy: string
  mode: TokenPolicyMode
  /** Index of the limit in the policy's `spec.limits`. */
  index: number
  class: LimitClass
  window: LimitWindow
  /** Most the counter may hold in the window: tokens, requests, or micro-dollars (cost). */
  limit: number
  key: string
  /** Window start and end (the reset) in milliseconds since the epoch. */
  windowStart: number
  resetAt: number
  /** Set while the gateway enforces a per-replica share of the limit (outage.ts): the replicas it is shared among. */
  localShareOf?: number
}

/** The namespace an object belongs to (DEFAULT_NAMESPACE when its metadata names none). */
export function namespaceOf(object: { metadata: { namespace?: string } }): string {
  return object.metadata.namespace ?? DEFAULT_NAMESPACE
}

/** Whether `policy` covers requests of `agent` (in `namespace`) for `model`. */
export function policyCovers(policy: TokenPolicy, namespace: string, agent: string, model: string): boolean {
  const selector = policy.spec.selector ?? {}
  return namespaceOf(policy) === namespace && (selector.agent === undefined || selector.agent === agent) && (selector.model === undefined || selector.model === model)
}

/** The policies among `policies` that cover the request, ordered by name (a stable order for keys and messages). */
export function coveringPolicies(policies: readonly TokenPolicy[], namespace: string, agent: string, model: string): TokenPolicy[] {
  return policies.filter((p) => policyCovers(p, namespace, agent, model)).sort((a, b) => (a.metadata.name as string).localeCompare(b.metadata.name as string))
}

/** The counter key of a limit's class in the window starting at `windowStart`. */
export function limitKey(namespace: string, policy: string, index: number, cls: LimitClass, windowStart: number): string {
  return `tp/${namespace}/${policy}/${index}/${cls}/${windowLabel(windowStart)}`
}

/** Every counter of the policies' limits in the windows `now` falls in, policy by policy, limit by limit, in LIMIT_CLASSES order. */
export function limitCounters(policies: readonly TokenPolicy[], now: number): LimitCounter[] {
  const out: LimitCounter[] = []
  for (const policy of policies) {
    const namespace = namespaceOf(policy)
    const name = policy.metadata.name as string
    policy.spec.limits.forEach((limit, index) => {
      const span = windowSpan(limit.window, now)
      for (const cls of LIMIT_CLASSES) {
        const amount = limit[cls]
        if (amount === undefined) continue
        out.push({
          namespace,
          policy: name,
          mode: policy.spec.mode ?? DEFAULT_TOKEN_POLICY_MODE,
          index,
          class: cls,
          window: limit.window,
          limit: cls === 'cost' ? dollarsToMicro(amount) : amount,
          key: limitKey(namespace, name, index, cls, span.start),
          windowStart: span.start,
          resetAt: span.end,
        })
      }
    })
  }
  return out
}

/** Requests (namespace, agent, model) remembered per policy list by requestCounters; past this the list's memo starts afresh. */
const MEMO_REQUESTS_PER_LIST = 4096

interface MemoEntry {
  /** The windows of `counters` are those of every instant in [from, until). */
  from: number
  until: number
  counters: readonly LimitCounter[]
}

const memo = new WeakMap<readonly TokenPolicy[], Map<string, MemoEntry>>()

/**
 * The counters of the policies among `policies` that cover a request of (namespace, agent, model)
 * at `now`: limitCounters(coveringPolicies(...), now), remembered per policy list while `now`
 * stays in the same windows, so that the gateway's hot path does not filter, sort and format keys
 * for every request. The list is told apart by identity (the gateway's registry keeps one list per
 * namespace until it is rebuilt): a caller must not change the policies of a list it passed.
 * Returns a fresh array; the counters in it are shared and must not be modified.
 */
export function requestCounters(policies: readonly TokenPolicy[], namespace: string, agent: string, model: string, now: number): LimitCounter[] {
  let byRequest = memo.get(policies)
  if (byRequest === undefined) {
    byRequest = new Map()
    memo.set(policies, byRequest)
  }
  const key = `${namespace}\n${agent}\n${model}`
  const hit = byRequest.get(key)
  if (hit !== undefined && now >= hit.from && now < hit.until) return hit.counters.slice()
  const counters = limitCounters(coveringPolicies(policies, namespace, agent, model), now)
  let from = -Infinity
  let until = Infinity
  for (const c of counters) {
    from = Math.max(from, c.windowStart)
    until = Math.min(until, c.resetAt)
  }
  if (byRequest.size >= MEMO_REQUESTS_PER_LIST) byRequest.clear()
  byRequest.set(key, { from, until, counters })
  return counters.slice()
}

/** Whether a counter's limit is enforced (hard-reject, hard-clamp) rather than only recorded (soft). */
export function isHard(counter: LimitCounter): boolean {
  return counter.mode !== 'soft'
}
