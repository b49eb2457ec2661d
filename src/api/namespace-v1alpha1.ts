// gpuplane.io/v1alpha1 Namespace: a team's quota, cohort, borrowing and lending limits, fair-share weight, isolation and disruption budget; zod schema and decoding with file/document/path errors.
//
// A Namespace is cluster-scoped. Its quota is a guarantee: the namespace may always use it, and
// takes back what it lent by preempting the borrowers (src/scheduler/quota.ts). Namespaces that
// name the same `cohort` lend each other their unused quota, within each one's `lendingLimit` and
// `borrowingLimit` (the semantics of Kueue's nominalQuota / lendingLimit / borrowingLimit, per
// namespace instead of per ClusterQueue, with no resource flavors: GPU models are quota entries).
//
// A resource that the quota does not name is not limited: the namespace may use any amount of
// it, never borrows it and never lends it. Write `gpus: 0` to forbid GPUs.
//
// Example:
//
//   apiVersion: gpuplane.io/v1alpha1
//   kind: Namespace
//   metadata: {name: team-a}
//   spec:
//     quota:
//       gpus: 8
//       gpuMemory: 640Gi
//       models: [{model: H100-80GB, gpus: 4}]
//       cpu: "64"
//       memory: 512Gi
//     cohort: research
//     borrowingLimit: {gpus: 4}
//     lendingLimit: {gpus: 6}
//     fairShareWeight: 2
//     isolation: dedicated-nodes
//     disruptionBudget: {maxPreemptions: 2, windowSeconds: 3600}
//     priorityClass: batch-low
//     idle: {smUtilBelow: 5, for: 30m, action: reclaim, gracePeriod: 10m, reclaim: preempt}
//
// `idle` is the namespace's idle-allocation policy (src/telemetry/idle.ts classifies,
// src/server/idle-controller.ts acts): a workload whose GPUs' SM utilization (of what it holds)
// stays under `smUtilBelow` percent for `for` is idle; it is flagged (Workload condition `Idle`,
// metric gpuplane_idle_allocations, `gpuplane get idle`), and with `action: reclaim` it gets a
// notice, then after `gracePeriod` it is preempted (set back to Pending with its devices
// released, as the scheduler preempts). `reclaim: shrink` (a smaller slice) is not implemented.
import { z } from 'zod'
import { GpuplaneError, type ErrorLocation } from '../common/errors.ts'
import type { Foreign } from './decode.ts'
import { decodeKind, fieldLocation, GPUPLANE_V1ALPHA1, parseKind, type KindDecoder } from './decode-kind.ts'
import { Count, ObjectMeta, QuantityString } from './meta.ts'
import { dnsLabelProblems, dnsSubdomainProblems } from './names.ts'
import { Quantity } from './quantity.ts'

/** The default of `spec.fairShareWeight`. */
export const DEFAULT_FAIR_SHARE_WEIGHT = 1
/** Smallest and largest `fairShareWeight`; weights are kept to 3 decimals (exact milli-units). */
export const MIN_FAIR_SHARE_WEIGHT = 0.001
export const MAX_FAIR_SHARE_WEIGHT = 1_000_000
/** Longest disruption-budget window: one year, so that milliseconds written as seconds stand out. */
export const MAX_DISRUPTION_WINDOW_SECONDS = 365 * 24 * 3600

/**
 * How a namespace's workloads are kept apart from other namespaces':
 * - `shared`: on any node, beside other namespaces' workloads (the default);
 * - `dedicated-nodes`: only on nodes that run no other namespace's workloads while it is there;
 * - `vm-per-workload`: each workload in a virtual machine of its own.
 */
export const NAMESPACE_ISOLATIONS = ['shared', 'dedicated-nodes', 'vm-per-workload'] as const
export const Isolation = z.enum(NAMESPACE_ISOLATIONS)
export type Isolation = z.infer<typeof Isolation>
export const DEFAULT_ISOLATION: Isolation = 'shared'

/** The plain amounts of a quota entry besides `models`, in the order messages list them. */
export const QUOTA_AMOUNTS = ['gpus', 'gpuMemory', 'cpu', 'memory'] as const

const NonNegative = Count.refine((n) => n >= 0, 'must be 0 or more')
const Positive = Count.refine((n) => n >= 1, 'must be 1 or more')

/** A Quantity of 0 or more, kept as the string the user wrote. */
const Amount = QuantityString.refine((s) => Quantity.parse(s).sign() >= 0, 'must not be negative')

function problemsRefinement(check: (v: string) => string[]) {
  return (v: string, ctx: z.RefinementCtx) => {
    const problems = check(v)
    if (problems.length > 0) ctx.addIssue({ code: 'custom', message: `"${v}" ${problems.join('; ')}` })
  }
}

/** GPUs of one model. */
export const ModelGpus = z.strictObject({
  /**
   * GPU model, as the scheduler names a workload's GPUs: a catalog key such as `H100-80GB` or
   * `A100-40GB`. Matched exactly (case-sensitive).
   */
  model: z.string().min(1, 'must name a GPU model, e.g. H100-80GB'),
  /** Number of GPUs of this model. */
  gpus: NonNegative,
})
export type ModelGpus = z.infer<typeof ModelGpus>

/**
 * An amount of each resource: the shape of `quota`, `borrowingLimit` and `lendingLimit`. A field
 * left out is not limited (in `quota`), or has no limit (in `borrowingLimit`, `lendingLimit`).
 */
export const NamespaceResources = z.strictObject({
  /** Whole GPUs, of any model. */
  gpus: NonNegative.optional(),
  /** GPU memory summed over the namespace's GPUs and GPU slices (a Quantity, e.g. `640Gi`); rounded up to whole bytes. */
  gpuMemory: Amount.optional(),
  /** GPUs per model (each model at most once); a model not listed is limited by `gpus` only. */
  models: z.array(ModelGpus).optional(),
  /** CPU (a Quantity, e.g. `64` or `500m`); rounded up to whole millicores. */
  cpu: Amount.optional(),
  /** Memory (a Quantity, e.g. `512Gi`); rounded up to whole bytes. */
  memory: Amount.optional(),
})
export type NamespaceResources = z.infer<typeof NamespaceResources>

/** How many of a namespace's workloads may be preempted in a sliding window. */
export const DisruptionBudget = z.strictObject({
  /** Most workloads of the namespace preempted within any window (0: never preempt them). */
  maxPreemptions: NonNegative,
  /** Length of the sliding window in seconds. */
  windowSeconds: Positive.refine((n) => n <= MAX_DISRUPTION_WINDOW_SECONDS, `must be at most ${MAX_DISRUPTION_WINDOW_SECONDS} (one year)`),
})
export type DisruptionBudget = z.infer<typeof DisruptionBudget>

/** A positive weight with at most 3 decimals; YAML integers arrive as bigint. */
const Weight = z
  .union([z.number(), z.bigint()])
  .transform((v) => Number(v))
  .refine((w) => Number.isFinite(w) && w >= MIN_FAIR_SHARE_WEIGHT && w <= MAX_FAIR_SHARE_WEIGHT, `must be a number from ${MIN_FAIR_SHARE_WEIGHT} to ${MAX_FAIR_SHARE_WEIGHT}`)
  .refine((w) => Math.abs(w * 1000 - Math.round(w * 1000)) < 1e-6, 'must have at most 3 decimals, e.g. 0.5 or 1.25')

/** Units of a duration string, in milliseconds (Go's time.ParseDuration units from ms up, as Kubernetes writes durations). */
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
/** Shortest idle window and grace period: 1 second (series are sampled every few seconds at best). */
export const MIN_IDLE_DURATION_MS = 1000
/** Longest idle window and grace period: 30 days. */
export const MAX_IDLE_DURATION_MS = 30 * 24 * 3_600_000

/** Milliseconds of a duration such as `30m`, `1h30m`, `90s` or `500ms`; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined
  let total = 0
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!
  return Math.round(total)
}

/** A duration string; a bare number (YAML `30`) is refused with the unit to add, not read as seconds or minutes. */
const IdleDuration = z
  .union([z.string(), z.number(), z.bigint()])
  .superRefine((v, ctx) => {
    const ms = typeof v === 'string' ? parseDuration(v) : undefined
    if (ms === undefined) ctx.addIssue({ code: 'custom', message: `"${String(v)}" is not a duration; write it with its unit, e.g. 30m, 1h30m, 90s` })
    else if (ms < MIN_IDLE_DURATION_MS || ms > MAX_IDLE_DURATION_MS) ctx.addIssue({ code: 'custom', message: `"${v}" must be from 1s to 720h (30 days)` })
  })
  .transform((v) => String(v))

/** What happens to an idle workload: `flag` only marks and reports it; `reclaim` also takes its devices back after a grace period. */
export const IDLE_ACTIONS = ['flag', 'reclaim'] as const
/** How devices are reclaimed: `preempt` (back to Pending, devices released). */
export const IDLE_RECLAIMS = ['preempt'] as const

/** Defaults of `spec.idle` fields left out. */
export const IDLE_DEFAULTS = { smUtilBelow: 5, for: '30m', action: 'flag', gracePeriod: '10m', reclaim: 'preempt' } as const

/** The idle-allocation policy of a namespace (see the header). */
export const IdlePolicy = z.strictObject({
  /** SM utilization, percent of what the workload holds, under which it counts as idle (default 5; above 0, at most 100). */
  smUtilBelow: z
    .union([z.number(), z.bigint()])
    .transform((v) => Number(v))
    .refine((n) => Number.isFinite(n) && n > 0 && n <= 100, 'must be a percentage above 0 and at most 100, e.g. 5')
    .optional(),
  /** How long utilization must stay under the threshold (a duration, default 30m; 1s to 720h). */
  for: IdleDuration.optional(),
  /** `flag` (default) or `reclaim`. */
  action: z.enum(IDLE_ACTIONS).optional(),
  /** With `reclaim`: time between the notice and the reclaim (a duration, default 10m). */
  gracePeriod: IdleDuration.optional(),
  /** With `reclaim`: how (default `preempt`; shrinking to a smaller slice is not implemented). */
  reclaim: z
    .string()
    .superRefine((v, ctx) => {
      if ((IDLE_RECLAIMS as readonly string[]).includes(v)) return
      ctx.addIssue({ code: 'custom', message: v === 'shrink' ? 'shrink (to a smaller slice) is not implemented; use preempt' : `expected preempt, got "${v}"` })
    })
    .optional(),
})
export type IdlePolicy = z.infer<typeof IdlePolicy>

/** An idle policy with its defaults applied and durations in milliseconds. */
export interface ResolvedIdlePolicy {
  smUtilBelow: number
  forMs: number
  action: (typeof IDLE_ACTIONS)[number]
  gracePeriodMs: number
  reclaim: (typeof IDLE_RECLAIMS)[number]
}

/** The policy with defaults (for a spec that passed validation). */
export function resolveIdlePolicy(policy: IdlePolicy): ResolvedIdlePolicy {
  return {
    smUtilBelow: policy.smUtilBelow ?? IDLE_DEFAULTS.smUtilBelow,
    forMs: parseDuration(policy.for ?? IDLE_DEFAULTS.for)!,
    action: policy.action ?? IDLE_DEFAULTS.action,
    gracePeriodMs: parseDuration(policy.gracePeriod ?? IDLE_DEFAULTS.gracePeriod)!,
    reclaim: (policy.reclaim ?? IDLE_DEFAULTS.reclaim) as ResolvedIdlePolicy['reclaim'],
  }
}

const NamespaceSpecFields = z.strictObject({
  /** The namespace's own quota: what it may always use, and what it may lend while unused. */
  quota: NamespaceResources.optional(),
  /**
   * Name of the cohort (a DNS subdomain) whose members lend each other unused quota. Without a
   * cohort the namespace neither borrows nor lends.
   */
  cohort: z.string().superRefine(problemsRefinement(dnsSubdomainProblems)).optional(),
  /**
   * Most the namespace may borrow from its cohort beyond its own quota, per resource; a resource
   * left out may borrow whatever the cohort can lend. Every resource named must have a quota.
   */
  borrowingLimit: NamespaceResources.optional(),
  /**
   * Most of its unused quota the namespace lends to its cohort, per resource; a resource left out
   * lends all of its unused quota. Each must be at most the resource's quota.
   */
  lendingLimit: NamespaceResources.optional(),
  /**
   * Weight in fair sharing between the namespaces of a cohort (default 1): a namespace of weight
   * 2 is entitled to twice the dominant share of one of weight 1.
   */
  fairShareWeight: Weight.optional(),
  /** How the namespace's workloads are kept apart from other namespaces' (default `shared`). */
  isolation: Isolation.optional(),
  /** How often the namespace's workloads may be preempted (default: no limit). */
  disruptionBudget: DisruptionBudget.optional(),
  /** PriorityClass of the namespace's workloads that name none (a DNS subdomain). */
  priorityClass: z.string().superRefine(problemsRefinement(dnsSubdomainProblems)).optional(),
  /** Idle-allocation policy (default: none; idle workloads are neither flagged nor reclaimed). */
  idle: IdlePolicy.optional(),
})
export const NamespaceSpec = NamespaceSpecFields.superRefine(checkSpecRules)
export type NamespaceSpec = z.infer<typeof NamespaceSpec>

export const Namespace = z.strictObject({
  apiVersion: z.literal(GPUPLANE_V1ALPHA1),
  kind: z.literal('Namespace'),
  /** `name` (a DNS label, required) names the namespace; a Namespace is cluster-scoped, so no `namespace`. */
  metadata: ObjectMeta.superRefine((m, ctx) => {
    if (m.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'a Namespace needs a name (a DNS label, e.g. team-a)' })
    else {
      const problems = dnsLabelProblems(m.name)
      if (problems.length > 0) ctx.addIssue({ code: 'custom', path: ['name'], message: `"${m.name}" ${problems.join('; ')}` })
    }
    if (m.namespace !== undefined) ctx.addIssue({ code: 'custom', path: ['namespace'], message: 'a Namespace is cluster-scoped; remove metadata.namespace' })
  }),
  spec: NamespaceSpec,
})
export type Namespace = z.infer<typeof Namespace>

/** Rules across the fields of a spec, each reported at the field to change. */
function checkSpecRules(spec: z.infer<typeof NamespaceSpecFields>, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message })
  for (const field of ['quota', 'borrowingLimit', 'lendingLimit'] as const) {
    const models = spec[field]?.models ?? []
    const seen = new Map<string, number>()
    models.forEach((m, i) => {
      const first = seen.get(m.model)
      if (first !== undefined) issue([field, 'models', i, 'model'], `model "${m.model}" is listed twice (also at ${field}.models[${first}]); merge the entries`)
      else seen.set(m.model, i)
    })
  }
  const idle = spec.idle
  if (idle !== undefined && (idle.action ?? IDLE_DEFAULTS.action) !== 'reclaim') {
    for (const field of ['gracePeriod', 'reclaim'] as const) {
      if (idle[field] !== undefined) issue(['idle', field], `${field} applies only to action: reclaim; set idle.action: reclaim or remove idle.${field}`)
    }
  }
  const quota = spec.quota ?? {}
  quota.models?.forEach((m, i) => {
    if (quota.gpus !== undefined && m.gpus > quota.gpus) {
      issue(['quota', 'models', i, 'gpus'], `${m.gpus} ${m.model} GPUs exceed quota.gpus (${quota.gpus}); lower it or raise quota.gpus`)
    }
  })
  for (const field of ['borrowingLimit', 'lendingLimit'] as const) {
    const limits = spec[field]
    if (limits === undefined) continue
    if (spec.cohort === undefined) {
      issue([field], `${field} needs a cohort to ${field === 'borrowingLimit' ? 'borrow from' : 'lend to'}; set spec.cohort or remove ${field}`)
      continue
    }
    for (const name of QUOTA_AMOUNTS) {
      const limit = limits[name]
      if (limit === undefined) continue
      const own = quota[name]
      if (own === undefined) issue([field, name], `quota.${name} is not set, so ${name} is not limited and cannot be ${field === 'borrowingLimit' ? 'borrowed' : 'lent'}; set quota.${name} or remove ${field}.${name}`)
      else if (field === 'lendingLimit' && compareAmounts(name, limit, own) > 0) issue([field, name], `lends more than the quota (${String(own)}); lower it to at most quota.${name}`)
    }
    limits.models?.forEach((m, i) => {
      const own = quota.models?.find((q) => q.model === m.model)
      if (own === undefined) issue([field, 'models', i, 'model'], `model "${m.model}" has no quota in quota.models, so it is not limited and cannot be ${field === 'borrowingLimit' ? 'borrowed' : 'lent'}; add it to quota.models or remove it here`)
      else if (field === 'lendingLimit' && m.gpus > own.gpus) issue([field, 'models', i, 'gpus'], `lends more ${m.model} GPUs than the quota (${own.gpus}); lower it to at most ${own.gpus}`)
    })
  }
}

function compareAmounts(name: (typeof QUOTA_AMOUNTS)[number], a: number | string, b: number | string): number {
  if (name === 'gpus') return Number(a) - Number(b)
  return Quantity.parse(String(a)).cmp(Quantity.parse(String(b)))
}

/** A decoded Namespace with where it came from; `location.path` is the object's own path (e.g. `items[0]` in a List). */
export interface DecodedNamespace {
  namespace: Namespace
  location: ErrorLocation
}

const NAMESPACE_DECODER: KindDecoder<typeof Namespace> = { kind: 'Namespace', schema: Namespace, describe: describeUnionIssue }

/**
 * Reads the gpuplane Namespace objects of a YAML/JSON text (multi-document, `kind: List` too). DRA
 * objects in the same text are decoded and checked as decodeText does, then ignored; other kinds
 * (a core `v1` Namespace included) are ignored. A name declared twice is an error at the second.
 * Throws GpuplaneError (INVALID_INPUT) naming file, document and field path.
 */
export function decodeNamespaces(text: string, file?: string): DecodedNamespace[] {
  const out = decodeKind(text, file, NAMESPACE_DECODER).map(({ object, location }) => ({ namespace: object, location }))
  const first = new Map<string, ErrorLocation>()
  for (const d of out) {
    const name = d.namespace.metadata.name as string
    const earlier = first.get(name)
    if (earlier !== undefined) {
      const where = earlier.document === undefined ? 'earlier' : `in document ${earlier.document}${earlier.path ? ` at ${earlier.path}` : ''}`
      throw new GpuplaneError('INVALID_INPUT', `Namespace "${name}" is declared twice (first ${where}); keep one`, fieldLocation(d.location, 'metadata.name'))
    }
    first.set(name, d.location)
  }
  return out
}

/** Shape and rule checks of one Namespace read by decodeText. */
export function parseNamespace(f: Foreign): DecodedNamespace {
  const { object, location } = parseKind(f, NAMESPACE_DECODER)
  return { namespace: object, location }
}

/** Counts, the weight and quantities are unions (YAML integers arrive as bigint): say what to write. */
function describeUnionIssue(issue: z.core.$ZodIssue, input: unknown): string | undefined {
  if (issue.code !== 'invalid_union') return undefined
  const expected = new Set(issue.errors.flat().flatMap((e) => (e.code === 'invalid_type' ? [e.expected] : [])))
  const missing = input === undefined ? ', but the field is missing' : ''
  if (expected.has('string')) return `expected a quantity such as 80Gi, 64 or 500m${missing}`
  const field = issue.path[issue.path.length - 1]
  if (field === 'smUtilBelow') return `expected a percentage such as 5${missing}`
  return `expected ${field === 'fairShareWeight' ? 'a number such as 1 or 0.5' : 'a whole number'}${missing}`
}
