// The Store contract on PostgreSQL (a fresh schema per test on postgres://postgres@127.0.0.1:5432/test), two replicas racing, connection errors.
//
// GPUPLANE_TEST_POSTGRES overrides the URL. Each store handle works in its own schema
// gp_test_<random>, dropped at the end, so test files running in parallel never collide.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { openStore } from '../index.ts'
import { LATEST_SCHEMA_VERSION } from '../migrations.ts'
import { rejectsWith, runReplicaContract, runStoreContract, type MakeStore } from '../store.contract.ts'
import { PostgresStore } from './postgres-store.ts'

const URL = process.env.GPUPLANE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const admin = new pg.Pool({ connectionString: URL, max: 2 })
after(() => admin.end())

async function freshSchema(): Promise<string> {
  const schema = `gp_test_${randomBytes(6).toString('hex')}`
  await admin.query(`CREATE SCHEMA ${schema}`)
  return schema
}

const makeStore: MakeStore = async (options) => {
  const schema = await freshSchema()
  const open = () => openStore({ postgres: URL, postgresOptions: { schema, poolSize: 4 }, ...options })
  const stores = [await open()]
  return {
    store: stores[0],
    peer: async () => {
      const peer = await open()
      stores.push(peer)
      return peer
    },
    dispose: async () => {
      for (const s of stores) await s.close()
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    },
  }
}

runStoreContract('PostgreSQL', makeStore)
runReplicaContract('PostgreSQL (two replicas, two pools)', makeStore, { slots: 40, increments: 50 })

describe('PostgreSQL store', () => {
  it('replicas starting together migrate once', async () => {
    const schema = await freshSchema()
    try {
      const stores = Array.from({ length: 3 }, () => new PostgresStore(URL, { schema, poolSize: 2 }))
      await Promise.all(stores.map((s) => s.migrate()))
      for (const s of stores) assert.equal(await s.schemaVersion(), LATEST_SCHEMA_VERSION)
      const applied = await admin.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)
      assert.deepEqual(applied.rows.map((r) => r.version), Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1))
      await Promise.all(stores.map((s) => s.close()))
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    }
  })

  it('keeps documents as written (key order included)', async () => {
    const schema = await freshSchema()
    const store = await openStore({ postgres: URL, postgresOptions: { schema } })
    try {
      await store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: { zeta: 1, alpha: { long_name: 1, b: 2 } } })
      const got = await store.get({ kind: 'Node', name: 'n' })
      assert.deepEqual(Object.keys(got!), ['apiVersion', 'kind', 'metadata', 'spec'])
      assert.deepEqual(Object.keys(got!.spec as object), ['zeta', 'alpha'])
      assert.deepEqual(Object.keys((got!.spec as { alpha: object }).alpha), ['long_name', 'b'])
    } finally {
      await store.close()
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    }
  })

  it('an unreachable server or a missing database is UNAVAILABLE, with the password hidden', async () => {
    const e = await rejectsWith(openStore({ postgres: 'postgres://postgres:secret@127.0.0.1:1/test' }), 'UNAVAILABLE', /cannot reach the server/)
    assert.doesNotMatch(e.message, /secret/)
    await rejectsWith(openStore({ postgres: 'postgres://postgres@127.0.0.1:5432/gp_no_such_db' }), 'UNAVAILABLE', /create the database/)
  })

  it('an unmigrated schema is UNAVAILABLE saying to migrate', async () => {
    const schema = await freshSchema()
    const store = new PostgresStore(URL, { schema })
    try {
      assert.equal(await store.schemaVersion(), 0)
      await rejectsWith(store.get({ kind: 'Node', name: 'n' }), 'UNAVAILABLE', /call migrate\(\) first/)
    } finally {
      await store.close()
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    }
  })
})
