// The Cluster view: nodes grouped by GPU model, each GPU drawn with its partitions coloured by the namespace holding them, NVLink domains framed; focus or hover shows a device's details.
import { bytes, clusterModel, type Gpu, type Holder, type NodeView, type Partition } from './cluster-model.ts'
import { namespaceColors } from '../colors.ts'
import { h, replace } from '../dom.ts'
import { collectionNotice, useLive, type ViewContext } from '../view.ts'

export function clusterView(ctx: ViewContext): void {
  const details = h('aside', { class: 'details', 'aria-live': 'polite', 'aria-label': 'Device details' }, h('p', { class: 'muted' }, 'Hover over or focus (Tab) a GPU or a partition to see its attributes and the workload holding it.'))
  const body = h('div', { class: 'cluster-body' })
  const legend = h('div', { class: 'legend', 'aria-label': 'Namespace colours' })
  replace(ctx.root, h('h1', {}, 'Cluster'), legend, h('div', { class: 'with-details' }, body, details))
  let selected: string | undefined

  useLive(ctx, ['nodes', 'resourceslices', 'resourceclaims'], (c) => {
    const waiting = collectionNotice(c.nodes, 'Nodes') ?? collectionNotice(c.resourceslices, 'ResourceSlices') ?? collectionNotice(c.resourceclaims, 'ResourceClaims')
    if (waiting && c.nodes.state !== 'ready') return replace(body, waiting)
    const groups = clusterModel(c.nodes.list(), c.resourceslices.list(), c.resourceclaims.list())
    const namespaces = new Set<string>()
    for (const o of c.resourceclaims.list()) if (o.status?.allocation) namespaces.add(o.metadata.namespace ?? '')
    const colors = namespaceColors(namespaces)
    replace(
      legend,
      h('span', { class: 'muted' }, 'Held by namespace:'),
      ...[...colors].map(([ns, color]) => h('span', { class: 'chip' }, h('span', { class: 'swatch', style: `background:${color}` }), ns)),
      h('span', { class: 'chip' }, h('span', { class: 'swatch free' }), 'free'),
    )
    const show = (key: string, content: () => HTMLElement[]) => () => {
      selected = key
      replace(details, ...content())
    }
    const gpuCount = groups.reduce((n, g) => n + g.nodes.reduce((m, x) => m + x.gpuCount, 0), 0)
    replace(
      body,
      waiting ?? null,
      h('p', { class: 'muted' }, `${groups.reduce((n, g) => n + g.nodes.length, 0)} nodes, ${gpuCount} GPUs, ${groups.length} GPU models.`),
      ...groups.map((g) =>
        h(
          'section',
          { class: 'model-group', 'aria-label': `GPU model ${g.model}` },
          h('h2', {}, `${g.model}`, h('span', { class: 'muted' }, ` · ${g.nodes.length} node${g.nodes.length === 1 ? '' : 's'}, ${g.nodes.reduce((n, x) => n + x.gpuCount, 0)} GPUs`)),
          h('div', { class: 'nodes' }, ...g.nodes.map((n) => nodeCard(n, colors, show))),
        ),
      ),
    )
    // Keep the details of what was selected current as allocations change.
    if (selected) (body.querySelector(`[data-key="${CSS.escape(selected)}"]`) as HTMLElement | null)?.dispatchEvent(new Event('focus'))
  })
}

type Show = (key: string, content: () => HTMLElement[]) => () => void

function nodeCard(n: NodeView, colors: Map<string, string>, show: Show): HTMLElement {
  const title = n.virtualMachine ? `${n.name}` : n.name
  return h(
    'article',
    { class: `node${n.virtualMachine ? ' vm' : ''}`, 'data-node': n.name },
    h('h3', {}, title, h('span', { class: 'muted' }, n.virtualMachine ? ` · virtual machine on ${n.host}` : n.host !== n.name ? ` · on ${n.host}` : ' · host')),
    n.gpuCount === 0 ? h('p', { class: 'muted' }, 'no GPUs published') : null,
    h('div', { class: 'domains' }, ...n.domains.map((d) =>
      h(
        'div',
        { class: d.domain ? 'nvlink' : 'no-nvlink', ...(d.domain ? { title: `NVLink domain ${d.domain}` } : {}) },
        d.domain ? h('span', { class: 'nvlink-label' }, `NVLink ${d.domain}`) : n.domains.length > 1 || n.gpuCount > 0 ? h('span', { class: 'nvlink-label none' }, 'no NVLink') : null,
        h('div', { class: 'gpus' }, ...d.gpus.map((g) => gpuTile(g, colors, show))),
      ),
    )),
  )
}

function holderText(hs: Holder[]): string {
  return hs.length === 0 ? 'free' : hs.map((x) => `${x.namespace}/${x.workload ?? x.claim}${x.memoryBytes ? ` (${bytes(x.memoryBytes)})` : ''}`).join(', ')
}

function gpuTile(g: Gpu, colors: Map<string, string>, show: Show): HTMLElement {
  const key = `${g.node}/${g.label}`
  const whole = g.holders.length > 0 && g.partitions.every((p) => p.type !== 'share')
  const color = whole ? colors.get(g.holders[0].namespace) : undefined
  const label = `${g.node} ${g.label}, ${g.product}, ${g.mode}; ${whole ? `held by ${holderText(g.holders)}` : g.partitions.length ? `${g.partitions.length} partition${g.partitions.length === 1 ? '' : 's'} shown` : 'free'}`
  const bar = h('div', { class: 'bar' })
  if (g.memorySlices > 0) {
    bar.classList.add('mig-grid')
    bar.style.setProperty('--slices', String(g.memorySlices))
    for (let i = 0; i < g.memorySlices; i++) bar.append(h('span', { class: 'slice', 'aria-hidden': 'true' }))
    for (const p of g.partitions) if (p.slices) bar.append(partitionBlock(g, p, colors, show, (p.slices[0] / g.memorySlices) * 100, ((p.slices[1] - p.slices[0]) / g.memorySlices) * 100))
  } else {
    let left = 0
    for (const p of g.partitions) {
      const width = Math.max(2, Math.min(100 - left, (p.fraction ?? 0) * 100))
      bar.append(partitionBlock(g, p, colors, show, left, width))
      left += width
    }
  }
  const tile = h(
    'div',
    { class: `gpu${whole ? ' held' : ''}`, tabindex: 0, role: 'group', 'aria-label': label, 'data-key': key, 'data-gpu': key, ...(color ? { style: `--held:${color}` } : {}) },
    h('span', { class: 'gpu-label' }, g.label),
    bar,
    h('span', { class: 'gpu-sub' }, whole ? holderText(g.holders) : g.memorySlices ? `MIG ${g.memorySlices} slices` : g.partitions.length ? `${g.partitions.length} × ${g.partitions[0].type === 'share' ? 'share' : 'vGPU'}` : 'free'),
  )
  const content = () => [
    h('h2', {}, `${g.node} · ${g.label}`),
    dl([
      ['Product', g.product],
      ['Memory', bytes(g.memoryBytes)],
      ['Offered as', g.mode],
      ['NVLink domain', g.nvlinkDomain ?? 'none'],
      ['Held by', holderText(g.holders)],
      ...(g.partitions.length ? ([['Partitions', g.partitions.map((p) => `${p.label}: ${holderText(p.holders)}`).join('; ')]] as Array<[string, string]>) : []),
    ]),
    h('h3', {}, 'Attributes'),
    dl(Object.entries(g.attributes)),
  ]
  const handler = show(key, content)
  tile.addEventListener('focus', (e) => e.target === tile && handler())
  tile.addEventListener('mouseenter', handler)
  return tile
}

function partitionBlock(g: Gpu, p: Partition, colors: Map<string, string>, show: Show, left: number, width: number): HTMLElement {
  const key = `${g.node}/${g.label}/${p.name}/${p.holders.map((x) => x.claim).join(',')}`
  const color = p.holders[0] ? colors.get(p.holders[0].namespace) : undefined
  const block = h(
    'span',
    {
      class: `part ${p.type}${p.holders.length ? ' held' : ' free'}`,
      tabindex: 0,
      'data-key': key,
      'data-partition': p.name,
      'aria-label': `${p.label} on ${g.node} ${g.label}${p.slices ? `, memory slices ${p.slices[0]}–${p.slices[1] - 1}` : ''}: ${holderText(p.holders)}`,
      style: `left:${left}%;width:${width}%;${color ? `background:${color};` : ''}`,
    },
    p.label,
  )
  const handler = show(key, () => [
    h('h2', {}, `${g.node} · ${g.label} · ${p.label}`),
    dl([
      ['Device', p.name],
      ['Kind', p.type === 'mig' ? 'MIG device' : p.type === 'vgpu' ? 'vGPU' : 'memory share'],
      ...(p.slices ? ([['Memory slices', `${p.slices[0]}–${p.slices[1] - 1} of ${g.memorySlices}`]] as Array<[string, string]>) : []),
      ['Held by', holderText(p.holders)],
      ...p.holders.map((x) => ['Claim', `${x.namespace}/${x.claim}`] as [string, string]),
    ]),
    h('h3', {}, 'Attributes'),
    dl(Object.entries(p.attributes)),
  ])
  block.addEventListener('focus', (e) => {
    e.stopPropagation()
    handler()
  })
  block.addEventListener('mouseenter', (e) => {
    e.stopPropagation()
    handler()
  })
  return block
}

function dl(rows: Array<[string, string]>): HTMLElement {
  return h('dl', {}, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
}
