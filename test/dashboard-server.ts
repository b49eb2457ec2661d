// The dashboard's browser tests' fixture: the dashboard built, `gpuplane server --demo` in its own process on a fresh SQLite file, Debian's Chromium with a 1280×800 page, and helpers to call the API and wait.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core'
import { buildDashboard } from '../web/build.ts'
import { freePort } from './free-port.ts'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const CHROMIUM = '/usr/bin/chromium'
export const SHOTS = join(ROOT, 'test/screenshots')
export const GP = '/apis/gpuplane.io/v1alpha1'

export interface DashboardServer {
  base: string
  /** A scratch directory, removed by stop() (the server's database lives in it). */
  dataDir: string
  /** What the server printed so far (stdout and stderr). */
  log(): string
  browser: Browser
  /** A 1280×800 page whose console errors (and uncaught exceptions) are collected in `consoleErrors`. */
  page: Page
  consoleErrors: string[]
  /** Calls the API with the admin token. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  /** Polls `f` every 200 ms until it gives a value; fails with the end of the server log. */
  waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>
  stop(): Promise<void>
}

/** A Workload of one GPU of the product `productName` (its `productName` attribute), to submit through the API. */
export function oneGpuWorkload(name: string, productName: string, priority?: number): object {
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name },
    spec: { ...(priority === undefined ? {} : { priority }), resourceClaims: [{ name: 'gpu', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com', selectors: [{ cel: { expression: `device.attributes['gpu.nvidia.com'].productName == '${productName}'` } }] } }] } } }] },
  }
}

/** Collects `p`'s console errors and uncaught exceptions into `into`, unless `allowed` says otherwise. */
export function listen(p: Page, into: string[], allowed: (m: ConsoleMessage) => boolean = () => false): void {
  p.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error' && !allowed(m)) into.push(`${m.text()} (${m.location().url})`)
  })
  p.on('pageerror', (e) => into.push(`uncaught: ${e.message}`))
}

/**
 * Builds the dashboard, starts `gpuplane server --demo` with the admin token `token` and the extra
 * `args`, waits for /readyz, prepares the directory with `prepare` first (before the server
 * starts), and opens Chromium.
 */
export async function startDashboardServer(options: { token: string; prefix: string; args?: (dataDir: string) => string[]; prepare?: (dataDir: string) => Promise<void> }): Promise<DashboardServer> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`)
  await buildDashboard()
  const dataDir = await mkdtemp(join(tmpdir(), options.prefix))
  await options.prepare?.(dataDir)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  let serverLog = ''
  const server: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin/gpuplane.js'), 'server', '--demo', '--db', join(dataDir, 'gp.db'), '--port', String(port), '--gateway-port', '0', ...(options.args?.(dataDir) ?? []), '--log-level', 'warn'], {
    env: { ...process.env, GPUPLANE_ADMIN_TOKEN: options.token },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  server.stdout?.on('data', (d) => (serverLog += d))
  server.stderr?.on('data', (d) => (serverLog += d))
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${options.token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })
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
  let browser: Browser | undefined
  const stop = async () => {
    await browser?.close()
    if (server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r))
      server.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
      if (server.exitCode === null) server.kill('SIGKILL')
    }
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    await waitFor('the server to be ready', async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined), 30_000)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'], timeout: 30_000 })
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    page.setDefaultTimeout(20_000) // generous: the machines are small and shared
    const consoleErrors: string[] = []
    listen(page, consoleErrors)
    return { base, dataDir, log: () => serverLog, browser, page, consoleErrors, call, waitFor, stop }
  } catch (e) {
    await stop()
    throw e
  }
}
