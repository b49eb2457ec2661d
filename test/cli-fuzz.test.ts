// Bad-input fuzzing: random mutations of valid YAML never crash `gpuplane allocate` (exit 2 with a message, never 1).
// FUZZ_RUNS=N raises the number of mutations (default: modest, to keep npm test fast).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { parse, stringify } from 'yaml'
import { decodeText } from '../src/api/decode.ts'
import { GpuplaneError } from '../src/common/errors.ts'
import { runAllocate } from '../src/cli/allocate.ts'
import { main } from '../src/cli/main.ts'

const RUNS = Number(process.env.FUZZ_RUNS ?? 200)
const EXAMPLE = readFileSync(join(import.meta.dirname, '..', 'examples', 'gpu-node.yaml'), 'utf8')
const DOCS: unknown[] = EXAMPLE.split(/^---$/m)
  .map((d) => parse(d))
  .filter((d) => d)

type Path = Array<string | number>

function paths(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix]
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])))
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]))
  return out
}

function setAt(root: unknown, path: Path, fn: (old: unknown) => unknown): unknown {
  if (path.length === 0) return fn(root)
  const [head, ...rest] = path
  const copy: any = Array.isArray(root) ? [...root] : { ...(root as object) }
  copy[head] = setAt(copy[head], rest, fn)
  if (copy[head] === undefined) {
    if (Array.isArray(copy)) copy.splice(head as number, 1)
    else delete copy[head]
  }
  return copy
}

const replacement = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.integer({ min: -5, max: 100000 }),
  fc.constantFrom('', 'x', '-1', '1e400', '10Gi', 'NaN', 'a/b/c', 'ÄÖ', 'device.driver ==', "device.attributes['x'].y", '0.000000001', 'ExactCount', 'All', 'Bogus'),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.string({ maxLength: 80 }),
)

test('mutated documents are either valid or refused as invalid input with a location', () => {
  const all = DOCS.flatMap((doc, d) => paths(doc).map((p) => [d, p] as [number, Path]))
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...all), replacement), { minLength: 1, maxLength: 3 }), (mutations) => {
      const docs = [...DOCS]
      for (const [[d, p], value] of mutations) docs[d] = setAt(docs[d], p, () => value)
      const text = docs.map((d) => stringify(d)).join('---\n')
      try {
        decodeText(text, 'fuzz.yaml')
      } catch (e) {
        assert.ok(e instanceof GpuplaneError, `crashed with ${(e as Error)?.stack}`)
        assert.ok(e.exitCode === 2 || e.exitCode === 3, `${e.code} maps to exit ${e.exitCode}`)
        assert.ok(e.message.length > 0)
        return
      }
    }),
    { numRuns: RUNS },
  )
})

test('mutated documents never make the CLI exit 1', async () => {
  const all = DOCS.flatMap((doc, d) => paths(doc).map((p) => [d, p] as [number, Path]))
  const samples = fc.sample(fc.array(fc.tuple(fc.constantFrom(...all), replacement), { minLength: 1, maxLength: 2 }), { numRuns: Math.ceil(RUNS / 4), seed: 42 })
  const { writeFileSync, mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'gpuplane-fuzz-'))
  for (const [i, mutations] of samples.entries()) {
    const docs = [...DOCS]
    for (const [[d, p], value] of mutations) docs[d] = setAt(docs[d], p, () => value)
    const file = join(dir, `m${i}.yaml`)
    writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'))
    let err = ''
    const code = await main(['node', 'gpuplane', 'allocate', '-f', file], () => {}, (s) => void (err += s))
    assert.notEqual(code, 1, `exit 1 on ${file}: ${err}`)
    if (code === 2) assert.match(err, /^error: /)
  }
  // And the unmutated example allocates fully.
  assert.equal(runAllocate({ files: [join(import.meta.dirname, '..', 'examples', 'gpu-node.yaml')], output: 'json' }).unallocatable.length, 0)
})
