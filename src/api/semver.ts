// Semantic versions: DRA's validation of `version` attributes and the CEL semver library's parse, compare and print.

import { GpuplaneError } from '../common/errors.ts'

/**
 * What resource.k8s.io validation requires of a `version` attribute: semver.org 2.0.0 exactly (no
 * "v", no leading zeros in numbers or numeric prerelease identifiers). Same grammar as upstream's
 * semverRe in pkg/apis/resource/validation; `\d` is ASCII-only here as in Go.
 */
export const SEMVER_REGEXP =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$/

/** DRA validation of a version attribute's syntax (its 64-character limit is checked by the caller). */
export function isValidSemver(s: string): boolean {
  return SEMVER_REGEXP.test(s)
}

const UINT64_MAX = (1n << 64n) - 1n
const isDigits = (s: string): boolean => /^[0-9]*$/.test(s)
const isAlphanumeric = (s: string): boolean => /^[0-9A-Za-z-]*$/.test(s)
const hasLeadingZero = (s: string): boolean => s.length > 1 && s[0] === '0'

/** Go's strings.SplitN(s, sep, n) for n > 0. */
function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = []
  let rest = s
  while (out.length < n - 1) {
    const i = rest.indexOf(sep)
    if (i < 0) break
    out.push(rest.slice(0, i))
    rest = rest.slice(i + sep.length)
  }
  out.push(rest)
  return out
}

/** A prerelease identifier: numeric ones are compared as numbers (uint64), others as ASCII strings. */
export type PrereleaseId = bigint | string

class SemverSyntaxError extends Error {}

function parseUint(s: string, what: string): bigint {
  if (!isDigits(s)) throw new SemverSyntaxError(`the ${what} ${JSON.stringify(s)} must be digits only`)
  if (hasLeadingZero(s)) throw new SemverSyntaxError(`the ${what} ${JSON.stringify(s)} must not have leading zeros`)
  if (s === '') throw new SemverSyntaxError(`the ${what} is empty`)
  const v = BigInt(s)
  if (v > UINT64_MAX) throw new SemverSyntaxError(`the ${what} ${s} does not fit 64 bits`)
  return v
}

function parsePrerelease(s: string): PrereleaseId {
  if (s === '') throw new SemverSyntaxError('a prerelease identifier is empty')
  if (isDigits(s)) return parseUint(s, 'numeric prerelease identifier')
  if (!isAlphanumeric(s)) throw new SemverSyntaxError(`the prerelease identifier ${JSON.stringify(s)} has characters other than [0-9A-Za-z-]`)
  return s
}

function parseBuild(s: string): string {
  if (s === '') throw new SemverSyntaxError('a build metadata identifier is empty')
  if (!isAlphanumeric(s)) throw new SemverSyntaxError(`the build metadata identifier ${JSON.stringify(s)} has characters other than [0-9A-Za-z-]`)
  return s
}

/** The rewriting of CEL `semver(s, true)`: drop one "v", strip leading zeros, fill in minor and patch. */
function normalizeSemver(s: string): string {
  const parts = splitN(s.startsWith('v') ? s.slice(1) : s, '.', 3).map((p) => {
    if (p.length <= 1) return p
    const t = p.replace(/^0+/, '')
    return t === '' || !/^[0-9]/.test(t) ? '0' + t : t
  })
  if (parts.length < 3) {
    if (/[+-]/.test(parts[parts.length - 1])) {
      throw new SemverSyntaxError('a version without minor or patch cannot carry prerelease or build metadata')
    }
    while (parts.length < 3) parts.push('0')
  }
  return parts.join('.')
}

function compareIds(a: PrereleaseId, b: PrereleaseId): -1 | 0 | 1 {
  const an = typeof a === 'bigint'
  const bn = typeof b === 'bigint'
  if (an !== bn) return an ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * A parsed semantic version with blang/semver v4 semantics, which the Kubernetes CEL semver
 * library uses. Immutable.
 */
export class Semver {
  private readonly maj: bigint
  private readonly min: bigint
  private readonly pat: bigint
  readonly prerelease: readonly PrereleaseId[]
  /** Build metadata identifiers; printed but ignored by every comparison. */
  readonly build: readonly string[]

  private constructor(maj: bigint, min: bigint, pat: bigint, prerelease: PrereleaseId[], build: string[]) {
    this.maj = maj
    this.min = min
    this.pat = pat
    this.prerelease = Object.freeze(prerelease)
    this.build = Object.freeze(build)
  }

  /**
   * Parses like CEL `semver(s)` (blang Parse) or, with normalize, `semver(s, true)`. Throws
   * GpuplaneError INVALID_INPUT naming the problem. Note blang also rejects numbers beyond 64 bits,
   * which isValidSemver accepts.
   */
  static parse(s: string, normalize = false, path?: string): Semver {
    try {
      return Semver.parseStrict(normalize ? normalizeSemver(s) : s)
    } catch (e) {
      if (!(e instanceof SemverSyntaxError)) throw e
      const accepted = normalize
        ? '; a leading "v", leading zeros and a missing minor or patch are accepted here'
        : ''
      throw new GpuplaneError(
        'INVALID_INPUT',
        `invalid semantic version ${JSON.stringify(s)}: ${e.message}; expected MAJOR.MINOR.PATCH with optional ` +
          `-PRERELEASE and +BUILD as in semver.org 2.0.0, e.g. "1.2.3" or "1.0.0-rc.1+build.5"${accepted}`,
        path ? { path } : {},
      )
    }
  }

  static tryParse(s: string, normalize = false): Semver | undefined {
    try {
      return Semver.parseStrict(normalize ? normalizeSemver(s) : s)
    } catch (e) {
      if (e instanceof SemverSyntaxError) return undefined
      throw e
    }
  }

  /** CEL `isSemver(s[, normalize])`. */
  static isSemver(s: string, normalize = false): boolean {
    return Semver.tryParse(s, normalize) !== undefined
  }

  /** Orders versions by precedence; suits Array.prototype.sort. */
  static compare(a: Semver, b: Semver): -1 | 0 | 1 {
    return a.compare(b)
  }

  private static parseStrict(s: string): Semver {
    if (s === '') throw new SemverSyntaxError('it is empty')
    const parts = splitN(s, '.', 3)
    if (parts.length !== 3) throw new SemverSyntaxError('it does not have three dot-separated numbers')
    const major = parseUint(parts[0], 'major version')
    const minor = parseUint(parts[1], 'minor version')
    let patch = parts[2]
    let build: string[] = []
    let pre: string[] = []
    const plus = patch.indexOf('+')
    if (plus >= 0) {
      build = patch.slice(plus + 1).split('.')
      patch = patch.slice(0, plus)
    }
    const dash = patch.indexOf('-')
    if (dash >= 0) {
      pre = patch.slice(dash + 1).split('.')
      patch = patch.slice(0, dash)
    }
    const patchNum = parseUint(patch, 'patch version')
    return new Semver(major, minor, patchNum, pre.map(parsePrerelease), build.map(parseBuild))
  }

  /**
   * The major version as an exact unsigned 64-bit bigint. CEL's `major()` converts it to a signed
   * int like Go's int64(uint64), i.e. BigInt.asIntN(64, v), which differs only above 2^63-1.
   */
  major(): bigint {
    return this.maj
  }

  /** The minor version; a bigint like major(). */
  minor(): bigint {
    return this.min
  }

  /** The patch version; a bigint like major(). */
  patch(): bigint {
    return this.pat
  }

  /** semver.org 2.0.0 precedence: numbers, then a release above its prereleases, then identifier by identifier. */
  compare(o: Semver): -1 | 0 | 1 {
    if (this.maj !== o.maj) return this.maj < o.maj ? -1 : 1
    if (this.min !== o.min) return this.min < o.min ? -1 : 1
    if (this.pat !== o.pat) return this.pat < o.pat ? -1 : 1
    const a = this.prerelease
    const b = o.prerelease
    if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : a.length === 0 ? 1 : -1
    const n = Math.min(a.length, b.length)
    for (let i = 0; i < n; i++) {
      const c = compareIds(a[i], b[i])
      if (c !== 0) return c
    }
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
  }

  isGreaterThan(o: Semver): boolean {
    return this.compare(o) > 0
  }

  isLessThan(o: Semver): boolean {
    return this.compare(o) < 0
  }

  /** Equal precedence (CEL `==` on semver): build metadata is ignored. */
  equals(o: Semver): boolean {
    return this.compare(o) === 0
  }

  /** Canonical text: normalized numbers, prerelease, then build metadata (blang String()). */
  toString(): string {
    let s = `${this.maj}.${this.min}.${this.pat}`
    if (this.prerelease.length > 0) s += '-' + this.prerelease.join('.')
    if (this.build.length > 0) s += '+' + this.build.join('.')
    return s
  }

  toJSON(): string {
    return this.toString()
  }
}
