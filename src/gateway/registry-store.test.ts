import { test } from 'node:test'
import assert from 'node:assert/strict'
import { authenticate, hashAgentKey } from '../governance/access.ts'
import { GpuplaneError } from '../common/errors.ts'
import { openStore } from '../store/index.ts'
import type { NewObject, Store } from '../store/types.ts'
import { registryOf, StoreRegistry } from './registry-store.ts'

const MODEL: NewObject = {
  apiVersion: 'gpuplane.io/v1alpha1',
  kind: 'Model',
  metadata: { name: 'm' },
  spec: { upstream: { baseURL: 'http://127.0.0.1:9/v1', model: 'x' }, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 }, maxTokens: 100, namespaces: ['team-a'] },
}
const agent = (name: string, key: string, extra: Record<string, unknown> = {}): NewObject => ({
  apiVersion: 'gpuplane.io/v1alpha1',
  kind: 'Agent',
  metadata: { name, namespace: 'team-a' },
  spec: { keyHashes: [hashAgentKey(key)], models: ['m'], ...extra },
})
const POLICY: NewObject = { apiVersion: 'gpuplane.io/v1alpha1', kind: 'TokenPolicy', metadata: { name: 'cap', namespace: 'team-a' }, spec: { limits: [{ window: 'day', tokens: 100 }] } }

/** A wait the test releases by hand, so that it decides when the registry reads the history. */
function manualWait(): { wait: () => Promise<void>; tick: () => void } {
  let release: (() => void) | undefined
  return {
    wait: () => new Promise<void>((resolve) => (release = resolve)),
    tick: () => {
      const r = release
      release = undefined
      r?.()
    },
  }
}

async function until(what: string, check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

function refusal(registry: ReturnType<StoreRegistry['current']>, key: string): string {
  try {
    authenticate(registry, key)
    return 'admitted'
  } catch (e) {
    return (e as GpuplaneError).code
  }
}

test('the registry lists the store, then follows creates, updates (kill switch, revoked key) and deletes', async () => {
  const store: Store = await openStore({ sqlite: ':memory:' })
  await store.commit([MODEL, agent('bot', 'k1'), POLICY].map((object) => ({ op: 'create' as const, object })))
  const registry = await StoreRegistry.start(store, { pollMs: 10 })
  try {
    assert.equal(registry.current().models.size, 1)
    assert.equal(refusal(registry.current(), 'k1'), 'admitted')
    assert.equal(registry.current().policiesByNamespace.get('team-a')?.length, 1)

    const bot = (await store.get({ kind: 'Agent', namespace: 'team-a', name: 'bot' }))!
    await store.update({ ...bot, spec: { ...(bot.spec as object), disabled: true } })
    await until('the disabled agent is refused', () => refusal(registry.current(), 'k1') === 'FORBIDDEN')
    await store.create(agent('other', 'k2'))
    await until('a new agent is known', () => refusal(registry.current(), 'k2') === 'admitted')
    const other = (await store.get({ kind: 'Agent', namespace: 'team-a', name: 'other' }))!
    await store.update({ ...other, spec: { ...(other.spec as object), keyHashes: [] } })
    await until('a removed key hash is refused', () => refusal(registry.current(), 'k2') === 'UNAUTHORIZED')
    await store.delete({ kind: 'Model', name: 'm' })
    await until('a deleted model is gone', () => registry.current().models.size === 0)
  } finally {
    await registry.stop()
    await store.close()
  }
})

test('after the history is compacted past it (GONE), the registry lists again and keeps up', async () => {
  const store: Store = await openStore({ sqlite: ':memory:', historyRevisions: 5 })
  await store.commit([MODEL, agent('bot', 'k1'), POLICY].map((object) => ({ op: 'create' as const, object })))
  const clock = manualWait()
  const errors: unknown[] = []
  const registry = await StoreRegistry.start(store, { wait: clock.wait, onError: (e) => errors.push(e) })
  try {
    const before = registry.resourceVersion
    // Many writes while the registry is not reading: its revision falls out of the kept history.
    for (let i = 0; i < 30; i++) await store.create({ ...agent(`filler-${i}`, `f${i}`) })
    const bot = (await store.get({ kind: 'Agent', namespace: 'team-a', name: 'bot' }))!
    await store.update({ ...bot, spec: { ...(bot.spec as object), disabled: true } })
    await assert.rejects(store.changesSince(before), (e: unknown) => e instanceof GpuplaneError && e.code === 'GONE', 'the history was compacted')
    clock.tick()
    await until('relisted: the disabled agent is refused and the fillers are known', () => refusal(registry.current(), 'k1') === 'FORBIDDEN' && refusal(registry.current(), 'f29') === 'admitted')
    assert.deepEqual(errors, [])
  } finally {
    clock.tick()
    const stopping = registry.stop()
    clock.tick()
    await stopping
    await store.close()
  }
})

test('objects that no longer decode refuse access: a bad Agent is left out, a bad TokenPolicy refuses its namespace', () => {
  const meta = { uid: 'u', resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z' }
  const stored = (o: NewObject) => ({ ...o, metadata: { ...o.metadata, ...meta } })
  const good = registryOf([stored(MODEL), stored(agent('bot', 'k1')), stored(POLICY)])
  assert.equal(refusal(good, 'k1'), 'admitted')
  const badAgent = registryOf([stored(MODEL), stored(agent('bot', 'k1', { keyHashes: ['not-a-hash'] }))])
  assert.equal(refusal(badAgent, 'k1'), 'UNAUTHORIZED')
  assert.match(badAgent.problems.join('\n'), /Agent team-a\/bot does not decode/)
  const badPolicy = registryOf([stored(MODEL), stored(agent('bot', 'k1')), stored({ ...POLICY, spec: { limits: [] } })])
  assert.equal(refusal(badPolicy, 'k1'), 'UNAUTHORIZED', 'an agent whose cap cannot be read is refused, not let through uncapped')
  assert.match(badPolicy.problems.join('\n'), /every agent of namespace team-a is refused/)
})
