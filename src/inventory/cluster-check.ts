// Rules of a Cluster spec across fields that need no GPU catalog: GPU indexes in range, overrides, NUMA/PCIe coverage, unique node names, VMs and the GPUs they take.
import { hostNames, type Cluster, type ClusterHost } from '../api/gpuplane-v1alpha1.ts'

export interface ClusterProblem {
  path: string
  message: string
}

/**
 * Cross-field rules that need no catalog: GPU indexes within `gpus.count`, each GPU in at most one
 * override, NUMA and PCIe lists covering every GPU once, `migDevices` only with `mig-static`,
 * unique node names, VMs naming existing hosts and no GPU given twice. Returns the first problem.
 */
export function checkCluster(cluster: Cluster): ClusterProblem | undefined {
  const hostsByName = new Map<string, { host: ClusterHost; index: number }>()
  const nodeNames = new Map<string, string>()
  for (const [i, host] of cluster.spec.hosts.entries()) {
    const problem = checkHost(host, `spec.hosts[${i}]`)
    if (problem) return problem
    for (const name of hostNames(host)) {
      const clash = nodeNames.get(name)
      if (clash) return { path: `spec.hosts[${i}].name`, message: `host name "${name}" is already used by ${clash}; node names must be unique` }
      nodeNames.set(name, `spec.hosts[${i}]`)
      hostsByName.set(name, { host, index: i })
    }
  }
  const given = new Map<string, string>()
  for (const [i, vm] of (cluster.spec.virtualMachines ?? []).entries()) {
    const base = `spec.virtualMachines[${i}]`
    const clash = nodeNames.get(vm.name)
    if (clash) return { path: `${base}.name`, message: `node name "${vm.name}" is already used by ${clash}; node names must be unique` }
    nodeNames.set(vm.name, base)
    const entry = hostsByName.get(vm.host)
    if (!entry) return { path: `${base}.host`, message: `no host named "${vm.host}"; known hosts: ${[...hostsByName.keys()].slice(0, 20).join(', ')}${hostsByName.size > 20 ? ', ...' : ''}` }
    const count = entry.host.gpus.count
    if ((vm.passthroughGpus?.length ?? 0) + (vm.vgpus?.length ?? 0) === 0) return { path: base, message: 'a virtual machine needs passthroughGpus or vgpus' }
    if (vm.mode === 'vgpu') return { path: `${base}.mode`, message: 'a virtual machine cannot publish vGPUs of its GPUs; use vgpus to give it vGPUs of the host, or another mode' }
    for (const [j, gpu] of (vm.passthroughGpus ?? []).entries()) {
      const path = `${base}.passthroughGpus[${j}]`
      if (gpu >= count) return { path, message: `GPU index ${gpu} is out of range: host ${vm.host} has ${count} GPUs (0..${count - 1})` }
      const owner = given.get(`${vm.host}/${gpu}`)
      if (owner) return { path, message: `GPU ${gpu} of host ${vm.host} is already given to ${owner}; a passthrough GPU belongs to one VM` }
      given.set(`${vm.host}/${gpu}`, `virtual machine ${vm.name} (passthrough)`)
    }
    const vgpuGpus = new Set<number>()
    for (const [j, v] of (vm.vgpus ?? []).entries()) {
      const path = `${base}.vgpus[${j}].gpu`
      if (v.gpu >= count) return { path, message: `GPU index ${v.gpu} is out of range: host ${vm.host} has ${count} GPUs (0..${count - 1})` }
      const owner = given.get(`${vm.host}/${v.gpu}`)
      if (owner?.endsWith('(passthrough)')) return { path, message: `GPU ${v.gpu} of host ${vm.host} is given to ${owner}; it cannot also host vGPUs` }
      vgpuGpus.add(v.gpu)
    }
    for (const gpu of vgpuGpus) given.set(`${vm.host}/${gpu}`, `virtual machine ${vm.name} (vGPU)`)
  }
  return undefined
}

function checkHost(host: ClusterHost, base: string): ClusterProblem | undefined {
  const count = host.gpus.count
  const inRange = (gpu: number, path: string): ClusterProblem | undefined =>
    gpu < count ? undefined : { path, message: `GPU index ${gpu} is out of range: the host has ${count} GPUs (0..${count - 1})` }
  const overridden = new Map<number, number>()
  for (const [i, o] of (host.gpuOverrides ?? []).entries()) {
    for (const [j, gpu] of o.indexes.entries()) {
      const path = `${base}.gpuOverrides[${i}].indexes[${j}]`
      const problem = inRange(gpu, path)
      if (problem) return problem
      if (overridden.has(gpu)) return { path, message: `GPU ${gpu} is already overridden by gpuOverrides[${overridden.get(gpu)}]; name each GPU in one entry` }
      overridden.set(gpu, i)
    }
    if (o.migDevices && o.mode !== 'mig-static') return { path: `${base}.gpuOverrides[${i}].migDevices`, message: `migDevices lists existing MIG devices and applies to mode mig-static only, not ${o.mode}` }
    if (o.mode === 'mig-static' && !o.migDevices) return { path: `${base}.gpuOverrides[${i}].migDevices`, message: 'mode mig-static publishes the MIG devices that exist; list them in migDevices (e.g. [3g.40gb, 2g.20gb, 1g.10gb]) or use mig-dynamic' }
  }
  if (host.mode === 'mig-static') {
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !overridden.has(i))
    if (missing.length > 0) return { path: `${base}.mode`, message: `mode mig-static publishes the MIG devices that exist; give GPU${missing.length > 1 ? 's' : ''} ${missing.join(', ')} a gpuOverrides entry with migDevices, or use mig-dynamic` }
  }
  const topology = host.topology
  if (topology?.numa) {
    const problem = coverage(topology.numa.map((n) => n.gpus), count, `${base}.topology.numa`)
    if (problem) return problem
    const ids = new Set<number>()
    for (const [i, n] of topology.numa.entries()) {
      if (ids.has(n.id)) return { path: `${base}.topology.numa[${i}].id`, message: `NUMA node ${n.id} is listed twice; list each node once with all its GPUs` }
      ids.add(n.id)
    }
    if (topology.numaNodes !== undefined) return { path: `${base}.topology.numaNodes`, message: 'give either numaNodes (an even split) or numa (an explicit list), not both' }
  }
  if (topology?.numaNodes !== undefined && topology.numaNodes > count) return { path: `${base}.topology.numaNodes`, message: `${topology.numaNodes} NUMA nodes for ${count} GPUs leaves nodes without GPUs; use numa to place GPUs explicitly` }
  if (topology?.pcieRoots) {
    const problem = coverage(topology.pcieRoots.map((r) => r.gpus), count, `${base}.topology.pcieRoots`)
    if (problem) return problem
    const names = new Set<string>()
    for (const [i, r] of topology.pcieRoots.entries()) {
      if (names.has(r.name)) return { path: `${base}.topology.pcieRoots[${i}].name`, message: `PCIe root ${r.name} is listed twice; list each root once with all its GPUs` }
      names.add(r.name)
    }
    if (topology.gpusPerPcieRoot !== undefined) return { path: `${base}.topology.gpusPerPcieRoot`, message: 'give either gpusPerPcieRoot or pcieRoots (an explicit list), not both' }
  }
  return undefined
}

/** Each GPU index 0..count-1 exactly once across the lists. */
function coverage(lists: number[][], count: number, base: string): ClusterProblem | undefined {
  const seen = new Set<number>()
  for (const [i, gpus] of lists.entries()) {
    for (const [j, gpu] of gpus.entries()) {
      const path = `${base}[${i}].gpus[${j}]`
      if (gpu >= count) return { path, message: `GPU index ${gpu} is out of range: the host has ${count} GPUs (0..${count - 1})` }
      if (seen.has(gpu)) return { path, message: `GPU ${gpu} is listed twice; each GPU belongs to one entry` }
      seen.add(gpu)
    }
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i))
  if (missing.length > 0) return { path: base, message: `GPU${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not listed; list every GPU of the host once` }
  return undefined
}
