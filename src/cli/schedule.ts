// `gpuplane schedule`: places the Workloads of the input on the cluster of the input, restoring those already placed; the reading and printing that `gpuplane defrag` shares.
//
// A placed workload is written as its Workload with `status.nodeName` (and `status.phase:
// Scheduled`) plus, for each entry of spec.resourceClaims, a ResourceClaim with
// `status.allocation`: the claim it names (resourceClaimName), or the claim made for it, named
// `<workload>-<entry>`. A Workload without status.nodeName is pending. What `schedule` prints is
// that workload side (Namespaces, templates, claims, Workloads), so it reads back with the same
// cluster files: `gpuplane schedule -f cluster.yaml -f placed.yaml`.
import { Command, Option } from 'commander'
import { stringify } from 'yaml'
import { toPlain, type Decoded, type Foreign } from '../api/decode.ts'
import { fieldLocation, parseKind } from '../api/decode-kind.ts'
import { parseNamespace, type Namespace } from '../api/namespace-v1alpha1.ts'
import type { DeviceClass, DraObject, ResourceClaim, ResourceClaimTemplate, ResourceSlice } from '../api/resource-v1.ts'
import { Workload } from '../api/workload-v1alpha1.ts'
import { formatLocation, GpuplaneError, type ErrorLocation } from '../common/errors.ts'
import type { PlacedWorkload } from '../scheduler/defrag.ts'
import { disruptionBudgets, objectKey as keyOf, restoreEach, withoutAllocation, type InputWorkload, type PlacementInput } from '../scheduler/restore.ts'
import { Scheduler, workloadKey, type SchedulerOptions } from '../scheduler/scheduler.ts'
import type { SchedNode } from '../scheduler/types.ts'
import { schedNodeFromObject } from '../scheduler/view.ts'
import { selectorCheck } from '../cel/index.ts'
import { stringifyJson } from './allocate.ts'
import { readObjects } from './read-objects.ts'
import { formatTable } from './table.ts'

export { disruptionBudgets, type InputWorkload, type PlacementInput } from '../scheduler/restore.ts'
export { formatTable } from './table.ts'

export type PlacementOutput = 'yaml' | 'json' | 'table'

const SCHEDULE_HELP = `
What it reads:
  Every YAML/JSON document under each PATH (folders recursively; "-" is stdin), "kind: List"
  too: Nodes (v1; without any, the nodes the ResourceSlices name), ResourceSlices, DeviceClasses,
  ResourceClaims and ResourceClaimTemplates (resource.k8s.io), and gpuplane.io/v1alpha1
  Namespaces (quotas, isolation, disruption budgets) and Workloads. Other kinds are ignored.

Placed and pending workloads:
  A Workload with status.nodeName runs there: for each entry of spec.resourceClaims its claim
  must be in the input with status.allocation (the ResourceClaim it names, or the one made for
  it, named <workload>-<entry>). It keeps its node and devices. A Workload without
  status.nodeName is pending and is scheduled: highest priority first, gangs all or nothing,
  preempting lower priorities within disruption budgets unless --no-preemption.

Output:
  -o yaml (default): the Namespaces, ResourceClaimTemplates and ResourceClaims of the input,
  then each Workload with status.phase (Scheduled or Pending), status.nodeName or status.reason,
  followed by its claims with status.allocation. It is valid input again, with the same
  cluster files.
  -o json: the same objects as one "kind: List".
  -o table: NAMESPACE NAME PRIORITY NODE DEVICES REASON, one workload a line.
  Pending workloads are also reported on stderr with the reason, per node class.

Exit codes:
  0  every workload is placed
  1  internal error
  2  invalid input (the message names the file, document index and field path)
  3  some workloads are pending

Example:
  gpuplane inventory cluster -f examples/cluster-demo.yaml --classes > /tmp/cluster.yaml
  gpuplane schedule -f /tmp/cluster.yaml -f examples/workloads-demo.yaml -o table
`

/** Reads and checks the input; placed workloads must come with their claims' allocations. */
export function readPlacementInput(files: readonly string[]): PlacementInput {
  const { objects, foreign } = readObjects(files, [selectorCheck])
  const slices = ofKind<ResourceSlice>(objects, 'ResourceSlice')
  const claims = ofKind<ResourceClaim>(objects, 'ResourceClaim')
  const input: PlacementInput = {
    nodes: nodesOf(foreign, slices),
    slices,
    classes: ofKind<DeviceClass>(objects, 'DeviceClass'),
    claims,
    templates: ofKind<ResourceClaimTemplate>(objects, 'ResourceClaimTemplate'),
    namespaces: namespacesOf(foreign),
    workloads: workloadsOf(foreign),
    owner: new Map(),
  }
  const claimsByKey = new Map(claims.map((c) => [keyOf(c), c]))
  for (const w of input.workloads) {
    w.claimKeys.forEach((k, i) => {
      const at = fieldLocation(w.location, `spec.resourceClaims[${i}]`)
      const other = input.owner.get(k)
      if (other !== undefined) throw new GpuplaneError('INVALID_INPUT', `ResourceClaim ${k} is also the claim of workload ${other}; a claim belongs to one workload here: give each workload its own claim or template`, at)
      input.owner.set(k, w.key)
      const allocated = claimsByKey.get(k)?.status?.allocation !== undefined
      if (w.node !== undefined && !allocated) {
        throw new GpuplaneError('INVALID_INPUT', `workload ${w.key} runs on node ${w.node} (status.nodeName), but ResourceClaim ${k} is not in the input with status.allocation; add it as gpuplane schedule printed it, or remove status.nodeName to schedule the workload again`, at)
      }
      if (w.node === undefined && allocated) {
        throw new GpuplaneError('INVALID_INPUT', `ResourceClaim ${k} has status.allocation, but its workload ${w.key} has no status.nodeName; set status.nodeName to the node of that allocation, or remove the allocation to schedule the workload again`, at)
      }
    })
  }
  return input
}

/**
 * A scheduler holding the placed workloads where they run (in input order), and the pending ones.
 * Throws INVALID_INPUT at the workload's status.nodeName when a placement cannot be restored.
 */
export function restorePlacements(input: PlacementInput, options: SchedulerOptions): { scheduler: Scheduler; running: PlacedWorkload[]; pending: Workload[] } {
  const { scheduler, running, pending, failed } = restoreEach(input, options)
  const f = failed[0]
  if (f === undefined) return { scheduler, running, pending }
  const { key, node, location } = f.workload
  if (f.cause === 'elsewhere') {
    throw new GpuplaneError('INVALID_INPUT', `workload ${key} runs on node ${node}, but ResourceClaim ${f.claim} holds device ${f.device}, which no ResourceSlice publishes for that node; correct status.nodeName or the claim's status.allocation`, fieldLocation(location, 'status.nodeName'))
  }
  throw new GpuplaneError('INVALID_INPUT', `cannot restore workload ${key} on node ${node}: ${f.reason}; correct status.nodeName and its claims' status.allocation, or remove status.nodeName to schedule it again`, fieldLocation(location, 'status.nodeName'))
}

export interface ScheduleResult {
  input: PlacementInput
  /** Every placed workload by `namespace/name`. */
  placements: Map<string, PlacedWorkload>
  /** Why each pending workload is pending. */
  reasons: Map<string, string>
}

export function runSchedule(files: readonly string[], preemption: boolean): ScheduleResult {
  const input = readPlacementInput(files)
  const { scheduler, running, pending } = restorePlacements(input, { preemption, preemptionsLeft: disruptionBudgets(input.namespaces) })
  const placements = new Map(running.map((r) => [workloadKey(r.workload), r]))
  const reasons = new Map<string, string>()
  const preemptedBy = new Map<string, string>()
  scheduler.scheduleAll(pending).forEach((d, i) => {
    if (!d.ok) return void reasons.set(d.workload, d.reason)
    placements.set(d.workload, { workload: pending[i]!, node: d.node, claims: d.claims, allocations: d.allocations })
    for (const victim of d.preempted ?? []) preemptedBy.set(victim, d.workload)
  })
  for (const key of [...placements.keys()]) {
    if (scheduler.placementOf(key) !== undefined) continue
    placements.delete(key)
    reasons.set(key, `preempted by ${preemptedBy.get(key) ?? 'a workload of higher priority'}`)
  }
  return { input, placements, reasons }
}

/**
 * The workload side after scheduling: Namespaces, templates, the claims no workload owns, then each
 * Workload with its status followed by its claims: with status.allocation when it is placed; when
 * pending, only the claims it names, without allocation (the others are made again when placed).
 */
export function renderPlacement(input: PlacementInput, placements: ReadonlyMap<string, PlacedWorkload>, reasons: ReadonlyMap<string, string>, output: PlacementOutput): string {
  if (output === 'table') return placementTable(input, placements, reasons)
  const claimsByKey = new Map(input.claims.map((c) => [keyOf(c), c]))
  const objects: unknown[] = [...input.namespaces, ...input.templates, ...input.claims.filter((c) => !input.owner.has(keyOf(c)))]
  for (const w of input.workloads) {
    const p = placements.get(w.key)
    const status = p ? { phase: 'Scheduled', nodeName: p.node } : { phase: 'Pending', reason: reasons.get(w.key) ?? 'not scheduled' }
    objects.push({ ...w.workload, status })
    w.claimKeys.forEach((k, i) => {
      const given = claimsByKey.get(k)
      if (p) objects.push({ ...(given ?? madeClaim(p.claims[i]!)), status: { ...given?.status, allocation: p.allocations[i] } })
      else if (given && w.workload.spec.resourceClaims?.[i]?.resourceClaimName) objects.push(withoutAllocation(given))
    })
  }
  if (output === 'json') return stringifyJson({ apiVersion: 'v1', kind: 'List', items: objects }) + '\n'
  return objects.map((o) => stringify(toPlain(o), { lineWidth: 0 })).join('---\n')
}

/** A claim the scheduler made for a workload, as printed: its name and namespace identify it. */
function madeClaim(c: ResourceClaim): ResourceClaim {
  return { apiVersion: c.apiVersion, kind: c.kind, metadata: { name: c.metadata.name, namespace: c.metadata.namespace }, spec: c.spec }
}

function placementTable(input: PlacementInput, placements: ReadonlyMap<string, PlacedWorkload>, reasons: ReadonlyMap<string, string>): string {
  const rows = input.workloads.map((w) => {
    const p = placements.get(w.key)
    const devices = p ? p.allocations.flatMap((a) => (a.devices?.results ?? []).map((r) => r.device)) : []
    return [w.workload.metadata.namespace ?? 'default', w.workload.metadata.name ?? '', String(w.workload.spec.priority ?? 0), p?.node ?? '-', devices.join(',') || '-', p ? '-' : (reasons.get(w.key) ?? 'not scheduled')]
  })
  return formatTable(['NAMESPACE', 'NAME', 'PRIORITY', 'NODE', 'DEVICES', 'REASON'], rows)
}


export function registerSchedule(program: Command, out: (s: string) => void, err: (s: string) => void): void {
  program
    .command('schedule')
    .description('places the Workloads in PATH on the cluster in PATH (Nodes, ResourceSlices, DeviceClasses); placed ones keep their node and devices')
    .requiredOption('-f, --filename <PATH...>', 'files or folders with the objects to read ("-" for stdin)')
    .addOption(new Option('-o, --output <FORMAT>', 'output format').choices(['yaml', 'json', 'table']).default('yaml'))
    .option('--no-preemption', 'never preempt placed workloads to make room for pending ones')
    .addHelpText('after', SCHEDULE_HELP)
    .action((opts: { filename: string[]; output: PlacementOutput; preemption: boolean }) => {
      const r = runSchedule(opts.filename, opts.preemption)
      out(renderPlacement(r.input, r.placements, r.reasons, opts.output))
      for (const [key, reason] of r.reasons) err(`workload ${key} pending: ${reason}\n`)
      program.setOptionValue('exitCode', r.reasons.size > 0 ? 3 : 0)
    })
}

function nodesOf(foreign: Foreign[], slices: ResourceSlice[]): SchedNode[] {
  const nodes = foreign.filter((f) => f.kind === 'Node' && f.apiVersion === 'v1').map((f) => schedNodeFromObject(f.raw))
  if (nodes.length > 0) return nodes
  const names = [...new Set(slices.map((s) => s.spec.nodeName).filter((n): n is string => !!n))].sort()
  return names.map((name) => ({ name, labels: {}, taints: [] }))
}

function namespacesOf(foreign: Foreign[]): Namespace[] {
  const first = new Map<string, ErrorLocation>()
  return gpuplaneObjects(foreign, 'Namespace').map((f) => {
    const { namespace, location } = parseNamespace(f)
    const name = namespace.metadata.name ?? ''
    const earlier = first.get(name)
    if (earlier) throw new GpuplaneError('INVALID_INPUT', `Namespace "${name}" is declared twice (first at ${formatLocation(earlier).replace(/: $/, '')}); keep one`, fieldLocation(location, 'metadata.name'))
    first.set(name, location)
    return namespace
  })
}

function workloadsOf(foreign: Foreign[]): InputWorkload[] {
  const first = new Map<string, ErrorLocation>()
  return gpuplaneObjects(foreign, 'Workload').map((f) => {
    const { object: workload, location } = parseKind(f, { kind: 'Workload', schema: Workload })
    if (!workload.metadata.name) throw new GpuplaneError('INVALID_INPUT', 'a Workload needs a name', fieldLocation(location, 'metadata.name'))
    const key = workloadKey(workload)
    const earlier = first.get(key)
    if (earlier) throw new GpuplaneError('INVALID_INPUT', `Workload ${key} is declared twice (first at ${formatLocation(earlier).replace(/: $/, '')}); keep one`, fieldLocation(location, 'metadata.name'))
    first.set(key, location)
    const node = workload.status?.nodeName
    if (node !== undefined && (typeof node !== 'string' || node === '')) throw new GpuplaneError('INVALID_INPUT', 'status.nodeName must be the name of the node the workload runs on; remove it for a pending workload', fieldLocation(location, 'status.nodeName'))
    const ns = workload.metadata.namespace ?? 'default'
    const claimKeys = (workload.spec.resourceClaims ?? []).map((c) => `${ns}/${c.resourceClaimName ?? `${workload.metadata.name}-${c.name}`}`)
    return { workload, key, location, ...(node !== undefined ? { node: node as string } : {}), claimKeys }
  })
}

function gpuplaneObjects(foreign: Foreign[], kind: string): Foreign[] {
  return foreign.filter((f) => f.kind === kind && f.apiVersion.startsWith('gpuplane.io/'))
}


function ofKind<T extends DraObject>(objects: Decoded[], kind: T['kind']): T[] {
  return objects.filter((o) => o.object.kind === kind).map((o) => o.object as T)
}
