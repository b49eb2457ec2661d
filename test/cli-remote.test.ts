// End-to-end tests of the server verbs (login, apply, get, describe, delete, token, audit) against a real `gpuplane server` started once for this file.
//
// Most commands run in this process (main() with its output captured, quick); the exit codes, the
// watch and one round trip run the real bin in a child process, as a user would.
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { freePort } from './free-port.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parse, parseAllDocuments } from 'yaml'
import { applyOne, readFileObjects } from '../src/cli/apply.ts'
import { ApiClient, RemoteError } from '../src/cli/client.ts'
import { configPath } from '../src/cli/config.ts'
import { resolveKind } from '../src/cli/kinds.ts'
import { cli } from './cli-helpers.ts'

const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'gpuplane.js')
const ADMIN = 'gp_test-admin-token'
const DIR = mkdtempSync(join(tmpdir(), 'gpuplane-cli-remote-'))
const CONFIG_HOME = join(DIR, 'config')

let server: ChildProcess
let url = ''
let serverLog = ''

/** Environment of every command: a config folder of its own, the server and admin token unless a test says otherwise. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: CONFIG_HOME, GPUPLANE_SERVER: url, GPUPLANE_TOKEN: ADMIN }
  return env
}

/** Runs the CLI in this process with `env` as process.env (restored after). */
async function run(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const saved = { ...process.env }
  Object.assign(process.env, baseEnv())
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  try {
    return await cli(args)
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  }
}

/** Runs the real bin in a child process. */
function bin(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const full = { ...baseEnv(), ...env }
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete full[k]
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: full }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr })
    })
  })
}

function file(name: string, text: string): string {
  const path = join(DIR, name)
  writeFileSync(path, text)
  return path
}

const TEAMS = `
apiVersion: gpuplane.io/v1alpha1
kind: Namespace
metadata: {name: team-a}
spec: {quota: {gpus: 8}}
---
apiVersion: gpuplane.io/v1alpha1
kind: Namespace
metadata: {name: team-b}
spec: {}
---
apiVersion: gpuplane.io/v1alpha1
kind: Namespace
metadata: {name: team-c}
spec: {}
`

function workloadYaml(name: string, namespace: string, opts: { priority?: number; gpus?: number; labels?: Record<string, string> } = {}): string {
  return `apiVersion: gpuplane.io/v1alpha1
kind: Workload
metadata:
  name: ${name}
  namespace: ${namespace}
  labels: ${JSON.stringify(opts.labels ?? {})}
spec:
  priority: ${opts.priority ?? 0}
  resourceClaims:
    - name: gpus
      spec:
        devices:
          requests:
            - name: gpu
              exactly: {deviceClassName: gpu.nvidia.com, count: ${opts.gpus ?? 1}}
`
}

const CLUSTER = `
apiVersion: gpuplane.io/v1alpha1
kind: Cluster
metadata: {name: test}
spec:
  hosts:
    - name: gpu-node
      gpus: {model: H100-80GB, count: 16}
`

before(async () => {
  const port = await freePort()
  url = `http://127.0.0.1:${port}`
  server = spawn(process.execPath, [BIN, 'server', '--db', join(DIR, 'gpuplane.db'), '--port', String(port), '--gateway-port', '0', '--log-level', 'warn'], { cwd: ROOT, env: { ...process.env, GPUPLANE_ADMIN_TOKEN: ADMIN }, stdio: ['ignore', 'pipe', 'pipe'] })
  server.stdout!.on('data', (d: Buffer) => void (serverLog += d.toString()))
  server.stderr!.on('data', (d: Buffer) => void (serverLog += d.toString()))
  const deadline = Date.now() + 60_000
  for (;;) {
    assert.equal(server.exitCode, null, `the server exited:\n${serverLog}`)
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok).catch(() => false)
    if (ready) break
    assert.ok(Date.now() < deadline, `the server was not ready within 60 s:\n${serverLog}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const classes = await run(['inventory', 'classes'])
  const setup = await run(['apply', '-f', file('teams.yaml', TEAMS), '-f', file('classes.yaml', classes.out), '-f', file('cluster.yaml', CLUSTER)])
  assert.equal(setup.code, 0, setup.err)
})

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.on('exit', r))
    server.kill('SIGTERM')
    await exited
  }
})

/** Polls `get` until the workload's phase is Scheduled (the controller works in the background). */
async function waitScheduled(name: string, namespace: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const r = await run(['get', 'workload', name, '-n', namespace, '-o', 'json'])
    assert.equal(r.code, 0, r.err)
    const o = JSON.parse(r.out) as { status?: { phase?: string } }
    if (o.status?.phase === 'Scheduled') return o as Record<string, unknown>
    assert.ok(Date.now() < deadline, `workload ${namespace}/${name} not scheduled within 30 s: ${r.out}`)
    await new Promise((res) => setTimeout(res, 200))
  }
}

describe('apply, get, describe, delete', () => {
  test('a round trip through the real bin: created, unchanged, configured, described, deleted, gone (exit 3)', async () => {
    const path = file('train.yaml', workloadYaml('train', 'team-c', { priority: 5, gpus: 2 }))
    let r = await bin(['apply', '-f', path])
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out, 'workload.gpuplane.io/train created\n')
    r = await run(['apply', '-f', path])
    assert.equal(r.out, 'workload.gpuplane.io/train unchanged\n', r.err)
    r = await run(['apply', '-f', file('train2.yaml', workloadYaml('train', 'team-c', { priority: 7, gpus: 2 }))])
    assert.equal(r.out, 'workload.gpuplane.io/train configured\n', r.err)

    const placed = await waitScheduled('train', 'team-c')
    assert.equal((placed.spec as { priority: number }).priority, 7)
    r = await run(['get', 'wl', 'train', '-n', 'team-c', '-o', 'yaml'])
    const o = parse(r.out) as { kind: string; metadata: { name: string; resourceVersion: string }; status: { nodeName: string } }
    assert.equal(o.kind, 'Workload')
    assert.equal(o.status.nodeName, 'gpu-node')

    r = await run(['describe', 'workload', 'train', '-n', 'team-c'])
    assert.equal(r.code, 0, r.err)
    assert.match(r.out, /^Name: +train$/m)
    assert.match(r.out, /^Namespace: +team-c$/m)
    assert.match(r.out, /^ {2}Priority: +7$/m)
    assert.match(r.out, /^ {2}Phase: +Scheduled$/m)
    assert.match(r.out, /^ {2}Node: +gpu-node$/m)
    assert.match(r.out, /gpu: 2 x gpu\.nvidia\.com/)
    // Two devices under Devices:, of the claim made for the workload.
    assert.equal(r.out.split('\n').filter((l) => /^ {2}train-gpus +gpu +gpu\.nvidia\.com/.test(l)).length, 2, r.out)
    assert.match(r.out, /^Events:\n(.*\n)*.*admin +create +201/m)
    assert.match(r.out, /admin +update +200/)
    // The node's side: what it publishes, and what the workload's claim holds of it.
    r = await run(['describe', 'node', 'gpu-node'])
    assert.match(r.out, /^Devices: +16 published in 1 ResourceSlice, 2 allocated$/m)
    assert.equal(r.out.split('\n').filter((l) => /^ {2}team-c\/train-gpus +gpu +gpu\.nvidia\.com +gpu-node +gpu-\d+$/.test(l)).length, 2, r.out)

    r = await run(['delete', 'workload', 'train', '-n', 'team-c'])
    assert.equal(r.out, 'workload.gpuplane.io "train" deleted\n', r.err)
    r = await bin(['get', 'workload', 'train', '-n', 'team-c'])
    assert.equal(r.code, 3)
    assert.match(r.err, /^error: .*"train" not found.* \(NOT_FOUND\)\n$/)
  })

  test('apply of the output of get -o yaml is unchanged; status is never applied', async () => {
    await run(['apply', '-f', file('echo.yaml', workloadYaml('echo', 'team-c'))])
    const got = await run(['get', 'workload', 'echo', '-n', 'team-c', '-o', 'yaml'])
    const r = await run(['apply', '-f', file('echo-back.yaml', got.out)])
    assert.equal(r.out, 'workload.gpuplane.io/echo unchanged\n', r.err)
    await run(['delete', 'workload', 'echo', '-n', 'team-c'])
  })

  test('apply fills in -n, refuses another namespace than -n, and reports each failure with its file and field', async () => {
    const noNs = file('nons.yaml', workloadYaml('nons', 'team-c').replace('  namespace: team-c\n', ''))
    let r = await run(['apply', '-f', noNs, '-n', 'team-c'])
    assert.equal(r.out, 'workload.gpuplane.io/nons created\n', r.err)
    r = await run(['apply', '-f', file('mismatch.yaml', workloadYaml('x', 'team-a')), '-n', 'team-c'])
    assert.equal(r.code, 2)
    assert.match(r.err, /mismatch\.yaml \(document 0\): metadata\.namespace: the object is in namespace "team-a", not "team-c"/)
    // One bad object among good ones: the others are applied, the error names the server's field path.
    const mixed = file('mixed.yaml', `${workloadYaml('good-1', 'team-c')}---\n${workloadYaml('bad', 'team-c').replace('count: 1}', 'count: 1, bogus: true}')}---\n${workloadYaml('good-2', 'team-c')}`)
    r = await run(['apply', '-f', mixed])
    assert.equal(r.code, 2, r.err)
    assert.equal(r.out, 'workload.gpuplane.io/good-1 created\nworkload.gpuplane.io/good-2 created\n')
    assert.match(r.err, /^error: .*mixed\.yaml \(document 1\): spec\.resourceClaims\[0\]\.spec\.devices\.requests\[0\]\.exactly: unknown field "bogus".* \(INVALID_INPUT\)\n$/)
    r = await run(['delete', '-f', mixed, '--ignore-not-found'])
    assert.equal(r.out, 'workload.gpuplane.io "good-1" deleted\nworkload.gpuplane.io "good-2" deleted\n', r.err)
    assert.equal(r.code, 0)
    r = await run(['delete', 'wl', 'nons', '-n', 'team-c'])
    assert.equal(r.code, 0, r.err)
  })

  test('a conflict while replacing is retried once after reading the object again', async () => {
    await run(['apply', '-f', file('race.yaml', workloadYaml('race', 'team-c'))])
    const kind = resolveKind('workloads')
    let raced = false
    const client = new (class extends ApiClient {
      override async replace(info: typeof kind, namespace: string | undefined, name: string, object: unknown) {
        if (!raced) {
          raced = true
          // Someone else changes the object between our read and our write.
          const current = await this.get(info, namespace, name)
          await super.replace(info, namespace, name, { ...current, metadata: { ...current.metadata, labels: { other: 'writer' } } })
        }
        return super.replace(info, namespace, name, object)
      }
    })({ server: url, token: ADMIN, serverFrom: 'flag', tokenFrom: 'flag' })
    const [obj] = readFileObjects([file('race2.yaml', workloadYaml('race', 'team-c', { priority: 3 }))], undefined)
    assert.equal(await applyOne(client, obj), 'configured')
    const after = await client.get(kind, 'team-c', 'race')
    assert.equal((after.spec as { priority: number }).priority, 3)
    // A stale resourceVersion is a CONFLICT: exit code 3.
    await assert.rejects(client.replace(kind, 'team-c', 'race', { ...after, metadata: { ...after.metadata, resourceVersion: '1' } }), (e: unknown) => e instanceof RemoteError && e.code === 'CONFLICT' && e.exitCode === 3 && /\(CONFLICT\)$/.test(e.describe()))
    await run(['delete', 'wl', 'race', '-n', 'team-c'])
  })
})

describe('get', () => {
  before(async () => {
    const objs = [
      workloadYaml('alpha', 'team-a', { priority: 10, labels: { tier: 'gold' } }),
      workloadYaml('a-much-longer-workload-name', 'team-a', { priority: 1, gpus: 3, labels: { tier: 'silver' } }),
      workloadYaml('beta', 'team-b', { labels: { tier: 'gold' } }),
    ]
    const r = await run(['apply', '-f', file('list.yaml', objs.join('---\n'))])
    assert.equal(r.code, 0, r.err)
  })

  test('-o json prints a kind: List with the items; a single object as itself', async () => {
    const r = await run(['get', 'workloads', '-n', 'team-a', '-o', 'json'])
    const list = JSON.parse(r.out) as { apiVersion: string; kind: string; metadata: { resourceVersion: string }; items: Array<{ metadata: { name: string } }> }
    assert.equal(list.apiVersion, 'v1')
    assert.equal(list.kind, 'List')
    assert.match(list.metadata.resourceVersion, /^\d+$/)
    assert.deepEqual(list.items.map((i) => i.metadata.name), ['a-much-longer-workload-name', 'alpha'])
    const one = JSON.parse((await run(['get', 'workloads', 'alpha', '-n', 'team-a', '-o', 'json'])).out) as { kind: string }
    assert.equal(one.kind, 'Workload')
    // -o yaml of a list reads back with the same decoder apply uses.
    const yaml = await run(['get', 'workloads', '-A', '-o', 'yaml'])
    assert.equal(parseAllDocuments(yaml.out).length, 1)
    assert.equal((parse(yaml.out) as { kind: string }).kind, 'List')
  })

  test('the table has kubectl columns, aligned with three spaces', async () => {
    const r = await run(['get', 'workloads', '-A'])
    const lines = r.out.trimEnd().split('\n')
    const header = lines[0]
    assert.match(header, /^NAMESPACE {3}NAME {3,}PRIORITY {3}PHASE {3,}NODE {3,}GPUS {3}AGE {3,}REASON$/)
    // Every cell starts where its header starts.
    const starts = [...header.matchAll(/\S+/g)].map((m) => m.index)
    for (const line of lines.slice(1)) {
      for (const s of starts.slice(0, -1)) assert.ok(s === 0 || (line[s - 1] === ' ' && line[s] !== ' '), `misaligned at ${s}:\n${header}\n${line}`)
    }
    assert.ok(lines.some((l) => /^team-a +a-much-longer-workload-name +1 +\S+ +\S+ +3 +/.test(l)), r.out)
    assert.ok(lines.some((l) => /^team-b +beta +0 /.test(l)), r.out)
    assert.equal(lines.length, 4)
    // Without -A there is no NAMESPACE column.
    const one = await run(['get', 'workloads', '-n', 'team-b'])
    assert.match(one.out, /^NAME {3}PRIORITY {3}PHASE/)
  })

  test('kind names: plural, singular, Kind, short name and group-qualified all mean the same', async () => {
    const outputs = new Set<string>()
    for (const kind of ['workloads', 'workload', 'Workload', 'wl', 'workloads.gpuplane.io']) outputs.add((await run(['get', kind, '-n', 'team-a', '-o', 'name'])).out)
    assert.deepEqual([...outputs], ['workload.gpuplane.io/a-much-longer-workload-name\nworkload.gpuplane.io/alpha\n'])
    const nodes = await run(['get', 'no', '-o', 'name'])
    assert.equal(nodes.out, 'node/gpu-node\n')
    for (const kind of ['resourceslices', 'slices', 'deviceclasses', 'dc', 'claims', 'resourceclaims', 'namespaces', 'ns', 'clusters']) {
      const r = await run(['get', kind, '-A'])
      assert.equal(r.code, 0, `${kind}: ${r.err}`)
    }
    const unknown = await run(['get', 'pods'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.err, /unknown resource type "pods"; use one of: nodes\|no, .*workloads\|wl/)
  })

  test('-n shows one namespace, -A every one; an empty namespace says so', async () => {
    const a = await run(['get', 'wl', '-n', 'team-a', '-o', 'name'])
    assert.doesNotMatch(a.out, /beta/)
    const all = await run(['get', 'wl', '-A', '-o', 'name'])
    assert.match(all.out, /alpha/)
    assert.match(all.out, /beta/)
    const none = await run(['get', 'wl'])
    assert.equal(none.code, 0)
    assert.equal(none.out, '')
    assert.equal(none.err, 'No resources found in default namespace.\n')
    const both = await run(['get', 'wl', '-A', '-n', 'team-a'])
    assert.equal(both.code, 2)
  })

  test('-l filters by labels', async () => {
    const gold = await run(['get', 'wl', '-A', '-l', 'tier=gold', '-o', 'name'])
    assert.equal(gold.out, 'workload.gpuplane.io/alpha\nworkload.gpuplane.io/beta\n')
    const notGold = await run(['get', 'wl', '-A', '-l', 'tier notin (gold)', '-o', 'name'])
    assert.equal(notGold.out, 'workload.gpuplane.io/a-much-longer-workload-name\n')
    const bad = await run(['get', 'wl', '-A', '-l', 'tier in gold'])
    assert.equal(bad.code, 2)
    assert.match(bad.err, /labelSelector: .*\(INVALID_INPUT\)/)
  })

  test('--watch prints the list, then a row per change', async () => {
    const child = spawn(process.execPath, [BIN, 'get', 'wl', '-n', 'team-b', '--watch'], { cwd: ROOT, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (d: Buffer) => void (out += d.toString()))
    const seen = (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} in:\n${out}`)), 30_000)
        const check = () => {
          if (!re.test(out)) return
          clearTimeout(timer)
          child.stdout!.off('data', check)
          resolve()
        }
        child.stdout!.on('data', check)
        check()
      })
    try {
      await seen(/^beta /m)
      await run(['apply', '-f', file('watched.yaml', workloadYaml('watched', 'team-b'))])
      await seen(/^watched /m)
      await run(['delete', 'wl', 'watched', '-n', 'team-b'])
      await seen(/^watched .* Deleted /m)
    } finally {
      child.kill('SIGTERM')
    }
    assert.match(out, /^NAME +PRIORITY {3}PHASE/)
  })
})

describe('tokens and namespaces', () => {
  test('a namespace token sees and changes its namespace only', async () => {
    const created = await run(['token', 'create', '--namespace', 'team-a', '--description', 'team a CI'])
    assert.equal(created.code, 0, created.err)
    const token = created.out.trim()
    assert.match(token, /^gp_[A-Za-z0-9_-]{43}$/)
    assert.match(created.err, /Store it now/)
    const asTeam = { GPUPLANE_TOKEN: token }
    const own = await run(['get', 'wl', '-n', 'team-a', '-o', 'name'], asTeam)
    assert.match(own.out, /alpha/)
    const other = await run(['get', 'wl', '-n', 'team-b'], asTeam)
    assert.equal(other.code, 4)
    assert.match(other.err, /\(FORBIDDEN\)\n$/)
    const all = await run(['get', 'wl', '-A', '-o', 'name'], asTeam)
    assert.doesNotMatch(all.out, /beta/)
    assert.match(all.out, /alpha/)
    const write = await run(['apply', '-f', file('intrude.yaml', workloadYaml('intruder', 'team-b'))], asTeam)
    assert.equal(write.code, 4)
    assert.match(write.err, /\(FORBIDDEN\)/)
    // Cluster-scoped kinds are readable.
    assert.equal((await run(['get', 'nodes', '-o', 'name'], asTeam)).out, 'node/gpu-node\n')
    // Only the admin manages tokens.
    assert.equal((await run(['token', 'create', '--namespace', 'team-b'], asTeam)).code, 4)
    const list = await run(['token', 'list'])
    assert.match(list.out, /^ID +NAMESPACE {3}DESCRIPTION +AGE\n/)
    const row = list.out.split('\n').find((l) => l.includes('team a CI'))
    assert.ok(row, list.out)
    const id = row.split(/\s+/)[0]
    assert.equal((await run(['token', 'delete', id])).out, `token ${id} deleted\n`)
    const revoked = await run(['get', 'wl', '-n', 'team-a'], asTeam)
    assert.equal(revoked.code, 4)
    assert.match(revoked.err, /\(UNAUTHORIZED\)/)
  })

  test('audit lists the writes with who made them', async () => {
    const r = await run(['audit', '-n', 'team-a', '--kind', 'wl', '--limit', '1000'])
    assert.equal(r.code, 0, r.err)
    assert.match(r.out, /^ID {3,}TIME {3,}ACTOR {3,}ACTION/)
    assert.match(r.out, /admin +create +Workload +team-a +alpha +201/)
    const json = JSON.parse((await run(['audit', '-n', 'team-a', '-o', 'json'])).out) as { items: Array<{ namespace?: string }> }
    assert.ok(json.items.length > 0 && json.items.every((e) => e.namespace === 'team-a'))
  })
})

describe('connection settings and exit codes', () => {
  test('login writes the config file (0600); flags beat the environment, which beats the file', async () => {
    const unreachable = 'http://127.0.0.1:9'
    const login = await run(['login', '--server', url, '--token', ADMIN], { GPUPLANE_SERVER: undefined, GPUPLANE_TOKEN: undefined })
    assert.equal(login.code, 0, login.err)
    const path = configPath({ XDG_CONFIG_HOME: CONFIG_HOME })
    assert.equal(path, join(CONFIG_HOME, 'gpuplane', 'config.yaml'))
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.deepEqual(parse(readFileSync(path, 'utf8')), { server: url, token: ADMIN })
    // The file alone.
    const fromFile = await run(['get', 'ns', '-o', 'name'], { GPUPLANE_SERVER: undefined, GPUPLANE_TOKEN: undefined })
    assert.equal(fromFile.code, 0, fromFile.err)
    // The environment beats the file...
    const envServer = await run(['get', 'ns'], { GPUPLANE_SERVER: unreachable, GPUPLANE_TOKEN: undefined })
    assert.equal(envServer.code, 5)
    assert.match(envServer.err, /http:\/\/127\.0\.0\.1:9 \(connection refused; server from the environment\)/)
    const envToken = await run(['get', 'ns'], { GPUPLANE_SERVER: undefined, GPUPLANE_TOKEN: 'gp_wrong' })
    assert.equal(envToken.code, 4)
    assert.match(envToken.err, /; the token came from the environment \(UNAUTHORIZED\)\n$/)
    // ...and flags beat the environment.
    const flags = await run(['get', 'ns', '-o', 'name', '--server', url, '--token', ADMIN], { GPUPLANE_SERVER: unreachable, GPUPLANE_TOKEN: 'gp_wrong' })
    assert.equal(flags.code, 0, flags.err)
    assert.match(flags.out, /namespace\.gpuplane\.io\/team-a/)
  })

  test('exit codes of the real bin: unauthorized 4, unreachable 5, invalid input 2', async () => {
    const noToken = await bin(['get', 'wl'], { GPUPLANE_TOKEN: undefined, XDG_CONFIG_HOME: join(DIR, 'empty-config') })
    assert.equal(noToken.code, 4)
    assert.match(noToken.err, /\(UNAUTHORIZED\)\n$/)
    assert.match(noToken.err, /no token was given: pass --token, set GPUPLANE_TOKEN or run "gpuplane login/)
    const port = await freePort()
    const down = await bin(['get', 'wl', '--server', `http://127.0.0.1:${port}`])
    assert.equal(down.code, 5)
    assert.equal(down.err, `error: cannot reach the gpuplane server at http://127.0.0.1:${port} (connection refused; server from the command line): start one with "gpuplane server --db gpuplane.db" (or "npm start"), or point --server, GPUPLANE_SERVER or "gpuplane login" at a running one\n`)
    const bad = await bin(['apply', '-f', file('bad.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n')])
    assert.equal(bad.code, 2)
    assert.match(bad.err, /bad\.yaml \(document 0\): kind: kind Pod of apiVersion v1 is not served by gpuplane/)
  })
})
