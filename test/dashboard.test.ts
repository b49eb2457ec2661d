// The dashboard end to end: a real `gpuplane server --demo` and Debian's Chromium driven by playwright-core; login, every view with the demo's objects (utilization from seeded telemetry, an idle allocation), live updates in the Cluster and Workloads views, the agent kill switch by mouse and by keyboard, no console errors (admin and namespace token). Screenshots go to test/screenshots/.
//
// Needs /usr/bin/chromium (.ci/run installs it with apt-get when missing). The dashboard is built
// first (web/build.ts into dist/web, what `npm run build` does), as the server serves it from there.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Fastify from 'fastify'
import type { Browser, Page } from 'playwright-core'
import { registerDashboardRoutes } from '../src/server/dashboard.ts'
import { installStatusHandlers } from '../src/server/status.ts'
import { demoSample } from '../src/server/demo-telemetry.ts'
import { GP, listen, oneGpuWorkload, ROOT, SHOTS, startDashboardServer, type DashboardServer } from './dashboard-server.ts'

const TOKEN = 'dashboard-test-admin-token'
/** The screenshots this file saves, in the order it takes them (numbered 01, 02, ... as taken). */
const SHOT_NAMES = [
  'login-refused',
  'cluster-overview',
  'cluster-mig-details',
  'cluster-live-update',
  'workloads-live-probe',
  'utilization-charts',
  'utilization-idle',
  'governance',
  'governance-agent-disabled',
  'governance-token-use',
  'governance-refusals',
  'governance-real-usage',
  'namespace-token-governance',
  'simulations',
  'keyboard-disable-focused',
]
/** The demo cluster's GPU models (examples/cluster-demo.yaml), each with allocations once the demo is scheduled. */
const DEMO_MODELS = ['H100-80GB', 'A100-40GB', 'L40S-48GB', 'T4-16GB', 'A10-24GB']
/** The demo's namespaces that hold GPUs (examples/workloads-demo.yaml, examples/server-demo.yaml). */
const DEMO_NAMESPACES = ['batch', 'inference', 'research', 'secure', 'training']

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

describe('dashboard in Chromium against gpuplane server --demo', { timeout: 240_000 }, () => {
  let fx: DashboardServer
  let base: string
  let browser: Browser
  let page: Page
  let serverStartedAt = 0
  let shots = 0
  let consoleErrors: string[]
  const serverLog = () => fx.log()
  const call = (method: string, path: string, body?: unknown) => fx.call(method, path, body)
  const waitFor = <T,>(what: string, f: () => Promise<T | undefined>, timeoutMs?: number) => fx.waitFor(what, f, timeoutMs)

  /** Reads an object, changes it, writes it back with the resourceVersion read (again on a 409). */
  async function update(path: string, change: (o: any) => any): Promise<any> {
    for (let attempt = 0; ; attempt++) {
      const got = await call('GET', path)
      assert.equal(got.status, 200, `GET ${path}: ${JSON.stringify(got.body)}`)
      const put = await call('PUT', path, change(got.body))
      if (put.status === 409 && attempt < 4) continue
      assert.equal(put.status, 200, `PUT ${path}: ${JSON.stringify(put.body)}`)
      return put.body
    }
  }

  /** A screenshot of the viewport (1280×800), numbered in the order taken: test/screenshots/NN-name.png. */
  const shot = (name: string, p: Page = page) => {
    assert.ok(SHOT_NAMES.includes(name), `${name} is listed in SHOT_NAMES (so a later run removes it)`)
    return p.screenshot({ path: join(SHOTS, `${String(++shots).padStart(2, '0')}-${name}.png`), fullPage: false })
  }

  /** What has the keyboard focus in `p`. */
  const focused = (p: Page = page): Promise<{ tag: string; text: string; id: string; inNav: boolean; agent: string }> =>
    p.evaluate(`(() => {
      const el = document.activeElement
      return { tag: el?.tagName ?? '', text: (el?.textContent ?? '').trim(), id: el?.id ?? '', inNav: !!el?.closest('nav'), agent: el?.getAttribute('data-agent') ?? '' }
    })()`)

  /** Presses Tab (or Shift+Tab) until `wanted` has the focus, at most `max` times; returns how many presses it took. */
  async function tabTo(what: string, wanted: (f: Awaited<ReturnType<typeof focused>>) => boolean, options: { shift?: boolean; max?: number } = {}): Promise<number> {
    const max = options.max ?? 40
    const seen: string[] = []
    for (let presses = 1; presses <= max; presses++) {
      await page.keyboard.press(options.shift ? 'Shift+Tab' : 'Tab')
      const f = await focused()
      if (wanted(f)) return presses
      seen.push(`${f.tag} "${f.text.slice(0, 30)}"`)
    }
    throw new Error(`${what} did not get the focus in ${max} presses of ${options.shift ? 'Shift+Tab' : 'Tab'}; the focus went to: ${seen.join(', ')}`)
  }

  before(async () => {
    // Remove this file's screenshots of earlier runs (numbered NN-name.png, whatever their number),
    // so that every one there is from this run; other test files save theirs there too.
    await mkdir(SHOTS, { recursive: true })
    for (const f of await readdir(SHOTS)) {
      const m = /^\d\d-(.+)\.png$/.exec(f)
      if (m && SHOT_NAMES.includes(m[1]!)) await rm(join(SHOTS, f), { force: true })
    }
    serverStartedAt = Date.now()
    fx = await startDashboardServer({
      token: TOKEN,
      prefix: 'gp-dash-e2e-',
      // A `gpuplane sim --json` result of the user's (one result of the shipped report) for --sim-reports.
      prepare: async (dataDir) => {
        await mkdir(join(dataDir, 'sims'))
        const shipped = JSON.parse(await readFile(join(ROOT, 'web/sim-reports/fgd-compare-3-seeds.json'), 'utf8')) as { results: Array<{ policy: string }> }
        await writeFile(join(dataDir, 'sims', 'my-fgd-run.json'), JSON.stringify(shipped.results.find((r) => r.policy === 'fgd')))
      },
      // --idle-interval 1: the idle controller acts within a second of an allocation turning idle (the utilization test).
      args: (dataDir) => ['--idle-interval', '1', '--sim-reports', join(dataDir, 'sims')],
    })
    ;({ base, browser, page, consoleErrors } = fx)
    // The controller publishes the demo Cluster and schedules its workloads shortly after start.
    await waitFor('the demo to be scheduled', async () => {
      const { body } = await call('GET', `${GP}/namespaces/research/workloads/llm-pretrain`)
      return body.status?.nodeName ? true : undefined
    })
  })

  after(async () => {
    await fx?.stop()
  })

  test('login: a wrong token gets a clear 401 message, the admin token opens the cluster view', async () => {
    await page.goto(base + '/')
    await page.fill('#token', 'not-a-token')
    await page.click('form.login button[type=submit]')
    await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor()
    await shot('login-refused')
    consoleErrors.length = 0 // the refused login's 401 is logged by the browser, on purpose
    await page.fill('#token', TOKEN)
    await page.click('form.login button[type=submit]')
    await page.locator('h1', { hasText: 'Cluster' }).waitFor()
    assert.equal(await page.evaluate('sessionStorage.getItem("gpuplane.token")'), TOKEN, 'the token is kept in sessionStorage')
    assert.match(await page.locator('#who').innerText(), /admin/, 'the header says who is signed in')
  })

  test('cluster: nodes by GPU model, NVLink domains, MIG blocks at their placement, details on focus', async () => {
    await page.goto(base + '/#/cluster')
    for (const model of DEMO_MODELS) await page.locator('section.model-group h2', { hasText: model }).first().waitFor()
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
    await shot('cluster-overview')
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
    await shot('cluster-mig-details')
  })

  test('cluster: a workload submitted through the API shows as the holder of its GPU, and the GPU as free once it is deleted, without a reload', async () => {
    await page.goto(base + '/#/cluster')
    await page.locator('[data-node="a100-pcie-1"] [data-gpu]').first().waitFor()
    const probe = page.locator('[data-gpu][aria-label*="research/cluster-probe"]')
    assert.equal(await probe.count(), 0, 'no GPU is held by the probe before it is submitted')
    await page.mouse.move(1, 1)
    await page.evaluate('window.marker = 7')
    // A tile with the keyboard focus keeps it when the view is drawn again.
    await page.locator('[data-gpu="h100-sxm-0/gpu-0"]').focus()
    const created = await call('POST', `${GP}/namespaces/research/workloads`, oneGpuWorkload('cluster-probe', 'NVIDIA A100-PCIE-40GB', 5))
    assert.equal(created.status, 201, `the workload is created: ${JSON.stringify(created.body)}`)
    try {
      // The GPU the scheduler gave it, from the API: pool (node) and device.
      const device = await waitFor('the probe to get a GPU', async () => {
        const w = await call('GET', `${GP}/namespaces/research/workloads/cluster-probe`)
        const claimName = w.body.status?.resourceClaimStatuses?.[0]?.resourceClaimName
        if (!w.body.status?.nodeName || !claimName) return undefined
        const claim = await call('GET', `/apis/resource.k8s.io/v1/namespaces/research/resourceclaims/${claimName}`)
        const r = claim.body.status?.allocation?.devices?.results?.[0]
        return r ? `${r.pool}/${r.device}` : undefined
      })
      // Its tile turns held by the research namespace (its label names the holder) over the watch stream.
      const tile = page.locator(`[data-gpu="${device}"]`)
      await page.locator(`[data-gpu="${device}"][aria-label*="held by research/cluster-probe"]`).waitFor()
      assert.match((await tile.getAttribute('class')) ?? '', /\bheld\b/, 'the tile is drawn as held')
      assert.equal(await probe.count(), 1, 'one GPU is held by the probe')
      assert.equal(await page.evaluate('window.marker'), 7, 'the page was not reloaded')
      assert.equal(await page.evaluate("document.activeElement?.getAttribute('data-gpu')"), 'h100-sxm-0/gpu-0', 'the focused tile still has the focus after the redraw')
      await tile.scrollIntoViewIfNeeded()
      await tile.hover()
      await page.locator('aside.details', { hasText: 'research/cluster-probe' }).waitFor()
      await shot('cluster-live-update')
      await page.mouse.move(1, 1)
      const deleted = await call('DELETE', `${GP}/namespaces/research/workloads/cluster-probe`)
      assert.equal(deleted.status, 200, `the workload is deleted: ${JSON.stringify(deleted.body)}`)
      await page.locator(`[data-gpu="${device}"][aria-label$="free"]`).waitFor()
      assert.equal(await probe.count(), 0, 'the GPU is free again, still without a reload')
      assert.equal(await page.evaluate('window.marker'), 7, 'the page was not reloaded')
    } finally {
      await call('DELETE', `${GP}/namespaces/research/workloads/cluster-probe`)
    }
  })

  test('workloads: pending with reasons, running with devices, quota; a workload created through the API appears live', async () => {
    await page.goto(base + '/#/workloads')
    const pending = page.locator('[data-table="pending"]')
    await pending.locator('tr', { hasText: 'too-big' }).waitFor()
    // The reason is the controller's own write to the Workload (apart from the placements): wait until batch-sweep's row carries one, not the placeholder.
    const sweep = pending.locator('tr', { hasText: 'batch-sweep' })
    await sweep.filter({ hasNotText: 'not scheduled yet' }).waitFor()
    assert.match(await sweep.innerText(), /quota/, 'the quota reason is shown')
    // Running workloads list their devices (the pool/device of each allocation result).
    await page.locator('[data-table="running"] tr', { hasText: 'llm-pretrain' }).filter({ hasText: 'h100-sxm-0/gpu-7' }).waitFor()
    await page.locator('[data-table="quota"] tr', { hasText: 'research' }).filter({ hasText: 'of 24' }).waitFor()
    await page.locator('section[aria-labelledby="quota-h"] .chart svg').first().waitFor()
    await page.evaluate('window.marker = 42')
    const created = await call('POST', `${GP}/namespaces/research/workloads`, oneGpuWorkload('live-probe', 'Tesla T4', 5))
    assert.equal(created.status, 201, `the workload is created: ${JSON.stringify(created.body)}`)
    await page.locator('[data-table="running"] tr, [data-table="pending"] tr', { hasText: 'live-probe' }).first().waitFor()
    // Scheduled by the controller: it moves to the running table, still without a reload.
    const row = page.locator('[data-table="running"] tr', { hasText: 'live-probe' })
    await row.filter({ hasText: /t4-\d+\/gpu-\d+/ }).waitFor({ timeout: 15_000 })
    assert.equal(await page.evaluate('window.marker'), 42, 'the page was not reloaded')
    await row.scrollIntoViewIfNeeded()
    await shot('workloads-live-probe')
  })

  test('utilization: allocated vs used per GPU model and namespace from the demo telemetry; an idle allocation with how long it idled and what its policy does', async () => {
    // The demo's research namespace flags allocations idle for 5 minutes. Samples count for a
    // workload only from when it got its devices (the server's start, for the demo's workloads),
    // so no amount of older samples makes one idle for 5 minutes sooner: the test shortens the
    // window through the API (admin), and seeds the samples of a research workload since then.
    const nsPath = `${GP}/namespaces/research`
    const original = (await call('GET', nsPath)).body.spec.idle
    assert.equal(original?.action, 'flag', `the demo's research namespace has an idle policy that flags: ${JSON.stringify(original)}`)
    await update(nsPath, (ns) => ({ ...ns, spec: { ...ns.spec, idle: { ...original, for: '5s' } } }))
    try {
      // A research workload held since the start whose GPUs the demo's simulated agent also reports
      // idle (a hash of the device's name decides): its own samples then never break the idle run.
      const claims = (await call('GET', '/apis/resource.k8s.io/v1/namespaces/research/resourceclaims')).body.items as any[]
      const devicesOf = new Map<string, Array<{ node: string; device: string }>>()
      for (const c of claims) {
        const workload = c.metadata.labels?.['gpuplane.io/workload'] as string | undefined
        if (!workload || workload.endsWith('-probe')) continue
        for (const r of c.status?.allocation?.devices?.results ?? []) devicesOf.set(workload, [...(devicesOf.get(workload) ?? []), { node: r.pool, device: r.device }])
      }
      const candidates = [...devicesOf].filter(([, ds]) => ds.every((d) => demoSample(d.node, d.device, Date.now(), () => 1).smUtil < original.smUtilBelow)).sort(([a], [b]) => a.localeCompare(b))
      assert.ok(candidates.length > 0, `a research workload whose GPUs the demo telemetry reports idle: ${JSON.stringify([...devicesOf])}`)
      const [workload, devices] = candidates[0]!
      // Its GPUs at 0-1% SM with 20 GiB held, every 2 s since the server started, in one batch per node.
      const now = Date.now()
      let seq = 0
      for (const node of new Set(devices.map((d) => d.node))) {
        const samples = []
        for (let t = serverStartedAt; t <= now; t += 2000) for (const d of devices.filter((x) => x.node === node)) samples.push({ time: t, node, device: d.device, smUtil: (t / 2000) % 2, memUsedBytes: 20 * 2 ** 30, memTotalBytes: 80 * 2 ** 30 })
        const pushed = await call('POST', `${GP}/telemetry/samples`, { node, agentId: 'dashboard-test-agent', seq: ++seq, samples })
        assert.equal(pushed.status, 200, `the samples are taken: ${JSON.stringify(pushed.body)}`)
        assert.equal(pushed.body.accepted, samples.length, 'every sample is accepted')
      }
      const entry = await waitFor(`${workload} to be classified idle`, async () => {
        const { body } = await call('GET', `${GP}/idle?namespace=research`)
        return (body.items as any[]).find((i) => i.workload === workload && i.state === 'idle')
      }, 30_000)
      assert.equal(entry.policy.action, 'flag')
      // The idle controller (every second here) did what the policy says: the Workload is flagged.
      await waitFor(`the idle controller to flag ${workload}`, async () => {
        const { body } = await call('GET', `${GP}/namespaces/research/workloads/${workload}`)
        return (body.status?.conditions ?? []).some((c: any) => c.type === 'Idle' && c.status === 'True' && c.reason === 'LowUtilization') ? true : undefined
      }, 15_000)

      await page.goto(base + '/#/utilization')
      await page.locator('h1', { hasText: 'Utilization' }).waitFor()
      // Per GPU model: a series for each of the demo's models, each with GPU time allocated.
      const byModel = page.locator('section[aria-labelledby="by-model-h"]')
      await byModel.locator('.chart svg').first().waitFor()
      const legend = await byModel.locator('.chart svg').first().evaluate((svg) => svg.textContent ?? '')
      for (const model of DEMO_MODELS) {
        assert.ok(legend.includes(model), `the per-model chart has a series for ${model}`)
        const allocated = await byModel.locator('[data-table="by-model"] tr', { hasText: model }).locator('[data-gpu-hours]').first().getAttribute('data-gpu-hours')
        assert.ok(Number(allocated) > 0, `${model} has GPU time allocated (${allocated} GPU-hours)`)
      }
      // Per namespace: the demo's namespaces, each holding GPUs.
      const byNs = page.locator('section[aria-labelledby="by-ns-h"]')
      await byNs.locator('.chart svg').first().waitFor()
      for (const ns of DEMO_NAMESPACES) {
        const allocated = await byNs.locator('[data-table="by-namespace"] tr', { hasText: ns }).locator('[data-gpu-hours]').first().getAttribute('data-gpu-hours')
        assert.ok(Number(allocated) > 0, `namespace ${ns} has GPU time allocated (${allocated} GPU-hours)`)
      }
      assert.match(await page.locator('#util-help').innerText(), /charged to the workloads holding each GPU/, 'the view says what "used" counts')
      await page.waitForTimeout(300) // the line charts' last frame
      await shot('utilization-charts')
      // The idle allocation: idle, for how long, under which policy, and what the policy does.
      const idle = page.locator('section[aria-labelledby="idle-h"]')
      const row = idle.locator('[data-table="idle"] tbody tr', { hasText: workload })
      await row.locator('[data-state="idle"]').waitFor()
      const cells = await row.locator('td').allInnerTexts()
      assert.equal(cells[0], 'research')
      assert.match(cells[4] ?? '', /^\d+ (s|min)$/, `the row says how long it has idled: ${cells.join(' | ')}`)
      assert.equal(cells[5], 'SM below 5% for 5 s', 'the row shows the policy')
      assert.match(cells[6] ?? '', /^flag: marked Idle/, `the row says what the policy does: ${cells.join(' | ')}`)
      assert.match(await idle.locator('h2').innerText(), /\([1-9]\d* idle of \d+ watched\)/, 'the heading counts the idle allocations')
      await idle.scrollIntoViewIfNeeded()
      await shot('utilization-idle')
    } finally {
      await update(nsPath, (ns) => ({ ...ns, spec: { ...ns.spec, idle: original } }))
    }
  })

  test('governance: models with namespaces, agents with caps and refusals; the admin disables an agent', async () => {
    await page.goto(base + '/#/governance')
    const models = page.locator('[data-table="models"]')
    await models.locator('tr', { hasText: 'demo-echo' }).waitFor()
    assert.match(await models.locator('tr', { hasText: 'llama-3.1-8b' }).innerText(), /allowed/, 'models show which namespaces may use them')
    const agents = page.locator('[data-table="agents"]')
    await agents.locator('tr', { hasText: 'retired-bot' }).locator('[data-state="disabled"]').waitFor()
    // The caps cell says it is loading until the TokenPolicies are read; it never claims "no token cap" meanwhile.
    const notebook = agents.locator('tr', { hasText: 'notebook-assistant' })
    await notebook.filter({ hasNotText: 'loading caps' }).waitFor()
    assert.match(await notebook.innerText(), /research-daily/, 'an agent lists the caps covering it')
    await page.locator('section[aria-labelledby="usage-h"] h2').waitFor()
    await shot('governance')
    await agents.locator('button[data-agent="inference/support-bot"]').click()
    await page.locator('.action-status .notice.ok').waitFor()
    const agent = await call('GET', `${GP}/namespaces/inference/agents/support-bot`)
    assert.equal(agent.body.spec.disabled, true, 'the Agent is disabled in the API')
    await agents.locator('tr', { hasText: 'support-bot' }).locator('[data-state="disabled"]').waitFor()
    await agents.locator('tr', { hasText: 'support-bot' }).scrollIntoViewIfNeeded()
    await shot('governance-agent-disabled')
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
      const refused = page.locator('[data-table="refusals"] tr', { hasText: 'TOKEN_CAP_EXCEEDED' })
      await refused.waitFor()
      assert.match(await refused.innerText(), /support-bot[\s\S]*429/, 'the refusal names the agent and the status')
      await page.locator('section[aria-labelledby="usage-h"]').scrollIntoViewIfNeeded()
      await page.waitForTimeout(300) // the charts' last frame
      await shot('governance-token-use')
      await page.locator('section[aria-labelledby="refusals-h"]').scrollIntoViewIfNeeded()
      await shot('governance-refusals')
    } finally {
      await page.unroute(/\/apis\/gpuplane\.io\/v1alpha1\/usage\?/)
    }
  })

  test('governance: real gateway traffic of a demo agent shows as token use against its cap', async () => {
    // The server printed the gateway's address and each demo agent's key once on stderr.
    const gateway = /AI gateway on (http:\/\/\S+)\/v1/.exec(serverLog())?.[1]
    const key = /demo agent key of research\/notebook-assistant [^:]*: (\S+)/.exec(serverLog())?.[1]
    assert.ok(gateway && key, `the server printed the gateway address and the demo key: ${serverLog().slice(0, 2000)}`)
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
    const usage = page.locator('section[aria-labelledby="usage-h"]')
    await usage.locator('.chart svg').nth(1).waitFor()
    await usage.scrollIntoViewIfNeeded()
    await page.waitForTimeout(300) // the charts' last frame
    await shot('governance-real-usage')
  })

  test('governance: the kill switch end to end; a disabled agent\'s call is refused by the gateway and listed among the recent refusals', async () => {
    const gateway = /AI gateway on (http:\/\/\S+)\/v1/.exec(serverLog())?.[1]
    const key = /demo agent key of research\/notebook-assistant [^:]*: (\S+)/.exec(serverLog())?.[1]
    assert.ok(gateway && key, 'the server printed the gateway address and the demo key')
    await page.goto(base + '/#/governance')
    await page.reload()
    await page.locator('[data-table="agents"] button', { hasText: 'Disable notebook-assistant' }).click()
    await page.locator('[data-table="agents"] tr', { hasText: 'notebook-assistant' }).filter({ hasText: 'disabled' }).waitFor()
    try {
      const chat = () => fetch(`${gateway}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo-echo', messages: [{ role: 'user', content: 'am I still allowed?' }] }) })
      // Every replica follows the store within a second.
      const status = await waitFor('the gateway to refuse the disabled agent', async () => {
        const r = await chat()
        await r.arrayBuffer()
        return r.status === 403 ? r.status : undefined
      }, 5_000)
      assert.equal(status, 403)
      await waitFor('the refusal in the ledger', async () => {
        const { body } = await call('GET', `${GP}/usage?namespace=research&agent=notebook-assistant&outcome=refused`)
        return (body.items ?? []).length > 0 ? true : undefined
      })
      await page.reload()
      const refusal = page.locator('[data-table="refusals"] tr', { hasText: 'notebook-assistant' })
      await refusal.first().waitFor()
      assert.match(await refusal.first().innerText(), /403[\s\S]*agent research\/notebook-assistant is disabled/, 'status and reason shown')
    } finally {
      await call('PUT', `${GP}/namespaces/research/agents/notebook-assistant`, await call('GET', `${GP}/namespaces/research/agents/notebook-assistant`).then((r) => ({ ...r.body, spec: { ...r.body.spec, disabled: false } })))
    }
  })

  test('a namespace token: its namespace only, no kill switch, and no console error in any view', async () => {
    const created = await call('POST', `${GP}/tokens`, { namespace: 'research' })
    assert.equal(created.status, 201, `a namespace token is created: ${JSON.stringify(created.body)}`)
    const other = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    other.setDefaultTimeout(20_000)
    const errors: string[] = []
    // No failure is expected: the admin check asks .../whoami, which answers any valid token.
    listen(other, errors)
    try {
      await other.goto(base + '/')
      await other.fill('#token', created.body.token)
      await other.click('form.login button[type=submit]')
      await other.locator('#who', { hasText: 'namespace token' }).waitFor()
      await other.locator('h1', { hasText: 'Cluster' }).waitFor()
      await other.locator('[data-gpu="h100-sxm-0/gpu-0"][aria-label*="held by research/llm-pretrain"]').waitFor()
      await other.goto(base + '/#/workloads')
      await other.locator('[data-table="running"] tr', { hasText: 'llm-pretrain' }).waitFor()
      assert.equal(await other.locator('[data-table="running"] tr', { hasText: 'allreduce-0' }).count(), 0, 'other namespaces\' workloads are not shown')
      await other.goto(base + '/#/utilization')
      await other.locator('[data-table="by-namespace"] tr', { hasText: 'research' }).waitFor()
      assert.equal(await other.locator('[data-table="by-namespace"] tr', { hasText: 'training' }).count(), 0, 'other namespaces\' use is not shown')
      await other.locator('section[aria-labelledby="idle-h"] h2', { hasText: 'Idle allocations' }).waitFor()
      await other.goto(base + '/#/governance')
      await other.locator('[data-table="agents"] tr', { hasText: 'notebook-assistant' }).filter({ hasText: 'admin only' }).waitFor()
      assert.equal(await other.locator('[data-table="agents"] button').count(), 0, 'no kill switch without the admin token')
      await other.locator('[data-table="agents"]').scrollIntoViewIfNeeded()
      await shot('namespace-token-governance', other)
      await other.goto(base + '/#/simulations')
      await other.locator('[data-table="comparison"]').waitFor()
      await other.waitForTimeout(300) // a late error would still be caught
      assert.deepEqual(errors, [], 'the browser logged no errors with the namespace token')
    } finally {
      await other.close()
    }
  })

  test('simulations: the shipped report with its comparison table and charts', async () => {
    await page.goto(base + '/#/simulations/fgd-compare-3-seeds')
    const table = page.locator('[data-table="comparison"]')
    await table.locator('tr', { hasText: 'fgd' }).first().waitFor()
    assert.match(await table.innerText(), /gpuplane/, 'gpuplane’s own policy is in the comparison')
    const images = page.locator('.report-charts img')
    await images.first().waitFor()
    assert.ok((await images.count()) >= 4, 'the report shows its charts')
    await page.waitForFunction("[...document.querySelectorAll('.report-charts img')].every((i) => i.complete && i.naturalWidth > 0)")
    await shot('simulations')
  })

  test('simulations: a gpuplane sim --json file of --sim-reports DIR is listed first and shown with its charts', async () => {
    await page.goto(base + '/#/simulations')
    const reports = page.locator('nav.reports a')
    await reports.first().waitFor()
    assert.equal((await reports.first().innerText()).trim(), 'my-fgd-run', 'the directory\'s report first, named by its file')
    assert.ok((await reports.count()) >= 2, 'the shipped report is still listed')
    // The view already shows the first report (the default), so its table and charts are there before the click's route change
    // redraws the view: wait until the app has handled that hashchange (its listener runs before this one) before reading any of them.
    await page.evaluate(`addEventListener('hashchange', function routed(e) {
      if (!e.newURL.endsWith('#/simulations/my-fgd-run')) return
      removeEventListener('hashchange', routed)
      window.reportRouted = true
    })`)
    await reports.first().click()
    await page.waitForFunction('window.reportRouted === true')
    const table = page.locator('[data-table="comparison"]')
    await page.waitForFunction("document.querySelectorAll('[data-table=\"comparison\"] tbody tr').length === 1")
    assert.match(await table.innerText(), /fgd/, 'its one policy')
    const images = page.locator('.report-charts img')
    await images.first().waitFor()
    assert.ok((await images.count()) >= 1, 'with its charts')
  })

  test('keyboard: the skip link and every link of the navigation work with Tab and Enter', async () => {
    await page.goto(base + '/#/cluster')
    await page.reload() // a fresh document: the focus starts at its top
    await page.locator('h1', { hasText: 'Cluster' }).waitFor()
    await page.keyboard.press('Tab')
    assert.equal((await focused()).text, 'Skip to content', 'the first Tab reaches the skip link')
    await page.keyboard.press('Enter')
    assert.equal((await focused()).id, 'main', 'the skip link moves the focus to the view')
    assert.equal(new URL(page.url()).hash, '#/cluster', 'and stays on the view')
    const views: Array<[string, string]> = [
      ['Workloads', 'Workloads and queue'],
      ['Utilization', 'Utilization'],
      ['Governance', 'Governance'],
      ['Simulations', 'Simulations'],
      ['Cluster', 'Cluster'],
    ]
    for (const [link, heading] of views) {
      // From the view (a route change focuses it), back to the navigation with Shift+Tab.
      await tabTo(`the ${link} link`, (f) => f.inNav && f.tag === 'A' && f.text === link, { shift: true, max: 12 })
      await page.keyboard.press('Enter')
      await page.locator('h1', { hasText: heading }).waitFor()
      assert.equal(await page.locator('nav a[aria-current="page"]').innerText(), link, `the navigation marks ${link} as the current view`)
      assert.equal((await focused()).id, 'main', `the focus moves to the ${link} view`)
    }
  })

  test('keyboard: from the Governance view, Tab reaches the admin’s Disable button, and Enter disables the agent (and enables it again)', async () => {
    await page.goto(base + '/#/cluster')
    await page.reload() // a fresh document: the focus starts at its top
    await page.locator('h1', { hasText: 'Cluster' }).waitFor()
    // To the Governance view with the keyboard: skip link, then the links in order.
    await tabTo('the Governance link', (f) => f.inNav && f.text === 'Governance', { max: 10 })
    await page.keyboard.press('Enter')
    await page.locator('h1', { hasText: 'Governance' }).waitFor()
    const agents = page.locator('[data-table="agents"]')
    await agents.locator('button', { hasText: /^Disable / }).first().waitFor()
    await page.locator('section[aria-labelledby="usage-h"] .chart svg').first().waitFor()
    assert.equal((await focused()).id, 'main', 'the view has the focus')
    const presses = await tabTo('a Disable button', (f) => f.tag === 'BUTTON' && f.agent !== '' && f.text.startsWith('Disable '), { max: 40 })
    const target = (await focused()).agent
    const [namespace, name] = target.split('/')
    const path = `${GP}/namespaces/${namespace}/agents/${name}`
    assert.ok(presses <= 10, `the first Disable button is ${presses} presses of Tab into the view`)
    await shot('keyboard-disable-focused')
    try {
      await page.keyboard.press('Enter')
      await page.locator('.action-status .notice.ok', { hasText: `${target} is disabled` }).waitFor()
      await waitFor(`${target} disabled in the API`, async () => ((await call('GET', path)).body.spec?.disabled === true ? true : undefined))
      await agents.locator('tr', { hasText: name }).locator('[data-state="disabled"]').waitFor()
      // The table was redrawn; the focus stays on the agent's switch, now "Enable".
      await page.waitForFunction(`document.activeElement?.getAttribute('data-agent') === ${JSON.stringify(target)} && /^Enable /.test(document.activeElement.textContent)`)
      await page.keyboard.press('Enter')
      await page.locator('.action-status .notice.ok', { hasText: `${target} is enabled again` }).waitFor()
      await waitFor(`${target} enabled in the API`, async () => ((await call('GET', path)).body.spec?.disabled === false ? true : undefined))
    } finally {
      if ((await call('GET', path)).body.spec?.disabled) await update(path, (a) => ({ ...a, spec: { ...a.spec, disabled: false } }))
    }
  })

  test('no console errors in any view', () => {
    assert.deepEqual(consoleErrors, [], 'the browser logged no errors')
  })
})
