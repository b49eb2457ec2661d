// gpuplane server --sim-reports DIR: the Simulations view's index lists DIR's `gpuplane sim --json` files (newest first) beside the shipped reports, renders one with its charts, follows a changed file, and names a file that is not a report.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { openStore } from '../store/index.ts'
import type { Store } from '../store/types.ts'
import { buildServer } from './app.ts'
import { registerSimReportRoutes } from './sim-reports.ts'

const SHIPPED = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'web', 'sim-reports', 'fgd-compare-3-seeds.json'), 'utf8')) as { results: Array<{ trace: string; policy: string }> }

describe('simulation reports of a directory', () => {
  let dir: string
  let shipped: string
  let app: FastifyInstance
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gp-simrep-'))
    shipped = join(dir, 'shipped')
    mkdirSync(shipped)
    mkdirSync(join(dir, 'mine'))
    writeFileSync(join(shipped, 'index.json'), JSON.stringify({ reports: [{ name: 'fgd', title: 'shipped FGD', traces: ['default'], policies: ['fgd'] }, { name: 'old', title: 'shipped old', traces: ['default'], policies: ['fgd'] }] }))
    writeFileSync(join(shipped, 'fgd.json'), JSON.stringify({ name: 'fgd', title: 'shipped FGD', comparison: [], charts: [] }))
    const two = SHIPPED.results.filter((r) => r.trace === 'default').slice(0, 2)
    writeFileSync(join(dir, 'mine', 'tuesday.json'), JSON.stringify({ command: 'gpuplane sim --json tuesday.json', generatedAt: '2026-11-24T10:00:00Z', results: two }))
    writeFileSync(join(dir, 'mine', 'old.json'), JSON.stringify({ title: 'my rerun of old', generatedAt: '2026-11-25T10:00:00Z', results: two }))
    writeFileSync(join(dir, 'mine', 'broken.json'), '{"results": []}')
    writeFileSync(join(dir, 'mine', 'single.json'), JSON.stringify(SHIPPED.results[0]), 'utf8')
    writeFileSync(join(dir, 'mine', 'notes.txt'), 'not a report')
    app = Fastify()
    registerSimReportRoutes(app, { dir: join(dir, 'mine'), shippedDir: shipped })
    await app.ready()
  })
  after(async () => {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('lists the directory\'s reports newest first, then the shipped ones it does not replace, and names a file that is not a report', async () => {
    const res = await app.inject('/sim-reports/index.json')
    assert.equal(res.statusCode, 200)
    const reports = res.json().reports as Array<{ name: string; title: string; traces: string[]; policies: string[]; problem?: string }>
    assert.deepEqual(reports.map((r) => r.name), ['old', 'tuesday', 'broken', 'single', 'fgd'], 'mine by date (broken and the single gpuplane sim --json result have none), then the shipped fgd; the shipped "old" is replaced')
    assert.deepEqual(reports[3].policies, [SHIPPED.results[0].policy], 'one result of gpuplane sim --json is a report too')
    assert.equal(reports[0].title, 'my rerun of old')
    assert.equal(reports[1].title, 'tuesday', 'a report without a title is named by its file')
    assert.deepEqual(reports[1].traces, ['default'])
    assert.deepEqual(reports[1].policies, SHIPPED.results.filter((r) => r.trace === 'default').slice(0, 2).map((r) => r.policy))
    assert.match(reports[2].problem ?? '', /broken\.json has no "results"/)
  })

  it('renders a report of the directory with its comparison and charts, serves the shipped ones as they are, and 404s the rest', async () => {
    const mine = await app.inject('/sim-reports/tuesday.json')
    assert.equal(mine.statusCode, 200)
    const report = mine.json() as { command: string; comparison: unknown[]; charts: Array<{ id: string; svg: string }> }
    assert.equal(report.command, 'gpuplane sim --json tuesday.json')
    assert.equal(report.comparison.length, 2, 'a row per policy')
    assert.ok(report.charts.length > 0 && report.charts.every((c) => c.svg.startsWith('<svg')), 'charts as SVG')
    assert.equal((await app.inject('/sim-reports/fgd.json')).json().title, 'shipped FGD', 'the shipped file')
    assert.equal((await app.inject('/sim-reports/nothing.json')).statusCode, 404)
    assert.equal((await app.inject('/sim-reports/notes.txt')).statusCode, 404)
    assert.equal((await app.inject('/sim-reports/..%2Fshipped%2Ffgd.json')).statusCode, 404, 'no way out of the directory')
  })

  it('follows a file that changed', async () => {
    const two = SHIPPED.results.filter((r) => r.trace === 'default').slice(0, 2)
    writeFileSync(join(dir, 'mine', 'tuesday.json'), JSON.stringify({ title: 'tuesday, rerun', generatedAt: '2026-11-26T10:00:00Z', results: two.slice(0, 1) }))
    const reports = (await app.inject('/sim-reports/index.json')).json().reports as Array<{ name: string; title: string }>
    assert.deepEqual(reports.slice(0, 2).map((r) => r.title), ['tuesday, rerun', 'my rerun of old'])
    assert.equal((await app.inject('/sim-reports/tuesday.json')).json().comparison.length, 1, 'rendered again')
  })
})

describe('gpuplane server with simReports', () => {
  let store: Store
  let app: FastifyInstance
  let dir: string
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gp-simrep-server-'))
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ generatedAt: '2026-11-27T00:00:00Z', results: SHIPPED.results.slice(0, 1) }))
    writeFileSync(join(dir, 'broken.json'), '{"results": [')
    store = await openStore({ sqlite: ':memory:' })
    app = buildServer({ store, simReports: dir })
    await app.ready()
  })
  after(async () => {
    await app.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves the directory\'s reports without a token, like the dashboard\'s files, and a file that is not a report as a 400', async () => {
    const res = await app.inject('/sim-reports/index.json')
    assert.equal(res.statusCode, 200)
    assert.equal((res.json().reports as Array<{ name: string }>)[0].name, 'run')
    assert.equal((await app.inject('/sim-reports/run.json')).statusCode, 200)
    const broken = await app.inject('/sim-reports/broken.json')
    assert.equal(broken.statusCode, 400)
    assert.match(broken.json().message, /broken\.json is not JSON/)
  })
})
