// What the gateway tells clients about limits: the 429 for a refused reservation (which limit, window, reset) and the `x-ratelimit-*` headers OpenAI's clients read.
//
// Headers follow OpenAI's names: `x-ratelimit-limit-tokens`, `x-ratelimit-remaining-tokens`,
// `x-ratelimit-reset-tokens` and the same for `-requests`, the reset as a duration (`1s`, `6m0s`,
// `17ms`). Several limits may apply; each class reports the hard limit with the least room left,
// the one a client must pace itself by. Cost limits have no OpenAI header: they appear in the 429
// body. A refused request gets `retry-after` (seconds) unless it could never fit the limit.
import { microToDollars } from './cost.ts'
import type { ReserveOptions, ReserveRefused } from './counters.ts'
import { DEFAULT_NAMESPACE, type LimitCounter } from './policies.ts'

/** The JSON body of a 429, shaped as OpenAI's errors (`error.message`, `type`, `code`) with the limit spelt out. */
export interface RejectionBody {
  error: {
    message: string
    /** The class of the limit, as OpenAI's `type` of rate-limit errors: `tokens`, `requests` (or `cost`). */
    type: string
    code: 'TOKEN_CAP_EXCEEDED'
    param: null
    limit: {
      /** `<namespace>/<name>` of the TokenPolicy. */
      policy: string
      /** Index in the policy's spec.limits. */
      index: number
      class: string
      window: string
      mode: string
      /** Amounts in `unit`: tokens, requests, or USD. */
      unit: 'tokens' | 'requests' | 'USD'
      limit: number
      used: number
      requested: number
      /** ISO 8601 time the window resets. */
      resetAt: string
    }
  }
}

/** A refused reservation, ready to send: status 429, `body` as JSON, `headers`. */
export interface Rejection {
  status: 429
  counter: LimitCounter
  /** The counter's value and what the request needed. */
  current: number
  needed: number
  /** The request needs more than the whole limit: it can never be admitted in any window (never set for a replica's share). */
  neverFits: boolean
  message: string
  body: RejectionBody
  headers: Record<string, string>
}

/** What a rejection reads of an admission plan (admission.ts AdmissionPlan). */
export interface RefusedPlan {
  counters: readonly LimitCounter[]
  options: ReserveOptions
  promptBound: number
}

/** `x-ratelimit-*` headers for the tightest hard token and request limits, given each counter's value. */
export function rateLimitHeaders(counters: readonly LimitCounter[], values: readonly number[], now: number): Record<string, string> {
  // Called for every admitted request: one pass over the counters, no closures, constant names.
  let tokens = -1
  let requests = -1
  for (let i = 0; i < counters.length; i++) {
    const c = counters[i]
    if (c.mode === 'soft') continue
    if (c.class === 'tokens') {
      if (tokens < 0 || remaining(c, values[i]) < remaining(counters[tokens], values[tokens])) tokens = i
    } else if (c.class === 'requests') {
      if (requests < 0 || remaining(c, values[i]) < remaining(counters[requests], values[requests])) requests = i
    }
  }
  const headers: Record<string, string> = {}
  if (tokens >= 0) {
    const c = counters[tokens]
    headers['x-ratelimit-limit-tokens'] = String(c.limit)
    headers['x-ratelimit-remaining-tokens'] = String(remaining(c, values[tokens]))
    headers['x-ratelimit-reset-tokens'] = formatDuration(c.resetAt - now)
  }
  if (requests >= 0) {
    const c = counters[requests]
    headers['x-ratelimit-limit-requests'] = String(c.limit)
    headers['x-ratelimit-remaining-requests'] = String(remaining(c, values[requests]))
    headers['x-ratelimit-reset-requests'] = formatDuration(c.resetAt - now)
  }
  return headers
}

function remaining(c: LimitCounter, value: number): number {
  return Math.max(0, c.limit - value)
}

/** The 429 for a reservation refused at `result.index`. */
export function rejectionFor(plan: RefusedPlan, result: ReserveRefused, now: number): Rejection {
  const counter = plan.counters[result.index]
  // A replica's share of a limit is not the limit: the request may fit once the counters are back.
  const neverFits = result.needed > counter.limit && counter.localShareOf === undefined
  const message = describeRefusal(plan, counter, result, neverFits)
  const inUnit = (n: number) => (counter.class === 'cost' ? microToDollars(n) : n)
  const headers = rateLimitHeaders(plan.counters, result.values, now)
  if (!neverFits) headers['retry-after'] = String(Math.max(1, Math.ceil((counter.resetAt - now) / 1000)))
  const body: RejectionBody = {
    error: {
      message,
      type: counter.class,
      code: 'TOKEN_CAP_EXCEEDED',
      param: null,
      limit: {
        policy: `${counter.namespace}/${counter.policy}`,
        index: counter.index,
        class: counter.class,
        window: counter.window,
        mode: counter.mode,
        unit: counter.class === 'cost' ? 'USD' : counter.class,
        limit: inUnit(counter.limit),
        used: inUnit(result.current),
        requested: inUnit(result.needed),
        resetAt: new Date(counter.resetAt).toISOString(),
      },
    },
  }
  return { status: 429, counter, current: result.current, needed: result.needed, neverFits, message, body, headers }
}

function describeRefusal(plan: RefusedPlan, c: LimitCounter, result: ReserveRefused, neverFits: boolean): string {
  const amount = (n: number) => (c.class === 'cost' ? `$${microToDollars(n)}` : `${n} ${n === 1 ? c.class.slice(0, -1) : c.class}`)
  const policy = c.namespace === DEFAULT_NAMESPACE ? c.policy : `${c.namespace}/${c.policy}`
  const share = c.localShareOf === undefined ? '' : ` (this replica's share of the limit while the counter store is unavailable, 1/${c.localShareOf})`
  const head = `TokenPolicy ${policy} allows ${amount(c.limit)} per ${c.window}${share} (spec.limits[${c.index}])`
  const needs = c.class === 'requests' ? 'this request is one more' : `this request may use up to ${amount(result.needed)}${c.class === 'tokens' ? ` (a prompt bound of ${plan.promptBound} and ${result.needed - plan.promptBound} completion tokens)` : ''}`
  const reset = `the ${c.window} resets at ${new Date(c.resetAt).toISOString()}`
  if (neverFits) return `${head}; ${needs}, more than the whole limit: shorten the prompt or lower max_tokens`
  const min = plan.options.clamp?.min ?? 0
  const clampNote = c.mode === 'hard-clamp' && c.class !== 'requests' ? `not even ${min} completion token${min === 1 ? ' fits' : 's fit'}; ` : ''
  return `${head}; ${amount(result.current)} ${c.class === 'requests' ? 'so far' : 'used or reserved'}, ${clampNote}${needs}; ${reset}`
}

/** A duration as OpenAI's reset headers write it: `17ms`, `1s`, `6m0s`, `1h2m3s` (seconds rounded up). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s'
  if (ms < 1000) return `${Math.ceil(ms)}ms`
  const total = Math.ceil(ms / 1000)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  if (h > 0) return `${h}h${m}m${s}s`
  if (m > 0) return `${m}m${s}s`
  return `${s}s`
}
