// A `gpuplane sim --json` (or `sim compare --json`) file as the dashboard's Simulations view reads it: its summary for the list, and the report with its comparison rows and charts rendered as SVG.
//
// Used by `npm run build` for the reports shipped in web/sim-reports, and by `gpuplane server
// --sim-reports DIR` for the reports of a directory, so both look the same.
import { GpuplaneError } from '../common/errors.ts'
import type { PaperResults } from './paper.ts'
import { comparisonRows, renderCharts, type Chart, type ComparisonRow, type ReportResult } from './report.ts'

/** The output of `gpuplane sim --json` or `gpuplane sim compare --json` (a title may be added by hand). */
export interface ReportSource {
  title?: string
  command?: string
  generatedAt?: string
  machine?: string
  results: ReportResult[]
}

/** One entry of the Simulations view's list (sim-reports/index.json). */
export interface ReportSummary {
  name: string
  title: string
  traces: string[]
  policies: string[]
  generatedAt?: string
}

/** A report as the view shows it (sim-reports/NAME.json). */
export interface DashboardReport extends ReportSummary {
  command?: string
  machine?: string
  comparison: ComparisonRow[]
  charts: Chart[]
}

/**
 * A report file's text read as a ReportSource: `gpuplane sim compare --json` (`{results: [...]}`,
 * a title and the like may be added) or `gpuplane sim --json` (one result). INVALID_INPUT naming
 * the file when it is neither.
 */
export function parseReportSource(text: string, file: string): ReportSource {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new GpuplaneError('INVALID_INPUT', `${file} is not JSON (${(e as Error).message}): put the output of gpuplane sim --json (or sim compare --json) there`, { file })
  }
  const o = (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : {}) as Record<string, unknown>
  if (typeof o.policy === 'string' && typeof o.trace === 'string' && Array.isArray(o.points)) return { results: [o as unknown as ReportResult] }
  if (!Array.isArray(o.results) || o.results.length === 0) {
    throw new GpuplaneError('INVALID_INPUT', `${file} has no "results": put the output of gpuplane sim --json (or sim compare --json) there`, { file })
  }
  return o as unknown as ReportSource
}

export function summaryOf(name: string, source: ReportSource): ReportSummary {
  return {
    name,
    title: source.title ?? name,
    traces: [...new Set(source.results.map((r) => r.trace))],
    policies: [...new Set(source.results.map((r) => r.policy))],
    ...(source.generatedAt ? { generatedAt: source.generatedAt } : {}),
  }
}

/** The report with its comparison against the paper and its charts (the chart code of `gpuplane sim --report`). */
export async function renderDashboardReport(name: string, source: ReportSource, paper: PaperResults): Promise<DashboardReport> {
  const charts = await renderCharts(source.results, paper)
  return { ...summaryOf(name, source), command: source.command, machine: source.machine, comparison: comparisonRows(source.results, paper), charts }
}
