// Reads every object under the paths given with -f: files, folders (recursively, sorted), or - for stdin.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { decodeText, type Decoded, type Foreign, type ObjectCheck } from '../api/decode.ts'
import { GpuplaneError } from '../common/errors.ts'

const EXTENSIONS = /\.(ya?ml|json)$/i

export function listFiles(paths: readonly string[]): string[] {
  const out: string[] = []
  for (const p of paths) {
    if (p === '-') {
      out.push(p)
      continue
    }
    let st
    try {
      st = statSync(p)
    } catch {
      throw new GpuplaneError('INVALID_INPUT', `cannot read ${p}: no such file or folder; pass an existing YAML/JSON file or a folder with -f`, { file: p })
    }
    if (st.isDirectory()) {
      const entries = readdirSync(p, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      const nested = entries.filter((e) => e.isDirectory() || EXTENSIONS.test(e.name)).map((e) => join(p, e.name))
      out.push(...listFiles(nested))
    } else {
      out.push(p)
    }
  }
  return out
}

export function readObjects(paths: readonly string[], checks: ObjectCheck[] = []): { objects: Decoded[]; foreign: Foreign[] } {
  const objects: Decoded[] = []
  const foreign: Foreign[] = []
  for (const file of listFiles(paths)) {
    const text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8')
    const decoded = decodeText(text, file === '-' ? '<stdin>' : file, checks)
    const offset = objects.length + foreign.length
    objects.push(...decoded.objects.map((o) => ({ ...o, seq: o.seq + offset })))
    foreign.push(...decoded.foreign.map((f) => ({ ...f, seq: f.seq + offset })))
  }
  return { objects, foreign }
}
