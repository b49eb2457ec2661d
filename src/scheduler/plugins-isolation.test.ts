import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Namespace } from '../api/namespace-v1alpha1.ts'
import type { IsolationLevel, Workload } from '../api/workload-v1alpha1.ts'
import { deviceClasses, publishHost } from '../inventory/publish.ts'
import { LABEL_DEDICATED_TO } from './plugins-isolation.ts'
import { Scheduler } from './scheduler.ts'
import type { SchedNode } from './types.ts'
import { clusterView } from './view.ts'

const NODES = ['a', 'b', 'c']
const slices = NODES.flatMap((n) => publishHost({ node: n, mode: 'whole', gpus: Array.from({ length: 4 }, (_, i) => ({ index: i, uuid: `GPU-${n}-${i}`, productName: 'NVIDIA H100 80GB HBM3', model: 'H100-80GB' })) }))

function nsObj(name: string, isolation: IsolationLevel): Namespace {
  return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name }, spec: { isolation } } as Namespace
}

function workload(name: string, namespace: string, gpus: number, isolation?: IsolationLevel): Workload {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace },
    spec: { ...(isolation ? { isolation } : {}), resourceClaims: [{ name: 'g', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: gpus } }] } } }] },
  }
}

function scheduler(namespaces: Namespace[], nodes: SchedNode[] = NODES.map((name) => ({ name, labels: {}, taints: [] }))) {
  return new Scheduler(clusterView({ nodes, slices, classes: deviceClasses(), namespaces }))
}

test('a dedicated namespace holds its node alone; others go elsewhere, its own may join', () => {
  const s = scheduler([nsObj('secure', 'dedicated-nodes'), nsObj('open', 'shared')])
  const first = s.scheduleOne(workload('s1', 'secure', 1))
  assert.ok(first.ok && first.node === 'a')
  const other = s.scheduleOne(workload('o1', 'open', 1))
  assert.ok(other.ok && other.node === 'b', 'a shared workload does not join a dedicated node')
  const again = s.scheduleOne(workload('s2', 'secure', 1))
  assert.ok(again.ok && again.node === 'a', 'the namespace fills its own node')
  // A dedicated workload does not land beside another namespace's workloads either.
  const third = s.scheduleOne(workload('s3', 'secure', 4))
  assert.ok(third.ok && third.node === 'c')
  const full = s.scheduleOne(workload('s4', 'secure', 3))
  assert.equal(full.ok, false)
  assert.match(!full.ok ? full.reason : '', /dedicated-nodes: node already runs workloads of open/)
  // Once the dedicated workloads leave, the node is open again.
  s.unschedule('secure/s1')
  s.unschedule('secure/s2')
  assert.ok(s.scheduleOne(workload('o2', 'open', 4)).ok)
})

test('a node labelled for a namespace takes no one else; vm-per-workload is refused with its reason', () => {
  const s = scheduler([], [{ name: 'a', labels: { [LABEL_DEDICATED_TO]: 'finance' }, taints: [] }])
  const d = s.scheduleOne(workload('x', 'team', 1))
  assert.match(!d.ok ? d.reason : '', /1 node: node dedicated to namespace finance/)
  assert.ok(s.scheduleOne(workload('y', 'finance', 1)).ok)
  const vm = s.scheduleOne(workload('z', 'finance', 1, 'vm-per-workload'))
  assert.match(!vm.ok ? vm.reason : '', /vm-per-workload/)
})

test('property: whatever the load, a node serving a dedicated namespace runs nothing of another', () => {
  const levels: IsolationLevel[] = ['shared', 'dedicated-nodes']
  fc.assert(
    fc.property(
      fc.tuple(fc.constantFrom(...levels), fc.constantFrom(...levels), fc.constantFrom(...levels)),
      fc.array(fc.record({ ns: fc.integer({ min: 0, max: 2 }), gpus: fc.integer({ min: 1, max: 3 }), priority: fc.integer({ min: 0, max: 2 }), remove: fc.option(fc.nat(), { nil: undefined }) }), { maxLength: 40 }),
      (isolations, events) => {
        const names = ['ns0', 'ns1', 'ns2']
        const s = scheduler(names.map((n, i) => nsObj(n, isolations[i])))
        const live = new Map<string, { ns: number; node: string }>()
        events.forEach((e, i) => {
          if (e.remove !== undefined && live.size > 0) {
            const key = [...live.keys()][e.remove % live.size]
            s.unschedule(key)
            live.delete(key)
          }
          const w = workload(`w${i}`, names[e.ns], e.gpus)
          w.spec.priority = e.priority
          const d = s.scheduleOne(w)
          if (!d.ok) return
          for (const v of d.preempted ?? []) live.delete(v)
          live.set(d.workload, { ns: e.ns, node: d.node })
          for (const node of NODES) {
            const here = [...live.values()].filter((l) => l.node === node)
            const dedicated = new Set(here.filter((l) => isolations[l.ns] === 'dedicated-nodes').map((l) => l.ns))
            if (dedicated.size > 0) {
              assert.equal(dedicated.size, 1, `node ${node} serves two dedicated namespaces`)
              assert.ok(here.every((l) => dedicated.has(l.ns)), `node ${node} mixes a dedicated namespace with another`)
            }
          }
        })
      },
    ),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 100) },
  )
})
