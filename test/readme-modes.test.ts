// The publishing-mode examples of the README, run as written: publish with `inventory cluster`, claim with `allocate`.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { cli as run } from './cli-helpers.ts'

const SPEC = `apiVersion: gpuplane.io/v1alpha1
kind: Cluster
metadata: {name: readme}
spec:
  hosts:
  - {name: h100, gpus: {model: H100-80GB, count: 8}, topology: {nvlink: nvswitch}, mode: whole}
  - {name: h100-mig, gpus: {model: H100-80GB, count: 1}, gpuOverrides: [{indexes: [0], mode: mig-static, migDevices: [3g.40gb, 4g.40gb]}]}
  - {name: h100-dyn, gpus: {model: H100-80GB, count: 8}, mode: mig-dynamic}
  - {name: l40s-vgpu, gpus: {model: L40S-48GB, count: 1}, mode: vgpu}
  - {name: a10-shared, gpus: {model: A10-24GB, count: 2}, mode: shared, shared: {memoryStep: 2Gi}}
`

const claim = (name: string, requests: string, extra = '') => `---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: ${name}, namespace: readme}
spec:
  devices:
    requests:
${requests}${extra}`


test('each publishing mode of the README allocates as the README says', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuplane-readme-'))
  writeFileSync(join(dir, 'cluster.yaml'), SPEC)
  const published = await run(['inventory', 'cluster', '-f', join(dir, 'cluster.yaml'), '--classes'])
  assert.equal(published.code, 0, published.err)
  writeFileSync(join(dir, 'published.yaml'), published.out)
  const claims = [
    claim('whole', `    - name: gpu\n      exactly: {deviceClassName: gpu.nvidia.com, count: 2, selectors: [{cel: {expression: "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'"}}]}\n`, `    constraints: [{matchAttribute: gpuplane.io/nvlinkDomain}]\n`),
    claim('mig-static', `    - name: mig\n      exactly: {deviceClassName: mig.nvidia.com, selectors: [{cel: {expression: "device.attributes['gpu.nvidia.com'].profile == '3g.40gb' && device.attributes['gpuplane.io'].host == 'h100-mig'"}}]}\n`),
    claim(
      'mig-dynamic',
      `    - name: big\n      exactly: {deviceClassName: mig.nvidia.com, selectors: [{cel: {expression: "device.attributes['gpu.nvidia.com'].profile == '4g.40gb' && device.attributes['gpuplane.io'].host == 'h100-dyn'"}}]}\n    - name: small\n      exactly: {deviceClassName: mig.nvidia.com, selectors: [{cel: {expression: "device.attributes['gpu.nvidia.com'].profile == '3g.40gb' && device.attributes['gpuplane.io'].host == 'h100-dyn'"}}]}\n`,
      `    constraints: [{matchAttribute: gpu.nvidia.com/parentUUID}]\n`,
    ),
    claim('vgpu-a', `    - name: v\n      exactly: {deviceClassName: vgpu.gpuplane.io, count: 2, selectors: [{cel: {expression: "device.attributes['gpu.nvidia.com'].profile == 'L40S-24C'"}}]}\n`),
    claim('vgpu-other-size', `    - name: v\n      exactly: {deviceClassName: vgpu.gpuplane.io, selectors: [{cel: {expression: "device.attributes['gpu.nvidia.com'].profile == 'L40S-16C'"}}]}\n`),
    claim('shared', `    - name: s\n      exactly: {deviceClassName: shared.gpuplane.io, capacity: {requests: {memory: 5Gi}}}\n`),
  ]
  writeFileSync(join(dir, 'claims.yaml'), claims.join(''))
  const r = await run(['allocate', '-f', join(dir, 'published.yaml'), '-f', join(dir, 'claims.yaml'), '-o', 'json'])
  const report = JSON.parse(r.out)
  const byName = new Map<string, { status: { allocation: { devices: { results: Array<{ request: string; device: string; pool: string; consumedCapacity?: Record<string, string>; shareID?: string }> } } } }>(
    report.allocated.map((c: { metadata: { name: string } }) => [c.metadata.name, c]),
  )
  const devices = (name: string) => byName.get(name)!.status.allocation.devices.results.map((x) => `${x.pool}/${x.device}`)

  assert.deepEqual(devices('whole'), ['h100/gpu-0', 'h100/gpu-1'])
  assert.deepEqual(devices('mig-static'), ['h100-mig/gpu-0-mig-3g40gb-9-4'])
  assert.deepEqual(devices('mig-dynamic'), ['h100-dyn/gpu-0-mig-4g40gb-5-0', 'h100-dyn/gpu-0-mig-3g40gb-9-4'])
  assert.deepEqual(devices('vgpu-a'), ['l40s-vgpu/gpu-0-vgpu-l40s-24c-0', 'l40s-vgpu/gpu-0-vgpu-l40s-24c-1'])
  // Equal-size mode: the host's only GPU already runs 24C vGPUs, so a 16C cannot join it.
  assert.deepEqual(report.unallocatable.map((u: { name: string; code: string }) => [u.name, u.code]), [['vgpu-other-size', 'CLAIM_UNSATISFIABLE']])
  const share = byName.get('shared')!.status.allocation.devices.results[0]
  assert.equal(share.pool, 'a10-shared')
  assert.deepEqual(share.consumedCapacity, { memory: '6Gi' })
  assert.match(share.shareID ?? '', /^[0-9a-f-]{36}$/)
})
