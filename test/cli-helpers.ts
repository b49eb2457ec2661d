// Helpers shared by the CLI tests: run `gpuplane` in-process and capture its output; write temp files.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../src/cli/main.ts'

/** Runs the CLI with `args` in this process; returns its exit code and what it wrote. */
export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(['node', 'gpuplane', ...args], (s) => void (out += s), (s) => void (err += s))
  return { code, out, err }
}

/** Writes `text` to a new temporary folder as `name`; returns the file's path. */
export function tmp(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gpuplane-test-')), name)
  writeFileSync(file, text)
  return file
}
