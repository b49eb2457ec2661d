// The dashboard end to end: a real `gpuplane server --demo` and Debian's Chromium driven by playwright-core; login, every view, live updates, the agent kill switch, no console errors. Screenshots go to test/screenshots/.
//
// Needs /usr/bin/chromium (.ci/run installs it with apt-get when missing). The dashboard is built
// first (web/build.ts into dist/web, what `npm run build` does), as the server serves it from there.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core'
import { registerDashboardRoutes } from '../src/server/dashboard.ts'
import { installStatusHandlers } from '../src/server/status.ts'
import { buildDashboard } from '../web/build.ts'
import { freePort } from './free-port.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CHROMIUM = '/usr/bin/chromium'
const SHOTS = join(ROOT, 'test/screenshots')
const TOKEN = 'dashboard-test-admin-token'
const GP = '/apis/gpuplane.io/v1alpha1'
/** Endpoints other parts of gpuplane add; while a server lacks them the dashboard says so, and the browser logs their 404. */
const OPTIONAL_ENDPOINTS = /\/apis\/gpuplane\.io\/v1alpha1\/(usage|telemetry\/utilization|idle)\b/

describe('dashboard static files (no browser)', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gp-dash-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('serves the files of the folder, says how to build it when it is empty, and never leaves it', async () => {
    const app = Fastify()
    installStatusHandlers(app)
    registerDashboardRoutes(app, dir + '/')
    const notBuilt = await app.inject({ method: 'GET', url: '/' })
    assert.equal(notBuilt.statusCode, 503, 'an unbuilt dashboard answers 503')
    assert.match(notBuilt.body, /npm run build/, 'the page says how to build the dashboard')
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>x</title>')
    await writeFile(join(dir, 'app.js'), 'console.log(1)')
    await writeFile(join(dir, '.secret'), 'hidden')
    assert.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200, 'index.html is served at /')
    const js = await app.inject({ method: 'GET', url: '/app.js' })
    assert.equal(js.statusCode, 200, 'a file of the folder is served')
    assert.match(String(js.headers['content-type']), /text\/javascript/, 'with its media type')
    for (const url of ['/../package.json', '/%2e%2e/package.json', '/.secret', '/nothing.js', '/apis/none']) {
      const res = await app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 404, `${url} is not served`)
      assert.equal(JSON.parse(res.body).reason, 'NOT_FOUND', `${url} answers the API's 404 Status`)
    }
    await app.close()
  })
})

describe('dashboard in Chromium against gpuplane server --demo', { timeout: 180_000 }, () => {
  let server: ChildProcess
  let dataDir: string
  let base: string
  let browser: Browser
  let page: Page
  let serverLog = ''
  const consoleErrors: string[] = []

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })
    return { status: res.status, body: (await res.json()) as any }
  }

  async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    const end = Date.now() + timeoutMs
    for (;;) {
      const v = await f().catch(() => undefined)
      if (v !== undefined) return v
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; server log:\n${serverLog.slice(-2000)}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false })

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`)
    await buildDashboard()
    // Only this file writes there: start empty, so that every screenshot is from this run.
    await rm(SHOTS, { recursive: true, force: true })
    await mkdir(SHOTS, { recursive: true })
    dataDir = await mkdtemp(join(tmpdir(), 'gp-dash-e2e-'))
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    server = spawn(process.execPath, [join(ROOT, 'bin/gpuplane.js'), 'server', '--demo', '--db', join(dataDir, 'gp.db'), '--port', String(port), '--gateway-port', '0', '--log-level', 'warn'], {
      env: { ...process.env, GPUPLANE_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    server.stdout?.on('data', (d) => (serverLog += d))
    server.stderr?.on('data', (d) => (serverLog += d))
    await waitFor('the server to be ready', async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined), 30_000)
    // The controller publishes the demo Cluster and schedules its workloads shortly after start.
    await waitFor('the demo to be scheduled', async () => {
      const { body } = await call('GET', `${GP}/namespaces/research/workloads/llm-pretrain`)
      return body.status?.nodeName ? true : undefined
    })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'], timeout: 30_000 })
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    page.setDefaultTimeout(20_000) // generous: npm test runs every file at once on small machines
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() !== 'error') return
      if (OPTIONAL_ENDPOINTS.test(m.location().url) && /status of 404/.test(m.text())) return
      consoleErrors.push(`${m.text()} (${m.location().url})`)
    })
    page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`))
  })

  after(async () => {
    await browser?.close()
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r))
      server.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
      if (server.exitCode === null) server.kill('SIGKILL')
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  test('login: a wrong token gets a clear 401 message, the admin token opens the cluster view', async () => {
    await page.goto(base + '/')
    await page.fill('#token', 'not-a-token')
    await page.click('form.login button[type=submit]')
    await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor()
    await shot('01-login-refused')
    consoleErrors.length = 0 // the refused login's 401 is logged by the browser, on purpose
    await page.fill('#token', TOKEN)
    await page.click('form.login button[type=submit]')
    await page.locator('h1', { hasText: 'Cluster' }).waitFor()
    assert.equal(await page.evaluate('sessionStorage.getItem("gpuplane.token")'), TOKEN, 'the token is kept in sessionStorage')
    assert.match(await page.locator('#who').innerText(), /admin/, 'the header says who is signed in')
  })

  test('cluster: nodes by GPU model, NVLink domains, MIG blocks at their placement, details on focus', async () => {
    await page.goto(base + '/#/cluster')
    for (const model of ['H100-80GB', 'A100-40GB', 'L40S-48GB', 'T4-16GB', 'A10-24GB']) await page.locator('section.model-group h2', { hasText: model }).first().waitFor()
    await page.locator('[data-node="h100-mig"]').waitFor()
    // Nodes and their slices arrive on separate watch streams: wait for the slice-drawn frame rather than sampling once.
    const nvlink = page.locator('[data-node="h100-sxm-0"] .nvlink-label', { hasText: 'h100-sxm-0-nvl0' })
    await nvlink.first().waitFor()
    assert.equal(await nvlink.count(), 1, 'the NVLink domain of h100-sxm-0 is framed and named once')
    assert.equal(await page.locator('[data-node="vm-h100"] h3').innerText().then((t) => /virtual machine on h100-sxm-1/.test(t)), true, 'a VM node says which host it runs on')
    // The fixed MIG layout of h100-mig gpu-7: 3g.40gb on memory slices 4-7, i.e. starting half-way.
    const fixed = page.locator('[data-gpu="h100-mig/gpu-7"] .part', { hasText: '3g.40gb' })
    assert.equal(await fixed.evaluate((el) => el.style.left), '50%', '3g.40gb is drawn at its placement (slice 4 of 8)')
    // A memory share of the shared A10, on hover.
    await page.locator('[data-gpu="a10-shared/gpu-0"]').hover()
    await page.locator('aside.details', { hasText: 'memory shares' }).waitFor()
    await shot('02-cluster-overview')
    // The inference namespace's embed workload holds a 1g.10gb of gpu-0 (dynamic MIG): a coloured block; focus shows who.
    const embed = page.locator('[data-gpu="h100-mig/gpu-0"] .part.held', { hasText: '1g.10gb' })
    await page.mouse.move(1, 1) // hover shows details too: keep the pointer away while testing focus
    await embed.focus()
    const details = page.locator('aside.details', { hasText: 'Memory slices' })
    await details.filter({ hasText: 'inference/embed' }).waitFor()
    assert.match(await details.innerText(), /migPlacementStart/, 'the details list the device attributes')
    // A whole GPU held by the research pre-training run.
    assert.match((await page.locator('[data-gpu="h100-sxm-0/gpu-0"]').getAttribute('aria-label')) ?? '', /held by research\/llm-pretrain/, 'a whole GPU names its holder')
    await page.locator('[data-node="h100-mig"]').scrollIntoViewIfNeeded()
    await shot('03-cluster-mig-details')
  })

  test('workloads: pending with reasons, running with devices, quota; a workload created through the API appears live', async () => {
    await page.goto(base + '/#/workloads')
    const pending = page.locator('[data-table="pending"]')
    await pending.locator('tr', { hasText: 'too-big' }).waitFor()
    assert.match(await pending.locator('tr', { hasText: 'batch-sweep' }).innerText(), /quota/, 'the quota reason is shown')
    // Running workloads list their devices (the pool/device of each allocation result).
    await page.locator('[data-table="running"] tr', { hasText: 'llm-pretrain' }).filter({ hasText: 'h100-sxm-0/gpu-7' }).waitFor()
    await page.locator('[data-table="quota"] tr', { hasText: 'research' }).filter({ hasText: 'of 24' }).waitFor()
    await page.locator('section[aria-labelledby="quota-h"] .chart svg').first().waitFor()
    await page.evaluate('window.marker = 42')
    const created = await call('POST', `${GP}/namespaces/research/workloads`, {
      apiVersion: 'gpuplane.io/v1alpha1',
      kind: 'Workload',
      metadata: { name: 'live-probe' },
      spec: { priority: 5, resourceClaims: [{ name: 'gpu', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', count: 1, selectors: [{ cel: { expression: "device.attributes['gpu.nvidia.com'].productName == 'Tesla T4'" } }] } }] } } }] },
    })
    assert.equal(created.status, 201, `the workload is created: ${JSON.stringify(created.body)}`)
    await page.locator('[data-table="running"] tr, [data-table="pending"] tr', { hasText: 'live-probe' }).first().waitFor()
    // Scheduled by the controller: it moves to the running table, still without a reload.
    await page.locator('[data-table="running"] tr', { hasText: 'live-probe' }).waitFor({ timeout: 15_000 })
    assert.equal(await page.evaluate('window.marker'), 42, 'the page was not reloaded')
    await shot('04-workloads')
  })

  test('utilization: allocated vs used per model and namespace, idle allocations (or a clear note where the server lacks them)', async () => {
    await page.goto(base + '/#/utilization')
    for (const id of ['by-model-h', 'by-ns-h', 'idle-h']) {
      const section = page.locator(`section[aria-labelledby="${id}"]`)
      await section.locator(`#${id}`).waitFor()
      await section.locator('.chart svg, table, .notice, p.muted').first().waitFor()
    }
    await page.waitForTimeout(500)
    await shot('05-utilization')
  })

  test('governance: models with namespaces, agents with caps and refusals; the admin disables an agent', async () => {
    await page.goto(base + '/#/governance')
    const models = page.locator('[data-table="models"]')
    await models.locator('tr', { hasText: 'demo-echo' }).waitFor()
    assert.match(await models.locator('tr', { hasText: 'llama-3.1-8b' }).innerText(), /allowed/, 'models show which namespaces may use them')
    const agents = page.locator('[data-table="agents"]')
    await agents.locator('tr', { hasText: 'retired-bot' }).locator('[data-state="disabled"]').waitFor()
    assert.match(await agents.locator('tr', { hasText: 'notebook-assistant' }).innerText(), /research-daily/, 'an agent lists the caps covering it')
    await page.locator('section[aria-labelledby="usage-h"] h2').waitFor()
    await shot('06-governance')
    await agents.locator('button[data-agent="inference/support-bot"]').click()
    await page.locator('.action-status .notice.ok').waitFor()
    const agent = await call('GET', `${GP}/namespaces/inference/agents/support-bot`)
    assert.equal(agent.body.spec.disabled, true, 'the Agent is disabled in the API')
    await agents.locator('tr', { hasText: 'support-bot' }).locator('[data-state="disabled"]').waitFor()
    await shot('07-governance-agent-disabled')
  })

  test('governance: token use against each cap and recent refusals, from the usage ledger (its answers supplied in the browser)', async () => {
    // The ledger's entries are made up here (page.route answers GET .../usage in the browser), so
    // the charts and the refusals have known content whatever traffic the demo has seen.
    const now = Date.now()
    const entry = (id: string, agent: string, namespace: string, outcome: string, promptTokens: number, completionTokens: number, extra: Record<string, unknown> = {}) => ({ id, time: now - 100, namespace, agent, model: 'demo-echo', endpoint: '/v1/chat/completions', outcome, promptTokens, completionTokens, costMicro: 0, status: 200, ...extra })
    const items = [
      entry('u1', 'support-bot', 'inference', 'completed', 1000, 500),
      entry('u2', 'notebook-assistant', 'research', 'completed', 30000, 12000),
      entry('u3', 'support-bot', 'inference', 'refused', 0, 0, { status: 429, reason: 'TOKEN_CAP_EXCEEDED: support-bot-hourly: 20000 tokens per hour' }),
    ]
    await page.route(/\/apis\/gpuplane\.io\/v1alpha1\/usage\?/, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ kind: 'UsageList', items }) }))
    try {
      await page.goto(base + '/#/governance')
      const agents = page.locator('[data-table="agents"]')
      await agents.locator('tr', { hasText: 'support-bot' }).filter({ hasText: '1,500 / 20,000 tokens per hour' }).waitFor()
      await agents.locator('tr', { hasText: 'notebook-assistant' }).filter({ hasText: '42,000 / 200,000 tokens per day' }).waitFor()
      const charts = page.locator('section[aria-labelledby="usage-h"] .chart svg')
      await charts.nth(1).waitFor()
      assert.equal(await charts.count(), 2, 'one chart per agent and token cap')
      await page.locator('[data-table="refusals"] tr', { hasText: 'TOKEN_CAP_EXCEEDED' }).waitFor()
      await page.locator('section[aria-labelledby="usage-h"]').scrollIntoViewIfNeeded()
      await shot('08-governance-token-use')
    } finally {
      await page.unroute(/\/apis\/gpuplane\.io\/v1alpha1\/usage\?/)
    }
  })

  test('governance: real gateway traffic of a demo agent shows as token use against its cap', async () => {
    // The server printed the gateway's address and each demo agent's key once on stderr.
    const gateway = /AI gateway on (http:\/\/\S+)\/v1/.exec(serverLog)?.[1]
    const key = /demo agent key of research\/notebook-assistant [^:]*: (\S+)/.exec(serverLog)?.[1]
    assert.ok(gateway && key, `the server printed the gateway address and the demo key: ${serverLog.slice(0, 2000)}`)
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${gateway}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo-echo', messages: [{ role: 'user', content: 'hello from the dashboard test' }] }) })
      assert.equal(r.status, 200, `the demo agent's call is admitted: ${await r.text()}`)
    }
    // What the ledger holds for the agent today (its writer flushes within ~50 ms).
    let used = 0
    await waitFor('the calls in the ledger', async () => {
      const { body } = await call('GET', `${GP}/usage?namespace=research&agent=notebook-assistant&outcome=completed`)
      const items = (body.items ?? []) as Array<{ promptTokens: number; completionTokens: number }>
      used = items.reduce((n, e) => n + e.promptTokens + e.completionTokens, 0)
      return items.length >= 2 ? true : undefined
    })
    // A fresh load (the page may hold the previous test's answers).
    await page.goto(base + '/#/governance')
    await page.reload()
    const row = page.locator('[data-table="agents"] tr', { hasText: 'notebook-assistant' })
    await row.filter({ hasText: `${used.toLocaleString('en-US')} / 200,000 tokens per day` }).waitFor()
    await page.locator('section[aria-labelledby="usage-h"] .chart svg').first().waitFor()
    await shot('10-governance-real-usage')
  })

  test('a namespace token: its namespace only, no kill switch', async () => {
    const created = await call('POST', `${GP}/tokens`, { namespace: 'research' })
    assert.equal(created.status, 201, `a namespace token is created: ${JSON.stringify(created.body)}`)
    const other = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    try {
      await other.goto(base + '/')
      await other.fill('#token', created.body.token)
      await other.click('form.login button[type=submit]')
      await other.locator('#who', { hasText: 'namespace token' }).waitFor()
      await other.goto(base + '/#/workloads')
      await other.locator('[data-table="running"] tr', { hasText: 'llm-pretrain' }).waitFor()
      assert.equal(await other.locator('[data-table="running"] tr', { hasText: 'allreduce-0' }).count(), 0, 'other namespaces\' workloads are not shown')
      await other.goto(base + '/#/governance')
      await other.locator('[data-table="agents"] tr', { hasText: 'notebook-assistant' }).filter({ hasText: 'admin only' }).waitFor()
      assert.equal(await other.locator('[data-table="agents"] button').count(), 0, 'no kill switch without the admin token')
    } finally {
      await other.close()
    }
  })

  test('simulations: the shipped report with its comparison table and charts', async () => {
    await page.goto(base + '/#/simulations')
    const table = page.locator('[data-table="comparison"]')
    await table.locator('tr', { hasText: 'fgd' }).first().waitFor()
    assert.match(await table.innerText(), /gpuplane/, 'gpuplane’s own policy is in the comparison')
    const images = page.locator('.report-charts img')
    await images.first().waitFor()
    assert.ok((await images.count()) >= 4, 'the report shows its charts')
    await page.waitForFunction("[...document.querySelectorAll('.report-charts img')].every((i) => i.complete && i.naturalWidth > 0)")
    await shot('09-simulations')
  })

  test('keyboard: the views are reachable with Tab and Enter', async () => {
    await page.goto(base + '/#/cluster')
    await page.locator('h1', { hasText: 'Cluster' }).waitFor()
    await page.locator('nav a', { hasText: 'Cluster' }).focus()
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await page.locator('h1', { hasText: 'Workloads and queue' }).waitFor()
    assert.equal(await page.locator('nav a[aria-current="page"]').innerText(), 'Workloads', 'the current view is marked in the navigation')
  })

  test('no console errors in any view', () => {
    assert.deepEqual(consoleErrors, [], 'the browser logged no errors')
  })
})
