// A claim created and deleted between two controller rounds must not break the controller's incremental view.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openStore } from '../store/index.ts'
import { Controller } from './controller.ts'

test('a ResourceClaim created and deleted between two rounds is skipped, and scheduling goes on', async () => {
  const store = await openStore({ sqlite: ':memory:' })
  try {
    await store.create({ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Cluster', metadata: { name: 'lab' }, spec: { hosts: [{ name: 'gpu', gpus: { model: 'H100-80GB', count: 2 } }] } })
    const controller = new Controller(store)
    await controller.reconcileOnce()
    const claim = { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'short-lived', namespace: 'team' }, spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com' } }] } } }
    await store.create(claim)
    await store.delete({ kind: 'ResourceClaim', namespace: 'team', name: 'short-lived' })
    await store.create({ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name: 'after', namespace: 'team' }, spec: { resourceClaims: [{ name: 'gpus', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: 1 } }] } } }] }, status: { phase: 'Pending' } })
    const r = await controller.reconcileOnce()
    assert.equal(r.scheduled, 1, 'the workload submitted after the churn is scheduled')
    const w = await store.get({ kind: 'Workload', namespace: 'team', name: 'after' })
    assert.equal((w?.status as { phase?: string }).phase, 'Scheduled', 'the workload is placed')
  } finally {
    await store.close()
  }
})
