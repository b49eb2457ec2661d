// Publishing Cluster objects: the Nodes and ResourceSlices of each Cluster (src/inventory), replacing what it published before, in one commit.
//
// Everything published for a Cluster carries the label gpuplane.io/cluster=<name>. The desired
// objects are computed from the spec (deterministic: the same spec gives the same objects) and
// compared with those in the store, so a Cluster is rewritten only when its spec changed, and a
// restart writes nothing. A Cluster that does not decode, or whose nodes are already published by
// something else, keeps what it published before and says why in status (phase Invalid). Objects
// labelled for a Cluster that no longer exists are deleted. The standard DeviceClasses (gpu, mig,
// vgpu, shared) are created once a Cluster exists, if missing; existing ones are never changed.
import { toPlain } from '../api/decode.ts'
import { clusterToHosts } from '../inventory/cluster.ts'
import { nodeObject } from '../inventory/k8s-nodes.ts'
import { deviceClasses, publishHost } from '../inventory/publish.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { NewObject, StoredObject, Write } from '../store/types.ts'
import { cacheKey, type ObjectCache } from './controller-cache.ts'
import { canonical, LABEL_CLUSTER, type ParsedObjects } from './controller-view.ts'

/** One commit of publishing, and what it does (for logs). */
export interface PublishPlan {
  what: string
  writes: Write[]
}

/** What to commit so that the store holds exactly what each Cluster publishes; empty when it does. */
export function publishPlans(cache: ObjectCache, parsed: ParsedObjects): PublishPlan[] {
  const clusters = [...cache.all('Cluster').values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
  const plans: PublishPlan[] = []
  const missingClasses = clusters.length === 0 ? [] : deviceClasses().filter((c) => !cache.get('DeviceClass', c.metadata.name ?? ''))
  if (missingClasses.length > 0) plans.push({ what: 'created the standard DeviceClasses', writes: missingClasses.map((c) => ({ op: 'create', object: toPlain(c) as NewObject })) })
  for (const c of clusters) {
    const plan = clusterPlan(cache, parsed, c)
    if (plan.length > 0) plans.push({ what: `published Cluster ${c.metadata.name}`, writes: plan })
  }
  const names = new Set(clusters.map((c) => c.metadata.name))
  const leftovers = [...published(cache, 'Node'), ...published(cache, 'ResourceSlice')].filter((o) => !names.has(o.metadata.labels![LABEL_CLUSTER]!))
  if (leftovers.length > 0) plans.push({ what: 'deleted what deleted Clusters published', writes: leftovers.map((o) => deleteWrite(o)) })
  return plans
}

function published(cache: ObjectCache, kind: 'Node' | 'ResourceSlice'): StoredObject[] {
  return [...cache.all(kind).values()].filter((o) => o.metadata.labels?.[LABEL_CLUSTER] !== undefined)
}

function deleteWrite(o: StoredObject): Write {
  return { op: 'delete', key: { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name }, expectResourceVersion: o.metadata.resourceVersion }
}

/** The Nodes and ResourceSlices a Cluster publishes, labelled with its name. */
function desiredObjects(cache: ObjectCache, parsed: ParsedObjects, cluster: StoredObject): NewObject[] {
  const name = cluster.metadata.name
  const label = <T extends { metadata: { labels?: Record<string, string> } }>(o: T): NewObject => toPlain({ ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, [LABEL_CLUSTER]: name } } }) as NewObject
  const hosts = clusterToHosts(parsed.cluster(cluster))
  const nodes = hosts.map((h) => label(nodeObject(h)))
  const slices = hosts.flatMap((h) => (h.gpus.length > 0 ? publishHost(h) : [])).map(label)
  return [...nodes, ...slices]
}

/** The writes that make the store hold what `cluster` publishes, and its status when it changes. */
function clusterPlan(cache: ObjectCache, parsed: ParsedObjects, cluster: StoredObject): Write[] {
  const name = cluster.metadata.name
  let desired: NewObject[]
  try {
    desired = desiredObjects(cache, parsed, cluster)
  } catch (e) {
    if (!(e instanceof GpuplaneError)) throw e
    return statusWrite(cluster, { phase: 'Invalid', reason: `${e.location.path ? `${e.location.path}: ` : ''}${e.message}` })
  }
  const writes: Write[] = []
  const wanted = new Set<string>()
  for (const o of desired) {
    const kind = o.kind as 'Node' | 'ResourceSlice'
    const key = cacheKey(o)
    wanted.add(`${kind}/${key}`)
    const held = cache.get(kind, key)
    if (!held) {
      writes.push({ op: 'create', object: o })
      continue
    }
    const owner = held.metadata.labels?.[LABEL_CLUSTER]
    if (owner !== name) {
      const by = owner === undefined ? 'it was created without the label gpuplane.io/cluster' : `Cluster ${owner} publishes it`
      return statusWrite(cluster, { phase: 'Invalid', reason: `${kind} ${key} already exists and ${by}; rename the host or delete that ${kind}` })
    }
    if (canonical(content(o)) !== canonical(content(held))) writes.push({ op: 'update', object: { ...o, metadata: { ...o.metadata } }, expectResourceVersion: held.metadata.resourceVersion })
  }
  for (const kind of ['Node', 'ResourceSlice'] as const) {
    for (const o of published(cache, kind)) if (o.metadata.labels![LABEL_CLUSTER] === name && !wanted.has(`${kind}/${cacheKey(o)}`)) writes.push(deleteWrite(o))
  }
  const nodes = desired.filter((o) => o.kind === 'Node').length
  return [...writes, ...statusWrite(cluster, { phase: 'Published', nodes, resourceSlices: desired.length - nodes })]
}

/** What publishing compares: labels, spec and status. */
function content(o: NewObject | StoredObject): unknown {
  return { labels: o.metadata.labels ?? {}, spec: o.spec ?? null, status: o.status ?? null }
}

/** The Cluster's status write, or none when it already says that. */
function statusWrite(cluster: StoredObject, status: Record<string, unknown>): Write[] {
  if (canonical(cluster.status ?? null) === canonical(status)) return []
  return [{ op: 'updateStatus', key: { kind: 'Cluster', name: cluster.metadata.name }, status, expectResourceVersion: cluster.metadata.resourceVersion }]
}
