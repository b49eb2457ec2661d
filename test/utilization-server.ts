// A real server for the utilization tests: SQLite in memory, an admin token, listening on a free port, optionally with the scheduling controller and the utilization loops (interval tracker, idle controller); `cli` runs `gpuplane` against it.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { main } from '../src/cli/main.ts'
import { buildServer } from '../src/server/app.ts'
import { ensureAdminToken } from '../src/server/auth.ts'
import { Controller } from '../src/server/controller.ts'
import { startUtilization } from '../src/server/idle-controller.ts'
import { openStore } from '../src/store/index.ts'
import type { Store } from '../src/store/types.ts'
import { freePort } from './free-port.ts'

export interface UtilizationServer {
  /** A scratch directory, removed by close(). */
  dir: string
  store: Store
  app: FastifyInstance
  url: string
  token: string
  /** `gpuplane ARGS --server URL --token T`; asserts exit code 0 and returns stdout. */
  cli(...args: string[]): Promise<string>
  close(): Promise<void>
}

/** Starts the server; with `loops`, the controller (every 50 ms) and startUtilization (tracker every 50 ms, idle pass every idleIntervalMs). */
export async function utilizationServer(prefix: string, loops?: { idleIntervalMs: number }): Promise<UtilizationServer> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const store = await openStore({ sqlite: ':memory:' })
  const token = (await ensureAdminToken(store)).generated!
  const app = buildServer({ store, telemetryRetention: { rawMs: 0, minutesMs: 0, everyMs: 0 } })
  const port = await freePort()
  await app.listen({ port, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${port}`
  const controller = loops ? new Controller(app.store, { intervalMs: 50 }) : undefined
  await controller?.start()
  const utilization = loops ? await startUtilization(app, { trackerIntervalMs: 50, idleIntervalMs: loops.idleIntervalMs }) : undefined
  return {
    dir,
    store,
    app,
    url,
    token,
    async cli(...args: string[]) {
      let out = ''
      let err = ''
      const code = await main(['node', 'gpuplane', ...args, '--server', url, '--token', token], (s) => void (out += s), (s) => void (err += s))
      assert.equal(code, 0, `gpuplane ${args.join(' ')} exits 0: ${err}`)
      return out
    },
    async close() {
      await utilization?.stop()
      await controller?.stop()
      await app.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
