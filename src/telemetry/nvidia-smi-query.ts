// Utilization from `nvidia-smi --query-gpu=... --format=csv` and `--query-compute-apps=...`, and the join of nvidia-smi's GPU index/UUID to the DRA device names the inventory publishes.
//
// The CSV is read by its header, so any column order or subset works, with or without units
// (`--format=csv` writes "81559 MiB", "37 %", "80.07 W" and units in the header; `csv,nounits`
// writes bare numbers and the header's unit still says what they are). "[N/A]", "N/A",
// "[Not Supported]" and other bracketed words are unknown values, never zero: a GPU in MIG mode
// reports utilization.gpu as [N/A], and treating that as 0% would call a busy GPU idle.
//
// nvidia-smi has no per-MIG-device utilization (NVML does not expose it; DCGM's profiling
// metrics do, see dcgm.ts), so a row without utilization.gpu yields no sample rather than a wrong one.
import { GpuplaneError } from '../common/errors.ts'
import type { HostInfo } from '../inventory/types.ts'
import type { UtilizationSample } from './types.ts'

const SOURCE = 'nvidia-smi --query-gpu'
const MIB = 1024 * 1024
const BYTE_UNITS: Record<string, number> = { b: 1, kib: 1024, mib: MIB, gib: 1024 * MIB, tib: 1024 * 1024 * MIB }

/** One GPU row of `--query-gpu`; fields absent when the column was not queried or read N/A. */
export interface QueryGpuRow {
  /** nvidia-smi's `timestamp` as milliseconds since the epoch (see parseNvidiaSmiTimestamp). */
  time?: number
  index: number
  uuid?: string
  name?: string
  /** utilization.gpu: percent of the sample period a kernel was running. */
  smUtil?: number
  /** utilization.memory: percent of the period device memory was read or written. */
  memUtil?: number
  memUsedBytes?: number
  memTotalBytes?: number
  powerWatts?: number
}

/** One process of `--query-compute-apps=gpu_uuid,pid,used_memory`. */
export interface ComputeApp {
  gpuUuid: string
  pid: number
  usedBytes?: number
}

interface Column {
  key: string
  unit?: string
}

function fail(message: string, line?: number): GpuplaneError {
  return new GpuplaneError('INVALID_INPUT', `${SOURCE}: ${message}`, line === undefined ? {} : { path: `line ${line}` })
}

/** A value nvidia-smi could not read: "[N/A]", "N/A", "[Not Supported]", "[Unknown Error]", empty. */
export function isUnknown(value: string): boolean {
  const v = value.trim()
  return v === '' || /^\[.*\]$/.test(v) || /^n\/a$/i.test(v) || /^not (available|supported)$/i.test(v)
}

/** `utilization.gpu [%]` -> { key: 'utilization.gpu', unit: '%' }. */
function parseHeader(line: string): Column[] {
  return line.split(',').map((cell) => {
    const m = /^\s*([^[]+?)\s*(?:\[(.+)\])?\s*$/.exec(cell)
    return { key: (m?.[1] ?? cell).trim(), ...(m?.[2] ? { unit: m[2].trim() } : {}) }
  })
}

/** A number with its unit ("81559 MiB", "37 %", "80.07 W", or bare with the header's unit); undefined when unknown. */
function measure(value: string, column: Column, line: number): { n: number; unit?: string } | undefined {
  if (isUnknown(value)) return undefined
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z%]*)\s*$/.exec(value)
  if (!m) throw fail(`column "${column.key}": expected a number, got "${value.trim()}"`, line)
  const unit = m[2] || column.unit
  return { n: Number(m[1]), ...(unit ? { unit } : {}) }
}

function bytes(value: string, column: Column, line: number): number | undefined {
  const v = measure(value, column, line)
  if (v === undefined) return undefined
  const factor = BYTE_UNITS[(v.unit ?? 'MiB').toLowerCase()]
  if (factor === undefined) throw fail(`column "${column.key}": unknown size unit "${v.unit}" (expected MiB, GiB, KiB or B)`, line)
  return Math.round(v.n * factor)
}

function plain(value: string, column: Column, line: number): number | undefined {
  return measure(value, column, line)?.n
}

/**
 * nvidia-smi's timestamp "2026/11/26 14:57:14.068" is the host's local time with no zone; it is
 * read as UTC shifted by `offsetMinutes` (the host's UTC offset, default 0). The agent stamps
 * samples with its own clock instead; this is for recorded series.
 */
export function parseNvidiaSmiTimestamp(text: string, offsetMinutes = 0): number | undefined {
  const m = /^\s*(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?\s*$/.exec(text)
  if (!m) return undefined
  const ms = Number((m[7] ?? '0').padEnd(3, '0'))
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms) - offsetMinutes * 60_000
}

type RowField = (row: QueryGpuRow, value: string, column: Column, line: number, offsetMinutes: number) => void

const FIELDS: Record<string, RowField> = {
  timestamp: (row, v, _c, line, offset) => {
    if (isUnknown(v)) return
    const t = parseNvidiaSmiTimestamp(v, offset)
    if (t === undefined) throw fail(`timestamp "${v.trim()}" is not YYYY/MM/DD HH:MM:SS.mmm`, line)
    row.time = t
  },
  uuid: (row, v) => void (isUnknown(v) ? undefined : (row.uuid = v.trim())),
  name: (row, v) => void (isUnknown(v) ? undefined : (row.name = v.trim())),
  'utilization.gpu': (row, v, c, line) => setDefined(row, 'smUtil', plain(v, c, line)),
  'utilization.memory': (row, v, c, line) => setDefined(row, 'memUtil', plain(v, c, line)),
  'memory.used': (row, v, c, line) => setDefined(row, 'memUsedBytes', bytes(v, c, line)),
  'memory.total': (row, v, c, line) => setDefined(row, 'memTotalBytes', bytes(v, c, line)),
  'power.draw': (row, v, c, line) => setDefined(row, 'powerWatts', plain(v, c, line)),
}

function setDefined<K extends keyof QueryGpuRow>(row: QueryGpuRow, key: K, value: QueryGpuRow[K] | undefined): void {
  if (value !== undefined) row[key] = value
}

/** Splits CSV text into its header and data lines (1-based line numbers kept for errors). */
function csvLines(text: string): { header: string; rows: Array<{ cells: string[]; line: number }> } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const first = lines.findIndex((l) => l.trim() !== '')
  if (first < 0) throw fail('empty output: expected a CSV header line (run with --format=csv)')
  const rows: Array<{ cells: string[]; line: number }> = []
  for (let i = first + 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue
    rows.push({ cells: lines[i].split(','), line: i + 1 })
  }
  return { header: lines[first], rows }
}

/** Parses `--query-gpu=...` CSV (any columns; `index` required). Unknown columns are ignored. */
export function parseQueryGpu(text: string, options: { offsetMinutes?: number } = {}): QueryGpuRow[] {
  const { header, rows } = csvLines(text)
  const columns = parseHeader(header)
  const indexAt = columns.findIndex((c) => c.key === 'index')
  if (indexAt < 0) throw fail(`the header "${header.trim()}" has no "index" column: query at least --query-gpu=index,uuid,utilization.gpu,memory.used,memory.total`, 1)
  return rows.map(({ cells, line }) => {
    if (cells.length !== columns.length) throw fail(`expected ${columns.length} comma-separated values as in the header, got ${cells.length}`, line)
    const index = Number(cells[indexAt].trim())
    if (!Number.isInteger(index) || index < 0) throw fail(`index "${cells[indexAt].trim()}" is not a GPU index`, line)
    const row: QueryGpuRow = { index }
    columns.forEach((c, i) => FIELDS[c.key]?.(row, cells[i], c, line, options.offsetMinutes ?? 0))
    return row
  })
}

/** Parses `--query-compute-apps=gpu_uuid,pid,used_memory --format=csv`; "No running processes found" and an empty table give []. */
export function parseComputeApps(text: string): ComputeApp[] {
  if (/no running (compute )?processes/i.test(text) || text.trim() === '') return []
  const { header, rows } = csvLines(text)
  const columns = parseHeader(header)
  const at = (key: string) => columns.findIndex((c) => c.key === key)
  // Asked for `used_memory`, nvidia-smi (driver 580) heads the column `used_gpu_memory [MiB]` (read on a real H200).
  const memAt = at('used_memory') >= 0 ? at('used_memory') : at('used_gpu_memory')
  const [uuidAt, pidAt] = [at('gpu_uuid'), at('pid')]
  if (uuidAt < 0 || pidAt < 0) throw fail(`compute apps: the header "${header.trim()}" needs gpu_uuid and pid (--query-compute-apps=gpu_uuid,pid,used_memory)`, 1)
  return rows.map(({ cells, line }) => {
    if (cells.length !== columns.length) throw fail(`compute apps: expected ${columns.length} values, got ${cells.length}`, line)
    const pid = Number(cells[pidAt].trim())
    if (!Number.isInteger(pid)) throw fail(`compute apps: pid "${cells[pidAt].trim()}" is not a number`, line)
    const app: ComputeApp = { gpuUuid: cells[uuidAt].trim(), pid }
    const used = memAt >= 0 ? bytes(cells[memAt], columns[memAt], line) : undefined
    if (used !== undefined) app.usedBytes = used
    return app
  })
}

/** How the node's GPUs are named in its ResourceSlices: by UUID (GPU or MIG), by nvidia-smi index, and MIG devices by (parent UUID, GPU instance id). */
export interface DeviceMap {
  byUuid: Map<string, string>
  byIndex: Map<number, string>
  /** `${parentUuid}/${gpuInstanceId}` -> MIG device name. */
  byGpuInstance: Map<string, string>
  /** Model name per device name (productName), for display. */
  productName: Map<string, string>
}

/**
 * The DRA names the inventory publishes for a host (publish.ts: `gpu-<index>` for a whole GPU,
 * migDeviceName() for MIG devices); a GPU published in MIG mode keeps its `gpu-<index>` entry too,
 * which whole-GPU utilization is reported under.
 */
export function deviceMapFromHost(host: HostInfo, migName: (gpuIndex: number, profile: string, profileId: number, start: number) => string): DeviceMap {
  const map: DeviceMap = { byUuid: new Map(), byIndex: new Map(), byGpuInstance: new Map(), productName: new Map() }
  for (const gpu of host.gpus) {
    const name = `gpu-${gpu.index}`
    map.byUuid.set(gpu.uuid, name)
    map.byIndex.set(gpu.index, name)
    map.productName.set(name, gpu.productName)
    for (const m of gpu.migDevices ?? []) {
      const mig = migName(gpu.index, m.profile, m.profileId, m.placement.start)
      if (m.uuid) map.byUuid.set(m.uuid, mig)
      map.byGpuInstance.set(`${gpu.uuid}/${m.gpuInstanceId}`, mig)
      map.productName.set(mig, gpu.productName)
    }
  }
  return map
}

/** The device name of a GPU row: its UUID's name, else `gpu-<index>` (the inventory's rule). */
export function deviceOfRow(row: Pick<QueryGpuRow, 'index' | 'uuid'>, map?: DeviceMap): string {
  return (row.uuid && map?.byUuid.get(row.uuid)) ?? map?.byIndex.get(row.index) ?? `gpu-${row.index}`
}

export interface SampleOptions {
  node: string
  /** Time to stamp rows without a timestamp (the agent's clock). */
  time: number
  map?: DeviceMap
  /** Stamp every row with `time` even when the CSV has timestamps (the agent: nvidia-smi's are zone-less local time). */
  useOwnClock?: boolean
}

/**
 * Samples of the GPUs in `rows`, with the processes of `apps` on each; rows without
 * utilization.gpu or memory figures (MIG mode, [N/A]) are returned in `skipped`, not guessed.
 */
export function samplesFromQuery(rows: readonly QueryGpuRow[], apps: readonly ComputeApp[], options: SampleOptions): { samples: UtilizationSample[]; skipped: QueryGpuRow[] } {
  const samples: UtilizationSample[] = []
  const skipped: QueryGpuRow[] = []
  for (const row of rows) {
    if (row.smUtil === undefined || row.memUsedBytes === undefined || row.memTotalBytes === undefined) {
      skipped.push(row)
      continue
    }
    const sample: UtilizationSample = {
      time: options.useOwnClock || row.time === undefined ? options.time : row.time,
      node: options.node,
      device: deviceOfRow(row, options.map),
      smUtil: row.smUtil,
      memUsedBytes: row.memUsedBytes,
      memTotalBytes: row.memTotalBytes,
    }
    if (row.uuid) sample.uuid = row.uuid
    if (row.powerWatts !== undefined) sample.powerWatts = row.powerWatts
    const procs = row.uuid ? apps.filter((a) => a.gpuUuid === row.uuid) : []
    if (procs.length > 0) sample.processes = procs.map((p) => ({ pid: p.pid, usedBytes: p.usedBytes ?? 0 }))
    samples.push(sample)
  }
  return { samples, skipped }
}
