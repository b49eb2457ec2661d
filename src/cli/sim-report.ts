// Writes the simulation report to a folder: index.html, the charts as SVG (and PNG where a headless Chromium is available), the numbers as JSON.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { cpus, release, totalmem, type } from 'node:os'
import { join } from 'node:path'
import { GpuplaneError } from '../common/errors.ts'
import { readPaperResults, type PaperResults } from '../sim/paper.ts'
import { comparisonRows, renderCharts, renderHtml, type Chart, type PngOutcome, type ReportResult } from '../sim/report.ts'

/** Where a system Chromium is looked for, in order, before playwright-core's own download. */
const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser']

export interface WriteReportOptions {
  title?: string
  /** The command line that produced the results, shown in the report. */
  command?: string
  /** The paper's results to compare with: default, those in PAPER_DATA_DIR; `null` for none. */
  paper?: PaperResults | null
  /** Try to write PNG copies of the charts (default true); without a renderer the report says so. */
  png?: boolean
}

/**
 * Writes the report for `results` (any traces × policies) into `dir`, creating it: `index.html`
 * (self-contained), `charts/<id>.svg`, `charts/<id>.png` where a renderer is available, and
 * `results.json` (the results and the comparison rows). Returns the paths written.
 */
export async function writeReport(dir: string, results: readonly ReportResult[], options: WriteReportOptions = {}): Promise<string[]> {
  if (results.length === 0) throw new GpuplaneError('INVALID_INPUT', 'no simulation results to report; run at least one policy on one trace')
  const paper = options.paper === undefined ? await loadPaperResults() : (options.paper ?? undefined)
  const charts = await renderCharts(results, paper)
  const chartsDir = join(dir, 'charts')
  await mkdir(chartsDir, { recursive: true })
  const written: string[] = []
  for (const c of charts) {
    const file = join(chartsDir, `${c.id}.svg`)
    await writeFile(file, `<?xml version="1.0" encoding="UTF-8"?>\n${c.svg}\n`)
    written.push(file)
  }
  const png = options.png === false ? { written: false as const, reason: 'not asked for' } : await writePngs(chartsDir, charts)
  if (png.written) written.push(...charts.map((c) => join(chartsDir, `${c.id}.png`)))
  const html = renderHtml(results, charts, { title: options.title, command: options.command, generatedAt: new Date().toISOString(), machine: describeMachine(), node: process.version, paper, png })
  const index = join(dir, 'index.html')
  await writeFile(index, html)
  const json = join(dir, 'results.json')
  await writeFile(json, JSON.stringify({ results, comparison: comparisonRows(results, paper) }) + '\n')
  return [index, ...written, json]
}

/** Reads the paper's artifact results shipped with gpuplane (or those in `dir`). */
export function loadPaperResults(dir?: string): Promise<PaperResults> {
  return readPaperResults((file) => readFile(file, 'utf8'), dir)
}

/** "2 × Intel(R) Xeon(R) ..., 24 GiB, Linux 6.1.0" */
export function describeMachine(): string {
  const cpu = cpus()
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${type()} ${release()}`
}

/**
 * Screenshots each chart's SVG to PNG with headless Chromium through playwright-core (a
 * devDependency: PNGs are a convenience beside the SVGs, and need a browser the package cannot
 * ship). Never fails the report: without playwright-core or Chromium, or when Chromium fails,
 * it returns why.
 */
async function writePngs(chartsDir: string, charts: readonly Chart[]): Promise<PngOutcome> {
  let playwright: typeof import('playwright-core')
  try {
    playwright = await import('playwright-core')
  } catch {
    return { written: false, reason: 'playwright-core is not installed (npm install playwright-core)' }
  }
  const executablePath = findChromium(playwright.chromium.executablePath())
  if (executablePath === undefined) return { written: false, reason: `no Chromium found at ${CHROMIUM_PATHS.join(' or ')} (on Debian: apt-get install chromium)` }
  try {
    const browser = await playwright.chromium.launch({ executablePath })
    try {
      const page = await browser.newPage({ deviceScaleFactor: 2 })
      for (const c of charts) {
        await page.setContent(`<!DOCTYPE html><html><body style="margin:0">${c.svg}</body></html>`)
        await page.locator('svg').first().screenshot({ path: join(chartsDir, `${c.id}.png`) })
      }
    } finally {
      await browser.close()
    }
    return { written: true }
  } catch (e) {
    return { written: false, reason: `Chromium (${executablePath}) failed: ${(e as Error).message.split('\n')[0]}` }
  }
}

function findChromium(playwrightOwn: string): string | undefined {
  return [...CHROMIUM_PATHS, playwrightOwn].find((p) => p !== '' && existsSync(p))
}
