// cel-go ext.Strings `format`: printf-style clauses %s %d %f %e %b %o %x %X and %%.
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator'
import { Quantity } from '../api/quantity.ts'
import { Semver } from '../api/semver.ts'
import { celTypeName, evalError, listItems } from './values.ts'

/** `%s` rendering of a value (cel-go's string conversion for format). */
export function formatString(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v
    case 'bigint':
    case 'boolean':
      return String(v)
    case 'number':
      return formatDouble(v)
  }
  if (v === null || v === undefined) return 'null'
  if (v instanceof UnsignedInt) return v.toString()
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8')
  if (v instanceof Date) return v.toISOString().replace('.000Z', 'Z')
  if (v instanceof Duration) return v.toString()
  if (v instanceof Quantity || v instanceof Semver) return v.toString()
  if (Array.isArray(v) || v instanceof Set) return `[${listItems(v).map(formatString).join(', ')}]`
  if (v instanceof Map || typeof v === 'object') {
    const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object)
    const parts = entries.map(([k, x]) => `${formatString(k)}: ${formatString(x)}`).sort()
    return `{${parts.join(', ')}}`
  }
  return String(v)
}

function formatDouble(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return 'Infinity'
  if (v === -Infinity) return '-Infinity'
  return String(v)
}

function integer(v: unknown, clause: string): bigint {
  if (typeof v === 'bigint') return v
  if (v instanceof UnsignedInt) return v.valueOf()
  if (typeof v === 'boolean' && clause !== 'd') return v ? 1n : 0n
  throw evalError(`error during formatting: ${clause} clause can only be used on integers, was given ${celTypeName(v)}`)
}

function fixed(v: unknown, precision: number, clause: string): string {
  let n: number
  if (typeof v === 'number') n = v
  else if (typeof v === 'bigint') n = Number(v)
  else if (v instanceof UnsignedInt) n = Number(v.valueOf())
  else throw evalError(`error during formatting: ${clause} clause can only be used on doubles, was given ${celTypeName(v)}`)
  if (!Number.isFinite(n)) return formatDouble(n)
  if (clause === 'f') return n.toFixed(precision)
  // Go's %e: at least two exponent digits.
  return n.toExponential(precision).replace(/e([+-])(\d)$/, 'e$10$2')
}

function hex(v: unknown, upper: boolean): string {
  let s: string
  if (typeof v === 'string') s = Buffer.from(v, 'utf8').toString('hex')
  else if (v instanceof Uint8Array) s = Buffer.from(v).toString('hex')
  else {
    const n = integer(v, 'x')
    s = n < 0n ? `-${(-n).toString(16)}` : n.toString(16)
  }
  return upper ? s.toUpperCase() : s
}

/** `"template".format([args])`. */
export function formatTemplate(template: string, argList: unknown): string {
  const args = listItems(argList)
  let out = ''
  let next = 0
  for (let i = 0; i < template.length; i++) {
    const c = template[i]
    if (c !== '%') {
      out += c
      continue
    }
    let j = i + 1
    if (template[j] === '%') {
      out += '%'
      i = j
      continue
    }
    let precision: number | undefined
    const m = /^\.(\d+)/.exec(template.slice(j))
    if (m) {
      precision = Number(m[1])
      j += m[0].length
    }
    const verb = template[j]
    if (verb === undefined) throw evalError('error during formatting: unexpected end of string')
    if (next >= args.length) throw evalError(`index ${next} out of range`)
    const v = args[next++]
    switch (verb) {
      case 's':
        out += formatString(v)
        break
      case 'd':
        out += integer(v, 'd').toString()
        break
      case 'f':
      case 'e':
        out += fixed(v, precision ?? 6, verb)
        break
      case 'b':
        out += integer(v, 'b').toString(2)
        break
      case 'o':
        out += integer(v, 'o').toString(8)
        break
      case 'x':
      case 'X':
        out += hex(v, verb === 'X')
        break
      default:
        throw evalError(`could not parse formatting clause: unrecognized formatting clause "${verb}"`)
    }
    i = j
  }
  return out
}

/** `strings.quote(s)`: a double-quoted CEL string literal for s. */
export function quote(s: string): string {
  let out = '"'
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number
    switch (ch) {
      case '\\':
        out += '\\\\'
        break
      case '"':
        out += '\\"'
        break
      case '\n':
        out += '\\n'
        break
      case '\r':
        out += '\\r'
        break
      case '\t':
        out += '\\t'
        break
      case '\x07':
        out += '\\a'
        break
      case '\b':
        out += '\\b'
        break
      case '\f':
        out += '\\f'
        break
      case '\v':
        out += '\\v'
        break
      default:
        out += cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : ch
    }
  }
  return out + '"'
}
