// Claim constraints: matchAttribute (all devices share a value) and distinctAttribute (all values differ).
//
// Both are monotonic — once a set of devices violates one, adding devices never repairs it — which
// is what lets the search prune at add() time, as upstream does.
import type { DeviceAttribute } from '../api/resource-v1.ts'
import type { DeviceRec } from './snapshot.ts'

/**
 * The attribute a fully qualified name refers to on a device: the exact key first, then, when the
 * domain is the device's driver, the bare id. Returned as a comparable key `type:value`, so that
 * values of different types never compare equal.
 */
export function attributeKey(rec: DeviceRec, fqn: string): string | undefined {
  const attrs = rec.device.attributes
  if (!attrs) return undefined
  let a: DeviceAttribute | undefined = attrs[fqn]
  if (!a) {
    const slash = fqn.indexOf('/')
    if (slash < 0 || fqn.slice(0, slash) !== rec.driver) return undefined
    a = attrs[fqn.slice(slash + 1)]
    if (!a) return undefined
  }
  if (a.string !== undefined) return `s:${a.string}`
  if (a.int !== undefined) return `i:${a.int}`
  if (a.bool !== undefined) return `b:${a.bool}`
  // Semver 2.0.0 versions are validated to be in minimal form, so string equality is value equality.
  if (a.version !== undefined) return `v:${a.version}`
  return undefined
}

export abstract class Constraint {
  readonly attribute: string
  private readonly requests: Set<string>

  constructor(attribute: string, requests: readonly string[] | undefined) {
    this.attribute = attribute
    this.requests = new Set(requests ?? [])
  }

  /** Whether the constraint covers devices of this request (or `<request>/<subrequest>`). */
  appliesTo(request: string, subRequest: string | undefined): boolean {
    if (this.requests.size === 0) return true
    return this.requests.has(request) || (subRequest !== undefined && this.requests.has(`${request}/${subRequest}`))
  }

  /** Whether a device with this attribute key can join the current set. */
  abstract admits(key: string | undefined): boolean
  abstract add(key: string): void
  abstract remove(key: string): void
}

export class MatchAttributeConstraint extends Constraint {
  /** The value all devices share, once the first device is in. */
  value: string | undefined
  count = 0

  admits(key: string | undefined): boolean {
    return key !== undefined && (this.count === 0 || key === this.value)
  }

  add(key: string): void {
    if (this.count === 0) this.value = key
    this.count++
  }

  remove(): void {
    this.count--
    if (this.count === 0) this.value = undefined
  }
}

export class DistinctAttributeConstraint extends Constraint {
  readonly values = new Map<string, number>()

  admits(key: string | undefined): boolean {
    return key !== undefined && !this.values.has(key)
  }

  add(key: string): void {
    this.values.set(key, (this.values.get(key) ?? 0) + 1)
  }

  remove(key: string): void {
    const n = (this.values.get(key) ?? 0) - 1
    if (n > 0) this.values.set(key, n)
    else this.values.delete(key)
  }
}
