// Prometheus metrics of one server: its own registry (so tests can build many servers), request latency, open watches, process metrics.
//
// Other parts of the server add their metrics to `registry` (the controller: allocations, queue
// depth, GPUs allocated and total per model and namespace); `/metrics` serves all of them.
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export interface ServerMetrics {
  /** Every metric `/metrics` serves; register yours here. */
  registry: Registry
  /** HTTP request latency in seconds, by method, route (the path pattern) and status code. */
  httpDuration: Histogram<'method' | 'route' | 'status'>
  /** Watch streams open now, by kind. */
  watchStreams: Gauge<'kind'>
}

/** Latency buckets from 1 ms to 5 s: API calls on SQLite take about a millisecond. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** A fresh registry with the server's metrics and Node.js process metrics (prefixed `gpuplane_`). */
export function createMetrics(): ServerMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'gpuplane_' })
  return {
    registry,
    httpDuration: new Histogram({
      name: 'gpuplane_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    watchStreams: new Gauge({ name: 'gpuplane_watch_streams', help: 'Watch streams open now, by kind', labelNames: ['kind'], registers: [registry] }),
  }
}
