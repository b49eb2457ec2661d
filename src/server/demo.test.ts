import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openStore } from '../store/index.ts'
import { Controller } from './controller.ts'
import { demoObjects, loadDemo } from './demo.ts'

test('the demo loads once, and the controller places it with a pending reason and a gang', async () => {
  const store = await openStore({ sqlite: ':memory:' })
  const first = await loadDemo(store)
  assert.equal(first.loaded, true)
  assert.equal(first.objects, demoObjects().length)
  assert.deepEqual(await loadDemo(store), { loaded: false, objects: 0 })

  const controller = new Controller(store)
  await controller.reconcileOnce()
  const workloads = (await store.list('Workload')).items
  const status = new Map(workloads.map((w) => [`${w.metadata.namespace}/${w.metadata.name}`, w.status as { phase: string; nodeName?: string; reason?: string }]))
  const pending = [...status].filter(([, s]) => s.phase !== 'Scheduled').map(([k]) => k)
  assert.deepEqual(pending.sort(), ['batch/batch-sweep', 'research/too-big'])
  assert.match(status.get('research/too-big')!.reason!, /need 9/)
  assert.match(status.get('batch/batch-sweep')!.reason!, /quota of namespace batch/)
  for (let i = 0; i < 4; i++) assert.equal(status.get(`training/allreduce-${i}`)!.phase, 'Scheduled')
  // dedicated-nodes: nothing of another namespace shares secure's node.
  const secureNode = status.get('secure/audit-scan')!.nodeName
  assert.deepEqual([...status].filter(([, s]) => s.nodeName === secureNode).map(([k]) => k), ['secure/audit-scan'])
  assert.equal((await store.list('Node')).items.length > 10, true)
  await store.close()
})
