// Tests of the artifact parser: the paper's published numbers come out of the shipped CSVs, and bad input is refused with its line.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { expectGpuplaneError } from '../../test/expect-error.ts'
import { findPaperCurve, parsePaperResults, traceVariant } from './paper.ts'
import { quantile, summarize } from './report-stats.ts'

const DATA = join(import.meta.dirname, '../../data/fgd-artifact-results')
const results = parsePaperResults({
  allocationCsv: readFileSync(join(DATA, 'analysis_allo_discrete.csv'), 'utf8'),
  fragmentationCsv: readFileSync(join(DATA, 'analysis_frag_discrete.csv'), 'utf8'),
})

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`)

// fgd-trace.md §5.2: unallocated GPU % at 100% arrived, mean (sd) over 10 seeds, as published
// (two decimals; a few means sit on a rounding boundary, hence the 0.006 tolerance).
const AT_100: Record<string, [number, number][]> = {
  default: [[13.70, 0.31], [9.38, 0.18], [8.35, 0.58], [8.22, 0.50], [7.14, 0.14], [4.77, 0.10]],
  cpu050: [[10.98, 0.25], [6.97, 0.18], [6.48, 0.33], [6.54, 0.30], [6.44, 0.12], [5.00, 0.11]],
  cpu100: [[12.56, 0.27], [8.27, 0.26], [7.58, 0.38], [7.50, 0.39], [6.74, 0.12], [4.79, 0.13]],
  cpu200: [[16.97, 0.26], [12.55, 0.58], [10.33, 0.36], [10.02, 0.46], [7.85, 0.20], [5.18, 0.15]],
  gpushare40: [[15.14, 0.32], [10.70, 0.13], [10.24, 0.58], [10.23, 0.50], [8.56, 0.19], [6.04, 0.07]],
  gpushare60: [[17.19, 0.33], [13.18, 0.27], [13.10, 0.39], [12.85, 0.35], [10.94, 0.17], [8.75, 0.12]],
  gpushare100: [[21.10, 0.15], [18.02, 0.28], [17.78, 0.48], [17.87, 0.48], [15.38, 0.21], [13.36, 0.15]],
  gpuspec10: [[13.74, 0.24], [9.83, 0.37], [8.04, 0.67], [7.76, 0.62], [6.90, 0.20], [5.34, 0.18]],
  gpuspec20: [[14.10, 0.33], [11.71, 0.16], [10.89, 0.20], [10.72, 0.24], [11.54, 0.12], [5.34, 0.13]],
  gpuspec25: [[14.58, 0.32], [14.56, 0.16], [13.59, 0.27], [13.23, 0.34], [14.33, 0.19], [6.09, 0.10]],
  multigpu20: [[13.08, 0.49], [8.15, 0.30], [6.66, 0.57], [6.50, 0.60], [6.27, 0.24], [4.47, 0.15]],
  multigpu30: [[13.37, 0.44], [6.89, 0.30], [5.45, 0.30], [5.30, 0.30], [5.43, 0.22], [3.64, 0.09]],
  multigpu40: [[14.62, 0.72], [5.96, 0.20], [4.65, 0.29], [4.41, 0.30], [4.90, 0.22], [3.09, 0.10]],
}
const POLICIES = ['random', 'dotprod', 'clustering', 'packing', 'bestfit', 'fgd']

test('the artifact holds 13 traces × 6 policies, each over seeds 42..51', () => {
  assert.deepEqual([...results.traces].sort(), Object.keys(AT_100).sort())
  assert.equal(results.curves.length, 13 * 6)
  for (const c of results.curves) {
    assert.deepEqual(c.seeds, [42, 43, 44, 45, 46, 47, 48, 49, 50, 51])
    assert.equal(c.points.length, 131, `${c.trace}/${c.policy}`)
  }
})

test('FGD on default leaves 4.77% of GPUs unallocated at 100% arrival (mean ± population sd over seeds)', () => {
  const fgd = findPaperCurve(results, 'default', 'fgd')!.unallocatedAt100
  near(fgd.mean, 4.77, 0.005, 'mean')
  near(fgd.sd, 0.10, 0.005, 'sd')
  near(fgd.median, 4.77, 0.005, 'median')
})

test("DotProd on default: 9.44% median at 100%, the abstract's −49% / 290 GPUs against FGD", () => {
  const dotprod = findPaperCurve(results, 'default', 'dotprod')!.unallocatedAt100
  const fgd = findPaperCurve(results, 'default', 'fgd')!.unallocatedAt100
  near(dotprod.median, 9.44, 0.01, 'median')
  near(1 - fgd.median / dotprod.median, 0.495, 0.002, 'reduction')
  near(((dotprod.median - fgd.median) * 6212) / 100, 290, 1, 'extra GPUs')
})

test('every published bar of Fig. 11–14 (mean and sd at 100%) comes out of the CSV', () => {
  for (const [trace, row] of Object.entries(AT_100)) {
    row.forEach(([mean, sd], i) => {
      const s = findPaperCurve(results, trace, POLICIES[i])!.unallocatedAt100
      near(s.mean, mean, 0.006, `${trace}/${POLICIES[i]} mean`)
      near(s.sd, sd, 0.006, `${trace}/${POLICIES[i]} sd`)
    })
  }
})

test("Fig. 9(a)'s medians on default, and the fragmentation amount beside them", () => {
  const at = (policy: string, x: number) => findPaperCurve(results, 'default', policy)!.points.find((p) => p.arrivedPct === x)!
  near(at('fgd', 95).unallocatedMedian, 5.09, 0.006, 'FGD at 95')
  near(at('fgd', 120).unallocatedMedian, 4.63, 0.006, 'FGD at 120')
  near(at('random', 100).unallocatedMedian, 13.75, 0.006, 'Random at 100')
  near(at('bestfit', 130).unallocatedMedian, 6.89, 0.006, 'BestFit at 130')
  const p = at('fgd', 100)
  assert.ok(p.unallocatedP25 <= p.unallocatedMedian && p.unallocatedMedian <= p.unallocatedP75)
  near(p.allocatedPct + p.unallocatedPct, 100, 1e-9, 'allocated + unallocated')
  near(p.fragPct, 4.73, 0.05, 'FGD fragmentation at 100')
  near(at('random', 20).fragPct, 14.59, 0.2, 'Random fragmentation at 20')
})

test('trace variants from workload names, file names and paths', () => {
  assert.equal(traceVariant('openb_pod_list_default'), 'default')
  assert.equal(traceVariant('data/alibaba-gpu-v2023/csv/openb_pod_list_cpu050.csv'), 'cpu050')
  assert.equal(traceVariant('cpu050'), 'cpu050')
  assert.equal(traceVariant('/tmp/tiny-pods.csv'), 'tiny-pods')
  assert.equal(findPaperCurve(results, 'openb_pod_list_default.csv', 'fgd')?.trace, 'default')
  assert.equal(findPaperCurve(results, 'default', 'gpuplane'), undefined)
  assert.equal(findPaperCurve(results, 'cpu250', 'fgd'), undefined)
})

test('summaries use numpy conventions: population sd, linear-interpolated quantiles', () => {
  assert.deepEqual(summarize([1, 2, 3, 4]), { mean: 2.5, sd: Math.sqrt(1.25), median: 2.5 })
  assert.equal(quantile([4, 1, 3, 2], 0.25), 1.75)
  assert.ok(Number.isNaN(summarize([]).mean))
})

test('malformed artifact files are refused with file, line and what to do', () => {
  const header = `workload,sc_policy,tune,seed,${Array.from({ length: 131 }, (_, i) => i).join(',')}`
  const row = (policy: string, cell = '1.0') => `openb_pod_list_default,${policy},1.3,42,${Array(131).fill(cell).join(',')}`
  const parse = (allocationCsv: string) => parsePaperResults({ allocationCsv, fragmentationCsv: header, allocationFile: 'allo.csv' })
  const refused = (allocationCsv: string, message: RegExp) => {
    const e = expectGpuplaneError(() => parse(allocationCsv))
    assert.equal(e.code, 'INVALID_INPUT')
    assert.equal(e.location.file, 'allo.csv')
    assert.match(e.message, message)
    assert.match(e.location.path ?? '', /^line [12]$/)
  }
  refused('', /empty/)
  refused('workload,sc_policy,seed\n', /no column "0"/)
  refused(`${header}\n${row('07-Mine')}`, /unknown sc_policy "07-Mine"/)
  refused(`${header}\n${row('06-FGD', 'x')}`, /column 0: "x" is not a number/)
  refused(`${header}\n${row('06-FGD')},9`, /136 cells, the header has 135/)
  const ok = parse(`${header}\n${row('06-FGD', '')}`)
  assert.equal(ok.curves[0].points.length, 0)
  assert.ok(Number.isNaN(ok.curves[0].unallocatedAt100.mean))
})
