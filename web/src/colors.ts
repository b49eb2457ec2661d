// Namespace colours: a stable colour per namespace name, the same in every view.
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#e45756', '#72b7b2', '#9d755d', '#eeca3b', '#ff9da6', '#bab0ac', '#17becf', '#bcbd22']

/** Colour of a namespace: from the sorted list of the namespaces known, so that the legend's order is the palette's. */
export function namespaceColors(namespaces: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>()
  ;[...new Set(namespaces)].sort().forEach((ns, i) => out.set(ns, PALETTE[i % PALETTE.length]))
  return out
}
