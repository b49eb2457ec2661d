// The Cluster view: hosts, hypervisors and VMs grouped by GPU model, each physical GPU drawn once with its partitions (MIG, vGPU, memory shares) coloured by the namespace holding them, NVLink domains framed; focus or hover shows a device's details.
import { bytes, clusterModel, type Gpu, type Holder, type NodeView, type Partition } from './cluster-model.ts'
import { namespaceColors } from '../colors.ts'
import { h, replace } from '../dom.ts'
import type { LiveCollection } from '../live.ts'
import { collectionNotice, useLive, type ViewContext } from '../view.ts'

/** Inner width of a GPU tile's bar in CSS pixels (7.5rem tile less padding and border), for choosing block labels. */
const BAR_PX = 106
/** Rough width of one character of a block label (11px system-ui). */
const CHAR_PX = 6.6

type Live = Record<'nodes' | 'resourceslices' | 'resourceclaims' | 'clusters', LiveCollection>

export function clusterView(ctx: ViewContext): void {
  const details = h('aside', { class: 'details', 'aria-live': 'polite', 'aria-label': 'Device details' }, h('p', { class: 'muted' }, 'Hover over or focus (Tab) a GPU or a partition to see its attributes and the workload holding it.'))
  const body = h('div', { class: 'cluster-body' })
  const legend = h('div', { class: 'legend', 'aria-label': 'Namespace colours' })
  replace(ctx.root, h('h1', {}, 'Cluster'), legend, h('div', { class: 'with-details' }, body, details))
  let selected: string | undefined

  const draw = (c: Live) => {
    const waiting = collectionNotice(c.nodes, 'Nodes') ?? collectionNotice(c.resourceslices, 'ResourceSlices') ?? collectionNotice(c.resourceclaims, 'ResourceClaims')
    // Until the slices, claims and Cluster specs are first read, GPUs would show as unpublished or free and hypervisors would be missing: say what is loading instead.
    if (waiting && (c.nodes.state !== 'ready' || c.resourceslices.state === 'loading' || c.resourceclaims.state === 'loading')) return replace(body, waiting)
    if (c.clusters.state === 'loading') return replace(body, collectionNotice(c.clusters, 'Cluster specs') ?? null)
    // The Cluster specs place VMs' vGPUs on their physical GPUs and describe hypervisors; without them, VMs' vGPUs are drawn as their VMs' GPUs.
    const clustersNote =
      c.clusters.state === 'unavailable' || c.clusters.state === 'error' ? `The Cluster specs could not be read (${c.clusters.message}): hypervisors are not drawn, and VMs' vGPUs are drawn as GPUs of their VMs.` : undefined
    const groups = clusterModel(c.nodes.list(), c.resourceslices.list(), c.resourceclaims.list(), c.clusters.state === 'ready' ? c.clusters.list() : [])
    const namespaces = new Set<string>()
    for (const o of c.resourceclaims.list()) if (o.status?.allocation) namespaces.add(o.metadata.namespace ?? '')
    const colors = namespaceColors(namespaces)
    replace(
      legend,
      h('span', { class: 'muted' }, 'Held by namespace:'),
      ...[...colors].map(([ns, color]) => h('span', { class: 'chip', 'data-namespace': ns }, h('span', { class: 'swatch', style: `background:${color}` }), ns)),
      h('span', { class: 'chip' }, h('span', { class: 'swatch free' }), 'free GPU'),
      h('span', { class: 'chip' }, h('span', { class: 'swatch free-part' }), 'free partition or vGPU'),
      h('span', { class: 'chip' }, h('span', { class: 'swatch unassigned' }), 'framebuffer without a vGPU'),
    )
    const show = (key: string, content: () => HTMLElement[]) => () => {
      selected = key
      replace(details, ...content())
    }
    const sum = (f: (g: (typeof groups)[number]) => number) => groups.reduce((n, g) => n + f(g), 0)
    const hypervisors = sum((g) => g.hypervisorCount)
    const vgpus = sum((g) => g.vgpuCount)
    // The tiles are drawn anew on every change: the one with the keyboard focus gets it back.
    const focusedKey = document.activeElement instanceof HTMLElement && body.contains(document.activeElement) ? document.activeElement.getAttribute('data-key') : null
    replace(
      body,
      waiting ?? null,
      clustersNote ? h('p', { class: 'notice info' }, clustersNote) : null,
      h('p', { class: 'muted' }, [`${sum((g) => g.nodeCount)} nodes`, hypervisors ? `${hypervisors} hypervisor${plural(hypervisors)} (no Kubernetes node)` : '', `${sum((g) => g.gpuCount)} physical GPUs`, vgpus ? `${vgpus} vGPUs in virtual machines` : '', `${groups.length} GPU models.`].filter(Boolean).join(', ')),
      ...groups.map((g) =>
        h(
          'section',
          { class: 'model-group', 'aria-label': `GPU model ${g.model}`, 'data-model': g.model, 'data-gpus': g.gpuCount, 'data-vgpus': g.vgpuCount },
          h(
            'h2',
            {},
            `${g.model}`,
            h('span', { class: 'muted' }, ` · ${[`${g.nodeCount} node${plural(g.nodeCount)}`, g.hypervisorCount ? `${g.hypervisorCount} hypervisor${plural(g.hypervisorCount)}` : '', `${g.gpuCount} GPU${plural(g.gpuCount)}`, g.vgpuCount ? `${g.vgpuCount} vGPU${plural(g.vgpuCount)} in VMs` : ''].filter(Boolean).join(', ')}`),
          ),
          h('div', { class: 'nodes' }, ...g.nodes.map((n) => nodeCard(n, colors, show))),
        ),
      ),
    )
    // Keep the details of what was selected current as allocations change.
    if (selected) (body.querySelector(`[data-key="${CSS.escape(selected)}"]`) as HTMLElement | null)?.dispatchEvent(new Event('focus'))
    if (focusedKey) (body.querySelector(`[data-key="${CSS.escape(focusedKey)}"]`) as HTMLElement | null)?.focus()
  }

  useLive(ctx, ['nodes', 'resourceslices', 'resourceclaims', 'clusters'], draw)
}

const plural = (n: number) => (n === 1 ? '' : 's')

type Show = (key: string, content: () => HTMLElement[]) => () => void

function nodeCard(n: NodeView, colors: Map<string, string>, show: Show): HTMLElement {
  const where = n.kind === 'vm' ? ` · virtual machine on ${n.host}` : n.kind === 'hypervisor' ? ' · hypervisor, not a Kubernetes node' : n.host !== n.name ? ` · on ${n.host}` : ' · host'
  const empty = n.gpuCount === 0 && n.vgpuCount === 0
  return h(
    'article',
    { class: `node ${n.kind}${n.virtualMachine ? ' vm' : ''}`, 'data-node': n.name, 'data-kind': n.kind },
    h('h3', {}, n.name, h('span', { class: 'muted' }, where)),
    empty && n.passthrough.length === 0 ? h('p', { class: 'muted' }, 'no GPUs published') : null,
    ...n.passthrough.map((p) => h('p', { class: 'passthrough muted', 'data-passthrough': p.vm }, `${p.gpus.join(', ')} passed through to ${p.vm}`)),
    empty
      ? null
      : h('div', { class: 'domains' }, ...n.domains.map((d) =>
          h(
            'div',
            { class: d.domain ? 'nvlink' : 'no-nvlink', ...(d.domain ? { title: `NVLink domain ${d.domain}` } : {}) },
            d.domain ? h('span', { class: 'nvlink-label' }, `NVLink ${d.domain}`) : h('span', { class: 'nvlink-label none' }, 'no NVLink'),
            h('div', { class: 'gpus' }, ...d.gpus.map((g) => gpuTile(g, colors, show))),
          ),
        )),
  )
}

function holderText(hs: Holder[]): string {
  return hs.length === 0 ? 'free' : hs.map((x) => `${x.namespace}/${x.workload ?? x.claim}${x.memoryBytes ? ` (${bytes(x.memoryBytes)})` : ''}`).join(', ')
}

/** The sub-line of a GPU tile: who holds it, or what it is split into. */
function gpuSub(g: Gpu, whole: boolean): string {
  if (whole) return holderText(g.holders)
  if (g.vgpu) return `vGPU ${g.vgpu.profile}`
  if (g.memorySlices) return `MIG ${g.memorySlices} slices`
  const vgpus = g.partitions.filter((p) => p.type === 'vgpu')
  if (vgpus.length) return `${vgpus.length} vGPU · ${vgpus.filter((p) => p.holders.length).length} held`
  const cap = g.partitions.find((p) => p.type === 'capacity')
  if (cap) return cap.label
  if (g.partitions.length) return `${g.partitions.length} × share`
  return g.note ? 'no node offers it' : 'free'
}

function gpuTile(g: Gpu, colors: Map<string, string>, show: Show): HTMLElement {
  const key = `${g.node}/${g.label}`
  const whole = g.holders.length > 0 && g.partitions.every((p) => p.type !== 'share')
  const color = whole ? colors.get(g.holders[0].namespace) : undefined
  const summary = whole ? `held by ${holderText(g.holders)}` : g.partitions.length ? g.partitions.map((p) => `${p.label}${p.node && p.node !== g.node ? ` on ${p.node}` : ''}: ${p.type === 'capacity' ? (p.offers?.length ? 'free' : 'no vGPU') : holderText(p.holders)}`).join('; ') : g.note ?? 'free'
  const label = `${g.node} ${g.label}, ${g.vgpu ? `vGPU ${g.vgpu.profile} of ${g.physical?.host} ${g.physical?.gpu}` : `${g.product}, ${g.mode}`}; ${summary}`
  const bar = h('div', { class: 'bar' })
  if (g.vgpu) {
    bar.append(partitionBlock(g, { name: g.label, type: 'vgpu', label: g.vgpu.profile, short: g.vgpu.profile.slice(g.vgpu.profile.lastIndexOf('-') + 1), fraction: g.vgpu.fraction, holders: g.holders, attributes: g.attributes, node: g.node, device: g.label }, colors, show, 0, Math.max(2, Math.min(100, g.vgpu.fraction * 100)), true))
  } else if (g.memorySlices > 0) {
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
    { class: `gpu${whole ? ' held' : ''}${g.vgpu ? ' vgpu-ref' : ''}${g.note ? ' unpublished' : ''}`, tabindex: 0, role: 'group', 'aria-label': label, title: label, 'data-key': key, 'data-gpu': key, ...(color ? { style: `--held:${color}` } : {}) },
    h('span', { class: 'gpu-label' }, g.label),
    bar,
    h('span', { class: 'gpu-sub' }, gpuSub(g, whole)),
  )
  const content = () => [
    h('h2', {}, `${g.node} · ${g.label}`),
    dl([
      ['Product', g.product],
      ...(g.vgpu
        ? ([
            ['vGPU of', `${g.physical?.host} ${g.physical?.gpu}`],
            ['Framebuffer', `${bytes(g.memoryBytes)} (${Math.round(g.vgpu.fraction * 100)} % of the GPU's)`],
          ] as Array<[string, string]>)
        : ([
            ['Memory', bytes(g.memoryBytes)],
            ['Offered as', g.mode],
            ...(g.physical ? ([['Physical GPU', `${g.physical.host} ${g.physical.gpu} (passed through)`]] as Array<[string, string]>) : []),
          ] as Array<[string, string]>)),
      ['NVLink domain', g.nvlinkDomain ?? 'none'],
      ['Held by', holderText(g.holders)],
      ...(g.note ? ([['Note', g.note]] as Array<[string, string]>) : []),
      ...(g.partitions.length ? ([['Partitions', g.partitions.map((p) => `${p.label}${p.node && p.node !== g.node ? ` (${p.node})` : ''}: ${p.type === 'capacity' ? (p.offers?.length ? 'free' : 'no vGPU') : holderText(p.holders)}`).join('; ')]] as Array<[string, string]>) : []),
    ]),
    h('h3', {}, 'Attributes'),
    dl(Object.entries(g.attributes)),
  ]
  const handler = show(key, content)
  tile.addEventListener('focus', (e) => e.target === tile && handler())
  tile.addEventListener('mouseenter', handler)
  return tile
}

/** The label a block of `widthPercent` of the bar can show: the full name, its abbreviation, or nothing (the name is in the tooltip and details). */
function fitLabel(p: Partition, widthPercent: number): string {
  const px = (widthPercent / 100) * BAR_PX - 4
  if (p.label.length * CHAR_PX <= px) return p.label
  if (p.short.length * CHAR_PX <= px) return p.short
  return ''
}

const KIND: Record<Partition['type'], string> = { mig: 'MIG device', vgpu: 'vGPU', share: 'memory share', capacity: 'framebuffer without a vGPU' }

function partitionBlock(g: Gpu, p: Partition, colors: Map<string, string>, show: Show, left: number, width: number, reference = false): HTMLElement {
  const key = `${g.node}/${g.label}/${reference ? 'vgpu' : p.name}/${p.holders.map((x) => x.claim).join(',')}`
  const color = p.holders[0] ? colors.get(p.holders[0].namespace) : undefined
  const onOther = p.node && p.node !== g.node ? ` on ${p.node}` : ''
  const state = p.type === 'capacity' ? (p.offers?.length ? 'free' : 'unassigned') : p.holders.length ? 'held' : 'free'
  const what = p.type === 'capacity' ? `${p.label}${p.note ? ` (${p.note})` : ''}` : `${p.label}${onOther}${p.slices ? `, memory slices ${p.slices[0]}–${p.slices[1] - 1}` : ''}: ${holderText(p.holders)}`
  const block = h(
    'span',
    {
      class: `part ${p.type} ${state}`,
      tabindex: 0,
      role: 'img',
      'data-key': key,
      'data-partition': p.name,
      ...(p.node ? { 'data-exposed-on': p.node } : {}),
      'aria-label': `${what}; ${reference ? `vGPU of ${g.physical?.host} ${g.physical?.gpu}` : `on ${g.node} ${g.label}`}`,
      title: what,
      style: `left:${left}%;width:${width}%;${color ? `background:${color};` : ''}`,
    },
    h('span', { class: 'part-label', 'aria-hidden': 'true' }, fitLabel(p, width)),
    h('span', { class: 'sr-only' }, p.label),
  )
  const memory = p.fraction !== undefined && Number.isFinite(g.memoryBytes) && !reference ? p.fraction * g.memoryBytes : undefined
  const handler = show(key, () => [
    h('h2', {}, `${g.node} · ${g.label} · ${p.label}`),
    dl([
      ['Device', p.type === 'capacity' ? 'none' : p.device ?? p.name],
      ['Kind', KIND[p.type]],
      ...(p.type === 'vgpu' || p.type === 'mig' ? ([['Profile', p.label]] as Array<[string, string]>) : []),
      ...(p.node ? ([['Exposed on', p.node === g.node ? `${p.node} (this ${reference ? 'virtual machine' : 'host'})` : `${p.node} (virtual machine)`]] as Array<[string, string]>) : []),
      ...(reference ? ([['vGPU of', `${g.physical?.host} ${g.physical?.gpu}`]] as Array<[string, string]>) : []),
      ...(memory !== undefined ? ([['Framebuffer', `${bytes(memory)} of ${bytes(g.memoryBytes)}`]] as Array<[string, string]>) : []),
      ...(p.slices ? ([['Memory slices', `${p.slices[0]}–${p.slices[1] - 1} of ${g.memorySlices}`]] as Array<[string, string]>) : []),
      ...(p.type === 'capacity'
        ? ([
            ['Offers', p.offers?.length ? p.offers.join(', ') : 'nothing now'],
            ...(p.note ? ([['Note', p.note]] as Array<[string, string]>) : []),
          ] as Array<[string, string]>)
        : ([['Held by', holderText(p.holders)], ...p.holders.map((x) => ['Claim', `${x.namespace}/${x.claim}`] as [string, string])] as Array<[string, string]>)),
    ]),
    ...(Object.keys(p.attributes).length ? [h('h3', {}, 'Attributes'), dl(Object.entries(p.attributes))] : []),
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
