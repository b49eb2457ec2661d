// The allocation-interval tracker as it was before it went incremental: each pass lists claims, workloads and slices, diffs them with what is held, and writes the intervals. The reference the incremental tracker is tested against (src/server/telemetry-intervals.test.ts) and measured against (bench/tracker.ts).
import type { Store } from '../src/store/types.ts'
import { currentHoldings, diffHoldings, holdingKey, intervalOf, type Holding } from '../src/telemetry/intervals.ts'
import type { TelemetryStore } from '../src/telemetry/types.ts'

/** One full pass: `held` is updated to what is held at `now`. */
export async function relistPass(store: Store, telemetry: TelemetryStore, held: Map<string, Holding>, now: number): Promise<void> {
  const [claims, workloads, slices] = await Promise.all(['ResourceClaim', 'Workload', 'ResourceSlice'].map((k) => store.list(k)))
  const { open, close } = diffHoldings(held, currentHoldings({ claims: claims!.items, workloads: workloads!.items, slices: slices!.items }))
  for (const h of close) {
    await telemetry.closeInterval(h, now)
    held.delete(holdingKey(h))
  }
  for (const h of open) {
    await telemetry.openInterval(intervalOf(h, now))
    held.set(holdingKey(h), h)
  }
}
