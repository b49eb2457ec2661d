// Parsers of the `nvidia-smi mig` listings: GPU instance profiles (-lgip), their legal placements
// (-lgipp) and the GPU instances that exist (-lgi).
//
// Formats, as nvidia-smi 580 prints them (test/fixtures/nvidia-smi) and as NVIDIA's MIG user guide
// shows them for -lgi:
//
//   -lgip   |   0  MIG 1g.10gb         19     7/7        9.75       No     16     1     0   |
//           |                                                               1     1     0   |
//           (GPU, name, profile id, instances free/total, memory GiB, P2P, SM, DEC, ENC on the
//            first line; CE, JPEG, OFA on the second)
//   -lgipp  GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1
//           GPU  0 Profile ID  5 Placement : {0}:4
//   -lgi    |   0  MIG 3g.20gb          9        1          0:4     |
//           (GPU, name, profile id, GPU instance id, placement start:size)
//
// Placements count memory slices (8 on H100/H200/A100; the 7g profile takes all 8).
// Every GPU index here is nvidia-smi's index: the order of `nvidia-smi -q -x`, not the minor number.

import { invalidInput, isNotAvailable, parseCount, pushTo, textLines } from './nvidia-smi-common.ts'

/** One GPU instance profile of `nvidia-smi mig -lgip`. */
export interface MigProfile {
  /** Short profile name without the "MIG " prefix, e.g. "1g.10gb", "1g.10gb+me". */
  name: string
  /** GPU instance profile id, e.g. 19 for 1g on 7-slice parts. */
  id: number
  instancesFree: number
  instancesTotal: number
  /** Memory as printed, in GiB with two decimals (e.g. 9.75). */
  memoryGiB: number
  /** memoryGiB in MiB (9.75 -> 9984), the unit nvidia-smi -q reports framebuffer sizes in. */
  memoryMiB: number
  /** Peer-to-peer support ("Yes"/"No"); undefined when N/A. */
  p2p?: boolean
  multiprocessors: number
  decoders?: number
  encoders?: number
  copyEngines?: number
  jpegEngines?: number
  ofaEngines?: number
}

/** Legal placements of one profile: the memory-slice starts and the size every placement takes. */
export interface MigPlacementOptions {
  starts: number[]
  size: number
}

/** One GPU instance of `nvidia-smi mig -lgi`. */
export interface MigGpuInstance {
  /** Short profile name without "MIG ", e.g. "3g.40gb". */
  profile: string
  profileId: number
  gpuInstanceId: number
  placement: { start: number; size: number }
}

/** nvidia-smi GPU index -> profiles, in the order listed. */
export type MigProfileTable = Map<number, MigProfile[]>
/** nvidia-smi GPU index -> profile id -> legal placements. */
export type MigPlacementTable = Map<number, Map<number, MigPlacementOptions>>
/** nvidia-smi GPU index -> GPU instances, in the order listed. */
export type MigInstanceTable = Map<number, MigGpuInstance[]>

const LGIP = 'nvidia-smi mig -lgip'
const LGIPP = 'nvidia-smi mig -lgipp'
const LGI = 'nvidia-smi mig -lgi'

/** What nvidia-smi prints instead of a table when there is nothing to list. */
const NOTHING_FOUND = /^No .*found/i

interface BoxedRow {
  line: number
  cells: string
}

/**
 * Reads one of nvidia-smi's boxed tables: checks the title line, then returns the inner text of
 * each data row (after the "|====|" rule). Returns undefined when nvidia-smi printed a
 * "No ... found" message instead of a table.
 */
function readBoxedTable(text: string, source: string, title: string, expected: string): BoxedRow[] | undefined {
  const rows: BoxedRow[] = []
  let titled = false
  let inBody = false
  let nothing = false
  textLines(text).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || /^\+[-+=]*\+$/.test(line)) return
    if (NOTHING_FOUND.test(line)) {
      nothing = true
      return
    }
    const box = /^\|(.*)\|$/.exec(line)
    if (!box) throw invalidInput(source, `line ${i + 1}: expected ${expected}, got "${line}"`)
    const cells = box[1]!
    if (/^=+$/.test(cells.trim())) {
      inBody = true
      return
    }
    if (!inBody) {
      if (cells.toLowerCase().includes(title.toLowerCase())) titled = true
      return
    }
    rows.push({ line: i + 1, cells })
  })
  if (nothing && !titled) return undefined
  if (!titled || !inBody) throw invalidInput(source, `expected ${expected} (a boxed table titled "${title}"), found none`)
  return rows
}

function parseGiB(value: string, source: string, what: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw invalidInput(source, `${what}: expected GiB like "9.75", got "${value}"`)
  return Number(value)
}

const LGIP_MAIN = /^\s*(\d+)\s+(?:MIG\s+)?(\S+)\s+(\d+)\s+(\d+)\s*\/\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$/
const LGIP_MORE = /^\s*(\S+)\s+(\S+)\s+(\S+)\s*$/

/** Parses `nvidia-smi mig -lgip` into the profiles of each GPU. An empty map when no GPU supports MIG. */
export function parseMigProfiles(text: string): MigProfileTable {
  const expected = 'the GPU instance profile table of `nvidia-smi mig -lgip`'
  const rows = readBoxedTable(text, LGIP, 'GPU instance profiles:', expected)
  const table: MigProfileTable = new Map()
  if (!rows) return table
  let last: MigProfile | undefined
  // The CE/JPEG/OFA line may follow a profile line once.
  let awaitingMore = false
  for (const { line, cells } of rows) {
    const at = `line ${line}`
    const main = LGIP_MAIN.exec(cells)
    if (main) {
      const [, gpu, name, id, free, total, mem, p2p, sm, dec, enc] = main
      const multiprocessors = parseCount(sm!, LGIP, `${at}: SM`)
      if (multiprocessors === undefined) throw invalidInput(LGIP, `${at}: SM: expected a number, got N/A`)
      const memoryGiB = parseGiB(mem!, LGIP, `${at}: Memory`)
      last = {
        name: name!,
        id: Number(id),
        instancesFree: Number(free),
        instancesTotal: Number(total),
        memoryGiB,
        memoryMiB: Math.round(memoryGiB * 1024),
        multiprocessors,
      }
      const p2pFlag = parseYesNo(p2p!, `${at}: P2P`)
      if (p2pFlag !== undefined) last.p2p = p2pFlag
      setCount(last, 'decoders', dec!, `${at}: DEC`)
      setCount(last, 'encoders', enc!, `${at}: ENC`)
      const list = table.get(Number(gpu)) ?? []
      if (list.some((p) => p.id === last!.id)) throw invalidInput(LGIP, `${at}: profile id ${id} listed twice for GPU ${gpu}`)
      pushTo(table, Number(gpu), last)
      awaitingMore = true
      continue
    }
    const more = LGIP_MORE.exec(cells)
    if (more && last && awaitingMore) {
      awaitingMore = false
      setCount(last, 'copyEngines', more[1]!, `${at}: CE`)
      setCount(last, 'jpegEngines', more[2]!, `${at}: JPEG`)
      setCount(last, 'ofaEngines', more[3]!, `${at}: OFA`)
      continue
    }
    throw invalidInput(LGIP, `${at}: expected a profile row "GPU  MIG <name>  <id>  <free>/<total>  <GiB>  <P2P>  <SM> <DEC> <ENC>" or its "<CE> <JPEG> <OFA>" line, got "${cells.trim()}"`)
  }
  return table
}

function parseYesNo(value: string, what: string): boolean | undefined {
  if (/^yes$/i.test(value)) return true
  if (/^no$/i.test(value)) return false
  if (isNotAvailable(value)) return undefined
  throw invalidInput(LGIP, `${what}: expected Yes, No or N/A, got "${value}"`)
}

type EngineField = 'decoders' | 'encoders' | 'copyEngines' | 'jpegEngines' | 'ofaEngines'

function setCount(profile: MigProfile, field: EngineField, value: string, what: string): void {
  const n = parseCount(value, LGIP, what)
  if (n !== undefined) profile[field] = n
}

const LGIPP_LINE = /^GPU\s+(\d+)\s+Profile\s+ID\s+(\d+)\s+Placements?\s*:\s*\{([^}]*)\}\s*:\s*(\d+)$/i

/** Parses `nvidia-smi mig -lgipp` into, per GPU, profile id -> legal placement starts and size. */
export function parseMigPlacements(text: string): MigPlacementTable {
  const table: MigPlacementTable = new Map()
  let sawLine = false
  let nothing = false
  textLines(text).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '') return
    if (NOTHING_FOUND.test(line)) {
      nothing = true
      return
    }
    const m = LGIPP_LINE.exec(line)
    if (!m) throw invalidInput(LGIPP, `line ${i + 1}: expected "GPU <n> Profile ID <id> Placements: {<start>,...}:<size>", got "${line}"`)
    sawLine = true
    const [, gpu, id, starts, size] = m
    const list = starts!.trim() === '' ? [] : starts!.split(',').map((s) => s.trim())
    if (list.some((s) => !/^\d+$/.test(s))) throw invalidInput(LGIPP, `line ${i + 1}: placement starts must be whole numbers, got "{${starts}}"`)
    let byProfile = table.get(Number(gpu))
    if (!byProfile) table.set(Number(gpu), (byProfile = new Map()))
    if (byProfile.has(Number(id))) throw invalidInput(LGIPP, `line ${i + 1}: profile id ${id} listed twice for GPU ${gpu}`)
    byProfile.set(Number(id), { starts: list.map(Number), size: Number(size) })
  })
  if (!sawLine && !nothing) throw invalidInput(LGIPP, 'expected lines like "GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1", found none')
  return table
}

const LGI_ROW = /^\s*(\d+)\s+(?:MIG\s+)?(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s*:\s*(\d+)\s*$/

/**
 * Parses `nvidia-smi mig -lgi`: the GPU instances that exist, with their profile and placement.
 * An empty map when nvidia-smi reports that no MIG-enabled GPU or no GPU instance exists.
 */
export function parseMigInstances(text: string): MigInstanceTable {
  const expected = 'the GPU instance table of `nvidia-smi mig -lgi`'
  const rows = readBoxedTable(text, LGI, 'GPU instances:', expected)
  const table: MigInstanceTable = new Map()
  if (!rows) return table
  for (const { line, cells } of rows) {
    const m = LGI_ROW.exec(cells)
    if (!m) throw invalidInput(LGI, `line ${line}: expected "GPU  MIG <name>  <profile id>  <instance id>  <start>:<size>", got "${cells.trim()}"`)
    const [, gpu, profile, profileId, gi, start, size] = m
    if ((table.get(Number(gpu)) ?? []).some((g) => g.gpuInstanceId === Number(gi))) {
      throw invalidInput(LGI, `line ${line}: GPU instance ${gi} listed twice for GPU ${gpu}`)
    }
    pushTo(table, Number(gpu), {
      profile: profile!,
      profileId: Number(profileId),
      gpuInstanceId: Number(gi),
      placement: { start: Number(start), size: Number(size) },
    })
  }
  return table
}
