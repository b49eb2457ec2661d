// Which workload a GPU process belongs to: the agent reads the process's environment, where the workload's container carries GPUPLANE_WORKLOAD=<namespace>/<name>.
//
// nvidia-smi reports a shared GPU's processes by pid and GPU memory, not by owner. A process
// names its workload through one environment variable, set in the workload's container spec (or
// by whatever starts it); the agent, running in the host's PID namespace, reads it from
// <proc>/<pid>/environ. The claim is only a hint: the server charges a process's share to the
// named workload only when that workload held the GPU at the sample's time (attribution.ts), so
// a process cannot move its use onto a neighbour. A process without the variable, or one the
// agent may not read, stays unnamed, and the GPU's use is then split by the share each holder holds.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { dnsLabelProblems, objectNameProblems } from '../api/names.ts'

/** The environment variable that names a process's workload, as `<namespace>/<workload name>`. */
export const WORKLOAD_ENV = 'GPUPLANE_WORKLOAD'

export interface ProcessOwner {
  namespace: string
  workload: string
}

/** Parses `<namespace>/<name>`; undefined when it is not one. */
export function parseWorkloadRef(value: string): ProcessOwner | undefined {
  const slash = value.indexOf('/')
  if (slash < 0) return undefined
  const namespace = value.slice(0, slash)
  const workload = value.slice(slash + 1)
  if (dnsLabelProblems(namespace).length > 0 || objectNameProblems(workload).length > 0) return undefined
  return { namespace, workload }
}

/** The owner named in an environ file's text (NUL-separated NAME=value entries); undefined when none or malformed. */
export function ownerFromEnviron(text: string): ProcessOwner | undefined {
  const prefix = `${WORKLOAD_ENV}=`
  for (const entry of text.split('\0')) {
    if (entry.startsWith(prefix)) return parseWorkloadRef(entry.slice(prefix.length))
  }
  return undefined
}

/** Reads the owner of `pid` under `procRoot` (/proc, or the host's /proc mounted elsewhere); undefined when the process is gone, unreadable or unnamed. */
export async function ownerOfProcess(procRoot: string, pid: number): Promise<ProcessOwner | undefined> {
  try {
    return ownerFromEnviron(await readFile(join(procRoot, String(pid), 'environ'), 'latin1'))
  } catch {
    return undefined
  }
}

/** Names the owner of every process of `samples` that has one, in place (each pid read once per call). */
export async function nameProcessOwners(samples: ReadonlyArray<{ processes?: Array<{ pid: number; namespace?: string; workload?: string }> }>, procRoot: string): Promise<void> {
  const pids = new Set<number>()
  for (const s of samples) for (const p of s.processes ?? []) pids.add(p.pid)
  if (pids.size === 0) return
  const owners = new Map<number, ProcessOwner | undefined>()
  await Promise.all([...pids].map(async (pid) => owners.set(pid, await ownerOfProcess(procRoot, pid))))
  for (const s of samples) {
    for (const p of s.processes ?? []) {
      const owner = owners.get(p.pid)
      if (owner === undefined) continue
      p.namespace = owner.namespace
      p.workload = owner.workload
    }
  }
}
