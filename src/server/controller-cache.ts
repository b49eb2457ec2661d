// The controller's copy of the store: the objects of the kinds it watches, kept current from the store's change history.
//
// load() lists every watched kind after reading the revision, then applies the changes since that
// revision, so the copy is consistent with one store revision even when writes happen while it
// lists. sync() applies the changes since the revision seen last, reading until none is left, so
// that a commit is never seen in part. An event is applied only when it is newer than the object
// held (the store's revisions only grow), which makes the overlap of a list and the history harmless.
import { GpuplaneError } from '../common/errors.ts'
import type { StoredObject, Store, WatchEvent } from '../store/types.ts'

/** The kinds the controller reads. */
export const WATCHED_KINDS = ['Node', 'ResourceSlice', 'DeviceClass', 'ResourceClaim', 'ResourceClaimTemplate', 'Namespace', 'Workload', 'Cluster'] as const
export type WatchedKind = (typeof WATCHED_KINDS)[number]

/** Changes read from the store at most per request. */
const CHANGES_PAGE = 1000

/** `namespace/name` for namespaced objects, `name` for cluster-scoped ones. */
export function cacheKey(o: { metadata: { namespace?: string; name: string } }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name
}

/** What one sync changed: per kind, the keys touched and each one's object before the first change (undefined: it did not exist). */
export interface CacheChanges {
  /** False when the copy was listed afresh (everything may have changed). */
  incremental: boolean
  touched: Map<WatchedKind, Map<string, StoredObject | undefined>>
  events: number
}

export class ObjectCache {
  /** The store revision the copy is consistent with. */
  revision = '0'
  private readonly objects = new Map<WatchedKind, Map<string, StoredObject>>(WATCHED_KINDS.map((k) => [k, new Map()]))

  constructor(private readonly store: Store) {}

  get(kind: WatchedKind, key: string): StoredObject | undefined {
    return this.objects.get(kind)!.get(key)
  }

  /** Every object of a kind, by key. */
  all(kind: WatchedKind): ReadonlyMap<string, StoredObject> {
    return this.objects.get(kind)!
  }

  /** Lists every watched kind afresh. */
  async load(): Promise<CacheChanges> {
    const from = await this.store.revision()
    for (const kind of WATCHED_KINDS) {
      const { items } = await this.store.list(kind)
      this.objects.set(kind, new Map(items.map((o) => [cacheKey(o), o])))
    }
    this.revision = from
    await this.drain(() => undefined)
    return { incremental: false, touched: new Map(), events: 0 }
  }

  /** Applies the changes since the last revision seen; lists afresh when the store no longer has them (GONE). */
  async sync(): Promise<CacheChanges> {
    const changes: CacheChanges = { incremental: true, touched: new Map(), events: 0 }
    try {
      await this.drain((e, before) => {
        changes.events++
        const kind = e.object.kind as WatchedKind
        let keys = changes.touched.get(kind)
        if (!keys) changes.touched.set(kind, (keys = new Map()))
        const key = cacheKey(e.object)
        if (!keys.has(key)) keys.set(key, before)
      })
    } catch (e) {
      if (e instanceof GpuplaneError && e.code === 'GONE') return this.load()
      throw e
    }
    return changes
  }

  private async drain(onApplied: (e: WatchEvent, before: StoredObject | undefined) => void): Promise<void> {
    for (;;) {
      const events = await this.store.changesSince(this.revision, { kinds: [...WATCHED_KINDS], limit: CHANGES_PAGE })
      for (const e of events) {
        const before = this.apply(e)
        if (before !== false) onApplied(e, before)
        if (Number(e.object.metadata.resourceVersion) > Number(this.revision)) this.revision = e.object.metadata.resourceVersion
      }
      if (events.length < CHANGES_PAGE) return
    }
  }

  /** Applies one event if it is newer than what is held; returns the object before it (false: not applied). */
  private apply(e: WatchEvent): StoredObject | undefined | false {
    const byKey = this.objects.get(e.object.kind as WatchedKind)
    if (!byKey) return false
    const key = cacheKey(e.object)
    const held = byKey.get(key)
    if (held && Number(held.metadata.resourceVersion) >= Number(e.object.metadata.resourceVersion)) return false
    if (e.type === 'DELETED') {
      if (!held) return false
      byKey.delete(key)
    } else {
      byKey.set(key, e.object)
    }
    return held
  }
}
