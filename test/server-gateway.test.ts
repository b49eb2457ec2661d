// The governance kinds through the API (who may read and write Models, Agents, TokenPolicies), and `gpuplane server --demo` serving the AI gateway on its own port end to end.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { hashAgentKey } from '../src/governance/access.ts'
import { cli } from './cli-helpers.ts'
import { api } from './server-invariants.ts'
import { testServer, type TestServer } from './server-helpers.ts'

const G = '/apis/gpuplane.io/v1alpha1'
const MODEL = {
  apiVersion: 'gpuplane.io/v1alpha1',
  kind: 'Model',
  metadata: { name: 'llama' },
  spec: { upstream: { baseURL: 'http://127.0.0.1:8000/v1', model: 'meta-llama/Llama-3.1-8B-Instruct' }, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.2 }, maxTokens: 4096, namespaces: ['team-a'] },
}
const agent = (name: string, namespace: string, keyHashes = [hashAgentKey(`key-${name}`)]) => ({ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Agent', metadata: { name, namespace }, spec: { keyHashes, models: ['llama'] } })
const policy = (namespace: string) => ({ apiVersion: 'gpuplane.io/v1alpha1', kind: 'TokenPolicy', metadata: { name: 'daily', namespace }, spec: { mode: 'hard-clamp', limits: [{ window: 'day', tokens: 1000 }] } })

describe('governance kinds through the API', () => {
  let server: TestServer
  let teamA: string
  before(async () => {
    server = await testServer()
    teamA = await server.namespaceToken('team-a')
  })
  after(async () => {
    await server.close()
  })

  test('Models: every token reads them, only the admin writes them', async () => {
    assert.equal((await server.call('POST', `${G}/models`, { token: teamA, body: MODEL })).status, 403, 'a namespace token cannot approve a model')
    assert.equal((await server.call('POST', `${G}/models`, { body: MODEL })).status, 201)
    const listed = await server.call('GET', `${G}/models`, { token: teamA })
    assert.equal(listed.status, 200)
    assert.deepEqual(listed.body.items.map((m: { metadata: { name: string } }) => m.metadata.name), ['llama'])
    const bad = await server.call('POST', `${G}/models`, { body: { ...MODEL, metadata: { name: 'bad' }, spec: { ...MODEL.spec, maxTokens: 0 } } })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.details.field, 'spec.maxTokens')
  })

  test('Agents and TokenPolicies: a namespace token sees and writes its own namespace only', async () => {
    assert.equal((await server.call('POST', `${G}/namespaces/team-a/agents`, { token: teamA, body: agent('bot', 'team-a') })).status, 201)
    assert.equal((await server.call('POST', `${G}/namespaces/team-b/agents`, { token: teamA, body: agent('bot', 'team-b') })).status, 403)
    assert.equal((await server.call('POST', `${G}/namespaces/team-b/agents`, { body: agent('bot-b', 'team-b') })).status, 201)
    assert.equal((await server.call('POST', `${G}/namespaces/team-a/tokenpolicies`, { token: teamA, body: policy('team-a') })).status, 201)
    assert.equal((await server.call('POST', `${G}/namespaces/team-b/tokenpolicies`, { body: policy('team-b') })).status, 201)
    const agents = await server.call('GET', `${G}/agents`, { token: teamA })
    assert.deepEqual(agents.body.items.map((a: { metadata: { namespace: string; name: string } }) => `${a.metadata.namespace}/${a.metadata.name}`), ['team-a/bot'])
    assert.equal((await server.call('GET', `${G}/namespaces/team-b/agents/bot-b`, { token: teamA })).status, 403)
    const policies = await server.call('GET', `${G}/tokenpolicies`, { token: teamA })
    assert.deepEqual(policies.body.items.map((p: { metadata: { namespace: string } }) => p.metadata.namespace), ['team-a'])
    assert.equal((await server.call('GET', `${G}/tokenpolicies`)).body.items.length, 2, 'the admin sees every namespace')
    // A key in clear is refused with its field path: files and the API hold hashes only.
    const clear = await server.call('POST', `${G}/namespaces/team-a/agents`, { token: teamA, body: agent('leaky', 'team-a', ['my-secret-key']) })
    assert.equal(clear.status, 400)
    assert.equal(clear.body.details.field, 'spec.keyHashes[0]')
  })

  test('the kill switch is the admin\'s: a namespace token can neither disable an Agent nor re-enable, edit or delete a disabled one', async () => {
    const path = `${G}/namespaces/team-a/agents/switch`
    const body = (disabled?: boolean, keyHashes?: string[]) => ({ ...agent('switch', 'team-a', keyHashes), spec: { ...agent('switch', 'team-a', keyHashes).spec, ...(disabled === undefined ? {} : { disabled }) } })
    const disabledByTeam = await server.call('POST', `${G}/namespaces/team-a/agents`, { token: teamA, body: body(true) })
    assert.equal(disabledByTeam.status, 403, 'created disabled by a namespace token')
    assert.equal((await server.call('POST', `${G}/namespaces/team-a/agents`, { token: teamA, body: body() })).status, 201, 'created enabled by its namespace')
    const kill = await server.call('PUT', path, { token: teamA, body: body(true) })
    assert.equal(kill.status, 403, 'disabled by a namespace token')
    assert.match(kill.body.message, /only the admin token can make an Agent disabled/)
    assert.equal((await server.call('PUT', path, { body: body(true) })).status, 200, 'the admin disables it')
    const undo = await server.call('PUT', path, { token: teamA, body: body(false) })
    assert.equal(undo.status, 403, 're-enabled by a namespace token')
    assert.match(undo.body.message, /Agent "switch" is disabled, which only the admin token can undo/)
    assert.equal((await server.call('PUT', path, { token: teamA, body: body(true, [hashAgentKey('new-key')]) })).status, 403, 'edited while disabled')
    assert.equal((await server.call('DELETE', path, { token: teamA })).status, 403, 'deleted (to be made again enabled)')
    assert.equal((await server.call('GET', path, { token: teamA })).body.spec.disabled, true, 'still disabled')
    assert.equal((await server.call('PUT', path, { body: body(false) })).status, 200, 'the admin re-enables it')
    assert.equal((await server.call('PUT', path, { token: teamA, body: body(false, [hashAgentKey('rotated')]) })).status, 200, 'its namespace edits it again')
    assert.equal((await server.call('DELETE', path, { token: teamA })).status, 200, 'and deletes it')
  })

  test('the OpenAPI document has the governance paths and schemas', async () => {
    const doc = (await server.call('GET', '/openapi.json')).body
    for (const path of [`${G}/models`, `${G}/models/{name}`, `${G}/namespaces/{namespace}/agents`, `${G}/namespaces/{namespace}/tokenpolicies/{name}`]) assert.ok(doc.paths[path], `no ${path}`)
    for (const schema of ['Model', 'Agent', 'TokenPolicy', 'AgentList']) assert.ok(doc.components.schemas[schema], `no schema ${schema}`)
  })
})

interface DemoServer {
  child: ChildProcess
  stderr: string
  apiURL: string
  gatewayURL: string
  stop(): Promise<void>
}

const ADMIN = 'server-gateway-test-admin'

/** `gpuplane server --demo` on a SQLite file, both ports any free one; resolves once the demo notice is printed. */
async function startDemo(db: string, extraArgs: string[] = []): Promise<DemoServer> {
  const child = spawn(process.execPath, ['bin/gpuplane.js', 'server', '--demo', '--db', db, '--port', '0', '--log-level', 'warn', ...extraArgs], { env: { ...process.env, GPUPLANE_ADMIN_TOKEN: ADMIN }, stdio: ['ignore', 'ignore', 'pipe'] })
  const server: DemoServer = {
    child,
    stderr: '',
    apiURL: '',
    gatewayURL: '',
    async stop() {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    },
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${server.stderr}`)), 30_000)
    child.stderr!.on('data', (d: Buffer) => {
      server.stderr += d.toString()
      const api = /listening on (http:\/\/\S+)/.exec(server.stderr)
      const gateway = /AI gateway on (http:\/\/\S+)/.exec(server.stderr)
      if (api && gateway && /governance demo/.test(server.stderr) && /\n$/.test(server.stderr)) {
        clearTimeout(timer)
        server.apiURL = api[1]
        server.gatewayURL = gateway[1]
        resolve()
      }
    })
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${server.stderr}`)))
  })
  return server
}

describe('gpuplane server --demo serves the AI gateway', () => {
  const db = join(mkdtempSync(join(tmpdir(), 'gpuplane-server-gateway-')), 'g.db')
  let server: DemoServer
  before(async () => {
    server = await startDemo(db)
  })
  after(async () => {
    await server.stop()
  })

  const keyOf = (text: string, agent: string) => new RegExp(`demo agent key of ${agent} \\(shown this once[^)]*\\): (\\S+)`).exec(text)?.[1] ?? ''
  const chat = (key: string, model: string) =>
    fetch(`${server.gatewayURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello gateway' }] }) })
  let notebookKey = ''

  test('a printed demo key calls demo-echo through the gateway; namespace approval and the cap headers apply', async () => {
    assert.match(server.gatewayURL, /\/v1$/)
    notebookKey = keyOf(server.stderr, 'research/notebook-assistant')
    assert.match(notebookKey, /^gp-/, `a demo key is printed: ${server.stderr}`)
    const models = (await (await fetch(`${server.gatewayURL}/models`, { headers: { authorization: `Bearer ${notebookKey}` } })).json()) as { data: Array<{ id: string }> }
    assert.deepEqual(models.data.map((m) => m.id), ['demo-echo', 'llama-3.1-8b'])
    const res = await chat(notebookKey, 'demo-echo')
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-ratelimit-limit-tokens'), '200000', 'research-daily applies')
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> }
    assert.equal(body.choices[0].message.content, 'echo: hello gateway')
    // support-bot (namespace inference) may not use llama-3.1-8b, approved for research only.
    assert.equal((await chat(keyOf(server.stderr, 'inference/support-bot'), 'llama-3.1-8b')).status, 403)
    assert.equal((await chat('gp-unknown', 'demo-echo')).status, 401)
  })

  test('disabling an agent through the API refuses its next request within a second', async () => {
    const key = keyOf(server.stderr, 'inference/support-bot')
    assert.equal((await chat(key, 'demo-echo')).status, 200)
    const path = `${G}/namespaces/inference/agents/support-bot`
    const current = (await api(server.apiURL, ADMIN, 'GET', path)).body
    assert.equal((await api(server.apiURL, ADMIN, 'PUT', path, { ...current, spec: { ...current.spec, disabled: true } })).status, 200)
    const start = Date.now()
    let status = 200
    while (status !== 403 && Date.now() - start < 3000) status = (await chat(key, 'demo-echo')).status
    assert.equal(status, 403, 'the disabled agent is refused')
    assert.ok(Date.now() - start < 1000, `refused ${Date.now() - start} ms after the change`)
  })

  test('restarting with --demo adds nothing, prints no key, and the first key still works on the new echo', async () => {
    await server.stop()
    server = await startDemo(db)
    assert.match(server.stderr, /governance demo already loaded/)
    assert.doesNotMatch(server.stderr, /demo agent key of/)
    assert.equal((await api(server.apiURL, ADMIN, 'GET', `${G}/agents`)).body.items.length, 3)
    const res = await chat(notebookKey, 'demo-echo')
    assert.equal(res.status, 200, 'demo-echo points at the echo of the new process')
  })
})

test('gateway flags: a source of objects is required, --outage is checked, --no-gateway excludes the gateway flags', async () => {
  const none = await cli(['gateway'])
  assert.equal(none.code, 2)
  assert.match(none.err, /--config FILE, or the store of gpuplane server with --db FILE or --postgres URL/)
  const outage = await cli(['gateway', '--config', 'examples/gateway.yaml', '--outage', 'tokens=maybe'])
  assert.equal(outage.code, 2)
  assert.match(outage.err, /--outage "tokens=maybe" is not CLASS=MODE/)
  const off = await cli(['server', '--no-gateway', '--gateway-port', '7999'])
  assert.equal(off.code, 2)
  assert.match(off.err, /--no-gateway turns off/)
})

describe('gpuplane server --redis with Redis unreachable', () => {
  test('starts, and its gateway fails token limits closed (503) until Redis answers', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'gpuplane-server-no-redis-')), 'g.db')
    const server = await startDemo(db, ['--redis', 'redis://127.0.0.1:1'])
    try {
      const key = /demo agent key of research\/notebook-assistant \(shown this once[^)]*\): (\S+)/.exec(server.stderr)?.[1] ?? ''
      assert.match(key, /^gp-/, `a demo key is printed: ${server.stderr}`)
      const res = await fetch(`${server.gatewayURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo-echo', messages: [{ role: 'user', content: 'hello' }] }) })
      assert.equal(res.status, 503)
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /token counter store is unavailable and tokens limits fail closed/)
    } finally {
      await server.stop()
    }
  })
})
