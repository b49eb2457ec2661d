// Reading GET .../telemetry/utilization (src/server/telemetry-routes.ts) into chart points: pure, shared by the Utilization view and its tests.

/** One point of a utilization series: GPUs (GPU-equivalents) allocated and used, averaged over the bucket starting at `time`. */
export interface UtilPoint {
  time: number
  group: string
  allocated: number
  used: number
}

/** The route's answer: `{from, to, step, by, series: [{key, points: [{time, allocated, used}]}]}`. */
export interface UtilizationResponse {
  series?: Array<{ key: string; points: Array<{ time: number; allocated: number; used: number }> }>
}

/** The series of the answer as flat points, in time order (a series' key is its GPU model or namespace). */
export function utilPoints(data: UtilizationResponse): UtilPoint[] {
  return (data.series ?? []).flatMap((s) => s.points.map((p) => ({ time: p.time, group: s.key, allocated: p.allocated, used: p.used }))).sort((a, b) => a.time - b.time)
}
