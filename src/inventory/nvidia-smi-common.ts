// Helpers shared by the nvidia-smi parsers: input errors, line splitting, N/A-aware numbers, PCI addresses.

import { GpuplaneError } from '../common/errors.ts'

/** The error every nvidia-smi parser throws on input it cannot read: names the command and what was expected. */
export function invalidInput(source: string, message: string, path?: string): GpuplaneError {
  return new GpuplaneError('INVALID_INPUT', `${source}: ${message}`, path === undefined ? {} : { path })
}

// CSI sequences such as "\x1b[4m" (underline) and "\x1b[0m" (reset) that `nvidia-smi topo -m`
// writes around its header when stdout is a terminal, and sometimes also into files.
const ANSI_CSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g

export function stripAnsi(text: string): string {
  return text.replace(ANSI_CSI, '')
}

/** Lines without ANSI escapes, carriage returns or a byte-order mark. */
export function textLines(text: string): string[] {
  return stripAnsi(text.replace(/^\uFEFF/, '')).split(/\r?\n/)
}

/** nvidia-smi writes "N/A" (and on some fields "[N/A]" or "Not Available") where a value is unknown. */
export function isNotAvailable(value: string): boolean {
  const v = value.trim()
  return v === '' || /^\[?N\/A\]?$/i.test(v) || /^not (available|supported)$/i.test(v) || /^\[not supported\]$/i.test(v)
}

/** A non-negative decimal integer, or undefined for N/A; anything else is an error. */
export function parseCount(value: string, source: string, what: string): number | undefined {
  if (isNotAvailable(value)) return undefined
  const v = value.trim()
  if (!/^\d+$/.test(v)) throw invalidInput(source, `${what}: expected a whole number or N/A, got "${v}"`)
  return Number(v)
}

/** "81559 MiB" -> 81559; N/A -> undefined. nvidia-smi reports framebuffer sizes in MiB. */
export function parseMiB(value: string, source: string, what: string): number | undefined {
  if (isNotAvailable(value)) return undefined
  const m = /^(\d+)\s*MiB$/i.exec(value.trim())
  if (!m) throw invalidInput(source, `${what}: expected "<n> MiB" or N/A, got "${value.trim()}"`)
  return Number(m[1])
}

export interface PciAddress {
  /** Extended BDF, lowercase, 4-digit domain when it fits: "0000:1a:00.0". */
  busId: string
  domain: number
  bus: number
}

/**
 * Normalises the BDF nvidia-smi prints ("00000000:1A:00.0", 8-digit domain, uppercase) to the
 * form of resource.kubernetes.io/pciBusID ("0000:1a:00.0"). A domain above 0xffff (Intel VMD
 * domains such as 10000) keeps all its digits: the KEP-4381 pattern cannot express it, and
 * truncating it would alias another device.
 */
export function parsePciBusId(value: string, source: string, what: string): PciAddress {
  const m = /^([0-9a-f]{1,8}):([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/i.exec(value.trim())
  if (!m) throw invalidInput(source, `${what}: expected a PCI address like "00000000:1A:00.0", got "${value.trim()}"`)
  const domain = parseInt(m[1]!, 16)
  const bus = parseInt(m[2]!, 16)
  const dev = parseInt(m[3]!, 16)
  if (dev > 0x1f) throw invalidInput(source, `${what}: PCI device number ${m[3]} is above 1f in "${value.trim()}"`)
  const busId = `${hex(domain, 4)}:${hex(bus, 2)}:${hex(dev, 2)}.${m[4]}`
  return { busId, domain, bus }
}

/** "pci<domain>:<bus>" as resource.kubernetes.io/pcieRoot writes a root complex (e.g. "pci0000:00"). */
export function pcieRootName(domain: number, bus: number): string {
  return `pci${hex(domain, 4)}:${hex(bus, 2)}`
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0')
}

/** Appends value to the list kept under key, creating the list on first use. */
export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}
