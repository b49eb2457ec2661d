// Small DOM helpers: element creation with attributes and children, text escaping by construction (no innerHTML of data).
type Child = Node | string | number | null | undefined | false
export type Attrs = Record<string, string | number | boolean | undefined | null | EventListener>

/** Creates an element; `on*` attributes given functions become listeners; false/null/undefined attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Array<Child | Child[]>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v)
    else if (v === true) el.setAttribute(k, '')
    else el.setAttribute(k, String(v))
  }
  append(el, children)
  return el
}

/** Appends children (strings become text nodes). */
export function append(el: Element, children: Array<Child | Child[]>): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    el.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c)
  }
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Array<Child | Child[]>): void {
  el.replaceChildren()
  append(el, children)
}

/** A notice box: kind `info` (e.g. a view whose API is not on this server), `error` or `ok`. */
export function notice(kind: 'info' | 'error' | 'ok', ...children: Child[]): HTMLElement {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children)
}

/** A table from headers and rows; cells may be nodes. */
export function table(caption: string, headers: string[], rows: Child[][], attrs: Attrs = {}): HTMLTableElement {
  return h(
    'table',
    attrs,
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))),
  )
}

/** "3 h 20 min", "45 s": a duration in milliseconds, in words. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const hours = Math.floor(m / 60)
  if (hours < 48) return `${hours} h ${m % 60} min`
  return `${Math.floor(hours / 24)} d ${hours % 24} h`
}

/** A number with thousands separators. */
export function num(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 })
}
