// Summary statistics over seeds, with the conventions of the FGD paper's plots (numpy's defaults).

/** Mean, standard deviation and median of a set of values (one per seed). */
export interface Summary {
  mean: number
  /** Population standard deviation (divisor n, numpy's `std` default): the paper's error bars. */
  sd: number
  median: number
}

/** Mean, population sd and median of `values`; NaN everywhere for no values. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { mean: NaN, sd: NaN, median: NaN }
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length
  return { mean, sd: Math.sqrt(variance), median: quantile(values, 0.5) }
}

/**
 * The q-quantile of `values` (0 ≤ q ≤ 1) with linear interpolation between order statistics
 * (numpy's `percentile` default, which the paper's median and 25–75% band use).
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}
