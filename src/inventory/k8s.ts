// Inventory from a Kubernetes cluster's own DRA objects: `kubectl get resourceslices,deviceclasses -o yaml` dumps, validated and passed through.
import { decodeText, type ObjectCheck } from '../api/decode.ts'
import type { DeviceClass, ResourceSlice } from '../api/resource-v1.ts'
import { GpuplaneError } from '../common/errors.ts'

export interface K8sDump {
  /** v1 Node objects of the dump, as read (a dump of `kubectl get nodes,resourceslices,...`). */
  nodes: Array<Record<string, unknown>>
  /** DeviceClasses, normalised to resource.k8s.io/v1, in document order. */
  classes: DeviceClass[]
  /** ResourceSlices, normalised to resource.k8s.io/v1, in document order. */
  slices: ResourceSlice[]
}

/**
 * Reads a dump: multi-document YAML or JSON, `kind: List` (as kubectl writes it), resource.k8s.io
 * v1, v1beta2 and v1beta1. Every DRA object is shape- and rule-checked (decodeText) and run
 * through `checks`; ResourceClaims and other kinds are left out. Throws GpuplaneError with file,
 * document and path on invalid input, and when the dump holds neither slices nor classes.
 */
export function readK8sDump(texts: ReadonlyArray<{ text: string; file: string }>, checks: ObjectCheck[] = []): K8sDump {
  const dump: K8sDump = { nodes: [], classes: [], slices: [] }
  for (const { text, file } of texts) {
    const { objects, foreign } = decodeText(text, file, checks)
    for (const f of foreign) if (f.kind === 'Node' && f.apiVersion === 'v1') dump.nodes.push(f.raw)
    for (const { object } of objects) {
      if (object.kind === 'DeviceClass') dump.classes.push(object)
      if (object.kind === 'ResourceSlice') dump.slices.push(object)
    }
  }
  if (dump.slices.length === 0 && dump.classes.length === 0) {
    const files = texts.map((t) => t.file).join(', ')
    throw new GpuplaneError('INVALID_INPUT', 'no ResourceSlices or DeviceClasses found; pass the output of "kubectl get resourceslices,deviceclasses -o yaml"', { file: files })
  }
  return dump
}
