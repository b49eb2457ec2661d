// Builds the dashboard into dist/web: bundles web/src with esbuild, copies the static files, and renders the shipped simulation reports (web/sim-reports/*.json) with their charts.
//
// Run with `npm run build` (npm start runs it first). The server serves dist/web as it is; nothing
// is compiled at run time. Simulation reports are rendered here, with the very chart code of
// `gpuplane sim --report` (src/sim/report-charts.ts), so the dashboard shows the same charts.
import { build } from 'esbuild'
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadPaperResults } from '../src/cli/sim-report.ts'
import { comparisonRows, renderCharts, type ReportResult } from '../src/sim/report.ts'

const WEB = fileURLToPath(new URL('.', import.meta.url))
/** Where the server looks for the built dashboard (src/server/dashboard.ts DASHBOARD_DIR). */
export const OUT_DIR = fileURLToPath(new URL('../dist/web/', import.meta.url))
const STATIC_FILES = ['index.html', 'styles.css', 'favicon.svg']

/** A shipped report: the output of `gpuplane sim --json` or `gpuplane sim compare --json`, with a title. */
interface ReportSource {
  title?: string
  command?: string
  generatedAt?: string
  machine?: string
  results: ReportResult[]
}

/** What the dashboard lists: one entry per report in dist/web/sim-reports/index.json. */
export interface ReportSummary {
  name: string
  title: string
  traces: string[]
  policies: string[]
  generatedAt?: string
}

/** Builds everything into `outDir` (default dist/web); returns the files written. */
export async function buildDashboard(outDir = OUT_DIR, options: { minify?: boolean } = {}): Promise<string[]> {
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  const written: string[] = []
  await build({
    entryPoints: [join(WEB, 'src/main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: options.minify ?? true,
    sourcemap: true,
    outfile: join(outDir, 'app.js'),
    logLevel: 'warning',
    legalComments: 'linked',
  })
  written.push(join(outDir, 'app.js'))
  for (const f of STATIC_FILES) {
    await copyFile(join(WEB, f), join(outDir, f))
    written.push(join(outDir, f))
  }
  written.push(...(await buildReports(join(outDir, 'sim-reports'))))
  return written
}

/** Renders each web/sim-reports/NAME.json into dist/web/sim-reports/NAME.json (charts as SVG, comparison rows) and an index. */
async function buildReports(outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true })
  const sourceDir = join(WEB, 'sim-reports')
  const files = (await readdir(sourceDir)).filter((f) => f.endsWith('.json')).sort()
  const paper = await loadPaperResults()
  const index: ReportSummary[] = []
  const written: string[] = []
  for (const file of files) {
    const source = JSON.parse(await readFile(join(sourceDir, file), 'utf8')) as ReportSource
    if (!Array.isArray(source.results) || source.results.length === 0) throw new Error(`web/sim-reports/${file} has no "results": put the output of gpuplane sim --json (or sim compare --json) there`)
    const name = basename(file, '.json')
    const charts = await renderCharts(source.results, paper)
    const summary: ReportSummary = {
      name,
      title: source.title ?? name,
      traces: [...new Set(source.results.map((r) => r.trace))],
      policies: [...new Set(source.results.map((r) => r.policy))],
      ...(source.generatedAt ? { generatedAt: source.generatedAt } : {}),
    }
    index.push(summary)
    const out = join(outDir, `${name}.json`)
    await writeFile(out, JSON.stringify({ ...summary, command: source.command, machine: source.machine, comparison: comparisonRows(source.results, paper), charts }))
    written.push(out)
  }
  const indexFile = join(outDir, 'index.json')
  await writeFile(indexFile, JSON.stringify({ reports: index }))
  return [...written, indexFile]
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now()
  const files = await buildDashboard()
  process.stdout.write(`dashboard built into ${OUT_DIR} (${files.length} files, ${Date.now() - started} ms)\n`)
}
