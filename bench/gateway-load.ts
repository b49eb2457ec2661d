// The gateway benchmark's load generator, run as its own process (forked by bench/gateway.ts, jobs over IPC): N keep-alive connections, each sending the next request as soon as the last answer ended.
//
// A job: POST `body` to url+path over an undici Pool of `connections` connections (pipelining 1),
// for warmupMs (connections opened, JIT warm; nothing recorded) then durationMs (measured). A
// request counts when it completes inside the measured window; its latency runs from sending the
// request to the last byte of the answer (the whole stream for SSE). Requests still in flight at
// the end are awaited but not counted. An answer that is not 200, or a stream without its closing
// `data: [DONE]`, is an error.
import { Pool } from 'undici'

export interface LoadJob {
  url: string
  path: string
  headers: Record<string, string>
  body: string
  stream: boolean
  connections: number
  warmupMs: number
  durationMs: number
}

export interface LoadResult {
  /** Requests completed inside the measured window. */
  requests: number
  /** Requests completed in the whole job, warm-up included (to divide a server's CPU time by). */
  allRequests: number
  seconds: number
  rps: number
  p50Ms: number
  p99Ms: number
  errors: number
  firstError?: string
  /** CPU seconds the load generator used in the measured window (it shares the machine with what it measures). */
  cpuSeconds: number
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const pool = new Pool(job.url, { connections: job.connections, pipelining: 1, keepAliveTimeout: 60_000 })
  const latencies: number[] = []
  let errors = 0
  let allRequests = 0
  let firstError: string | undefined
  const t0 = performance.now()
  const measureFrom = t0 + job.warmupMs
  const measureTo = measureFrom + job.durationMs
  let cpu0: NodeJS.CpuUsage | undefined
  const worker = async () => {
    while (performance.now() < measureTo) {
      const start = performance.now()
      let problem: string | undefined
      try {
        const res = await pool.request({ method: 'POST', path: job.path, headers: job.headers, body: job.body })
        const text = await res.body.text()
        if (res.statusCode !== 200) problem = `HTTP ${res.statusCode}: ${text.slice(0, 300)}`
        else if (job.stream && !text.trimEnd().endsWith('data: [DONE]')) problem = `stream without [DONE]: ${text.slice(-200)}`
      } catch (e) {
        problem = (e as Error).message
      }
      const end = performance.now()
      allRequests++
      if (start < measureFrom || end > measureTo) continue
      if (problem !== undefined) {
        errors++
        firstError ??= problem
      } else latencies.push(end - start)
    }
  }
  setTimeout(() => (cpu0 = process.cpuUsage()), job.warmupMs).unref()
  await Promise.all(Array.from({ length: job.connections }, worker))
  const cpu = process.cpuUsage(cpu0)
  await pool.close()
  latencies.sort((a, b) => a - b)
  const seconds = job.durationMs / 1000
  return { requests: latencies.length, allRequests, seconds, rps: latencies.length / seconds, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), errors, firstError, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

// Forked with IPC: answer each job message with its result.
if (process.send !== undefined) {
  process.on('message', (job: LoadJob) => {
    runLoad(job).then(
      (result) => process.send!({ ok: true, result }),
      (e: Error) => process.send!({ ok: false, error: e.stack ?? e.message }),
    )
  })
  process.on('disconnect', () => process.exit(0))
}
