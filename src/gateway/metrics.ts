// Prometheus metrics of one gateway: its own registry (served at the gateway's /metrics), counter outages and the usage ledger's writer.
import { Counter, Gauge, Registry } from 'prom-client'

export interface GatewayMetrics {
  registry: Registry
  /** Requests decided while the shared counters were unavailable, by decision: local-admitted, local-refused, fail-closed. */
  degradedRequests: Counter<'decision'>
  /** 1 while the gateway runs without its shared counters (outage, or rebuilding them after one), else 0. */
  degraded: Gauge
  /** Counter rebuilds from the ledger, by result: ok, failed. */
  counterRebuilds: Counter<'result'>
  /** Ledger entries dropped because the writer's buffer was full (the store was unreachable for long). */
  ledgerDropped: Counter
  /** Ledger batch writes that failed (and were retried). */
  ledgerWriteFailures: Counter
  /** Ledger entries waiting to be written. */
  ledgerPending: Gauge
}

/** A fresh registry with the gateway's metrics (prefixed `gpuplane_gateway_`). */
export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry()
  const registers = [registry]
  return {
    registry,
    degradedRequests: new Counter({ name: 'gpuplane_gateway_degraded_requests_total', help: 'Requests decided while the shared token counters were unavailable, by decision (local-admitted, local-refused, fail-closed)', labelNames: ['decision'], registers }),
    degraded: new Gauge({ name: 'gpuplane_gateway_degraded', help: '1 while the gateway runs without its shared token counters (outage or rebuild), else 0', registers }),
    counterRebuilds: new Counter({ name: 'gpuplane_gateway_counter_rebuilds_total', help: 'Token counter rebuilds from the usage ledger, by result', labelNames: ['result'], registers }),
    ledgerDropped: new Counter({ name: 'gpuplane_gateway_ledger_dropped_total', help: 'Usage ledger entries dropped because the write buffer was full', registers }),
    ledgerWriteFailures: new Counter({ name: 'gpuplane_gateway_ledger_write_failures_total', help: 'Usage ledger batch writes that failed and were retried', registers }),
    ledgerPending: new Gauge({ name: 'gpuplane_gateway_ledger_pending', help: 'Usage ledger entries waiting to be written', registers }),
  }
}
