// Utilization from a DCGM exporter's Prometheus text (`curl http://host:9400/metrics`): the parser of the exposition format and the fields gpuplane samples.
//
// Fields read (DCGM field names, as dcgm-exporter's default counters name them):
//   DCGM_FI_PROF_SM_ACTIVE   ratio 0..1 of cycles an SM had a warp resident: the SM utilization
//                            gpuplane wants, and the only one DCGM reports per MIG device
//   DCGM_FI_DEV_GPU_UTIL     percent of time a kernel ran (nvidia-smi's utilization.gpu); used
//                            when SM_ACTIVE is absent (the profiling module is off by default)
//   DCGM_FI_DEV_FB_USED / _FB_FREE   framebuffer MiB (total = used + free, plus FB_RESERVED when reported)
//   DCGM_FI_DEV_POWER_USAGE  watts (whole GPUs only)
// Labels: gpu (index), UUID (of the physical GPU, also on MIG series), GPU_I_ID and
// GPU_I_PROFILE on MIG devices, Hostname. A MIG series is keyed by (UUID, GPU_I_ID) and named
// through DeviceMap.byGpuInstance; a whole GPU by UUID, else `gpu-<gpu>`.
import { GpuplaneError } from '../common/errors.ts'
import type { DeviceMap } from './nvidia-smi-query.ts'
import type { UtilizationSample } from './types.ts'

const MIB = 1024 * 1024

/** One series of a Prometheus text exposition: metric name, labels, value, optional timestamp (ms). */
export interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
  timestamp?: number
}

function fail(message: string, line: number): GpuplaneError {
  return new GpuplaneError('INVALID_INPUT', `DCGM exporter metrics (Prometheus text format): ${message}`, { path: `line ${line}` })
}

/** Reads `{a="x",b="y\"z"}` starting at `i` (the '{'); returns the labels and the index after '}'. */
function readLabels(text: string, i: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {}
  i++
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++
    if (text[i] === '}') return { labels, end: i + 1 }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))
    if (!name) throw fail(`expected a label name at column ${i + 1}`, line)
    i += name[0].length
    while (text[i] === ' ') i++
    if (text[i] !== '=' || text[i + 1] !== '"') throw fail(`expected ="value" after label ${name[0]}`, line)
    i += 2
    let value = ''
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        const next = text[++i]
        value += next === 'n' ? '\n' : next
      } else value += text[i]
    }
    if (i >= text.length) throw fail(`unterminated value of label ${name[0]}`, line)
    labels[name[0]] = value
    i++
  }
}

function parseValue(text: string, line: number): number {
  const t = text.trim()
  if (t === 'NaN') return NaN
  if (t === '+Inf' || t === 'Inf') return Infinity
  if (t === '-Inf') return -Infinity
  const n = Number(t)
  if (t === '' || Number.isNaN(n)) throw fail(`"${t}" is not a sample value`, line)
  return n
}

/** Parses the Prometheus text exposition format (comments and # HELP / # TYPE lines skipped). */
export function parsePrometheusText(text: string): PromSample[] {
  const out: PromSample[] = []
  text.split(/\r?\n/).forEach((raw, k) => {
    const line = k + 1
    const s = raw.trim()
    if (s === '' || s.startsWith('#')) return
    const name = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(s)
    if (!name) throw fail(`expected a metric name, got "${s.slice(0, 40)}"`, line)
    let i = name[0].length
    let labels: Record<string, string> = {}
    if (s[i] === '{') ({ labels, end: i } = readLabels(s, i, line))
    const rest = s.slice(i).trim().split(/\s+/)
    if (rest.length > 2) throw fail(`expected a value and an optional timestamp after the series, got "${rest.join(' ')}"`, line)
    const sample: PromSample = { name: name[0], labels, value: parseValue(rest[0] ?? '', line) }
    if (rest[1] !== undefined) {
      const ts = Number(rest[1])
      if (!Number.isFinite(ts)) throw fail(`"${rest[1]}" is not a timestamp in milliseconds`, line)
      sample.timestamp = ts
    }
    out.push(sample)
  })
  return out
}

interface Reading {
  gpu?: number
  uuid?: string
  gpuInstanceId?: string
  hostname?: string
  smActive?: number
  gpuUtil?: number
  fbUsed?: number
  fbFree?: number
  fbReserved?: number
  power?: number
  timestamp?: number
}

const FIELDS: Record<string, keyof Reading> = {
  DCGM_FI_PROF_SM_ACTIVE: 'smActive',
  DCGM_FI_DEV_GPU_UTIL: 'gpuUtil',
  DCGM_FI_DEV_FB_USED: 'fbUsed',
  DCGM_FI_DEV_FB_FREE: 'fbFree',
  DCGM_FI_DEV_FB_RESERVED: 'fbReserved',
  DCGM_FI_DEV_POWER_USAGE: 'power',
}

/** Groups the DCGM series by device: (UUID or gpu index) and, for MIG, GPU_I_ID. */
function readings(series: readonly PromSample[]): Reading[] {
  const byKey = new Map<string, Reading>()
  for (const s of series) {
    const field = FIELDS[s.name]
    if (field === undefined || !Number.isFinite(s.value)) continue
    const uuid = s.labels.UUID || s.labels.uuid
    const gi = s.labels.GPU_I_ID
    const key = `${uuid ?? `#${s.labels.gpu}`}/${gi ?? ''}`
    let r = byKey.get(key)
    if (!r) {
      r = {}
      if (s.labels.gpu !== undefined && /^\d+$/.test(s.labels.gpu)) r.gpu = Number(s.labels.gpu)
      if (uuid) r.uuid = uuid
      if (gi !== undefined && gi !== '') r.gpuInstanceId = gi
      if (s.labels.Hostname) r.hostname = s.labels.Hostname
      byKey.set(key, r)
    }
    ;(r as Record<string, number>)[field] = s.value
    if (s.timestamp !== undefined) r.timestamp = s.timestamp
  }
  return [...byKey.values()]
}

export interface DcgmSampleOptions {
  node: string
  /** Stamp for series without a timestamp (the agent's clock). */
  time: number
  map?: DeviceMap
}

/**
 * Samples from DCGM series: one per GPU and per MIG device that reports utilization and
 * framebuffer use. A device lacking either is returned in `skipped` (its key) rather than guessed.
 */
export function samplesFromDcgm(series: readonly PromSample[], options: DcgmSampleOptions): { samples: UtilizationSample[]; skipped: string[] } {
  const samples: UtilizationSample[] = []
  const skipped: string[] = []
  for (const r of readings(series)) {
    const device = deviceOf(r, options.map)
    const smUtil = r.smActive !== undefined ? r.smActive * 100 : r.gpuUtil
    if (device === undefined || smUtil === undefined || r.fbUsed === undefined || r.fbFree === undefined) {
      skipped.push(device ?? `${r.uuid ?? `gpu ${r.gpu}`}${r.gpuInstanceId ? ` GPU instance ${r.gpuInstanceId}` : ''}`)
      continue
    }
    const sample: UtilizationSample = {
      time: r.timestamp ?? options.time,
      node: options.node,
      device,
      smUtil: Math.min(100, Math.max(0, smUtil)),
      memUsedBytes: Math.round(r.fbUsed * MIB),
      memTotalBytes: Math.round((r.fbUsed + r.fbFree + (r.fbReserved ?? 0)) * MIB),
    }
    if (r.uuid && r.gpuInstanceId === undefined) sample.uuid = r.uuid
    if (r.power !== undefined && r.gpuInstanceId === undefined) sample.powerWatts = r.power
    samples.push(sample)
  }
  return { samples, skipped }
}

function deviceOf(r: Reading, map: DeviceMap | undefined): string | undefined {
  if (r.gpuInstanceId !== undefined) {
    // A MIG device is only named through the inventory: its DRA name needs the placement.
    return r.uuid ? map?.byGpuInstance.get(`${r.uuid}/${r.gpuInstanceId}`) : undefined
  }
  return (r.uuid && map?.byUuid.get(r.uuid)) ?? (r.gpu !== undefined ? (map?.byIndex.get(r.gpu) ?? `gpu-${r.gpu}`) : undefined)
}
