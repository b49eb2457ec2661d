// `gpuplane server --sim-reports DIR`: the Simulations view lists the `gpuplane sim --json` files of DIR beside the reports shipped with the dashboard, rendered with their charts when first asked for.
//
// GET /sim-reports/index.json   the reports of DIR (newest first), then the shipped ones whose
//                               names DIR does not reuse
// GET /sim-reports/NAME.json    DIR/NAME.json rendered (dashboard-report.ts), else the shipped file
// Both are open, like the dashboard's files. A rendered report is kept until its file changes
// (size or modification time); a file that is not a report is listed with its problem, not hidden.
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { GpuplaneError } from '../common/errors.ts'
import { parseReportSource, renderDashboardReport, summaryOf, type DashboardReport, type ReportSource, type ReportSummary } from '../sim/dashboard-report.ts'
import { readPaperResults, type PaperResults } from '../sim/paper.ts'
import { DASHBOARD_DIR } from './dashboard.ts'

/** Report file names served: letters, digits, '.', '_' and '-', then .json. */
const REPORT_FILE = /^([A-Za-z0-9][A-Za-z0-9._-]*)\.json$/

interface Cached {
  version: string
  source?: ReportSource
  problem?: string
  rendered?: Promise<DashboardReport>
}

export interface SimReportOptions {
  /** The directory of `gpuplane sim --json` files (none: only the shipped reports). */
  dir?: string
  /** The built reports shipped with the dashboard (default dist/web/sim-reports). */
  shippedDir?: string
}

/** Registers the two routes (they take precedence over the dashboard's static files of the same paths). */
export function registerSimReportRoutes(app: FastifyInstance, options: SimReportOptions): void {
  const shippedDir = options.shippedDir ?? join(DASHBOARD_DIR, 'sim-reports')
  const cache = new Map<string, Cached>()
  let paper: Promise<PaperResults> | undefined
  const open = { config: { open: true } }

  /** The report files of DIR, each read (again) only when it changed. */
  async function local(): Promise<Array<{ name: string; entry: Cached }>> {
    const dir = options.dir
    if (dir === undefined) return []
    let files: string[]
    try {
      files = (await readdir(dir)).filter((f) => REPORT_FILE.test(f)).sort()
    } catch (e) {
      throw new GpuplaneError('UNAVAILABLE', `cannot read the simulation reports in ${dir} (${(e as Error).message}); check gpuplane server --sim-reports`)
    }
    const out: Array<{ name: string; entry: Cached }> = []
    for (const file of files) {
      const path = join(dir, file)
      const info = await stat(path).catch(() => undefined)
      if (info === undefined || !info.isFile()) continue
      const version = `${info.size}:${info.mtimeMs}`
      let entry = cache.get(path)
      if (entry === undefined || entry.version !== version) {
        entry = { version }
        try {
          entry.source = parseReportSource(await readFile(path, 'utf8'), file)
        } catch (e) {
          entry.problem = (e as Error).message
        }
        cache.set(path, entry)
      }
      out.push({ name: REPORT_FILE.exec(file)![1], entry })
    }
    return out
  }

  app.get('/sim-reports/index.json', open, async (_req, reply) => {
    const mine = await local()
    const listed: Array<ReportSummary & { problem?: string }> = mine
      .map(({ name, entry }): ReportSummary & { problem?: string } => (entry.source ? summaryOf(name, entry.source) : { name, title: `${name} (not shown: ${entry.problem})`, traces: [], policies: [], problem: entry.problem }))
      .sort((a, b) => (b.generatedAt ?? '').localeCompare(a.generatedAt ?? ''))
    const shipped = await readFile(join(shippedDir, 'index.json'), 'utf8').then((t) => (JSON.parse(t) as { reports: ReportSummary[] }).reports, () => [])
    const names = new Set(listed.map((r) => r.name))
    return reply.header('cache-control', 'no-cache').send({ reports: [...listed, ...shipped.filter((r) => !names.has(r.name))] })
  })

  app.get('/sim-reports/:file', open, async (req, reply) => {
    const file = (req.params as { file: string }).file
    const match = REPORT_FILE.exec(file)
    if (!match) return reply.callNotFound()
    const found = (await local()).find((r) => r.name === match[1])
    if (found === undefined) {
      const shipped = await readFile(join(shippedDir, file)).catch(() => undefined)
      if (shipped === undefined) return reply.callNotFound()
      return reply.type('application/json; charset=utf-8').header('cache-control', 'no-cache').send(shipped)
    }
    const { entry } = found
    if (entry.source === undefined) throw new GpuplaneError('INVALID_INPUT', `simulation report ${file}: ${entry.problem}`)
    paper ??= readPaperResults((f) => readFile(f, 'utf8'))
    const source = entry.source
    entry.rendered ??= paper.then((p) => renderDashboardReport(found.name, source, p))
    return reply.header('cache-control', 'no-cache').send(await entry.rendered)
  })
}

/** The routes in the OpenAPI document (merged in openapi.ts). */
export function simReportOpenApiPaths(): Record<string, unknown> {
  const open = { security: [] }
  const jsonBody = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } })
  return {
    '/sim-reports/index.json': { get: { ...open, tags: ['dashboard'], summary: 'The simulation reports the Simulations view lists: those of gpuplane server --sim-reports DIR (newest first), then the ones shipped with the dashboard', responses: { '200': jsonBody('{reports: [{name, title, traces, policies, generatedAt?, problem?}]}') } } },
    '/sim-reports/{file}': {
      get: {
        ...open,
        tags: ['dashboard'],
        summary: 'One simulation report (NAME.json): a file of --sim-reports DIR rendered with its comparison and charts, else the shipped one',
        parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': jsonBody('{name, title, command?, machine?, comparison, charts: [{id, title, description, svg}]}'), '400': jsonBody('the file is not a gpuplane sim --json report'), '404': jsonBody('no such report') },
      },
    },
  }
}
