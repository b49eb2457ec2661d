// What must hold in a store the controller wrote, whatever happened (crashes, replicas): checks shared by the crash and replica tests, and helpers to run a real server.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { Quantity } from '../src/api/quantity.ts'
import type { Store, StoredObject } from '../src/store/types.ts'

interface Result {
  driver: string
  pool: string
  device: string
  shareID?: string
}

const status = (o: StoredObject) => (o.status ?? {}) as { phase?: string; nodeName?: string; reason?: string; allocation?: { devices?: { results?: Result[] } }; reservedFor?: Array<{ name: string; uid: string }> }

export interface StoreState {
  workloads: StoredObject[]
  scheduled: StoredObject[]
  pending: StoredObject[]
  claims: StoredObject[]
  /** Each allocated device (`driver/pool/device`) and the claim holding it. */
  devices: Map<string, string>
}

/**
 * Checks that nothing is allocated twice and nothing is half-written: every device (and every
 * shared counter) is within capacity; a Scheduled workload has each of its claims allocated and
 * reserved for it; an allocated claim belongs to a Scheduled workload; a namespace without a cohort
 * holds at most its quota of GPUs.
 */
export async function checkStore(store: Store): Promise<StoreState> {
  const workloads = (await store.list('Workload')).items
  const claims = (await store.list('ResourceClaim')).items
  const slices = (await store.list('ResourceSlice')).items
  const byKey = new Map(workloads.map((w) => [`${w.metadata.namespace}/${w.metadata.name}`, w]))
  const claimByKey = new Map(claims.map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c]))

  const devices = new Map<string, string>()
  const perNamespace = new Map<string, number>()
  for (const c of claims) {
    const results = status(c).allocation?.devices?.results ?? []
    for (const r of results) {
      const id = `${r.driver}/${r.pool}/${r.device}`
      assert.ok(!devices.has(id) || r.shareID !== undefined, `device ${id} is allocated to ${devices.get(id)} and to ${c.metadata.namespace}/${c.metadata.name}`)
      devices.set(id, `${c.metadata.namespace}/${c.metadata.name}`)
      perNamespace.set(c.metadata.namespace!, (perNamespace.get(c.metadata.namespace!) ?? 0) + 1)
    }
    if (results.length === 0) continue
    const holders = status(c).reservedFor ?? []
    assert.equal(holders.length, 1, `allocated claim ${c.metadata.name} is reserved for exactly one workload`)
    const w = byKey.get(`${c.metadata.namespace}/${holders[0]!.name}`)
    assert.ok(w && w.metadata.uid === holders[0]!.uid, `allocated claim ${c.metadata.namespace}/${c.metadata.name} belongs to workload ${holders[0]!.name}, which exists`)
    assert.equal(status(w).phase, 'Scheduled', `allocated claim ${c.metadata.name}: its workload ${w.metadata.name} is Scheduled`)
  }
  for (const c of claims) {
    const owner = (c.metadata.ownerReferences as Array<{ name: string; uid: string }> | undefined)?.[0]
    if (!owner) continue
    const w = byKey.get(`${c.metadata.namespace}/${owner.name}`)
    assert.ok(w && w.metadata.uid === owner.uid && status(w).phase === 'Scheduled', `claim ${c.metadata.name} made for workload ${owner.name}: that workload is Scheduled`)
  }
  const scheduled = workloads.filter((w) => status(w).phase === 'Scheduled')
  for (const w of scheduled) {
    assert.ok(status(w).nodeName, `workload ${w.metadata.name} is Scheduled on a node`)
    for (const entry of ((w.spec as any).resourceClaims ?? []) as Array<{ name: string; resourceClaimName?: string }>) {
      const c = claimByKey.get(`${w.metadata.namespace}/${entry.resourceClaimName ?? `${w.metadata.name}-${entry.name}`}`)
      assert.ok(c && (status(c).allocation?.devices?.results?.length ?? 0) > 0, `Scheduled workload ${w.metadata.name} has its claim ${entry.name} allocated`)
      assert.equal(status(c).reservedFor?.[0]?.uid, w.metadata.uid, `claim of ${w.metadata.name} is reserved for it`)
    }
  }
  checkCounters(slices, claims)
  for (const ns of (await store.list('Namespace')).items) {
    const spec = ns.spec as { quota?: { gpus?: number }; cohort?: string }
    if (spec.quota?.gpus === undefined || spec.cohort !== undefined) continue
    assert.ok((perNamespace.get(ns.metadata.name) ?? 0) <= spec.quota.gpus, `namespace ${ns.metadata.name} holds ${perNamespace.get(ns.metadata.name)} GPUs, over its quota of ${spec.quota.gpus}`)
  }
  return { workloads, scheduled, pending: workloads.filter((w) => status(w).phase !== 'Scheduled'), claims, devices }
}

/** Shared counters (MIG memory slices, vGPU capacity) consumed by the allocated devices stay within what each counter set has. */
function checkCounters(slices: StoredObject[], claims: StoredObject[]): void {
  const capacity = new Map<string, bigint>()
  const consumes = new Map<string, Array<{ set: string; counters: Record<string, { value: string }> }>>()
  for (const s of slices) {
    const spec = s.spec as { driver: string; pool: { name: string }; sharedCounters?: Array<{ name: string; counters: Record<string, { value: string }> }>; devices?: Array<{ name: string; consumesCounters?: Array<{ counterSet: string; counters: Record<string, { value: string }> }> }> }
    const pool = `${spec.driver}/${spec.pool.name}`
    for (const set of spec.sharedCounters ?? []) for (const [name, c] of Object.entries(set.counters)) capacity.set(`${pool}/${set.name}/${name}`, Quantity.parse(c.value).value())
    for (const d of spec.devices ?? []) if (d.consumesCounters) consumes.set(`${pool}/${d.name}`, d.consumesCounters.map((c) => ({ set: c.counterSet, counters: c.counters })))
  }
  const used = new Map<string, bigint>()
  for (const c of claims) {
    for (const r of status(c).allocation?.devices?.results ?? []) {
      const pool = `${r.driver}/${r.pool}`
      for (const { set, counters } of consumes.get(`${pool}/${r.device}`) ?? []) {
        for (const [name, q] of Object.entries(counters)) {
          const key = `${pool}/${set}/${name}`
          used.set(key, (used.get(key) ?? 0n) + Quantity.parse(q.value).value())
        }
      }
    }
  }
  for (const [key, n] of used) assert.ok(n <= (capacity.get(key) ?? 0n), `counter ${key} is oversubscribed: ${n} used of ${capacity.get(key) ?? 0n}`)
}

/** A `gpuplane server` process and where it listens. */
export interface ServerProcess {
  child: ChildProcess
  url: string
  /** What it wrote on stderr so far. */
  stderr(): string
}

/** Starts `node bin/gpuplane.js server ARGS --port 0` and waits until it listens. */
export async function startServer(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['bin/gpuplane.js', 'server', ...args, '--port', '0', '--log-level', 'warn'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms: ${err}`)), timeoutMs)
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString()
      const m = /listening on (http:\/\/\S+)/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited (${code}) before listening: ${err}`))
    })
  })
  return { child, url, stderr: () => err }
}

/** Stops a server: SIGTERM (graceful) or SIGKILL; resolves once it exited. */
export async function stopServer(server: ServerProcess, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = once(server.child, 'exit')
  server.child.kill(signal)
  await exited
}

/** JSON over HTTP with the admin token. */
export async function api(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // metrics are text
  }
  return { status: res.status, body: parsed }
}

/** A metric's value summed over its label sets, from Prometheus text. */
export function metricSum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
}

/** Polls until every workload is Scheduled or Pending with a reason, and the count of Scheduled ones stopped changing. */
export async function waitSettled(url: string, token: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = -1
  let stable = 0
  while (Date.now() < deadline) {
    const { body } = await api(url, token, 'GET', '/apis/gpuplane.io/v1alpha1/workloads')
    const items = (body.items ?? []) as StoredObject[]
    const scheduled = items.filter((w) => status(w).phase === 'Scheduled').length
    const undecided = items.filter((w) => status(w).phase !== 'Scheduled' && !status(w).reason).length
    stable = undecided === 0 && scheduled === last ? stable + 1 : 0
    if (stable >= 3) return
    last = scheduled
    await new Promise((r) => setTimeout(r, 300))
  }
  throw new Error(`the controller did not settle in ${timeoutMs} ms`)
}
