// `gpuplane server` as a process: prints where it listens and the admin token once, serves, and stops cleanly on SIGTERM and SIGINT.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { cli } from './cli-helpers.ts'
import { workload, WORKLOADS } from './server-helpers.ts'
import { api, startServer } from './server-invariants.ts'

test('gpuplane server --help documents the store, the admin token, the paths and the flags', async () => {
  const { code, out } = await cli(['server', '--help'])
  assert.equal(code, 0)
  for (const text of ['--db <FILE>', '--postgres <URL>', '--port <N>', '--host <ADDRESS>', '--demo', '--log-level <LEVEL>', '--reset-admin-token', '--body-limit <BYTES>', '--raw-retention <DURATION>', '--minute-retention <DURATION>', 'GPUPLANE_ADMIN_TOKEN', '/openapi.json', 'SIGTERM']) {
    assert.ok(out.includes(text), `help mentions ${text}`)
  }
})

test('gpuplane server --db and --postgres exclude each other; a bad port is invalid input', async () => {
  assert.equal((await cli(['server', '--db', 'x.db', '--postgres', 'postgres://x/y'])).code, 2)
  const bad = await cli(['server', '--port', '70000'])
  assert.equal(bad.code, 2)
  assert.match(bad.err, /--port must be a whole number from 0 to 65535/)
})

test('gpuplane server: the telemetry retention flags take durations, minute rows outliving raw samples', async () => {
  const word = await cli(['server', '--raw-retention', 'a day'])
  assert.equal(word.code, 2)
  assert.match(word.err, /--raw-retention "a day" is not a duration/)
  const inverted = await cli(['server', '--raw-retention', '48h', '--minute-retention', '24h'])
  assert.equal(inverted.code, 2)
  assert.match(inverted.err, /--minute-retention \(24h\) must be longer than --raw-retention \(48h\)/)
})

test('gpuplane server: the admin token is printed at the first start only; SIGTERM and SIGINT stop it with exit code 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuplane-server-'))
  const db = join(dir, 'g.db')
  const env = { GPUPLANE_ADMIN_TOKEN: '' }
  try {
    const first = await startServer(['--db', db], env)
    const token = /admin token \(shown this once; only its hash is stored\): (gp_\S+)/.exec(first.stderr())?.[1]
    assert.ok(token, first.stderr())
    assert.match(first.stderr(), new RegExp(`listening on http://127\\.0\\.0\\.1:\\d+ \\(store: SQLite ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`))
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200)
    assert.equal((await api(first.url, token, 'POST', WORKLOADS, workload('kept'))).status, 201)
    const exited = once(first.child, 'exit')
    first.child.kill('SIGTERM')
    assert.deepEqual(await exited, [0, null])
    assert.match(first.stderr(), /SIGTERM: shutting down/)
    assert.match(first.stderr(), /gpuplane server stopped/)

    const second = await startServer(['--db', db], env)
    assert.ok(!/gp_/.test(second.stderr()), 'the token is not printed again')
    assert.match(second.stderr(), /restart with --reset-admin-token/)
    const kept = await api(second.url, token, 'GET', `${WORKLOADS}/kept`)
    assert.equal(kept.status, 200, 'the data and the admin token survive the restart')
    const exited2 = once(second.child, 'exit')
    second.child.kill('SIGINT')
    assert.deepEqual(await exited2, [0, null])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
