// Charts: Vega-Lite specs drawn with vega-embed (SVG, tooltips, no action menu); each chart gets a text description for screen readers.
import embed, { type Result } from 'vega-embed'
import type { TopLevelSpec } from 'vega-lite'
import { h } from './dom.ts'

const CONFIG = { font: 'system-ui, sans-serif', view: { stroke: null }, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11 } }

/** Draws `spec` into a new figure; the returned element holds it, `done` resolves when drawn (its view is finalized when `signal` aborts). */
export function chart(spec: TopLevelSpec, description: string, signal?: AbortSignal): { el: HTMLElement; done: Promise<void> } {
  const target = h('div', { class: 'chart' })
  const el = h('figure', { class: 'figure', 'aria-label': description }, target, h('figcaption', { class: 'sr-only' }, description))
  const done = embed(target, { ...spec, config: { ...CONFIG, ...(spec as { config?: object }).config } } as TopLevelSpec, { actions: false, renderer: 'svg' }).then((result: Result) => {
    if (signal?.aborted) result.finalize()
    else signal?.addEventListener('abort', () => result.finalize())
  })
  return { el, done }
}
