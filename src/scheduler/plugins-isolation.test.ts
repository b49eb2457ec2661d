import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Namespace } from '../api/namespace-v1alpha1.ts'
import type { ResourceSlice } from '../api/resource-v1.ts'
import type { IsolationLevel, Workload } from '../api/workload-v1alpha1.ts'
import { hostsFromClusterText } from '../inventory/cluster.ts'
import { nodeObject } from '../inventory/k8s-nodes.ts'
import { deviceClasses, publishHost } from '../inventory/publish.ts'
import type { HostInfo } from '../inventory/types.ts'
import { LABEL_DEDICATED_TO, LABEL_VM_HOST } from './plugins-isolation.ts'
import { defaultProfile, Scheduler, type Decision } from './scheduler.ts'
import type { SchedNode } from './types.ts'
import { clusterView, schedNodeFromObject } from './view.ts'

const NODES = ['a', 'b', 'c']
const slices = NODES.flatMap((n) => publishHost({ node: n, mode: 'whole', gpus: Array.from({ length: 4 }, (_, i) => ({ index: i, uuid: `GPU-${n}-${i}`, productName: 'NVIDIA H100 80GB HBM3', model: 'H100-80GB' })) }))

function nsObj(name: string, isolation: IsolationLevel): Namespace {
  return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name }, spec: { isolation } } as Namespace
}

function workload(name: string, namespace: string, gpus: number, isolation?: IsolationLevel, deviceClassName = 'gpu.nvidia.com', selector?: string): Workload {
  const selectors = selector ? { selectors: [{ cel: { expression: selector } }] } : {}
  return {
    apiVersion: 'gpuplane.io/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace },
    spec: { ...(isolation ? { isolation } : {}), resourceClaims: [{ name: 'g', spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName, count: gpus, ...selectors } }] } } }] },
  }
}

/** A workload of `count` vGPUs of one profile. */
const vgpus = (name: string, namespace: string, count: number, profile: string, isolation?: IsolationLevel) =>
  workload(name, namespace, count, isolation, 'vgpu.gpuplane.io', `device.attributes['gpu.nvidia.com'].profile == '${profile}'`)

function scheduler(namespaces: Namespace[], nodes: SchedNode[] = NODES.map((name) => ({ name, labels: {}, taints: [] }))) {
  return new Scheduler(clusterView({ nodes, slices, classes: deviceClasses(), namespaces }))
}

test('a dedicated namespace holds its node alone; others go elsewhere, its own may join', () => {
  const s = scheduler([nsObj('secure', 'dedicated-nodes'), nsObj('open', 'shared')])
  const first = s.scheduleOne(workload('s1', 'secure', 1))
  assert.ok(first.ok && first.node === 'a')
  const other = s.scheduleOne(workload('o1', 'open', 1))
  assert.ok(other.ok && other.node === 'b', 'a shared workload does not join a dedicated node')
  const again = s.scheduleOne(workload('s2', 'secure', 1))
  assert.ok(again.ok && again.node === 'a', 'the namespace fills its own node')
  // A dedicated workload does not land beside another namespace's workloads either.
  const third = s.scheduleOne(workload('s3', 'secure', 4))
  assert.ok(third.ok && third.node === 'c')
  const full = s.scheduleOne(workload('s4', 'secure', 3))
  assert.equal(full.ok, false)
  assert.match(!full.ok ? full.reason : '', /dedicated-nodes: node already runs workloads of open/)
  // Once the dedicated workloads leave, the node is open again.
  s.unschedule('secure/s1')
  s.unschedule('secure/s2')
  assert.ok(s.scheduleOne(workload('o2', 'open', 4)).ok)
})

test('a node labelled for a namespace takes no one else; vm-per-workload needs a VM host', () => {
  const s = scheduler([], [{ name: 'a', labels: { [LABEL_DEDICATED_TO]: 'finance' }, taints: [] }])
  const d = s.scheduleOne(workload('x', 'team', 1))
  assert.match(!d.ok ? d.reason : '', /1 node: node dedicated to namespace finance/)
  assert.ok(s.scheduleOne(workload('y', 'finance', 1)).ok)
  const vm = s.scheduleOne(workload('z', 'finance', 1, 'vm-per-workload'))
  assert.equal(!vm.ok ? vm.reason : '', '1 node: isolation vm-per-workload: node is not a VM host (label gpuplane.io/vm-host=true)')
})

const HEAD = 'apiVersion: gpuplane.io/v1alpha1\nkind: Cluster\nmetadata: {name: iso}\nspec:\n'

/** A worker with 2 H100s, a hypervisor passing 4 bridged H100s through, one carving vGPUs of 2 L40S. */
const HOSTS = `  hosts:
  - {name: w, gpus: {model: H100-80GB, count: 2}}
  - {name: hv-pass, worker: false, gpus: {model: H100-80GB, count: 4}, topology: {nvlink: pairs}}
  - {name: hv-vgpu, worker: false, mode: vgpu, gpus: {model: L40S-48GB, count: 2}}
`

/** `entries` as the spec.virtualMachines of a Cluster text. */
const virtualMachines = (entries: unknown[]) => (entries.length > 0 ? `  virtualMachines:\n${entries.map((e) => `  - ${JSON.stringify(e)}\n`).join('')}` : '')

/**
 * A Cluster published as `gpuplane inventory cluster --vm-hosts` does, and a scheduler over it.
 * Its profile scores with binpack only: the topology score throws on the numaNode attribute
 * (an int, a bigint here) that Cluster hosts publish, since it JSON-encodes attribute values.
 */
function fromHosts(hosts: HostInfo[], namespaces: Namespace[]) {
  const slices = hosts.flatMap((h) => (h.gpus.length > 0 ? publishHost(h) : []))
  const nodes = hosts.map((h) => schedNodeFromObject({ ...nodeObject(h) }))
  return { slices, scheduler: new Scheduler(clusterView({ nodes, slices, classes: deviceClasses(), namespaces }), defaultProfile({ binpack: 1 })) }
}

const vmCluster = (spec: string, namespaces: Namespace[]) => fromHosts(hostsFromClusterText(HEAD + spec, 'iso.yaml', { vmHosts: true }), namespaces)

/** The UUIDs of the GPUs (or, for vGPUs, of their parents) a decision was given. */
function uuidsOf(d: Decision, slices: ResourceSlice[]): string[] {
  assert.ok(d.ok)
  return d.allocations.flatMap((a) => a.devices?.results ?? []).map((r) => {
    const device = slices.filter((sl) => sl.spec.pool.name === r.pool).flatMap((sl) => sl.spec.devices ?? []).find((x) => x.name === r.device)!
    return (device.attributes?.uuid ?? device.attributes?.parentUUID)!.string!
  })
}

test('vm-per-workload: passthrough and vGPU VMs planned on VM hosts; pasted into the Cluster, the plans publish those VMs', () => {
  const { scheduler: s, slices } = vmCluster(HOSTS, [nsObj('secure', 'vm-per-workload'), nsObj('open', 'shared')])
  const big = workload('train', 'secure', 2)
  big.spec.resources = { cpu: '16', memory: '128Gi' }
  const train = s.scheduleOne(big)
  assert.ok(train.ok && train.node === 'hv-pass')
  assert.deepEqual(train.vm, { virtualMachine: { name: 'vm-secure-train', host: 'hv-pass', passthroughGpus: [0, 1], mode: 'whole' }, cpu: '16', memory: '128Gi' })
  const infer = s.scheduleOne(vgpus('infer', 'secure', 2, 'L40S-12C'))
  assert.ok(infer.ok && infer.node === 'hv-vgpu')
  assert.deepEqual(infer.vm, { virtualMachine: { name: 'vm-secure-infer', host: 'hv-vgpu', vgpus: [{ gpu: 0, profile: 'L40S-12C', count: 2 }] } })
  const open = s.scheduleOne(workload('o', 'open', 2))
  assert.ok(open.ok && open.node === 'w' && open.vm === undefined, 'a shared workload gets a worker and no VM')

  const after = hostsFromClusterText(HEAD + HOSTS + virtualMachines([train.vm.virtualMachine, infer.vm.virtualMachine]), 'iso.yaml', { vmHosts: true })
  const node = (name: string) => after.find((h) => h.node === name) ?? assert.fail(`no node ${name}`)
  assert.deepEqual(node('vm-secure-train').gpus.map((g) => g.uuid), uuidsOf(train, slices), 'the VM holds exactly the GPUs the workload was given')
  assert.deepEqual(node('vm-secure-train').gpus.map((g) => g.nvlinkDomain), ['hv-pass-nvl0', 'hv-pass-nvl0'], 'the bridged pair stays one NVLink domain')
  assert.deepEqual(node('vm-secure-infer').gpus.map((g) => g.productName), ['NVIDIA L40S-12C', 'NVIDIA L40S-12C'])
  assert.deepEqual(node('hv-pass').gpus.map((g) => g.index), [2, 3], 'the host offers what the VM left')
  assert.deepEqual(node('hv-vgpu').gpus.map((g) => g.index), [1])
  // The VM is a worker node now: it publishes whole GPUs, and its Node is not a VM host.
  assert.equal(nodeObject(node('vm-secure-train')).metadata.labels[LABEL_VM_HOST], undefined)
  assert.deepEqual(publishHost(node('vm-secure-infer')).flatMap((sl) => sl.spec.devices ?? []).map((d) => d.attributes?.type?.string), ['gpu', 'gpu'])
})

test('VM hosts take vm-per-workload workloads of any namespace, each in its own VM, and nothing else', () => {
  const { scheduler: s } = vmCluster('  hosts: [{name: hv, worker: false, gpus: {model: H100-80GB, count: 4}}]\n', [nsObj('a', 'vm-per-workload'), nsObj('b', 'shared')])
  const placed = ['a1', 'a2', 'b1', 'b2'].map((name) => s.scheduleOne(workload(name, name[0], 1, name[0] === 'b' ? 'vm-per-workload' : undefined)))
  assert.ok(placed.every((d) => d.ok && d.node === 'hv'))
  const plans = placed.map((d) => (d.ok ? d.vm?.virtualMachine : undefined))
  assert.deepEqual(plans.map((p) => p?.name), ['vm-a-a1', 'vm-a-a2', 'vm-b-b1', 'vm-b-b2'])
  assert.deepEqual(plans.map((p) => p?.passthroughGpus), [[0], [1], [2], [3]])
  const full = s.scheduleOne(workload('a3', 'a', 1))
  assert.match(!full.ok ? full.reason : '', /^1 node: insufficient NVIDIA H100 PCIe \(need 1, best has 0 free\)/)
  s.unschedule('a/a1')
  const shared = s.scheduleOne(workload('b3', 'b', 1))
  assert.equal(!shared.ok ? shared.reason : '', '1 node: node is a VM host: only vm-per-workload workloads get VMs carved from it')
  const dedicated = s.scheduleOne(workload('b4', 'b', 1, 'dedicated-nodes'))
  assert.equal(!dedicated.ok ? dedicated.reason : '', '1 node: node is a VM host: only vm-per-workload workloads get VMs carved from it')
  const again = s.scheduleOne(workload('a4', 'a', 1))
  assert.ok(again.ok && again.vm?.virtualMachine.passthroughGpus?.[0] === 0, 'a freed GPU goes to the next VM')
})

test('vm-per-workload refuses MIG devices, shared GPUs and workloads without devices, with reasons', () => {
  const h100 = { index: 0, uuid: 'GPU-x', productName: 'NVIDIA H100 80GB HBM3', model: 'H100-80GB' }
  const labels = { [LABEL_VM_HOST]: 'true' }
  const mig = fromHosts([{ node: 'hv-mig', mode: 'mig-dynamic', gpus: [h100], labels }], []).scheduler
  const onMig = mig.scheduleOne(workload('m', 'team', 1, 'vm-per-workload', 'mig.nvidia.com'))
  assert.match(!onMig.ok ? onMig.reason : '', /^1 node: isolation vm-per-workload: device gpu-0-mig-\S+ is a MIG device: a VM takes whole GPUs \(passthrough\) or vGPUs$/)
  assert.ok(mig.scheduleOne(workload('g', 'team', 1, 'vm-per-workload')).ok, 'the whole GPU of the same host can be passed through')
  const shared = fromHosts([{ node: 'hv-shared', mode: 'shared', gpus: [h100], labels }], []).scheduler
  const onShared = shared.scheduleOne(workload('s', 'team', 1, 'vm-per-workload'))
  assert.equal(!onShared.ok ? onShared.reason : '', '1 node: isolation vm-per-workload: device gpu-0 is a shared GPU (allowMultipleAllocations): a VM needs a GPU or vGPU of its own')
  const none = shared.scheduleOne({ apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name: 'cpu', namespace: 'team' }, spec: { isolation: 'vm-per-workload' } })
  assert.match(!none.ok ? none.reason : '', /^isolation: vm-per-workload: the workload claims no devices/)
})

/**
 * The hosts of a random cluster: shared workers, workers dedicated (by label) to a namespace, and
 * hypervisors passing H100s through or carving L40S vGPUs (equal-size or mixed-size).
 */
const clusterArb = fc.record({
  workers: fc.array(fc.record({ gpus: fc.integer({ min: 1, max: 4 }), dedicatedTo: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }) }), { minLength: 1, maxLength: 3 }),
  hypervisors: fc.array(fc.record({ gpus: fc.integer({ min: 1, max: 3 }), vgpu: fc.constantFrom('none', 'equal', 'mixed') }), { minLength: 1, maxLength: 2 }),
})

const eventArb = fc.record({
  ns: fc.integer({ min: 0, max: 2 }),
  count: fc.integer({ min: 1, max: 2 }),
  // Whole GPUs for any workload; vGPUs (of any profile, or of one) only VM hosts offer.
  kind: fc.constantFrom('gpu', 'gpu', 'gpu', 'vgpu', 'L40S-12C', 'L40S-24C'),
  priority: fc.integer({ min: 0, max: 2 }),
  remove: fc.option(fc.nat(), { nil: undefined }),
})

function hostsSpec(c: typeof clusterArb extends fc.Arbitrary<infer T> ? T : never): string {
  const workers = c.workers.map((w, i) => `  - {name: w${i}, gpus: {model: H100-80GB, count: ${w.gpus}}${w.dedicatedTo !== undefined ? `, labels: {${LABEL_DEDICATED_TO}: ns${w.dedicatedTo}}` : ''}}\n`)
  const hypervisors = c.hypervisors.map((h, i) =>
    h.vgpu === 'none'
      ? `  - {name: hv${i}, worker: false, gpus: {model: H100-80GB, count: ${h.gpus}}}\n`
      : `  - {name: hv${i}, worker: false, mode: vgpu, vgpu: {mixedSize: ${h.vgpu === 'mixed'}}, gpus: {model: L40S-48GB, count: ${h.gpus}}}\n`,
  )
  return `  hosts:\n${[...workers, ...hypervisors].join('')}`
}

test('property: whatever the load, no workload lands where another namespace\'s isolation forbids, and VM plans never share a GPU', () => {
  const levels: IsolationLevel[] = ['shared', 'dedicated-nodes', 'vm-per-workload']
  const names = ['ns0', 'ns1', 'ns2']
  fc.assert(
    fc.property(clusterArb, fc.tuple(fc.constantFrom(...levels), fc.constantFrom(...levels), fc.constantFrom(...levels)), fc.array(eventArb, { minLength: 5, maxLength: 30 }), (cluster, isolations, events) => {
      const spec = hostsSpec(cluster)
      const hosts = hostsFromClusterText(HEAD + spec, 'iso.yaml', { vmHosts: true })
      const labels = new Map(hosts.map((h) => [h.node, h.labels ?? {}]))
      const { scheduler: s } = fromHosts(hosts, names.map((n, i) => nsObj(n, isolations[i])))
      const live = new Map<string, { ns: number; node: string; decision: Decision }>()
      events.forEach((e, i) => {
        if (e.remove !== undefined && live.size > 0) {
          const key = [...live.keys()][e.remove % live.size]
          s.unschedule(key)
          live.delete(key)
        }
        const w = e.kind === 'gpu' ? workload(`w${i}`, names[e.ns], e.count) : e.kind === 'vgpu' ? workload(`w${i}`, names[e.ns], e.count, undefined, 'vgpu.gpuplane.io') : vgpus(`w${i}`, names[e.ns], e.count, e.kind)
        w.spec.priority = e.priority
        const d = s.scheduleOne(w)
        if (!d.ok) return
        for (const v of d.preempted ?? []) live.delete(v)
        live.set(d.workload, { ns: e.ns, node: d.node, decision: d })
        checkInvariants(spec, isolations, live, labels)
      })
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 50) },
  )
})

function checkInvariants(spec: string, isolations: IsolationLevel[], live: Map<string, { ns: number; node: string; decision: Decision }>, labels: Map<string, Record<string, string>>): void {
  for (const [node, nodeLabels] of labels) {
    const here = [...live.values()].filter((l) => l.node === node)
    const dedicated = new Set(here.filter((l) => isolations[l.ns] === 'dedicated-nodes').map((l) => l.ns))
    if (dedicated.size > 0) {
      assert.equal(dedicated.size, 1, `node ${node} serves two dedicated namespaces`)
      assert.ok(here.every((l) => dedicated.has(l.ns)), `node ${node} mixes a dedicated namespace with another`)
    }
    const owner = nodeLabels[LABEL_DEDICATED_TO]
    if (owner !== undefined) assert.ok(here.every((l) => `ns${l.ns}` === owner), `node ${node} is dedicated to ${owner} and runs another namespace`)
    const vmHost = nodeLabels[LABEL_VM_HOST] === 'true'
    for (const l of here) {
      assert.equal(vmHost, isolations[l.ns] === 'vm-per-workload', `${l.decision.workload} (${isolations[l.ns]}) on node ${node}, ${vmHost ? '' : 'not '}a VM host`)
      assert.ok(l.decision.ok)
      assert.equal(l.decision.vm !== undefined, vmHost, `${l.decision.workload}: a VM plan exactly when on a VM host`)
    }
  }
  // The plans together are a valid Cluster: VM names unique, no GPU passed through twice or both
  // passed through and carved, vGPUs within NVIDIA's per-GPU limits. Each VM holds its devices.
  const plans = [...live.values()].flatMap((l) => (l.decision.ok && l.decision.vm ? [{ vm: l.decision.vm.virtualMachine, devices: l.decision.allocations.flatMap((a) => a.devices?.results ?? []).length }] : []))
  const withVms = hostsFromClusterText(HEAD + spec + virtualMachines(plans.map((p) => p.vm)), 'iso.yaml')
  for (const p of plans) assert.equal(withVms.find((h) => h.node === p.vm.name)?.gpus.length, p.devices, `VM ${p.vm.name} publishes the workload's devices`)
}
