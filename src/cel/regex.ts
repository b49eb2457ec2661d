// RE2 patterns as JavaScript RegExps, compiled once per pattern.
//
// CEL (cel-go) uses RE2. JavaScript's syntax agrees on the constructs selectors use; the one
// common difference, a leading inline flag group such as `(?i)`, is translated to RegExp flags.
// Not translated: inline groups elsewhere, `\z`, `\C`, Unicode classes like `\pL` without braces.
import { evalError } from './values.ts'

const CACHE_LIMIT = 1024
const cache = new Map<string, RegExp>()
const globalCache = new Map<string, RegExp>()

function translate(pattern: string): { source: string; flags: string } {
  const m = /^\(\?([imsU]+)\)/.exec(pattern)
  if (!m) return { source: pattern, flags: '' }
  let flags = ''
  for (const f of new Set(m[1])) if (f !== 'U') flags += f
  return { source: pattern.slice(m[0].length), flags }
}

function build(pattern: string, extraFlags: string): RegExp {
  const { source, flags } = translate(pattern)
  try {
    return new RegExp(source, flags + extraFlags)
  } catch (e) {
    throw evalError(`invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`)
  }
}

function cached(map: Map<string, RegExp>, pattern: string, extraFlags: string): RegExp {
  let re = map.get(pattern)
  if (re === undefined) {
    re = build(pattern, extraFlags)
    if (map.size >= CACHE_LIMIT) map.delete(map.keys().next().value as string)
    map.set(pattern, re)
  }
  return re
}

/** A non-global RegExp for `pattern` (for test and first match). */
export function regex(pattern: string): RegExp {
  return cached(cache, pattern, '')
}

/** Checks that `pattern` compiles; returns the problem, or undefined. */
export function regexProblem(pattern: string): string | undefined {
  try {
    regex(pattern)
    return undefined
  } catch (e) {
    return (e as Error).message
  }
}

/** CEL `matches`: does any substring match. */
export function regexMatches(s: string, pattern: string): boolean {
  return regex(pattern).test(s)
}

/** Kubernetes regex library `find`: the first match, or "" when there is none. */
export function regexFind(s: string, pattern: string): string {
  const m = regex(pattern).exec(s)
  return m ? m[0] : ''
}

/** Kubernetes regex library `findAll`: up to `limit` non-overlapping matches (all when limit < 0). */
export function regexFindAll(s: string, pattern: string, limit = -1): string[] {
  if (limit === 0) return []
  const re = cached(globalCache, pattern, 'g')
  re.lastIndex = 0
  const out: string[] = []
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    out.push(m[0])
    if (limit > 0 && out.length >= limit) break
    if (m[0].length === 0) re.lastIndex++
    if (re.lastIndex > s.length) break
  }
  return out
}
