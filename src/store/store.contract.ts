// The Store contract suite: every implementation runs it (sqlite/sqlite.test.ts, postgres/postgres.test.ts).
//
// runStoreContract covers the semantics of one store; runReplicaContract runs two stores on the
// same database (two replicas, or two connections to one file) against each other and checks that
// allocation epochs and conditional updates never let both win.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { GpuplaneError, type ErrorCode } from '../common/errors.ts'
import { parseLabelSelector } from '../api/labels.ts'
import type { BackendOptions } from './backend.ts'
import { LATEST_SCHEMA_VERSION } from './migrations.ts'
import type { LabelRequirement, LedgerEntry, NewObject, Store, StoredObject, UsageQuery } from './types.ts'

/** A fresh, empty, migrated store, a way to open more stores on the same database, and cleanup. */
export interface StoreHandle {
  store: Store
  /** Another store on the same database (another replica or connection), migrated. */
  peer(): Promise<Store>
  /** Closes every store of this handle and removes the database. */
  dispose(): Promise<void>
}

export type MakeStore = (options?: BackendOptions) => Promise<StoreHandle>

async function withStore(makeStore: MakeStore, fn: (store: Store, handle: StoreHandle) => Promise<void>, options?: BackendOptions): Promise<void> {
  const handle = await makeStore(options)
  try {
    await fn(handle.store, handle)
  } finally {
    await handle.dispose()
  }
}

/** Asserts that `promise` rejects with a GpuplaneError of `code` (and a message matching `message`). */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<GpuplaneError> {
  try {
    await promise
  } catch (e) {
    assert.ok(e instanceof GpuplaneError, `expected a GpuplaneError ${code}, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    if (message) assert.match(e.message, message)
    return e
  }
  assert.fail(`expected a GpuplaneError ${code}, but it succeeded`)
}

function workload(name: string, namespace = 'team-a', extra: Partial<NewObject> = {}): NewObject {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace, ...(extra.metadata ?? {}) },
    spec: { priority: 1, claims: [{ name: 'gpu', count: 1 }] },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'metadata')),
  }
}

function node(name: string, labels?: Record<string, string>): NewObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, ...(labels ? { labels } : {}) }, spec: {} }
}

const names = (items: StoredObject[]) => items.map((o) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name))

/** The semantics of one Store: objects, revisions, history, commits, epochs, audit, tokens, lifecycle. */
export function runStoreContract(name: string, makeStore: MakeStore): void {
  const test = (title: string, fn: (store: Store, handle: StoreHandle) => Promise<void>, options?: BackendOptions) =>
    it(title, () => withStore(makeStore, fn, options))

  describe(`Store contract: ${name}`, () => {
    describe('objects', () => {
      test('create assigns uid, resourceVersion, generation and creationTimestamp, ignoring what the client sent', async (store) => {
        const before = Number(await store.revision())
        const created = await store.create(workload('a', 'team-a', { metadata: { name: 'a', uid: 'mine', resourceVersion: '99', labels: { app: 'x' } } }))
        assert.match(created.metadata.uid, /^[0-9a-f-]{36}$/)
        assert.notEqual(created.metadata.uid, 'mine')
        assert.equal(created.metadata.resourceVersion, String(before + 1))
        assert.equal(created.metadata.generation, 1)
        assert.match(created.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
        assert.deepEqual(created.metadata.labels, { app: 'x' })
        assert.deepEqual(created.spec, { priority: 1, claims: [{ name: 'gpu', count: 1 }] })
        assert.deepEqual(await store.get({ kind: 'Workload', namespace: 'team-a', name: 'a' }), created)
        assert.deepEqual(Object.keys(created), ['apiVersion', 'kind', 'metadata', 'spec'])
        const other = await store.create(workload('b'))
        assert.notEqual(other.metadata.uid, created.metadata.uid)
      })

      test('create of an existing key is ALREADY_EXISTS and writes nothing', async (store) => {
        await store.create(workload('a'))
        const revision = await store.revision()
        await rejectsWith(store.create(workload('a')), 'ALREADY_EXISTS', /Workload team-a\/a already exists/)
        assert.equal(await store.revision(), revision)
      })

      test('a missing object: get gives undefined, writes are NOT_FOUND', async (store) => {
        const key = { kind: 'Workload', namespace: 'team-a', name: 'nope' }
        assert.equal(await store.get(key), undefined)
        await rejectsWith(store.update(workload('nope')), 'NOT_FOUND', /Workload team-a\/nope not found/)
        await rejectsWith(store.updateStatus(key, { phase: 'Pending' }), 'NOT_FOUND')
        await rejectsWith(store.delete(key), 'NOT_FOUND')
      })

      test('malformed objects and keys are INVALID_INPUT', async (store) => {
        await rejectsWith(store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: '' } }), 'INVALID_INPUT', /metadata.name/)
        await rejectsWith(store.create({ apiVersion: 'v1', kind: '', metadata: { name: 'n' } }), 'INVALID_INPUT', /kind/)
        await rejectsWith(store.get({ kind: 'Node', name: '' }), 'INVALID_INPUT')
        await rejectsWith(store.create({ ...node('n'), spec: { big: 2n ** 64n } }), 'INVALID_INPUT', /too large/)
        const exact = await store.create({ ...node('m'), spec: { count: 12n } })
        assert.deepEqual(exact.spec, { count: 12 })
      })

      test('update replaces spec and metadata, keeps identity and status, bumps generation only for spec', async (store) => {
        const created = await store.create(workload('a'))
        const withStatus = await store.updateStatus({ kind: 'Workload', namespace: 'team-a', name: 'a' }, { phase: 'Pending' })
        const relabeled = await store.update({ ...withStatus, metadata: { ...withStatus.metadata, labels: { tier: 'gold' } } })
        assert.equal(relabeled.metadata.generation, 1, 'labels alone do not bump generation')
        assert.deepEqual(relabeled.status, { phase: 'Pending' }, 'status kept')
        const changed = await store.update(workload('a', 'team-a', { spec: { priority: 5 } }))
        assert.equal(changed.metadata.uid, created.metadata.uid)
        assert.equal(changed.metadata.creationTimestamp, created.metadata.creationTimestamp)
        assert.equal(changed.metadata.generation, 2)
        assert.deepEqual(changed.spec, { priority: 5 })
        assert.equal(changed.metadata.labels, undefined, 'metadata replaced')
        assert.deepEqual(changed.status, { phase: 'Pending' }, 'status kept when not given')
        assert.ok(Number(changed.metadata.resourceVersion) > Number(relabeled.metadata.resourceVersion))
        const withNewStatus = await store.update({ ...changed, status: { phase: 'Scheduled' } })
        assert.deepEqual(withNewStatus.status, { phase: 'Scheduled' }, 'status replaced when given')
        assert.deepEqual(await store.get({ kind: 'Workload', namespace: 'team-a', name: 'a' }), withNewStatus)
      })

      test('updateStatus replaces status only', async (store) => {
        const created = await store.create(workload('a', 'team-a', { metadata: { name: 'a', labels: { app: 'x' } } }))
        const key = { kind: 'Workload', namespace: 'team-a', name: 'a' }
        const updated = await store.updateStatus(key, { phase: 'Scheduled', nodeName: 'n1' })
        assert.deepEqual(updated.spec, created.spec)
        assert.deepEqual(updated.metadata.labels, { app: 'x' })
        assert.equal(updated.metadata.generation, 1)
        assert.equal(updated.metadata.resourceVersion, String(Number(created.metadata.resourceVersion) + 1))
        assert.deepEqual(updated.status, { phase: 'Scheduled', nodeName: 'n1' })
        assert.deepEqual(Object.keys(updated), ['apiVersion', 'kind', 'metadata', 'spec', 'status'])
        assert.deepEqual(await store.get(key), updated)
      })

      test('a stale resourceVersion is CONFLICT for update, updateStatus and delete; the current one succeeds', async (store) => {
        const created = await store.create(workload('a'))
        const key = { kind: 'Workload', namespace: 'team-a', name: 'a' }
        const current = await store.updateStatus(key, { phase: 'Pending' })
        const stale = created.metadata.resourceVersion
        await rejectsWith(store.update(workload('a'), stale), 'CONFLICT', new RegExp(`since resourceVersion ${stale} \\(it is now ${current.metadata.resourceVersion}\\)`))
        await rejectsWith(store.updateStatus(key, {}, stale), 'CONFLICT')
        await rejectsWith(store.delete(key, stale), 'CONFLICT')
        assert.deepEqual(await store.get(key), current)
        const next = await store.updateStatus(key, { phase: 'Scheduled' }, current.metadata.resourceVersion)
        await store.delete(key, next.metadata.resourceVersion)
        assert.equal(await store.get(key), undefined)
      })

      test('delete returns the object with the deletion resourceVersion; the name can be used again', async (store) => {
        const created = await store.create(workload('a'))
        const key = { kind: 'Workload', namespace: 'team-a', name: 'a' }
        const deleted = await store.delete(key)
        assert.equal(deleted.metadata.uid, created.metadata.uid)
        assert.equal(deleted.metadata.resourceVersion, await store.revision())
        assert.deepEqual(deleted.spec, created.spec)
        assert.equal(await store.get(key), undefined)
        const again = await store.create(workload('a'))
        assert.notEqual(again.metadata.uid, created.metadata.uid)
      })

      test('cluster-scoped and namespaced keys are distinct', async (store) => {
        await store.create({ apiVersion: 'v1', kind: 'Thing', metadata: { name: 'x' }, spec: { scope: 'cluster' } })
        await store.create({ apiVersion: 'v1', kind: 'Thing', metadata: { name: 'x', namespace: 'a' }, spec: { scope: 'a' } })
        await store.create({ apiVersion: 'v1', kind: 'Thing', metadata: { name: 'x', namespace: 'b' }, spec: { scope: 'b' } })
        const cluster = await store.get({ kind: 'Thing', name: 'x' })
        assert.deepEqual(cluster?.spec, { scope: 'cluster' })
        assert.equal('namespace' in cluster!.metadata, false, 'no namespace on a cluster-scoped object')
        assert.deepEqual(await store.get({ kind: 'Thing', namespace: '', name: 'x' }), cluster)
        assert.deepEqual((await store.get({ kind: 'Thing', namespace: 'b', name: 'x' }))?.spec, { scope: 'b' })
        await store.delete({ kind: 'Thing', namespace: 'a', name: 'x' })
        assert.deepEqual(names((await store.list('Thing')).items), ['x', 'b/x'])
      })

      test('list by kind and namespace, in namespace then name order', async (store) => {
        for (const [ns, n] of [['team-b', 'z'], ['team-a', 'y'], ['team-b', 'a'], ['team-a', 'b']]) await store.create(workload(n, ns))
        await store.create(node('n1'))
        assert.deepEqual(names((await store.list('Workload')).items), ['team-a/b', 'team-a/y', 'team-b/a', 'team-b/z'])
        assert.deepEqual(names((await store.list('Workload', { namespace: 'team-b' })).items), ['team-b/a', 'team-b/z'])
        assert.deepEqual(names((await store.list('Workload', { namespace: 'none' })).items), [])
        assert.deepEqual(names((await store.list('Node')).items), ['n1'])
        assert.deepEqual(names((await store.list('Node', { namespace: '' })).items), ['n1'])
        assert.deepEqual((await store.list('Unknown')).items, [])
      })

      test('list by label selector, every operator', async (store) => {
        await store.create(node('a', { zone: 'east', gpu: 'h100' }))
        await store.create(node('b', { zone: 'west', gpu: 'a100' }))
        await store.create(node('c', { zone: 'east' }))
        await store.create(node('d'))
        const select = async (selector: string) => names((await store.list('Node', { labelSelector: parseLabelSelector(selector) })).items)
        assert.deepEqual(await select(''), ['a', 'b', 'c', 'd'])
        assert.deepEqual(await select('zone=east'), ['a', 'c'])
        assert.deepEqual(await select('zone==east,gpu=h100'), ['a'])
        assert.deepEqual(await select('zone!=east'), ['b', 'd'])
        assert.deepEqual(await select('gpu in (a100,h100)'), ['a', 'b'])
        assert.deepEqual(await select('gpu notin (h100)'), ['b', 'c', 'd'])
        assert.deepEqual(await select('gpu'), ['a', 'b'])
        assert.deepEqual(await select('!gpu'), ['c', 'd'])
        assert.deepEqual(await select('zone,!gpu'), ['c'])
        assert.deepEqual(await select('zone=east,gpu notin (a100),zone in (east,west)'), ['a', 'c'])
        assert.deepEqual(names((await store.list('Node', { namespace: '', labelSelector: parseLabelSelector('zone=west') })).items), ['b'])
        // Selectors follow label changes and deletions.
        const d = (await store.get({ kind: 'Node', name: 'd' }))!
        await store.update({ ...d, metadata: { ...d.metadata, labels: { zone: 'east' } } })
        await store.delete({ kind: 'Node', name: 'a' })
        assert.deepEqual(await select('zone=east'), ['c', 'd'])
      })

      test('label selectors built by hand: odd keys and empty value sets', async (store) => {
        await store.create(node('odd', { 'we"ird\\key': 'v', 'a.b': 'x' }))
        await store.create(node('plain', { 'a.b': 'y' }))
        const select = async (labelSelector: LabelRequirement[]) => names((await store.list('Node', { labelSelector })).items)
        assert.deepEqual(await select([{ key: 'we"ird\\key', op: 'exists' }]), ['odd'])
        assert.deepEqual(await select([{ key: 'we"ird\\key', op: '=', value: 'v' }, { key: 'a.b', op: '=', value: 'x' }]), ['odd'])
        assert.deepEqual(await select([{ key: 'a.b', op: '!=', value: 'x' }]), ['plain'])
        assert.deepEqual(await select([{ key: 'a.b', op: 'in', values: [] }]), [])
        assert.deepEqual(await select([{ key: 'a.b', op: 'notin', values: [] }]), ['odd', 'plain'])
      })
    })

    describe('revisions and history', () => {
      test('every write advances the revision by one; lists report the revision they are consistent with', async (store) => {
        assert.equal(await store.revision(), '0')
        assert.equal((await store.list('Workload')).resourceVersion, '0')
        const seen: number[] = []
        const a = await store.create(workload('a'))
        seen.push(Number(a.metadata.resourceVersion))
        seen.push(Number((await store.updateStatus({ kind: 'Workload', namespace: 'team-a', name: 'a' }, { phase: 'Pending' })).metadata.resourceVersion))
        seen.push(Number((await store.create(node('n'))).metadata.resourceVersion))
        seen.push(Number((await store.delete({ kind: 'Node', name: 'n' })).metadata.resourceVersion))
        assert.deepEqual(seen, [1, 2, 3, 4])
        const list = await store.list('Workload')
        assert.equal(list.resourceVersion, '4')
        assert.equal(await store.revision(), '4')
        for (const o of list.items) assert.ok(Number(o.metadata.resourceVersion) <= Number(list.resourceVersion))
        // A failed write does not advance it.
        await rejectsWith(store.create(workload('a')), 'ALREADY_EXISTS')
        assert.equal(await store.revision(), '4')
      })

      test('changesSince: oldest first, with types, filters and limit', async (store) => {
        await store.create(workload('a'))
        const { resourceVersion } = await store.list('Workload')
        await store.create(workload('b', 'team-b'))
        await store.create(node('n'))
        await store.updateStatus({ kind: 'Workload', namespace: 'team-a', name: 'a' }, { phase: 'Scheduled' })
        const deleted = await store.delete({ kind: 'Workload', namespace: 'team-b', name: 'b' })
        const all = await store.changesSince(resourceVersion)
        assert.deepEqual(
          all.map((e) => `${e.type} ${e.object.kind} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`),
          ['ADDED Workload b 2', 'ADDED Node n 3', 'MODIFIED Workload a 4', 'DELETED Workload b 5'],
        )
        assert.deepEqual(all[3].object, deleted)
        assert.deepEqual(all[2].object.status, { phase: 'Scheduled' })
        assert.deepEqual(names((await store.changesSince('0', { kinds: ['Node'] })).map((e) => e.object)), ['n'])
        assert.deepEqual((await store.changesSince('0', { kinds: [] })).length, 0)
        assert.deepEqual(names((await store.changesSince('0', { kinds: ['Workload'], namespace: 'team-a' })).map((e) => e.object)), ['team-a/a', 'team-a/a'])
        assert.deepEqual(
          (await store.changesSince('1', { limit: 2 })).map((e) => e.object.metadata.resourceVersion),
          ['2', '3'],
        )
        assert.deepEqual(await store.changesSince('5'), [])
        assert.deepEqual(await store.changesSince('99'), [])
        await rejectsWith(store.changesSince('abc'), 'INVALID_INPUT', /not a store revision/)
      })

      test('history is compacted to the configured revisions; older resourceVersions are GONE', async (store) => {
        for (let i = 0; i < 12; i++) await store.create(node(`n${i}`))
        // keep 5 (compacted in batches of 1): events 8..12 remain.
        await rejectsWith(store.changesSince('0'), 'GONE', /list again/)
        await rejectsWith(store.changesSince('6'), 'GONE')
        assert.deepEqual(
          (await store.changesSince('7')).map((e) => e.object.metadata.resourceVersion),
          ['8', '9', '10', '11', '12'],
        )
        assert.equal((await store.list('Node')).items.length, 12, 'compaction removes history, not objects')
      }, { historyRevisions: 5 })
    })

    describe('commits', () => {
      test('a commit applies its writes in order, each with its own revision', async (store) => {
        await store.create(workload('old'))
        const results = await store.commit([
          { op: 'create', object: workload('w') },
          { op: 'updateStatus', key: { kind: 'Workload', namespace: 'team-a', name: 'w' }, status: { phase: 'Scheduled' } },
          { op: 'create', object: { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'w-gpu', namespace: 'team-a' }, spec: {} } },
          { op: 'delete', key: { kind: 'Workload', namespace: 'team-a', name: 'old' } },
        ])
        assert.deepEqual(results.map((o) => o.metadata.resourceVersion), ['2', '3', '4', '5'])
        assert.deepEqual(results[1].status, { phase: 'Scheduled' })
        assert.deepEqual(await store.get({ kind: 'Workload', namespace: 'team-a', name: 'w' }), results[1])
        assert.equal(await store.get({ kind: 'Workload', namespace: 'team-a', name: 'old' }), undefined)
        assert.deepEqual((await store.changesSince('1')).map((e) => e.type), ['ADDED', 'MODIFIED', 'ADDED', 'DELETED'])
        assert.deepEqual(await store.commit([]), [])
      })

      test('a failing write in the middle leaves nothing written', async (store) => {
        const existing = await store.create(workload('taken'))
        const revision = await store.revision()
        const error = await rejectsWith(
          store.commit([
            { op: 'create', object: workload('new-1') },
            { op: 'updateStatus', key: { kind: 'Workload', namespace: 'team-a', name: 'taken' }, status: { phase: 'X' } },
            { op: 'create', object: workload('taken') },
            { op: 'create', object: workload('new-2') },
          ]),
          'ALREADY_EXISTS',
          /write 3 of 4 \(create\).*nothing was written/,
        )
        assert.ok(error)
        await rejectsWith(
          store.commit([
            { op: 'create', object: workload('new-3') },
            { op: 'update', object: workload('taken'), expectResourceVersion: '999' },
          ]),
          'CONFLICT',
        )
        assert.equal(await store.revision(), revision)
        assert.deepEqual(names((await store.list('Workload')).items), ['team-a/taken'])
        assert.deepEqual(await store.get({ kind: 'Workload', namespace: 'team-a', name: 'taken' }), existing)
        assert.deepEqual(await store.changesSince(revision), [])
      })

      test('allocation epochs: a commit with the current epoch advances it; a stale one is CONFLICT and writes nothing', async (store) => {
        assert.equal(await store.allocationEpoch(), 0)
        const epoch = await store.allocationEpoch()
        await store.commit([{ op: 'create', object: workload('a') }], { allocationEpoch: epoch })
        assert.equal(await store.allocationEpoch(), 1)
        const revision = await store.revision()
        await rejectsWith(store.commit([{ op: 'create', object: workload('b') }], { allocationEpoch: epoch }), 'CONFLICT', /since epoch 0 \(now 1\)/)
        assert.equal(await store.revision(), revision)
        assert.equal(await store.get({ kind: 'Workload', namespace: 'team-a', name: 'b' }), undefined)
        await store.create(workload('c'))
        assert.equal(await store.allocationEpoch(), 1, 'plain writes leave the epoch alone')
        await store.commit([], { allocationEpoch: 1 })
        assert.equal(await store.allocationEpoch(), 2, 'an empty allocation commit still advances it')
        await rejectsWith(store.commit([{ op: 'create', object: workload('a') }], { allocationEpoch: 2 }), 'ALREADY_EXISTS')
        assert.equal(await store.allocationEpoch(), 2, 'a commit that fails does not advance it')
      })

      test('concurrent commits, some failing: each is all or nothing, revisions stay gap-free', async (store) => {
        await store.create(node('taken'))
        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            store.commit([{ op: 'create', object: node(`n-${i}`) }, ...(i % 5 === 2 ? [{ op: 'create' as const, object: node('taken') }] : []), { op: 'create', object: node(`m-${i}`) }]),
          ),
        )
        outcomes.forEach((o, i) => {
          assert.equal(o.status, i % 5 === 2 ? 'rejected' : 'fulfilled')
          if (o.status === 'rejected') assert.equal((o.reason as GpuplaneError).code, 'ALREADY_EXISTS')
        })
        const listed = names((await store.list('Node')).items)
        assert.equal(listed.length, 1 + 16 * 2)
        for (const i of [2, 7, 12, 17]) assert.ok(!listed.includes(`n-${i}`) && !listed.includes(`m-${i}`))
        const history = (await store.changesSince('0')).map((e) => Number(e.object.metadata.resourceVersion))
        assert.deepEqual(history, Array.from({ length: 33 }, (_, i) => i + 1))
        assert.equal(await store.revision(), '33')
      })

      test('two decisions from the same epoch: exactly one commits', async (store) => {
        const epoch = await store.allocationEpoch()
        const outcomes = await Promise.allSettled([
          store.commit([{ op: 'create', object: workload('x') }], { allocationEpoch: epoch }),
          store.commit([{ op: 'create', object: workload('y') }], { allocationEpoch: epoch }),
        ])
        assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected'])
        const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult
        assert.equal((rejected.reason as GpuplaneError).code, 'CONFLICT')
      })
    })

    describe('audit', () => {
      test('entries are appended with increasing ids and queried by actor, namespace, kind, after and limit', async (store) => {
        const base = { time: '2025-01-01T00:00:00Z', result: '201' }
        await store.appendAudit({ ...base, actor: 'admin', action: 'create', kind: 'Workload', namespace: 'a', name: 'w1' })
        await store.appendAudit({ ...base, actor: 'namespace:a', action: 'update', kind: 'Workload', namespace: 'a', name: 'w1', detail: 'spec changed' })
        await store.appendAudit({ ...base, actor: 'admin', action: 'token.create', result: 'ok' })
        await store.appendAudit({ ...base, actor: 'namespace:b', action: 'delete', kind: 'Node', name: 'n1', result: 'FORBIDDEN' })
        const all = await store.queryAudit()
        assert.equal(all.length, 4)
        assert.ok(all.every((e, i) => i === 0 || e.id! > all[i - 1].id!))
        assert.deepEqual(all[1], { id: all[1].id, time: base.time, actor: 'namespace:a', action: 'update', kind: 'Workload', namespace: 'a', name: 'w1', result: '201', detail: 'spec changed' })
        assert.deepEqual(all[2], { id: all[2].id, time: base.time, actor: 'admin', action: 'token.create', result: 'ok' })
        assert.deepEqual((await store.queryAudit({ actor: 'admin' })).map((e) => e.action), ['create', 'token.create'])
        assert.deepEqual((await store.queryAudit({ namespace: 'a' })).map((e) => e.action), ['create', 'update'])
        assert.deepEqual((await store.queryAudit({ kind: 'Node' })).map((e) => e.result), ['FORBIDDEN'])
        assert.deepEqual((await store.queryAudit({ after: all[1].id })).map((e) => e.action), ['token.create', 'delete'])
        assert.deepEqual((await store.queryAudit({ limit: 2 })).map((e) => e.action), ['create', 'update'])
        assert.deepEqual((await store.queryAudit({ actor: 'admin', namespace: 'a', kind: 'Workload' })).length, 1)
        await rejectsWith(store.queryAudit({ limit: 0 }), 'INVALID_INPUT')
      })
    })

    describe('tokens', () => {
      const hash = (c: string) => c.repeat(64)
      test('save, find by hash, list, replace, delete', async (store) => {
        await store.saveToken({ id: 'admin', hash: hash('a'), scope: { admin: true }, createdAt: '2025-01-01T00:00:00Z' })
        await store.saveToken({ id: 't1', hash: hash('b'), scope: { namespace: 'team-a' }, description: 'ci', createdAt: '2025-01-02T00:00:00Z' })
        assert.deepEqual(await store.findTokenByHash(hash('b')), { id: 't1', hash: hash('b'), scope: { namespace: 'team-a' }, description: 'ci', createdAt: '2025-01-02T00:00:00Z' })
        assert.deepEqual(await store.findTokenByHash(hash('a')), { id: 'admin', hash: hash('a'), scope: { admin: true }, createdAt: '2025-01-01T00:00:00Z' })
        assert.equal(await store.findTokenByHash(hash('c')), undefined)
        assert.deepEqual((await store.listTokens()).map((t) => t.id), ['admin', 't1'])
        // Saving an id again replaces it (a new admin token at restart).
        await store.saveToken({ id: 'admin', hash: hash('d'), scope: { admin: true }, createdAt: '2025-01-03T00:00:00Z' })
        assert.equal(await store.findTokenByHash(hash('a')), undefined)
        assert.equal((await store.findTokenByHash(hash('d')))?.id, 'admin')
        await rejectsWith(store.saveToken({ id: 't2', hash: hash('b'), scope: { namespace: 'x' }, createdAt: '2025-01-04T00:00:00Z' }), 'ALREADY_EXISTS')
        await rejectsWith(store.saveToken({ id: 't3', hash: 'not-a-hash', scope: { namespace: 'x' }, createdAt: '2025-01-04T00:00:00Z' }), 'INVALID_INPUT')
        assert.equal(await store.deleteToken('t1'), true)
        assert.equal(await store.deleteToken('t1'), false)
        assert.deepEqual((await store.listTokens()).map((t) => t.id), ['admin'])
      })
    })

    describe('usage ledger', () => {
      const entry = (id: string, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
        id, time: 1_000, namespace: 'team-a', agent: 'bot', model: 'm', endpoint: 'chat', outcome: 'completed',
        promptTokens: 7, completionTokens: 5, costMicro: 2, requests: 1, status: 200, ...extra,
      })
      test('appends are idempotent by id, one transaction each, and read back exactly, oldest first', async (store) => {
        const full = entry('r-1', { reason: 'x', reservedTokens: 56, latencyMs: 3, costMicro: 2 ** 40 })
        assert.equal(await store.appendUsage([full, entry('r-2', { time: 2_000 })]), 2)
        assert.equal(await store.appendUsage([entry('r-2'), entry('r-3', { time: 3_000 }), entry('r-3')]), 1, 'a retried id and a duplicate in one batch add nothing')
        assert.equal(await store.appendUsage([]), 0)
        const all = await store.queryUsage()
        assert.deepEqual(all.map((e) => e.id), ['r-1', 'r-2', 'r-3'])
        assert.ok(all[0].seq! < all[1].seq! && all[1].seq! < all[2].seq!, 'seq increases in append order')
        const { seq: _, ...back } = all[0]
        assert.deepEqual(back, full)
        assert.equal(all[1].time, 2_000, 'the first append of an id wins')
        assert.equal(all[1].reason, undefined)
      })
      test('a batch with an invalid entry appends nothing', async (store) => {
        await rejectsWith(store.appendUsage([entry('ok'), entry('bad', { promptTokens: -1 })]), 'INVALID_INPUT', /promptTokens/)
        await rejectsWith(store.appendUsage([entry('refused', { outcome: 'refused' })]), 'INVALID_INPUT', /count nothing/)
        assert.deepEqual(await store.queryUsage(), [])
      })
      test('queries filter by time range, namespace, agent, model, outcome, after and limit', async (store) => {
        await store.appendUsage([
          entry('a', { time: 100 }),
          entry('b', { time: 200, namespace: 'team-b' }),
          entry('c', { time: 300, agent: 'other', model: 'm2' }),
          entry('d', { time: 400, outcome: 'refused', promptTokens: 0, completionTokens: 0, costMicro: 0, requests: 0, status: 429, reason: 'tp/team-a/p/0/tokens/day' }),
        ])
        const ids = async (q: UsageQuery) => (await store.queryUsage(q)).map((e) => e.id)
        assert.deepEqual(await ids({ from: 200, to: 400 }), ['b', 'c'])
        assert.deepEqual(await ids({ namespace: 'team-a' }), ['a', 'c', 'd'])
        assert.deepEqual(await ids({ agent: 'other' }), ['c'])
        assert.deepEqual(await ids({ model: 'm2' }), ['c'])
        assert.deepEqual(await ids({ outcome: 'refused' }), ['d'])
        const all = await store.queryUsage()
        assert.deepEqual(await ids({ after: all[1].seq }), ['c', 'd'])
        assert.deepEqual(await ids({ limit: 2 }), ['a', 'b'])
        assert.deepEqual(await ids({ namespace: 'team-a', from: 300, limit: 1 }), ['c'])
        await rejectsWith(store.queryUsage({ limit: 0 }), 'INVALID_INPUT')
      })
      test('concurrent appends of overlapping batches store each id once', async (store, handle) => {
        const peer = await handle.peer()
        const batch = (from: number) => Array.from({ length: 50 }, (_, i) => entry(`c-${from + i}`))
        const added = await Promise.all([store.appendUsage(batch(0)), peer.appendUsage(batch(25)), store.appendUsage(batch(10)), peer.appendUsage(batch(0))])
        assert.equal(added.reduce((a, b) => a + b, 0), 75, `added ${added}`)
        assert.equal((await store.queryUsage()).length, 75)
      })
    })

    describe('lifecycle', () => {
      test('migrate is idempotent and keeps the data', async (store, handle) => {
        assert.equal(await store.schemaVersion(), LATEST_SCHEMA_VERSION)
        await store.create(node('n'))
        await store.migrate()
        await store.migrate()
        assert.equal(await store.schemaVersion(), LATEST_SCHEMA_VERSION)
        const peer = await handle.peer()
        await peer.migrate()
        assert.equal((await peer.get({ kind: 'Node', name: 'n' }))?.metadata.name, 'n')
        assert.equal(await peer.revision(), '1')
      })

      test('close: later calls are UNAVAILABLE; closing twice is fine', async (store) => {
        await store.create(node('n'))
        await store.close()
        await store.close()
        await rejectsWith(store.get({ kind: 'Node', name: 'n' }), 'UNAVAILABLE', /closed/)
        await rejectsWith(store.create(node('m')), 'UNAVAILABLE', /closed/)
      })
    })
  })
}

/** Two stores on one database (two replicas, or two connections to one file), racing. */
export function runReplicaContract(name: string, makeStore: MakeStore, sizes = { slots: 30, increments: 40 }): void {
  describe(`Store replicas: ${name}`, () => {
    it(`two replicas take ${sizes.slots} device slots through allocation epochs: none twice, every attempt committed or conflicted`, () =>
      withStore(makeStore, async (a, handle) => {
        const b = await handle.peer()
        const replica = async (store: Store, id: string) => {
          let committed = 0
          let conflicted = 0
          for (let attempt = 0; ; attempt++) {
            const epoch = await store.allocationEpoch()
            const taken = new Set((await store.list('Allocation')).items.map((o) => (o.spec as { slot: number }).slot))
            const free = Array.from({ length: sizes.slots }, (_, i) => i).find((i) => !taken.has(i))
            if (free === undefined) return { committed, conflicted, attempts: attempt }
            const allocation: NewObject = { apiVersion: 'test/v1', kind: 'Allocation', metadata: { name: `${id}-${attempt}` }, spec: { slot: free, by: id } }
            try {
              await store.commit([{ op: 'create', object: allocation }], { allocationEpoch: epoch })
              committed++
            } catch (e) {
              if (!(e instanceof GpuplaneError && e.code === 'CONFLICT')) throw e
              conflicted++
            }
          }
        }
        const results = await Promise.all([replica(a, 'a'), replica(b, 'b')])
        const allocations = (await a.list('Allocation')).items
        const slots = allocations.map((o) => (o.spec as { slot: number }).slot)
        assert.equal(new Set(slots).size, slots.length, `a slot was taken twice: ${slots.sort((x, y) => x - y).join(',')}`)
        assert.equal(slots.length, sizes.slots)
        for (const r of results) assert.equal(r.committed + r.conflicted, r.attempts)
        assert.equal(results[0].committed + results[1].committed, sizes.slots)
        assert.equal(await a.allocationEpoch(), sizes.slots, 'the epoch advanced once per committed allocation')
      }))

    it(`two replicas increment one counter ${sizes.increments} times each with conditional updates: none lost`, () =>
      withStore(makeStore, async (a, handle) => {
        const b = await handle.peer()
        const key = { kind: 'Counter', name: 'c' }
        await a.create({ apiVersion: 'test/v1', kind: 'Counter', metadata: { name: 'c' }, spec: { value: 0 } })
        const replica = async (store: Store) => {
          let committed = 0
          let conflicted = 0
          while (committed < sizes.increments) {
            const current = (await store.get(key))!
            const value = (current.spec as { value: number }).value
            try {
              await store.update({ ...current, spec: { value: value + 1 } }, current.metadata.resourceVersion)
              committed++
            } catch (e) {
              if (!(e instanceof GpuplaneError && e.code === 'CONFLICT')) throw e
              conflicted++
            }
          }
          return { committed, conflicted }
        }
        const results = await Promise.all([replica(a), replica(b)])
        const final = (await b.get(key))!
        assert.equal((final.spec as { value: number }).value, results[0].committed + results[1].committed)
        assert.equal(final.metadata.generation, 1 + 2 * sizes.increments)
        // The history holds every increment, in order, gap-free.
        const values = (await a.changesSince('1')).map((e) => (e.object.spec as { value: number }).value)
        assert.deepEqual(values, Array.from({ length: 2 * sizes.increments }, (_, i) => i + 1))
      }))

    it('concurrent writers through both replicas get gap-free revisions, every one in the history once', () =>
      withStore(makeStore, async (a, handle) => {
        const b = await handle.peer()
        const writes = (store: Store, prefix: string) =>
          Promise.all(Array.from({ length: 25 }, (_, i) => store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: `${prefix}-${i}` } })))
        const written = (await Promise.all([writes(a, 'a'), writes(b, 'b')])).flat()
        const revisions = written.map((o) => Number(o.metadata.resourceVersion)).sort((x, y) => x - y)
        assert.deepEqual(revisions, Array.from({ length: 50 }, (_, i) => i + 1))
        const history = await b.changesSince('0')
        assert.deepEqual(history.map((e) => Number(e.object.metadata.resourceVersion)), revisions)
      }))
  })
}
