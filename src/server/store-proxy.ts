// The store seen through a Proxy whose chosen methods are wrapped (group commit, watch wake-ups); every other method is the store's own, bound to it.
import type { Store } from '../store/types.ts'

type Method = (...args: unknown[]) => Promise<unknown>

/**
 * `store` with each method named in `methods` replaced by `wrap(method, target)`. Wrappers are made
 * once per method at its first use (every API request and controller step goes through here), and
 * made again only if the store's method itself changes.
 */
export function wrapStoreMethods(store: Store, methods: ReadonlySet<string>, wrap: (method: Method, target: Store) => Method): Store {
  const wrappers = new Map<PropertyKey, { value: unknown; wrapper: unknown }>()
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (typeof value !== 'function') return value
      const known = wrappers.get(prop)
      if (known?.value === value) return known.wrapper
      const method = value as Method
      const wrapper = methods.has(String(prop)) ? wrap(method, target) : method.bind(target)
      wrappers.set(prop, { value, wrapper })
      return wrapper
    },
  })
}
