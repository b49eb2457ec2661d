// Watch streams: server-sent events of a kind's changes, read from the store's change history.
//
// A watch without resourceVersion first sends the objects as they are (ADDED, like a Kubernetes
// list+watch), then an id-only message with the list's resourceVersion, then the changes after it.
// A watch with resourceVersion N sends the changes after N (410 GONE when the store no longer has
// them: list again). Each change is `id: <resourceVersion>` + `data: {"type","object"}`, so an
// EventSource resumes where it stopped (Last-Event-ID is read like resourceVersion).
//
// Changes are read by polling `store.changesSince` (every `pollMs`: the writes of another replica
// on the same PostgreSQL arrive this way) and at once when this process writes (WatchHub.wake).
// With a labelSelector, events are those of objects whose labels match after the change (an
// object relabelled out of the selection sends no event; list again to drop it).
// A heartbeat comment every `heartbeatMs` keeps proxies from closing an idle stream. If the
// history is compacted past a slow watcher, it gets an ERROR event with a GONE Status and the
// stream ends.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import { matchesLabels, type LabelRequirement } from '../api/labels.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { Store, StoredObject, WatchEvent } from '../store/types.ts'
import type { ServerMetrics } from './metrics.ts'
import { statusOf } from './status.ts'
import { wrapStoreMethods } from './store-proxy.ts'

/** How many changes one read of the history returns at most. */
const PAGE = 500

const WRITE_METHODS = new Set(['create', 'update', 'updateStatus', 'delete', 'commit'])

export interface WatchOptions {
  /** How often to read the store's history for changes made elsewhere (default 200 ms). */
  pollMs?: number
  /** How often to send a heartbeat comment on an idle stream (default 15 s). */
  heartbeatMs?: number
}

/** The watch streams of one server: wakes them when this process writes, ends them at shutdown. */
export class WatchHub {
  private readonly waiters = new Set<() => void>()
  private readonly streams = new Set<() => void>()
  readonly pollMs: number
  readonly heartbeatMs: number

  constructor(options: WatchOptions = {}) {
    this.pollMs = options.pollMs ?? 200
    this.heartbeatMs = options.heartbeatMs ?? 15_000
  }

  /** Tells every stream to read the history now (something was written). */
  wake(): void {
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const w of waiters) w()
  }

  /** Resolves at the next wake() or after pollMs. */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, this.pollMs)
      this.waiters.add(done)
    })
  }

  /** Registers a stream's closer; returns the function that unregisters it. */
  track(close: () => void): () => void {
    this.streams.add(close)
    return () => this.streams.delete(close)
  }

  /** Ends every open stream (server shutdown). */
  closeAll(): void {
    for (const close of [...this.streams]) close()
    this.wake()
  }

  /** The number of open streams. */
  get size(): number {
    return this.streams.size
  }
}

/** The store with every write followed by hub.wake(), so this process's watches see it at once. */
export function notifyingStore(store: Store, hub: WatchHub): Store {
  return wrapStoreMethods(store, WRITE_METHODS, (method, target) => async (...args: unknown[]) => {
    try {
      return await method.apply(target, args)
    } finally {
      hub.wake()
    }
  })
}

/** What one watch request asks for. */
export interface WatchRequest {
  kind: string
  /** Only this namespace; undefined: all. */
  namespace?: string
  labelSelector: LabelRequirement[]
  /** Start after this revision; undefined: list first, then watch from the list's revision. */
  resourceVersion?: string
}

/**
 * Serves a watch as server-sent events until the client goes away or the server shuts down.
 * Errors before the stream opens (a bad or compacted resourceVersion) are thrown, so the
 * caller's error handler answers them as a Status.
 */
export async function serveWatch(store: Store, hub: WatchHub, metrics: ServerMetrics, request: FastifyRequest, reply: FastifyReply, watch: WatchRequest): Promise<void> {
  const filter = { kinds: [watch.kind], namespace: watch.namespace }
  let from: string
  let initial: StoredObject[] = []
  if (watch.resourceVersion === undefined) {
    const list = await store.list(watch.kind, { namespace: watch.namespace, labelSelector: watch.labelSelector })
    initial = list.items
    from = list.resourceVersion
  } else {
    if (!/^\d+$/.test(watch.resourceVersion)) {
      throw new GpuplaneError('INVALID_INPUT', `resourceVersion "${watch.resourceVersion}" is not a revision; pass the metadata.resourceVersion of a list or object`, { path: 'resourceVersion' })
    }
    from = watch.resourceVersion
    await store.changesSince(from, { ...filter, limit: 1 })
  }

  reply.hijack()
  const res = reply.raw
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
  let open = true
  const close = () => {
    if (!open) return
    open = false
    res.end()
  }
  const untrack = hub.track(close)
  // The response closes when the client goes away (the request's own 'close' fired when it was read).
  res.on('close', () => {
    open = false
    hub.wake()
  })
  const heartbeat = setInterval(() => open && res.write(': heartbeat\n\n'), hub.heartbeatMs)
  metrics.watchStreams.inc({ kind: watch.kind })
  try {
    res.write(`: watching ${watch.kind}${watch.namespace ? ` in ${watch.namespace}` : ''}\n\n`)
    for (const object of initial) await send(res, { type: 'ADDED', object })
    if (watch.resourceVersion === undefined) res.write(`id: ${from}\n\n`)
    while (open) {
      let events: WatchEvent[]
      try {
        events = await store.changesSince(from, { ...filter, limit: PAGE })
      } catch (e) {
        if (!open) break
        if (e instanceof GpuplaneError && e.code === 'GONE') {
          res.write(`data: ${JSON.stringify({ type: 'ERROR', object: statusOf(e) })}\n\n`)
          break
        }
        throw e
      }
      for (const event of events) {
        if (!open) break
        from = event.object.metadata.resourceVersion
        if (matchesLabels(event.object.metadata.labels, watch.labelSelector)) await send(res, event, from)
      }
      if (events.length < PAGE && open) await hub.wait()
    }
  } catch (e) {
    request.log.error({ err: e }, 'watch stream failed')
  } finally {
    clearInterval(heartbeat)
    metrics.watchStreams.dec({ kind: watch.kind })
    untrack()
    close()
  }
}

/** Writes one event, waiting for the socket to drain when its buffer is full. */
async function send(res: ServerResponse, event: WatchEvent, id?: string): Promise<void> {
  const ok = res.write(`${id !== undefined ? `id: ${id}\n` : ''}data: ${JSON.stringify(event)}\n\n`)
  if (!ok && !res.destroyed) await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
