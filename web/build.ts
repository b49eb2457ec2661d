// Builds the dashboard into dist/web: bundles web/src with esbuild, copies the static files, and renders the shipped simulation reports (web/sim-reports/*.json) with their charts.
//
// Run with `npm run build` (npm start runs it first). The server serves dist/web as it is; nothing
// is compiled at run time. Simulation reports are rendered here, with the very chart code of
// `gpuplane sim --report` (src/sim/report-charts.ts), so the dashboard shows the same charts.
import { build } from 'esbuild'
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { basename, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadPaperResults } from '../src/cli/sim-report.ts'
import { parseReportSource, renderDashboardReport, summaryOf, type ReportSummary } from '../src/sim/dashboard-report.ts'

const WEB = fileURLToPath(new URL('.', import.meta.url))
/** Where the server looks for the built dashboard (src/server/dashboard.ts DASHBOARD_DIR). */
export const OUT_DIR = fileURLToPath(new URL('../dist/web/', import.meta.url))
const STATIC_FILES = ['index.html', 'styles.css', 'favicon.svg']

/**
 * Builds everything into `outDir` (default dist/web); returns the files written. The build is made
 * in a fresh folder beside it and swapped in at the end, so a server serving `outDir` (another
 * build running at the same time, a test) never sees a half-built dashboard.
 */
export async function buildDashboard(outDir = OUT_DIR, options: { minify?: boolean } = {}): Promise<string[]> {
  const target = outDir.replace(/[/\\]+$/, '')
  const building = `${target}.building-${process.pid}-${Date.now()}`
  try {
    const files = await buildInto(building, options)
    const old = `${target}.old-${process.pid}-${Date.now()}`
    await rename(target, old).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e
    })
    await rename(building, target)
    await rm(old, { recursive: true, force: true })
    return files.map((f) => join(target, relative(building, f)))
  } finally {
    await rm(building, { recursive: true, force: true })
  }
}

async function buildInto(outDir: string, options: { minify?: boolean }): Promise<string[]> {
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
    const name = basename(file, '.json')
    const source = parseReportSource(await readFile(join(sourceDir, file), 'utf8'), `web/sim-reports/${file}`)
    index.push(summaryOf(name, source))
    const out = join(outDir, `${name}.json`)
    await writeFile(out, JSON.stringify(await renderDashboardReport(name, source, paper)))
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
