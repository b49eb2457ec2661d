// Live collections: a kind's objects kept current by one watch stream (list + changes as server-sent events, read with fetch), shared by the views that need them.
//
// A watch without resourceVersion sends the objects as ADDED, then an id-only message (the list is
// complete), then changes. When a stream ends (server restart, network), it reconnects from the
// last resourceVersion seen after a short pause; a 410 GONE or an ERROR event starts over with a
// fresh list. Browsers open at most 6 HTTP/1.1 connections per host, so the app closes the
// collections a view no longer uses (release) instead of keeping every stream open.
import { authHeaders, errorOf, PATHS, type Collection } from './api.ts'
import { SseParser } from './sse.ts'
import type { KubeObject } from './types.ts'

export type { KubeObject } from './types.ts'

export type LiveState = 'loading' | 'ready' | 'unavailable' | 'error'

const RETRY_MS = 1000

export class LiveCollection {
  readonly objects = new Map<string, KubeObject>()
  state: LiveState = 'loading'
  message = ''
  private readonly listeners = new Set<() => void>()
  private abort?: AbortController
  private resourceVersion?: string
  private closed = false
  private notifyQueued = false
  users = 0

  constructor(readonly collection: Collection) {}

  start(): void {
    this.closed = false
    void this.run()
  }

  stop(): void {
    this.closed = true
    this.abort?.abort()
  }

  subscribe(f: () => void): () => void {
    this.listeners.add(f)
    return () => this.listeners.delete(f)
  }

  list(): KubeObject[] {
    return [...this.objects.values()]
  }

  /** Batches notifications of a burst of events into one re-render per frame. */
  private notify(): void {
    if (this.notifyQueued) return
    this.notifyQueued = true
    queueMicrotask(() => {
      this.notifyQueued = false
      for (const f of this.listeners) f()
    })
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      this.abort = new AbortController()
      try {
        await this.stream(this.abort.signal)
      } catch (e) {
        if (this.closed) return
        const error = e as Error & { status?: number }
        if (error.status === 404) {
          this.state = 'unavailable'
          this.message = `this server does not serve ${PATHS[this.collection]}`
          this.notify()
          return
        }
        if (error.status === 401 || error.status === 403) {
          this.state = 'error'
          this.message = error.message
          this.notify()
          return
        }
        if (error.status === 410) this.resourceVersion = undefined
      }
      if (this.closed) return
      await new Promise((r) => setTimeout(r, RETRY_MS))
    }
  }

  private async stream(signal: AbortSignal): Promise<void> {
    const rv = this.resourceVersion
    const url = `${PATHS[this.collection]}?watch=true${rv ? `&resourceVersion=${encodeURIComponent(rv)}` : ''}`
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...authHeaders() }, signal })
    if (!res.ok || !res.body) throw await errorOf(res)
    const incoming = new Map<string, KubeObject>()
    const parser = new SseParser()
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let listing = rv === undefined
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      for (const m of parser.push(value)) {
        if (m.id !== undefined) this.resourceVersion = m.id
        if (m.data === undefined) {
          // The id-only message after the initial objects: the list is complete.
          if (listing && m.id !== undefined) {
            listing = false
            this.objects.clear()
            for (const [k, o] of incoming) this.objects.set(k, o)
            this.state = 'ready'
            this.notify()
          }
          continue
        }
        const event = JSON.parse(m.data) as { type: string; object: KubeObject }
        if (event.type === 'ERROR') {
          // The history was compacted past us (GONE): list again.
          this.resourceVersion = undefined
          throw Object.assign(new Error(String((event.object as unknown as { message?: string }).message ?? 'watch error')), { status: 410 })
        }
        const key = keyOf(event.object)
        if (listing) {
          incoming.set(key, event.object)
          continue
        }
        if (event.type === 'DELETED') this.objects.delete(key)
        else this.objects.set(key, event.object)
        this.resourceVersion = event.object.metadata.resourceVersion ?? this.resourceVersion
        this.notify()
      }
    }
  }
}

export function keyOf(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name
}

/** The app's live collections: acquired by views, closed when no view uses them. */
const live = new Map<Collection, LiveCollection>()

export function acquire(collection: Collection): LiveCollection {
  let c = live.get(collection)
  if (!c) {
    c = new LiveCollection(collection)
    live.set(collection, c)
    c.start()
  }
  c.users++
  return c
}

export function release(c: LiveCollection): void {
  c.users--
  if (c.users <= 0) {
    c.stop()
    live.delete(c.collection)
  }
}

/** Closes every stream (logout). */
export function releaseAll(): void {
  for (const c of live.values()) c.stop()
  live.clear()
}
