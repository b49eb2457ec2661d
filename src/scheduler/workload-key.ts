// The identity of a workload everywhere in the scheduler: `namespace/name`.
import type { Workload } from '../api/workload-v1alpha1.ts'

export function workloadKeyOf(w: Workload): string {
  return `${w.metadata.namespace ?? 'default'}/${w.metadata.name ?? ''}`
}
