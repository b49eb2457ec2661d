// Published MIG devices of a real GPU are exactly what the GPU reported (nvidia-smi mig -lgip/-lgipp).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { ResourceSlice } from '../src/api/resource-v1.ts'
import { Quantity } from '../src/api/quantity.ts'
import { inventoryFromNvidiaSmi, parseMigPlacements, parseMigProfiles } from '../src/inventory/nvidia-smi.ts'
import { publishHost } from '../src/inventory/publish.ts'

const FIXTURES = join(import.meta.dirname, 'fixtures/nvidia-smi')
const read = (machine: string, file: string) => readFileSync(join(FIXTURES, machine, file), 'utf8')

/** Memory in bytes, so that 16Gi and 16384Mi compare equal. */
const bytes = (q: string | undefined) => (q === undefined ? undefined : Quantity.parse(q).value().toString())

function migDevices(slices: ResourceSlice[]) {
  return slices
    .flatMap((s) => s.spec.devices ?? [])
    .filter((d) => d.attributes?.type?.string === 'mig')
    .map((d) => ({ profile: d.attributes!.profile.string!, start: Number(d.attributes!['gpuplane.io/migPlacementStart'].int), name: d.name, memory: bytes(d.capacity?.memory?.value), sms: d.capacity?.multiprocessors?.value }))
}

for (const machine of ['h100-passthrough', 'h200-passthrough']) {
  test(`${machine}: mig-dynamic publishes every placement the GPU reported, with its id, memory and SMs`, () => {
    const lgip = read(machine, 'mig-lgip.txt')
    const lgipp = read(machine, 'mig-lgipp.txt')
    const { host } = inventoryFromNvidiaSmi({ xml: read(machine, 'nvidia-smi-q.xml'), migProfiles: lgip, migPlacements: lgipp, topo: read(machine, 'topo-m.txt'), node: 'n' })
    host.mode = 'mig-dynamic'
    const published = migDevices(publishHost(host))

    const profiles = parseMigProfiles(lgip).get(0)!
    const placements = parseMigPlacements(lgipp).get(0)!
    const expected = profiles.flatMap((p) =>
      placements.get(p.id)!.starts.map((start) => ({ profile: p.name, start, name: `gpu-0-mig-${p.name.replace('.', '').replace('+', '-')}-${p.id}-${start}`, memory: bytes(`${Math.round(p.memoryGiB * 16) * 64}Mi`), sms: String(p.multiprocessors) })),
    )
    const key = (d: { name: string }) => d.name
    assert.deepEqual([...published].sort((a, b) => key(a).localeCompare(key(b))), [...expected].sort((a, b) => key(a).localeCompare(key(b))))
  })
}

test('where the GPU reports differently from the catalog, the GPU wins', () => {
  const machine = 'h100-passthrough'
  // The same read with one profile's memory and SM count changed, as a newer driver might report.
  const lgip = read(machine, 'mig-lgip.txt').replace(/(MIG 1g\.10gb\s+19\s+\S+\s+)9\.75(\s+\S+\s+)16/, '$19.50$216')
  assert.notEqual(lgip, read(machine, 'mig-lgip.txt'), 'the fixture line was rewritten')
  const { host } = inventoryFromNvidiaSmi({ xml: read(machine, 'nvidia-smi-q.xml'), migProfiles: lgip, migPlacements: read(machine, 'mig-lgipp.txt'), node: 'n' })
  host.mode = 'mig-dynamic'
  const oneG = migDevices(publishHost(host)).filter((d) => d.profile === '1g.10gb')
  assert.equal(oneG.length, 7)
  assert.ok(oneG.every((d) => d.memory === bytes(`${Math.round(9.5 * 16) * 64}Mi`)), JSON.stringify(oneG[0]))
})
