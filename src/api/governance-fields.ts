// Field schemas shared by the governance kinds (Model, Agent, TokenPolicy): object names, metadata checks and exact dollar amounts.
import { z } from 'zod'
import { GpuplaneError, type ErrorLocation } from '../common/errors.ts'
import { fieldLocation } from './decode-kind.ts'
import { ObjectMeta } from './meta.ts'
import { dnsLabelProblems, dnsSubdomainProblems } from './names.ts'

/** Micro-dollars in a dollar: money is kept as whole micro-dollars, never as floats. */
export const MICRO_DOLLARS_PER_DOLLAR = 1_000_000
/** Most decimals a dollar amount may have, so that it converts to whole micro-dollars exactly. */
export const DOLLAR_DECIMALS = 6

/** A refinement that adds one issue listing what a names.ts check found wrong with the value. */
export function nameRefinement(check: (v: string) => string[]) {
  return (v: string, ctx: z.RefinementCtx) => {
    const problems = check(v)
    if (problems.length > 0) ctx.addIssue({ code: 'custom', message: `"${v}" ${problems.join('; ')}` })
  }
}

/** A name of another object (a DNS subdomain), e.g. a Model or an Agent named in a list. */
export const ObjectName = z.string().superRefine(nameRefinement(dnsSubdomainProblems))
/** A namespace name (a DNS label). */
export const NamespaceName = z.string().superRefine(nameRefinement(dnsLabelProblems))

/** Metadata of a cluster-scoped governance kind: a DNS-subdomain name is required, a namespace is refused. */
export function clusterScopedMeta(kind: string, example: string) {
  return ObjectMeta.superRefine((m, ctx) => {
    checkName(m.name, kind, example, ctx)
    if (m.namespace !== undefined) ctx.addIssue({ code: 'custom', path: ['namespace'], message: `${article(kind)} ${kind} is cluster-scoped; remove metadata.namespace` })
  })
}

/**
 * Metadata of a namespaced governance kind: a DNS-subdomain name is required; the namespace, when
 * written, is a DNS label (absent, the server's or the CLI's default namespace applies).
 */
export function namespacedMeta(kind: string, example: string) {
  return ObjectMeta.superRefine((m, ctx) => {
    checkName(m.name, kind, example, ctx)
    if (m.namespace !== undefined) {
      const problems = dnsLabelProblems(m.namespace)
      if (problems.length > 0) ctx.addIssue({ code: 'custom', path: ['namespace'], message: `"${m.namespace}" ${problems.join('; ')}` })
    }
  })
}

function checkName(name: string | undefined, kind: string, example: string, ctx: z.RefinementCtx): void {
  if (name === undefined) {
    ctx.addIssue({ code: 'custom', path: ['name'], message: `${article(kind)} ${kind} needs a name (a DNS subdomain, e.g. ${example})` })
    return
  }
  const problems = dnsSubdomainProblems(name)
  if (problems.length > 0) ctx.addIssue({ code: 'custom', path: ['name'], message: `"${name}" ${problems.join('; ')}` })
}

function article(word: string): string {
  return /^[AEIOU]/.test(word) ? 'an' : 'a'
}

/**
 * A dollar amount from 0 to `max` with at most 6 decimals (YAML `0.10` arrives as a number, `5` as
 * a bigint), kept as the number written; dollarsToMicro converts it exactly.
 */
export function dollars(max: number) {
  return z
    .union([z.number(), z.bigint()])
    .transform((v) => Number(v))
    .refine((d) => Number.isFinite(d) && d >= 0 && d <= max, `must be a dollar amount from 0 to ${max}`)
    .refine((d) => Math.abs(d * MICRO_DOLLARS_PER_DOLLAR - Math.round(d * MICRO_DOLLARS_PER_DOLLAR)) < 1e-6, `must have at most ${DOLLAR_DECIMALS} decimals, e.g. 0.15 or 2.5`)
}

/** A dollar amount validated by `dollars` as whole micro-dollars (exact: it has at most 6 decimals). */
export function dollarsToMicro(amount: number): number {
  return Math.round(amount * MICRO_DOLLARS_PER_DOLLAR)
}

/**
 * Throws INVALID_INPUT at the second of two objects with the same key (a name, or namespace/name),
 * saying where the first one is.
 */
export function refuseDuplicates(kind: string, entries: Array<{ key: string; location: ErrorLocation }>): void {
  const first = new Map<string, ErrorLocation>()
  for (const { key, location } of entries) {
    const earlier = first.get(key)
    if (earlier !== undefined) {
      const where = earlier.document === undefined ? 'earlier' : `in document ${earlier.document}${earlier.path ? ` at ${earlier.path}` : ''}`
      throw new GpuplaneError('INVALID_INPUT', `${kind} "${key}" is declared twice (first ${where}); keep one`, fieldLocation(location, 'metadata.name'))
    }
    first.set(key, location)
  }
}

/** Counts and prices are unions (YAML integers arrive as bigint): say what to write. */
export function describeNumberIssue(issue: z.core.$ZodIssue, input: unknown): string | undefined {
  if (issue.code !== 'invalid_union') return undefined
  const missing = input === undefined ? ', but the field is missing' : ''
  const field = String(issue.path[issue.path.length - 1])
  const dollarsField = field.endsWith('PerMTok') || field === 'cost'
  return `expected ${dollarsField ? 'a dollar amount such as 0.15 or 2' : 'a whole number'}${missing}`
}
