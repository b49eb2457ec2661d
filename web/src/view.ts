// What every view shares: the view contract, live collections bound to a view's lifetime, and a status line for collections that are loading or missing.
import { h, notice } from './dom.ts'
import { acquire, release, type LiveCollection } from './live.ts'
import type { Collection } from './api.ts'

/** A view draws into `root` and stops its streams, timers and charts when `signal` aborts (the route changed). */
export interface ViewContext {
  root: HTMLElement
  signal: AbortSignal
  admin: boolean
}

export type View = (ctx: ViewContext) => void | Promise<void>

/** Acquires live collections for the view's lifetime; `render` runs when any of them changes (and once at start). */
export function useLive<K extends Collection>(ctx: ViewContext, names: readonly K[], render: (c: Record<K, LiveCollection>) => void): Record<K, LiveCollection> {
  const out = {} as Record<K, LiveCollection>
  for (const n of names) out[n] = acquire(n)
  let queued = false
  const schedule = () => {
    if (queued || ctx.signal.aborted) return
    queued = true
    requestAnimationFrame(() => {
      queued = false
      if (!ctx.signal.aborted) render(out)
    })
  }
  const unsubscribe = names.map((n) => out[n].subscribe(schedule))
  ctx.signal.addEventListener('abort', () => {
    unsubscribe.forEach((u) => u())
    for (const n of names) release(out[n])
  })
  schedule()
  return out
}

/** A notice when a collection is loading, missing on this server, or failed; undefined when it is ready. */
export function collectionNotice(c: LiveCollection, what: string): HTMLElement | undefined {
  if (c.state === 'ready') return undefined
  if (c.state === 'loading') return h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`)
  if (c.state === 'unavailable') return notice('info', `${what} are not available: ${c.message}.`)
  return notice('error', `${what} could not be read: ${c.message}`)
}

/** A heading with its count, or without one while its collection's notice (loading, unavailable, error) stands beside it: no "(0)" before anything was read. */
export function counted(title: string, n: number, waiting: HTMLElement | undefined): string {
  return waiting ? title : `${title} (${n})`
}
