// The catalog's H100-80GB and H200-141GB MIG profiles equal what real `nvidia-smi mig -lgip/-lgipp` reads report.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { gpuModel } from './index.ts'

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'catalog')

interface LgipRow {
  name: string
  profileId: number
  instances: number
  memoryGiB: number
  sm: number
  dec: number
  enc: number
  ce: number
  jpeg: number
  ofa: number
}

/**
 * `nvidia-smi mig -lgip`: each profile takes two table rows,
 * `| GPU  MIG <name>  <id>  <free>/<total>  <GiB>  <P2P>  <SM>  <DEC>  <ENC> |` then `| <CE> <JPEG> <OFA> |`.
 */
function parseLgip(text: string): LgipRow[] {
  const lines = text.split('\n')
  const rows: LgipRow[] = []
  for (let i = 0; i < lines.length; i++) {
    const m = /^\|\s+\d+\s+MIG (\S+)\s+(\d+)\s+\d+\/(\d+)\s+([\d.]+)\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)\s+\|$/.exec(lines[i])
    if (!m) continue
    const n = /^\|\s+(\d+)\s+(\d+)\s+(\d+)\s+\|$/.exec(lines[i + 1] ?? '')
    assert.ok(n, `line ${i + 2} should hold CE, JPEG and OFA of ${m[1]}`)
    rows.push({ name: m[1], profileId: +m[2], instances: +m[3], memoryGiB: +m[4], sm: +m[5], dec: +m[6], enc: +m[7], ce: +n[1], jpeg: +n[2], ofa: +n[3] })
  }
  return rows
}

/** `nvidia-smi mig -lgipp`: `GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1` (or `Placement :` for one). */
function parseLgipp(text: string): Map<number, Array<{ start: number; size: number }>> {
  const out = new Map<number, Array<{ start: number; size: number }>>()
  for (const line of text.split('\n')) {
    const m = /^GPU\s+\d+ Profile ID\s+(\d+) Placements?\s*:\s*\{([\d,]+)\}:(\d+)\s*$/.exec(line)
    if (m) out.set(+m[1], m[2].split(',').map((s) => ({ start: +s, size: +m[3] })))
  }
  return out
}

for (const [key, dir] of [
  ['H100-80GB', 'h100-passthrough'],
  ['H200-141GB', 'h200-passthrough'],
] as const) {
  test(`catalog ${key} MIG profiles equal the hardware read in test/fixtures/catalog/${dir}`, () => {
    const rows = parseLgip(readFileSync(join(FIXTURES, dir, 'mig-lgip.txt'), 'utf8'))
    const placements = parseLgipp(readFileSync(join(FIXTURES, dir, 'mig-lgipp.txt'), 'utf8'))
    assert.equal(rows.length, 7, 'the H100/H200 tables list seven profiles')
    const model = gpuModel(key)!
    const fromHardware = rows.map((r) => ({
      name: r.name,
      profileId: r.profileId,
      maxInstances: r.instances,
      memoryGiB: r.memoryGiB,
      engines: { sm: r.sm, copyEngines: r.ce, nvdec: r.dec, nvenc: r.enc, nvjpg: r.jpeg, ofa: r.ofa },
      placements: placements.get(r.profileId),
    }))
    const fromCatalog = model.mig!.profiles.map((p) => ({
      name: p.name,
      profileId: p.profileId,
      maxInstances: p.maxInstances,
      memoryGiB: p.memoryGiB,
      engines: p.engines,
      placements: p.placements,
    }))
    assert.deepEqual(fromCatalog, fromHardware)
    for (const p of model.mig!.profiles) {
      assert.equal(p.hardwareVerified, true)
      assert.equal(p.computeSlices, Number(p.name.split('g.')[0]), `${p.name}: compute slices follow the name`)
    }
  })
}

test('the lgip parser reads both rows of a profile', () => {
  const rows = parseLgip(readFileSync(join(FIXTURES, 'h100-passthrough', 'mig-lgip.txt'), 'utf8'))
  assert.deepEqual(rows.at(-1), { name: '7g.80gb', profileId: 0, instances: 1, memoryGiB: 79.25, sm: 132, dec: 7, enc: 0, ce: 8, jpeg: 7, ofa: 1 })
})
