// Aligned text tables and kubectl-style ages, shared by every verb that prints a table.

/**
 * Rows under a header, each column padded to its widest cell and separated by `gap` spaces
 * (2 by default; the server verbs use 3, as kubectl does); the last column is not padded.
 */
export function formatTable(header: string[], rows: string[][], gap = 2): string {
  const widths = columnWidths(header, rows)
  return [header, ...rows].map((r) => formatRow(r, widths, gap)).join('\n') + '\n'
}

/** One row padded to the given column widths (a cell wider than its column pushes the rest right); no trailing spaces. */
export function formatRow(row: string[], widths: number[], gap = 2): string {
  return row
    .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
    .join(' '.repeat(gap))
    .trimEnd()
}

/** The column widths formatTable would use for these rows. */
export function columnWidths(header: string[], rows: string[][]): number[] {
  return header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
}

/**
 * How long ago `timestamp` (ISO) was, as kubectl writes ages (HumanDuration of apimachinery):
 * `45s`, `5m30s`, `25m`, `3h20m`, `30h`, `3d5h`, `200d`, `2y30d`, `9y`; `<unknown>` without a time.
 */
export function formatAge(timestamp: string | undefined, now = Date.now()): string {
  const then = timestamp === undefined ? NaN : Date.parse(timestamp)
  if (Number.isNaN(then)) return '<unknown>'
  const seconds = Math.floor((now - then) / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
  if (minutes < 180) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365
    return days === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${days}d`
  }
  return `${Math.floor(hours / 24 / 365)}y`
}
