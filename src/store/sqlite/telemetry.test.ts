// The TelemetryStore contract on SQLite (a private in-memory database per test), and the factory's sharing of the store's connection.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { openStore, openTelemetryStore } from '../index.ts'
import { runTelemetryStoreContract, sample } from '../../telemetry/telemetry-store.contract.ts'

runTelemetryStoreContract(async () => {
  const store = await openStore({ sqlite: ':memory:' })
  return { telemetry: openTelemetryStore(store), dispose: () => store.close() }
})

describe('SQLite telemetry store', () => {
  it('shares the store connection: telemetry is UNAVAILABLE once the store is closed', async () => {
    const store = await openStore({ sqlite: ':memory:' })
    const telemetry = openTelemetryStore(store)
    assert.equal(await telemetry.appendSamples([sample(0, 'gpu-0', 5)]), 1, 'written through the store connection')
    await store.close()
    await assert.rejects(telemetry.samples({ from: 0, to: Date.now() }), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE', 'closed with the store')
  })
  it('works through a Proxy of the store (the server wraps its store to wake watches)', async () => {
    const store = await openStore({ sqlite: ':memory:' })
    try {
      const telemetry = openTelemetryStore(new Proxy(store, {}))
      assert.equal(await telemetry.appendSamples([sample(0, 'gpu-0', 5)]), 1, 'written')
    } finally {
      await store.close()
    }
  })
})
