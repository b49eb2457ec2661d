// A fake `nvidia-smi` for agent tests: a shell script that prints the recorded H200 outputs (test/fixtures/nvidia-smi/h200-passthrough), and a polling wait.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const FIXTURES = join(import.meta.dirname, 'fixtures', 'nvidia-smi', 'h200-passthrough')
/** The UUID of the recorded H200 (its `nvidia-smi -q -x`). */
export const H200_UUID = 'GPU-247420ef-5061-c4d8-5cb1-c933f0299a49'

export interface FakeNvidiaSmiOptions {
  /**
   * Absent: each `--query-gpu` call prints the next recorded row, cycling. Given: the first
   * recorded row until the file `go` exists in the directory, then the rows from `gate` (0-based) one per
   * call, then the last row for ever.
   */
  gate?: number
  /** Processes `--query-compute-apps` prints on the H200 (none when absent). */
  apps?: ReadonlyArray<{ pid: number; usedMiB: number }>
}

/** Writes `nvidia-smi` into `dir`: `-q` prints the recorded XML, `--query-gpu` recorded rows (with the UUID column), `--query-compute-apps` the `apps` given (none by default). */
export function fakeNvidiaSmi(dir: string, options: FakeNvidiaSmiOptions = {}): { script: string; rows: number } {
  const series = readFileSync(join(FIXTURES, 'util-under-load.csv'), 'utf8').trim().split('\n').slice(1)
  const rows = series.map((line) => {
    const [ts, index, util, memUtil, used, total, power] = line.split(', ')
    return `${ts}, ${index}, ${H200_UUID}, ${util}, ${memUtil}, ${used}, ${total}, ${power}`
  })
  writeFileSync(join(dir, 'rows.csv'), rows.join('\n') + '\n')
  writeFileSync(join(dir, 'q.xml'), readFileSync(join(FIXTURES, 'nvidia-smi-q.xml')))
  writeFileSync(join(dir, 'apps.csv'), [`gpu_uuid, pid, used_gpu_memory [MiB]`, ...(options.apps ?? []).map((a) => `${H200_UUID}, ${a.pid}, ${a.usedMiB} MiB`)].join('\n') + '\n')
  const playback =
    options.gate === undefined
      ? `    n=$(cat "$D/count" 2>/dev/null || echo 0)
    echo $((n + 1)) > "$D/count"
    sed -n "$((n % ${rows.length} + 1))p" "$D/rows.csv" ;;`
      : `    if [ ! -f "$D/go" ]; then sed -n 1p "$D/rows.csv"; exit 0; fi
    n=$(cat "$D/count" 2>/dev/null || echo ${options.gate})
    if [ "$n" -lt ${rows.length - 1} ]; then echo $((n + 1)) > "$D/count"; fi
    sed -n "$((n + 1))p" "$D/rows.csv" ;;`
  const script = join(dir, 'nvidia-smi')
  writeFileSync(
    script,
    `#!/bin/sh
D="${dir}"
case "$1" in
  -q) cat "$D/q.xml" ;;
  --query-gpu=*)
    echo "timestamp, index, uuid, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W]"
${playback}
  --query-compute-apps=*) cat "$D/apps.csv" ;;
  *) echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 2 ;;
esac
`,
  )
  chmodSync(script, 0o755)
  return { script, rows: rows.length }
}

/** Polls `fn` every 25 ms until it is true; throws naming `what` after `timeoutMs`. */
export async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
