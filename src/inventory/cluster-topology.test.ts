import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { nvlinkDomainName, placeGpus } from './cluster-topology.ts'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 200)

test('defaults: one NUMA node, one PCIe root, no NVLink', () => {
  const p = placeGpus('h', 3)
  assert.deepEqual(p, [
    { numaNode: 0, pcieRoot: 'pci0000:00', pciBusId: '0000:01:00.0' },
    { numaNode: 0, pcieRoot: 'pci0000:00', pciBusId: '0000:02:00.0' },
    { numaNode: 0, pcieRoot: 'pci0000:00', pciBusId: '0000:03:00.0' },
  ])
  assert.equal(placeGpus('h', 1, { nvlink: 'nvswitch' })[0].nvlinkDomain, undefined, 'one GPU has no NVLink peer')
})

test('uneven NUMA split gives the first nodes one GPU more', () => {
  assert.deepEqual(placeGpus('h', 5, { numaNodes: 2 }).map((p) => p.numaNode), [0, 0, 0, 1, 1])
  assert.deepEqual(placeGpus('h', 5, { numaNodes: 2 }).map((p) => p.pcieRoot), ['pci0000:00', 'pci0000:00', 'pci0000:00', 'pci0000:80', 'pci0000:80'])
})

test('NVLink domain names stay within the attribute value limit', () => {
  assert.equal(nvlinkDomainName('node-a', 2), 'node-a-nvl2')
  assert.equal(nvlinkDomainName('x'.repeat(70), 0), 'nvl0')
})

test('property: even split, roots inside NUMA nodes, unique bus ids, NVLink domains of the right size', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }).chain((count) =>
        fc.record({
          count: fc.constant(count),
          numaNodes: fc.integer({ min: 1, max: count }),
          gpusPerPcieRoot: fc.option(fc.integer({ min: 1, max: count }), { nil: undefined }),
          nvlink: fc.constantFrom('nvswitch' as const, 'pairs' as const, 'none' as const),
        }),
      ),
      ({ count, numaNodes, gpusPerPcieRoot, nvlink }) => {
        const p = placeGpus('host', count, { numaNodes, gpusPerPcieRoot, nvlink })
        assert.equal(p.length, count)
        const perNode = new Map<number, number>()
        p.forEach((g, i) => {
          assert.ok(g.numaNode >= 0 && g.numaNode < numaNodes)
          if (i > 0) assert.ok(g.numaNode >= p[i - 1].numaNode, 'NUMA nodes in index order')
          perNode.set(g.numaNode, (perNode.get(g.numaNode) ?? 0) + 1)
        })
        for (const n of perNode.values()) assert.ok(n === Math.floor(count / numaNodes) || n === Math.ceil(count / numaNodes))
        const roots = new Map<string, number[]>()
        p.forEach((g, i) => roots.set(g.pcieRoot, [...(roots.get(g.pcieRoot) ?? []), i]))
        for (const gpus of roots.values()) {
          assert.equal(new Set(gpus.map((i) => p[i].numaNode)).size, 1, 'a root never spans NUMA nodes')
          if (gpusPerPcieRoot) assert.ok(gpus.length <= gpusPerPcieRoot)
        }
        assert.equal(new Set(p.map((g) => g.pciBusId)).size, count)
        for (const g of p) assert.match(g.pciBusId, /^0000:[0-9a-f]{2}:00\.0$/)
        const domains = new Map<string, number>()
        for (const g of p) if (g.nvlinkDomain) domains.set(g.nvlinkDomain, (domains.get(g.nvlinkDomain) ?? 0) + 1)
        if (nvlink === 'none') assert.equal(domains.size, 0)
        if (nvlink === 'nvswitch') assert.deepEqual([...domains.values()], count > 1 ? [count] : [])
        if (nvlink === 'pairs') {
          assert.ok([...domains.values()].every((n) => n === 2))
          assert.equal(domains.size, Math.floor(count / 2))
        }
      },
    ),
    { numRuns: RUNS },
  )
})
