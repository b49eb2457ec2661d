// The Store contract on SQLite (a fresh file per test), two connections to one file racing, and what is SQLite's own: WAL, reopening, locking.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { openStore } from '../index.ts'
import { LATEST_SCHEMA_VERSION } from '../migrations.ts'
import { rejectsWith, runReplicaContract, runStoreContract, type MakeStore } from '../store.contract.ts'
import { SqliteStore } from './sqlite-store.ts'

const root = mkdtempSync(join(tmpdir(), 'gpuplane-sqlite-test-'))
after(() => rmSync(root, { recursive: true, force: true }))
let counter = 0

const makeStore: MakeStore = async (options) => {
  const dir = join(root, String(counter++))
  const path = join(dir, 'store.db')
  mkdirSync(dir)
  const stores = [await openStore({ sqlite: path, ...options })]
  return {
    store: stores[0],
    peer: async () => {
      const peer = await openStore({ sqlite: path, ...options })
      stores.push(peer)
      return peer
    },
    dispose: async () => {
      for (const s of stores) await s.close()
    },
  }
}

runStoreContract('SQLite', makeStore)
runReplicaContract('SQLite (two connections to one file)', makeStore)

describe('SQLite store', () => {
  it('runs in WAL mode with the chosen synchronous level', async () => {
    const path = join(root, 'wal.db')
    const store = await openStore({ sqlite: path, sqliteOptions: { synchronous: 'FULL' } })
    await store.close()
    const db = new Database(path, { readonly: true })
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
    db.close()
  })

  it('keeps everything across close and reopen, and the revision continues', async () => {
    const path = join(root, 'reopen.db')
    const first = await openStore({ sqlite: path })
    await first.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } })
    await first.commit([], { allocationEpoch: 0 })
    await first.appendAudit({ time: '2025-01-01T00:00:00Z', actor: 'admin', action: 'create', result: '201' })
    await first.close()
    const second = await openStore({ sqlite: path })
    assert.equal(await second.schemaVersion(), LATEST_SCHEMA_VERSION)
    assert.equal((await second.get({ kind: 'Node', name: 'n1' }))?.metadata.resourceVersion, '1')
    assert.equal(await second.allocationEpoch(), 1)
    assert.equal((await second.queryAudit()).length, 1)
    assert.equal((await second.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } })).metadata.resourceVersion, '2')
    await second.close()
  })

  it('works in memory, with the clock given', async () => {
    const store = await openStore({ sqlite: ':memory:', now: () => new Date('2025-02-03T04:05:06.789Z') })
    const created = await store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } })
    assert.equal(created.metadata.creationTimestamp, '2025-02-03T04:05:06Z')
    assert.equal((await store.list('Node')).items.length, 1)
    await store.close()
  })

  it('reports an unmigrated database and an unwritable path as UNAVAILABLE', async () => {
    const raw = new SqliteStore(join(root, 'raw.db'))
    assert.equal(await raw.schemaVersion(), 0)
    await rejectsWith(raw.get({ kind: 'Node', name: 'n' }), 'UNAVAILABLE', /call migrate\(\) first/)
    await raw.close()
    await rejectsWith(openStore({ sqlite: join(root, 'missing-dir', 'x.db') }), 'UNAVAILABLE', /directory exists/)
  })

  it('refuses a schema newer than it knows', async () => {
    const path = join(root, 'newer.db')
    const store = await openStore({ sqlite: path })
    await store.close()
    const db = new Database(path)
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', '')").run(LATEST_SCHEMA_VERSION + 1)
    db.close()
    await rejectsWith(openStore({ sqlite: path }), 'UNAVAILABLE', /newer than this gpuplane knows/)
  })

  it('a writer blocked past the busy timeout gets UNAVAILABLE', async () => {
    const path = join(root, 'busy.db')
    const store = await openStore({ sqlite: path, sqliteOptions: { busyTimeoutMs: 50 } })
    const other = new Database(path)
    other.exec('BEGIN IMMEDIATE')
    await rejectsWith(store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } }), 'UNAVAILABLE', /locked by another connection/)
    other.exec('ROLLBACK')
    other.close()
    await store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } })
    await store.close()
  })

  it('needs exactly one store named', async () => {
    await rejectsWith(openStore({}), 'INVALID_INPUT', /exactly one store/)
    await rejectsWith(openStore({ sqlite: ':memory:', postgres: 'postgres://x' }), 'INVALID_INPUT')
  })
})
