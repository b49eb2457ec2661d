// Group commit on SQLite: the Store contract holds through it, writes of one turn fail alone, a failed group commit refuses all of its writes, an acknowledged write is on disk.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { GpuplaneError } from '../common/errors.ts'
import { openStore, SqliteStore } from '../store/index.ts'
import { runStoreContract, type MakeStore } from '../store/store.contract.ts'
import type { NewObject, Store } from '../store/types.ts'
import { groupCommits } from './group-commit.ts'

const root = mkdtempSync(join(tmpdir(), 'gpuplane-group-commit-test-'))
after(() => rmSync(root, { recursive: true, force: true }))
let counter = 0

function freshPath(): string {
  const dir = join(root, String(counter++))
  mkdirSync(dir)
  return join(dir, 'store.db')
}

const makeStore: MakeStore = async (options) => {
  const path = freshPath()
  const stores = [await openStore({ sqlite: path, ...options })]
  return {
    store: groupCommits(stores[0]),
    peer: async () => {
      const peer = await openStore({ sqlite: path, ...options })
      stores.push(peer)
      return groupCommits(peer)
    },
    dispose: async () => {
      for (const s of stores) await s.close()
    },
  }
}

runStoreContract('SQLite with group commit', makeStore)

function workload(name: string): NewObject {
  return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name, namespace: 'team' }, spec: { priority: 1 } }
}

async function settle(promises: Array<Promise<unknown>>): Promise<Array<{ ok: true; value: unknown } | { ok: false; error: unknown }>> {
  return Promise.all(promises.map((p) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))))
}

describe('group commit', () => {
  it('commits the writes of one turn together; a write that fails is refused alone', async () => {
    const raw = await openStore({ sqlite: freshPath() })
    const store = groupCommits(raw)
    try {
      const first = await store.create(workload('a'))
      const results = await settle([
        store.create(workload('b')),
        store.create(workload('a')),
        store.update({ ...first, spec: { priority: 2 } }, '1'),
        store.update({ ...first, spec: { priority: 3 } }, '999'),
        store.appendAudit({ time: new Date().toISOString(), actor: 'admin', action: 'create', kind: 'Workload', namespace: 'team', name: 'b', result: '201' }),
        store.create(workload('c')),
      ])
      assert.equal(results[0]!.ok, true, 'b is created')
      assert.ok(!results[1]!.ok && results[1]!.error instanceof GpuplaneError && results[1]!.error.code === 'ALREADY_EXISTS', 'a second a is refused: ALREADY_EXISTS')
      assert.equal(results[2]!.ok, true, 'the update at the current resourceVersion applies')
      assert.ok(!results[3]!.ok && results[3]!.error instanceof GpuplaneError && results[3]!.error.code === 'CONFLICT', 'the update at a stale resourceVersion is refused: CONFLICT')
      assert.equal(results[4]!.ok, true, 'the audit entry is appended')
      assert.equal(results[5]!.ok, true, 'c, after the refused writes, is created')
      const { items, resourceVersion } = await store.list('Workload')
      assert.deepEqual(items.map((w) => [w.metadata.name, (w.spec as { priority: number }).priority]), [['a', 2], ['b', 1], ['c', 1]], 'exactly the writes that succeeded are stored')
      assert.equal(resourceVersion, '4', 'one revision per write that succeeded, none for the refused ones')
      assert.equal((await store.queryAudit()).length, 1, 'the audit entry is there')
    } finally {
      await raw.close()
    }
  })

  it('refuses every write of the turn when the group cannot commit, and writes none of them', async () => {
    const path = freshPath()
    const raw = new SqliteStore(path, { busyTimeoutMs: 20 })
    await raw.migrate()
    const store = groupCommits(raw)
    const other = new Database(path)
    try {
      // Another connection holds the write lock past the busy timeout.
      other.prepare('BEGIN IMMEDIATE').run()
      const results = await settle([store.create(workload('x')), store.create(workload('y'))])
      for (const r of results) assert.ok(!r.ok && r.error instanceof GpuplaneError && r.error.code === 'UNAVAILABLE', 'each write is refused with UNAVAILABLE')
      other.prepare('ROLLBACK').run()
      assert.deepEqual((await store.list('Workload')).items, [], 'nothing was written')
      await store.create(workload('z'))
      assert.deepEqual((await store.list('Workload')).items.map((w) => w.metadata.name), ['z'], 'writes go on once the lock is free')
    } finally {
      other.close()
      await raw.close()
    }
  })

  it('answers a write only once it is committed: another connection reads it at once', async () => {
    const path = freshPath()
    const raw = await openStore({ sqlite: path })
    const store = groupCommits(raw)
    const reader = await openStore({ sqlite: path })
    try {
      const created = await Promise.all(['p', 'q', 'r'].map((n) => store.create(workload(n))))
      for (const c of created) {
        const seen = await reader.get({ kind: 'Workload', namespace: 'team', name: c.metadata.name })
        assert.equal(seen?.metadata.resourceVersion, c.metadata.resourceVersion, `${c.metadata.name} is in the file when its create is answered`)
      }
    } finally {
      await reader.close()
      await raw.close()
    }
  })

  it('leaves a store without group commit (PostgreSQL) as it is', () => {
    const store = { get: async () => undefined } as unknown as Store
    assert.equal(groupCommits(store), store, 'the same object')
  })
})
