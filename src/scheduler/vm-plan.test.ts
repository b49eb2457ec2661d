import assert from 'node:assert/strict'
import { test } from 'node:test'
import { dnsLabelProblems } from '../api/names.ts'
import type { Workload } from '../api/workload-v1alpha1.ts'
import { vmDeviceProblem, vmName, vmPlan, type VmDevice } from './vm-plan.ts'

function workload(name: string, namespace = 'team', resources?: { cpu?: string; memory?: string }): Workload {
  return { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Workload', metadata: { name, namespace }, spec: resources ? { resources } : {} }
}

const whole = (index: number): VmDevice => ({ driver: 'gpu.nvidia.com', name: `gpu-${index}`, attributes: { type: { string: 'gpu' } } })
const vgpu = (index: number, profile: string, n: number): VmDevice => ({
  driver: 'gpu.nvidia.com',
  name: `gpu-${index}-vgpu-${profile.toLowerCase()}-${n}`,
  attributes: { type: { string: 'vgpu' }, profile: { string: profile } },
})

test('a plan passes whole GPUs through in index order, sized to the workload', () => {
  const plan = vmPlan(workload('train', 'secure', { cpu: '8', memory: '64Gi' }), 'hv-a', [whole(3), whole(1)])
  assert.deepEqual(plan, { virtualMachine: { name: 'vm-secure-train', host: 'hv-a', passthroughGpus: [1, 3], mode: 'whole' }, cpu: '8', memory: '64Gi' })
})

test('a plan groups vGPUs by GPU and profile', () => {
  const plan = vmPlan(workload('infer'), 'hv-l', [vgpu(1, 'L40S-12C', 0), vgpu(0, 'L40S-24C', 1), vgpu(1, 'L40S-12C', 3)])
  assert.deepEqual(plan, { virtualMachine: { name: 'vm-team-infer', host: 'hv-l', vgpus: [{ gpu: 0, profile: 'L40S-24C' }, { gpu: 1, profile: 'L40S-12C', count: 2 }] } })
})

test('VM names are DNS labels, unique per workload; names that had to change end with a hash of namespace/name', () => {
  assert.equal(vmName(workload('a')), 'vm-team-a')
  const dotted = vmName(workload('job.v2'))
  assert.match(dotted, /^vm-team-job-v2-[0-9a-f]{8}$/)
  assert.notEqual(dotted, vmName(workload('job-v2')), 'a name that needed no change keeps no hash, so the two differ')
  assert.equal(vmName(workload('b-c', 'a')), 'vm-a-b-c')
  assert.match(vmName(workload('c', 'a-b')), /^vm-a-b-c-[0-9a-f]{8}$/, 'a namespace with a hyphen would make the split ambiguous')
  const long = vmName(workload('x'.repeat(80), 'research'))
  assert.equal(long.length, 63)
  assert.deepEqual(dnsLabelProblems(long), [])
  assert.notEqual(long, vmName(workload('x'.repeat(81), 'research')))
  assert.deepEqual(dnsLabelProblems(vmName(workload('Big_Job-', 'Team'))), [])
})

test('a VM takes whole GPUs and vGPUs, and says why not anything else', () => {
  assert.equal(vmDeviceProblem(whole(0)), undefined)
  assert.equal(vmDeviceProblem(vgpu(0, 'L40S-12C', 0)), undefined)
  const mig: VmDevice = { driver: 'gpu.nvidia.com', name: 'gpu-0-mig-1g10gb-19-0', attributes: { type: { string: 'mig' } } }
  assert.equal(vmDeviceProblem(mig), 'device gpu-0-mig-1g10gb-19-0 is a MIG device: a VM takes whole GPUs (passthrough) or vGPUs')
  assert.equal(vmDeviceProblem({ ...whole(2), allowMultipleAllocations: true }), 'device gpu-2 is a shared GPU (allowMultipleAllocations): a VM needs a GPU or vGPU of its own')
  assert.match(vmDeviceProblem({ driver: 'nic.example.com', name: 'eth0', attributes: {} }) ?? '', /^device eth0 of driver nic\.example\.com: a VM takes only GPUs of gpu\.nvidia\.com/)
  assert.match(vmDeviceProblem({ ...whole(0), attributes: {} }) ?? '', /has type \(none\)/)
  assert.match(vmDeviceProblem({ ...whole(0), name: 'accelerator' }) ?? '', /does not name its host GPU/)
})
