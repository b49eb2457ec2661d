// The TelemetryStore contract on PostgreSQL (a fresh schema per test on postgres://postgres@127.0.0.1:5432/test; GPUPLANE_TEST_POSTGRES overrides).
import { after } from 'node:test'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { openStore, openTelemetryStore } from '../index.ts'
import { runTelemetryStoreContract } from '../../telemetry/telemetry-store.contract.ts'

const URL = process.env.GPUPLANE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const admin = new pg.Pool({ connectionString: URL, max: 2 })
after(() => admin.end())

runTelemetryStoreContract(async () => {
  const schema = `gp_tel_${randomBytes(6).toString('hex')}`
  await admin.query(`CREATE SCHEMA ${schema}`)
  const store = await openStore({ postgres: URL, postgresOptions: { schema, poolSize: 2 } })
  return {
    telemetry: openTelemetryStore(store),
    dispose: async () => {
      await store.close()
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    },
  }
})
