// Stable identifiers for GPUs that no hardware reported (Cluster specs, traces): UUIDs derived from a name.
import { createHash } from 'node:crypto'

/** A stable GPU UUID (`GPU-` + 8-4-4-4-12 hex digits) derived from `seed`, e.g. "node-a/3". */
export function derivedUuid(seed: string, prefix: 'GPU' | 'MIG' = 'GPU'): string {
  const h = createHash('sha256').update(seed).digest('hex')
  return `${prefix}-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}
