// The demo data of `gpuplane server --demo`: the demo Cluster, teams with quotas, cohorts and isolation, and workloads in every state.
//
// It reads, from the package (beside this module, not the working directory):
// examples/cluster-demo.yaml (the Cluster), examples/workloads-demo.yaml (research and inference)
// and examples/server-demo.yaml (a cohort, dedicated nodes, a gang, a workload over its quota).
// Objects are checked with the decoders the API uses, then created in one commit, Workloads with
// `status.phase: Pending` as the API creates them; the controller publishes the Cluster and
// schedules the rest. Loading is skipped when the demo Cluster already exists, so restarting with
// --demo changes nothing (and what the user deleted stays deleted).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decodeText, toPlain } from '../api/decode.ts'
import { parseKind } from '../api/decode-kind.ts'
import { Cluster } from '../api/gpuplane-v1alpha1.ts'
import { Namespace } from '../api/namespace-v1alpha1.ts'
import { Workload } from '../api/workload-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { NewObject, Store } from '../store/types.ts'

/** The files of the demo, in the order their objects are created. */
export const DEMO_FILES = ['cluster-demo.yaml', 'workloads-demo.yaml', 'server-demo.yaml'].map((f) => fileURLToPath(new URL(`../../examples/${f}`, import.meta.url)))

/** The name of the demo Cluster: its presence means the demo is loaded. */
export const DEMO_CLUSTER = 'demo'

const GPUPLANE_SCHEMAS: Record<string, Parameters<typeof parseKind>[1]['schema']> = { Cluster, Namespace, Workload }

export interface DemoResult {
  /** False when the demo was already there (nothing was written). */
  loaded: boolean
  /** Objects created. */
  objects: number
}

/** Loads the demo objects unless the demo Cluster exists; idempotent, also when two replicas start at once. */
export async function loadDemo(store: Store): Promise<DemoResult> {
  if (await store.get({ kind: 'Cluster', name: DEMO_CLUSTER })) return { loaded: false, objects: 0 }
  const objects = demoObjects()
  try {
    await store.commit(objects.map((object) => ({ op: 'create', object })))
  } catch (e) {
    // Another replica loaded it between our check and our commit.
    if (e instanceof GpuplaneError && e.code === 'ALREADY_EXISTS') return { loaded: false, objects: 0 }
    throw e
  }
  return { loaded: true, objects: objects.length }
}

/** The demo's objects as the API would store them, checked; in file order. */
export function demoObjects(): NewObject[] {
  const out: Array<{ seq: number; file: number; object: NewObject }> = []
  DEMO_FILES.forEach((file, i) => {
    const { objects, foreign } = decodeText(readFileSync(file, 'utf8'), file)
    for (const d of objects) out.push({ seq: d.seq, file: i, object: toPlain(d.object) as NewObject })
    for (const f of foreign) {
      const schema = GPUPLANE_SCHEMAS[f.kind]
      if (!schema) throw new GpuplaneError('INVALID_INPUT', `the demo has a ${f.kind}, which it does not know how to load; use Cluster, Namespace, Workload or a resource.k8s.io kind`, f.location)
      parseKind(f, { kind: f.kind, schema })
      const object = toPlain(f.raw) as NewObject
      out.push({ seq: f.seq, file: i, object: f.kind === 'Workload' ? { ...object, status: { phase: 'Pending' } } : object })
    }
  })
  return out.sort((a, b) => a.file - b.file || a.seq - b.seq).map((o) => o.object)
}
