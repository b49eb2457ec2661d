// Parser of `nvidia-smi topo -m`: per GPU its NUMA and CPU affinity, the link type of every GPU
// pair, NVLink domains, and the GPUs that provably share a PCIe host bridge.
//
// Format (tab separated; nvidia-smi may wrap the header in ANSI underline escapes):
//
//   \tGPU0\tGPU1\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID
//   GPU0\t X \tNV18\tPXB\t0-55,112-167\t0\t\tN/A
//   GPU1\tNV18\t X \tNODE\t0-55,112-167\t0\t\tN/A
//   NIC0\tPXB\tNODE\t X \t\t\t\t
//
//   Legend: X self; SYS across the SMP interconnect between NUMA nodes; NODE across the
//   interconnect between PCIe host bridges of one NUMA node; PHB through a PCIe host bridge; PXB
//   through several PCIe bridges without the host bridge; PIX through at most one PCIe bridge;
//   NV# through a bonded set of # NVLinks.
//
// Real outputs carry an extra empty cell between "NUMA Affinity" and "GPU NUMA ID" in every row,
// and leave "CPU Affinity" empty on some machines, so the trailing cells are matched by name and
// position rather than counted after dropping empty cells.

import { invalidInput, isNotAvailable, textLines } from './nvidia-smi-common.ts'

const TOPO = 'nvidia-smi topo -m'

export interface TopoGpu {
  /** nvidia-smi index ("GPU3" -> 3). */
  index: number
  /** CPU list as printed, e.g. "0-55,112-167"; undefined when empty or N/A. */
  cpuAffinity?: string
  /** The NUMA node the GPU is attached to (one number); undefined when N/A or a range. */
  numaAffinity?: number
  /** The GPU's own NUMA node id (coherent-memory parts such as GH200); usually N/A. */
  gpuNumaId?: number
  /** Link type to every other matrix column (GPUs and NICs), e.g. { GPU1: 'NV18', NIC0: 'PXB' }. */
  links: Record<string, string>
}

export interface TopoPair {
  a: number
  b: number
  /** As printed: SYS, NODE, PHB, PXB, PIX, NV<n> (or SOC on old drivers). */
  link: string
  /** Number of bonded NVLinks when link is NV<n>. */
  nvlinks?: number
}

export interface Topology {
  /** The matrix columns in order: GPU0..GPUn, then NICs (NIC0.. or, on old drivers, mlx5_0..). */
  columns: string[]
  /** GPU rows sorted by index. */
  gpus: TopoGpu[]
  /** One entry per GPU pair, a < b, link as printed in row a. */
  pairs: TopoPair[]
  /** Connected components of NV# links (sorted GPU indices, ordered by their first GPU); GPUs without NVLink are in none. */
  nvlinkDomains: number[][]
  /**
   * GPUs proven to sit under one PCIe host bridge: joined by PIX, PXB or PHB, directly or through a
   * NIC both reach that way. Every GPU is in exactly one group (singletons when nothing is known).
   * NV# entries hide the PCIe path of a GPU pair, so NVLinked GPUs are only joined through NICs.
   */
  pcieHostBridgeGroups: number[][]
}

const GPU_NAME = /^GPU(\d+)$/
/** Link types that mean "same PCIe host bridge" (see the legend above). */
const SAME_HOST_BRIDGE = new Set(['PIX', 'PXB', 'PHB'])
const NVLINK = /^NV(\d+)$/
/** The first trailing (non-device) header column. */
const TRAILING = /affinity|numa id/i

/** Parses `nvidia-smi topo -m`; throws INVALID_INPUT when no GPU matrix is found or a row is malformed. */
export function parseTopology(text: string): Topology {
  const lines = textLines(text)
  // The header is the first line whose cells start with GPU<n> and which has no X (rows have one).
  const headerAt = lines.findIndex((l) => {
    const cells = headerCells(l)
    return GPU_NAME.test(cells[0] ?? '') && !cells.includes('X')
  })
  if (headerAt < 0) throw invalidInput(TOPO, 'expected the matrix of `nvidia-smi topo -m` (a header line "GPU0 GPU1 ... CPU Affinity NUMA Affinity"), found none')
  const tabbed = lines[headerAt]!.includes('\t')
  const header = headerCells(lines[headerAt]!)
  const firstTrailing = header.findIndex((c) => TRAILING.test(c))
  const columns = firstTrailing < 0 ? header : header.slice(0, firstTrailing)
  const trailing = firstTrailing < 0 ? [] : header.slice(firstTrailing)
  const gpus = readRows(lines, headerAt + 1, columns, trailing, tabbed)
  checkComplete(columns, gpus)
  const pairs = gpuPairs(gpus)
  return {
    columns,
    gpus,
    pairs,
    nvlinkDomains: components(gpus.map((g) => `GPU${g.index}`), nvlinkEdges(pairs)).filter((c) => c.length > 1),
    pcieHostBridgeGroups: components(gpus.map((g) => `GPU${g.index}`), hostBridgeEdges(gpus)),
  }
}

function headerCells(line: string): string[] {
  const cells = line.includes('\t')
    ? line.split('\t').map((c) => c.trim())
    : // Tabs lost (copied through a terminal or a web page): keep the multi-word names whole.
      line.trim().replace(/CPU Affinity|NUMA Affinity|GPU NUMA ID/gi, (m) => m.replace(/ /g, '_')).split(/\s+/).map((c) => c.replace(/_/g, ' '))
  while (cells.length > 0 && cells[0] === '') cells.shift()
  return cells
}

function readRows(lines: string[], from: number, columns: string[], trailing: string[], tabbed: boolean): TopoGpu[] {
  const gpus: TopoGpu[] = []
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === '' || /^\s*Legend\s*:/i.test(line)) break
    const cells = tabbed ? line.split('\t').map((c) => c.trim()) : line.trim().split(/\s+/)
    while (cells.length > 0 && cells[0] === '') cells.shift()
    const name = cells[0]!
    if (!columns.includes(name)) throw invalidInput(TOPO, `line ${i + 1}: expected a matrix row starting with one of ${columns.join(', ')}, got "${line.trim()}"`)
    const gpu = GPU_NAME.exec(name)
    if (!gpu) continue // NIC rows repeat what the GPU rows say
    if (cells.length < columns.length + 1) {
      throw invalidInput(TOPO, `line ${i + 1}: row ${name} has ${cells.length - 1} cells, expected one per column (${columns.length}) before the affinity columns`)
    }
    const row: TopoGpu = { index: Number(gpu[1]), links: {} }
    columns.forEach((col, j) => {
      const link = cells[j + 1]!
      if (link === '') throw invalidInput(TOPO, `line ${i + 1}: row ${name} has no link type under ${col}`)
      if (col !== name) row.links[col] = link
      else if (link !== 'X') throw invalidInput(TOPO, `line ${i + 1}: row ${name} should read X under its own column, got "${link}"`)
    })
    assignTrailing(row, trailing, cells.slice(columns.length + 1), tabbed)
    if (gpus.some((g) => g.index === row.index)) throw invalidInput(TOPO, `line ${i + 1}: row ${name} appears twice`)
    gpus.push(row)
  }
  return gpus.sort((a, b) => a.index - b.index)
}

/**
 * Maps the cells after the link columns to the trailing header names. With tabs, cells are
 * positional except that the last name takes the last cell (skipping nvidia-smi's extra empty
 * cell); without tabs empty cells are lost, so cells are aligned from the right.
 */
function assignTrailing(row: TopoGpu, names: string[], rest: string[], tabbed: boolean): void {
  const values = new Map<string, string>()
  if (tabbed) {
    names.forEach((n, j) => {
      const cell = j === names.length - 1 && rest.length >= names.length ? rest[rest.length - 1] : rest[j]
      if (cell !== undefined) values.set(n.toLowerCase(), cell)
    })
  } else {
    const tokens = rest.filter((c) => c !== '')
    names.forEach((n, j) => {
      const cell = tokens[tokens.length - names.length + j]
      if (cell !== undefined) values.set(n.toLowerCase(), cell)
    })
  }
  const cpu = values.get('cpu affinity')
  if (cpu !== undefined && !isNotAvailable(cpu)) row.cpuAffinity = cpu
  const numa = singleNumber(values.get('numa affinity'))
  if (numa !== undefined) row.numaAffinity = numa
  const gpuNuma = singleNumber(values.get('gpu numa id'))
  if (gpuNuma !== undefined) row.gpuNumaId = gpuNuma
}

function singleNumber(cell: string | undefined): number | undefined {
  return cell !== undefined && /^\d+$/.test(cell) ? Number(cell) : undefined
}

/** Every GPU column needs its row and every GPU row its column, or the matrix was cut. */
function checkComplete(columns: string[], gpus: TopoGpu[]): void {
  const gpuColumns = columns.filter((c) => GPU_NAME.test(c))
  const rows = new Set(gpus.map((g) => `GPU${g.index}`))
  const missing = gpuColumns.filter((c) => !rows.has(c))
  if (missing.length > 0) throw invalidInput(TOPO, `the header lists ${missing.join(', ')} but no row for ${missing.length === 1 ? 'it' : 'them'}; give the whole matrix`)
}

function gpuPairs(gpus: TopoGpu[]): TopoPair[] {
  const pairs: TopoPair[] = []
  for (const g of gpus) {
    for (const h of gpus) {
      if (h.index <= g.index) continue
      const link = g.links[`GPU${h.index}`]!
      const nv = NVLINK.exec(link)
      pairs.push(nv ? { a: g.index, b: h.index, link, nvlinks: Number(nv[1]) } : { a: g.index, b: h.index, link })
    }
  }
  return pairs
}

function nvlinkEdges(pairs: TopoPair[]): [string, string][] {
  return pairs.filter((p) => p.nvlinks !== undefined && p.nvlinks > 0).map((p) => [`GPU${p.a}`, `GPU${p.b}`])
}

function hostBridgeEdges(gpus: TopoGpu[]): [string, string][] {
  const edges: [string, string][] = []
  for (const g of gpus) {
    for (const [col, link] of Object.entries(g.links)) if (SAME_HOST_BRIDGE.has(link)) edges.push([`GPU${g.index}`, col])
  }
  return edges
}

/** Connected components (by union-find) restricted to GPUs, as sorted index lists; with `gpus` all listed. */
function components(gpus: string[], edges: [string, string][]): number[][] {
  const parent = new Map<string, string>()
  const find = (x: string): string => {
    let root = x
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root)!
    parent.set(x, root)
    return root
  }
  for (const g of gpus) parent.set(g, g)
  for (const [a, b] of edges) {
    if (!parent.has(b)) parent.set(b, b)
    const ra = find(a)
    const rb = find(b)
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb)
  }
  const groups = new Map<string, number[]>()
  for (const g of gpus) {
    const root = find(g)
    const list = groups.get(root) ?? []
    list.push(Number(GPU_NAME.exec(g)![1]))
    groups.set(root, list)
  }
  return [...groups.values()].map((l) => l.sort((x, y) => x - y)).sort((x, y) => x[0]! - y[0]!)
}
