// scripts/gpu-check.sh end to end, with a stand-in nvidia-smi that prints the real H100 outputs of test/fixtures.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

const ROOT = join(import.meta.dirname, '..')
const FIXTURES = join(ROOT, 'test/fixtures/nvidia-smi/h100-passthrough')

test('gpu-check.sh publishes the GPU and allocates a whole GPU and a MIG device', () => {
  const bin = mkdtempSync(join(tmpdir(), 'fake-nvidia-smi-'))
  // Answers the read-only queries the script makes, from files captured on a real H100.
  writeFileSync(
    join(bin, 'nvidia-smi'),
    `#!/usr/bin/env bash
case "$*" in
  "-q -x") cat "${FIXTURES}/nvidia-smi-q.xml" ;;
  "mig -lgip") cat "${FIXTURES}/mig-lgip.txt" ;;
  "mig -lgipp") cat "${FIXTURES}/mig-lgipp.txt" ;;
  "topo -m") cat "${FIXTURES}/topo-m.txt" ;;
  --query-gpu=*) cat "${FIXTURES}/query-gpu.csv" ;;
  *) echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 1 ;;
esac
`,
  )
  chmodSync(join(bin, 'nvidia-smi'), 0o755)
  const out = mkdtempSync(join(tmpdir(), 'gpu-check-out-'))
  const r = spawnSync('bash', [join(ROOT, 'scripts/gpu-check.sh'), out], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } })
  assert.equal(r.status, 0, r.stderr + r.stdout)
  const whole = JSON.parse(spawnSync('cat', [join(out, 'allocate-whole.json')], { encoding: 'utf8' }).stdout)
  assert.equal(whole.unallocatable.length, 0)
  assert.equal(whole.allocated[0].status.allocation.devices.results[0].device, 'gpu-0')
  const mig = JSON.parse(spawnSync('cat', [join(out, 'allocate-mig.json')], { encoding: 'utf8' }).stdout)
  assert.equal(mig.unallocatable.length, 0)
  assert.match(mig.allocated[0].status.allocation.devices.results[0].device, /^gpu-0-mig-1g/)
})
