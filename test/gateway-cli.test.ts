// `gpuplane key create|hash` and `gpuplane gateway --config` with the issue's example configuration, run as a real process.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { hashAgentKey } from '../src/governance/access.ts'
import { cli, tmp } from './cli-helpers.ts'
import { EXAMPLE_KEY, ISSUE_EXAMPLE } from './governance-example.ts'
import { startMockUpstream, type MockUpstream } from './gateway-helpers.ts'

describe('gpuplane key', () => {
  test('create prints a new key once with its hash, and hash agrees', async () => {
    const created = await cli(['key', 'create'])
    assert.equal(created.code, 0)
    const key = /key: +(\S+)/.exec(created.out)?.[1] as string
    const hash = /hash: +(\S+)/.exec(created.out)?.[1] as string
    assert.match(key, /^gp-[A-Za-z0-9_-]{43}$/)
    assert.equal(hash, hashAgentKey(key))
    const hashed = await cli(['key', 'hash', key])
    assert.equal(hashed.out.trim(), hash)
    assert.notEqual((await cli(['key', 'create'])).out, created.out)
  })
})

describe('gpuplane gateway --config', () => {
  let mock: MockUpstream
  before(async () => {
    mock = await startMockUpstream()
  })
  after(async () => {
    await mock.close()
  })

  test('serves the issue example: models listed for the key, a chat call forwarded, an unknown key refused, a disabled agent refused within a second', async () => {
    const config = tmp('gateway.yaml', ISSUE_EXAMPLE.replace('http://127.0.0.1:8000/v1', mock.url))
    const child = spawn(process.execPath, ['bin/gpuplane.js', 'gateway', '--config', config, '--port', '0', '--log-level', 'silent'], { env: { ...process.env, VLLM_API_KEY: 'vllm-secret' } })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = ''
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString()
          const m = /listening on (\S+)/.exec(err)
          if (m) resolve(m[1])
        })
        child.on('exit', (code) => reject(new Error(`gateway exited with ${code}: ${err}`)))
      })
      assert.match(url, /\/v1$/)
      const auth = { authorization: `Bearer ${EXAMPLE_KEY}` }
      const models = (await (await fetch(`${url}/models`, { headers: auth })).json()) as { data: Array<{ id: string }> }
      assert.deepEqual(models.data.map((m) => m.id), ['llama-3.1-8b'])
      const res = await fetch(`${url}/chat/completions`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hello' }] }) })
      assert.equal(res.status, 200)
      assert.ok(res.headers.get('x-ratelimit-limit-tokens') === '200000')
      assert.equal(mock.calls.at(-1)?.body.model, 'meta-llama/Llama-3.1-8B-Instruct')
      assert.equal(mock.calls.at(-1)?.headers.authorization, 'Bearer vllm-secret')
      assert.equal((await fetch(`${url}/models`, { headers: { authorization: 'Bearer nope' } })).status, 401)
      // Kill switch: disabling the agent in the file refuses its next request within a second.
      writeFileSync(config, ISSUE_EXAMPLE.replace('http://127.0.0.1:8000/v1', mock.url).replace('  models: [llama-3.1-8b]', '  models: [llama-3.1-8b]\n  disabled: true'))
      const changed = Date.now()
      let status = 200
      while (status === 200 && Date.now() - changed < 5000) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        status = (await fetch(`${url}/models`, { headers: auth })).status
      }
      assert.equal(status, 403, 'the disabled agent is refused')
      assert.ok(Date.now() - changed < 1000, `refused ${Date.now() - changed} ms after the change`)
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  })

  test('starts with Redis unreachable: degraded, token limits fail closed (503), and says so', async () => {
    const config = tmp('gateway-no-redis.yaml', ISSUE_EXAMPLE.replace('http://127.0.0.1:8000/v1', mock.url))
    const child = spawn(process.execPath, ['bin/gpuplane.js', 'gateway', '--config', config, '--port', '0', '--redis', 'redis://:secret@127.0.0.1:1', '--log-level', 'warn'])
    let err = ''
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => (err += d.toString())) // the JSON log lines
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString()
          const m = /listening on (\S+)/.exec(err)
          if (m) resolve(m[1])
        })
        child.on('exit', (code) => reject(new Error(`gateway exited with ${code}: ${err}`)))
      })
      const res = await fetch(`${url}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${EXAMPLE_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hello' }] }) })
      assert.equal(res.status, 503)
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /token counter store is unavailable and tokens limits fail closed/)
      assert.equal(mock.calls.length, 1, 'nothing more reached the upstream than the first test sent')
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    assert.match(err, /Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\S* cannot be reached: starting degraded/, `a warning at start, without the password: ${err}`)
    assert.match(err, /degraded mode/, 'and the degraded-mode line of the first refused request')
    assert.doesNotMatch(err, /secret/)
  })

  test('a missing config file is invalid input (exit 2) naming the file', async () => {
    const res = await cli(['gateway', '--config', '/nonexistent/gateway.yaml'])
    assert.equal(res.code, 2)
    assert.match(res.err, /cannot read \/nonexistent\/gateway.yaml/)
  })
})
