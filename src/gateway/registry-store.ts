// The gateway's governance registry read from the store: lists Models, Agents and TokenPolicies, then follows the store's change history and rebuilds the registry on every change.
//
// Why polling: every replica (server or `gpuplane gateway`) reads the same PostgreSQL (or SQLite
// file), so a change made through any server's API — an agent disabled, a key hash removed — is
// seen by every replica at its next read of `changesSince`, at most `pollMs` (200 ms) later; the
// kill switch therefore holds on every replica within one second. In the server process, `wait`
// is the WatchHub's, which also wakes at once when this process writes.
//
// Compaction: when the history no longer holds the changes after our revision (GONE), the three
// kinds are listed again. A read that fails otherwise (the database briefly unreachable) keeps the
// last registry and retries at the next tick: the registry never gets more permissive than the
// last state read.
//
// Objects are decoded again with the API's decoders (they were checked when written). One that no
// longer decodes is left out, which refuses rather than admits: a Model or Agent left out is a
// 404/401; a TokenPolicy left out would lift a cap, so every agent of its namespace is left out
// too (401) until the policy is fixed, and each such object is named in `problems`.
import type { Agent } from '../api/agent-v1alpha1.ts'
import { parseAgent } from '../api/agent-v1alpha1.ts'
import type { Foreign } from '../api/decode.ts'
import { parseModel, type Model } from '../api/model-v1alpha1.ts'
import { parseTokenPolicy, type TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { buildRegistry, type GovernanceRegistry } from '../governance/access.ts'
import type { Store, StoredObject, WatchEvent } from '../store/types.ts'

/** The kinds the registry is built from. */
export const GOVERNANCE_KINDS = ['Model', 'Agent', 'TokenPolicy'] as const
type GovernanceKind = (typeof GOVERNANCE_KINDS)[number]

/** Default interval between reads of the change history (ms). */
export const DEFAULT_REGISTRY_POLL_MS = 200
/** Changes read per call. */
const PAGE = 500

export interface StoreRegistryOptions {
  /** Milliseconds between reads of the history when `wait` is not given (default DEFAULT_REGISTRY_POLL_MS). */
  pollMs?: number
  /** Resolves when it is time to read the history again (e.g. WatchHub.wait: a poll tick or a local write). */
  wait?: () => Promise<void>
  /** Told each time the registry is rebuilt (tests, logs). */
  onRebuild?: (registry: GovernanceRegistry) => void
  /** Told each read failure (the last registry stays in force). */
  onError?: (error: unknown) => void
}

/** A governance registry that follows the store until stopped. */
export class StoreRegistry {
  private objects = new Map<string, StoredObject>()
  private registry: GovernanceRegistry
  private revision = '0'
  private stopped = false
  private wake: (() => void) | undefined
  private loop: Promise<void> = Promise.resolve()

  private constructor(
    private readonly store: Store,
    private readonly options: StoreRegistryOptions,
  ) {
    this.registry = buildRegistry({ models: [], agents: [], policies: [] })
  }

  /** Lists the governance objects (errors here are the caller's: the store is not usable) and starts following. */
  static async start(store: Store, options: StoreRegistryOptions = {}): Promise<StoreRegistry> {
    const r = new StoreRegistry(store, options)
    await r.relist()
    r.loop = r.follow()
    return r
  }

  /** The registry now (cheap: read it on every request). */
  current(): GovernanceRegistry {
    return this.registry
  }

  /** The store revision the registry reflects. */
  get resourceVersion(): string {
    return this.revision
  }

  /** Stops following (waits for a read in progress). */
  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    await this.loop
  }

  private async relist(): Promise<void> {
    // Listed from one revision onwards: the history after the smallest list revision is replayed
    // below, skipping each kind's changes its own list already holds.
    const lists = await Promise.all(GOVERNANCE_KINDS.map((k) => this.store.list(k)))
    const objects = new Map<string, StoredObject>()
    for (const list of lists) for (const o of list.items) objects.set(keyOf(o), o)
    const revisions = lists.map((l) => BigInt(l.resourceVersion))
    const from = revisions.reduce((a, b) => (b < a ? b : a))
    const listed = new Map(GOVERNANCE_KINDS.map((k, i) => [k, revisions[i]]))
    this.objects = objects
    this.revision = from.toString()
    let events = await this.store.changesSince(this.revision, { kinds: [...GOVERNANCE_KINDS], limit: PAGE })
    while (events.length > 0) {
      this.apply(events.filter((e) => BigInt(e.object.metadata.resourceVersion) > (listed.get(e.object.kind as GovernanceKind) ?? 0n)))
      this.revision = events[events.length - 1].object.metadata.resourceVersion
      if (events.length < PAGE) break
      events = await this.store.changesSince(this.revision, { kinds: [...GOVERNANCE_KINDS], limit: PAGE })
    }
    this.rebuild()
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      await this.pause()
      if (this.stopped) break
      try {
        await this.readChanges()
      } catch (e) {
        if (e instanceof GpuplaneError && e.code === 'GONE') {
          await this.relist().catch((again: unknown) => this.options.onError?.(again))
        } else {
          this.options.onError?.(e)
        }
      }
    }
  }

  private async readChanges(): Promise<void> {
    let changed = false
    for (;;) {
      const events = await this.store.changesSince(this.revision, { kinds: [...GOVERNANCE_KINDS], limit: PAGE })
      if (events.length === 0) break
      this.apply(events)
      changed = true
      this.revision = events[events.length - 1].object.metadata.resourceVersion
      if (events.length < PAGE) break
    }
    if (changed) this.rebuild()
  }

  private apply(events: readonly WatchEvent[]): void {
    for (const e of events) {
      if (e.type === 'DELETED') this.objects.delete(keyOf(e.object))
      else this.objects.set(keyOf(e.object), e.object)
    }
  }

  private rebuild(): void {
    this.registry = registryOf([...this.objects.values()])
    this.options.onRebuild?.(this.registry)
  }

  private pause(): Promise<void> {
    if (this.options.wait) return this.options.wait()
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.pollMs ?? DEFAULT_REGISTRY_POLL_MS)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }
}

/**
 * The registry of stored governance objects, decoded again; what no longer decodes is left out
 * so that access is refused (a namespace with an undecodable TokenPolicy loses its agents).
 */
export function registryOf(objects: readonly StoredObject[]): GovernanceRegistry {
  const problems: string[] = []
  const models: Model[] = []
  const agents: Agent[] = []
  const policies: TokenPolicy[] = []
  const blockedNamespaces = new Set<string>()
  for (const o of objects) {
    const f: Foreign = { apiVersion: o.apiVersion, kind: o.kind, raw: o, location: {}, seq: 0 }
    try {
      if (o.kind === 'Model') models.push(parseModel(f).model)
      else if (o.kind === 'Agent') agents.push(parseAgent(f).agent)
      else if (o.kind === 'TokenPolicy') policies.push(parseTokenPolicy(f).policy)
    } catch (e) {
      const reason = e instanceof GpuplaneError ? e.describe() : String(e)
      const name = `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`
      if (o.kind === 'TokenPolicy') {
        blockedNamespaces.add(o.metadata.namespace ?? 'default')
        problems.push(`${name} does not decode (${reason}); every agent of namespace ${o.metadata.namespace} is refused until it is fixed`)
      } else {
        problems.push(`${name} does not decode (${reason}); it is left out`)
      }
    }
  }
  const registry = buildRegistry({ models, agents: agents.filter((a) => !blockedNamespaces.has(a.metadata.namespace ?? 'default')), policies })
  return { ...registry, problems: [...problems, ...registry.problems] }
}

function keyOf(o: StoredObject): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`
}
