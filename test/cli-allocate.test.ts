// End-to-end tests of `gpuplane allocate`: exit codes, output formats, error messages.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { cli, tmp } from './cli-helpers.ts'

const ROOT = join(import.meta.dirname, '..')


const CLUSTER = `
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {name: gpu.example.com}
spec:
  selectors:
  - cel: {expression: "device.driver == 'gpu.example.com'"}
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: node-a-gpus}
spec:
  driver: gpu.example.com
  pool: {name: node-a, generation: 1, resourceSliceCount: 1}
  nodeName: node-a
  devices:
  - {name: gpu-0, attributes: {model: {string: H100}}}
  - {name: gpu-1, attributes: {model: {string: H100}}}
`
const claimYaml = (name: string, count: number, model = 'H100') => `
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: ${name}, namespace: team-a}
spec:
  devices:
    requests:
    - name: gpu
      exactly:
        deviceClassName: gpu.example.com
        count: ${count}
        selectors:
        - cel: {expression: "device.attributes['gpu.example.com'].model == '${model}'"}
`

test('allocates in document order and prints claims with status.allocation (YAML)', async () => {
  const file = tmp('c.yaml', CLUSTER + claimYaml('one', 1) + claimYaml('two', 1))
  const r = await cli(['allocate', '-f', file])
  assert.equal(r.code, 0, r.err)
  const docs = parseAllDocuments(r.out).map((d) => d.toJS())
  assert.deepEqual(docs.map((d) => d.status.allocation.devices.results[0].device), ['gpu-0', 'gpu-1'])
  assert.equal(docs[0].status.allocation.nodeSelector.nodeSelectorTerms[0].matchFields[0].values[0], 'node-a')
})

test('JSON output lists unallocatable claims with reason and code; exit 3', async () => {
  const file = tmp('c.yaml', CLUSTER + claimYaml('big', 3) + claimYaml('small', 1) + claimYaml('a100', 1, 'A100'))
  const r = await cli(['allocate', '-f', file, '-o', 'json'])
  assert.equal(r.code, 3)
  const report = JSON.parse(r.out)
  assert.deepEqual(report.allocated.map((c: { metadata: { name: string } }) => c.metadata.name), ['small'])
  assert.deepEqual(report.unallocatable.map((u: { name: string; code: string }) => [u.name, u.code]), [['big', 'CLAIM_UNSATISFIABLE'], ['a100', 'CLAIM_UNSATISFIABLE']])
  assert.equal(report.unallocatable[0].namespace, 'team-a')
  assert.match(r.err, /claim team-a\/big not allocated \(CLAIM_UNSATISFIABLE\)/)
})

test('invalid input exits 2 and names file, document and field path', async () => {
  const file = tmp('bad.yaml', CLUSTER + claimYaml('x', 1).replace('count: 1', 'count: -1'))
  const r = await cli(['allocate', '-f', file])
  assert.equal(r.code, 2)
  assert.match(r.err, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(document 2\\): spec\\.devices\\.requests\\[0\\]\\.exactly\\.count`))
})

test('a CEL syntax error exits 2 with the expression path', async () => {
  const file = tmp('bad.yaml', CLUSTER + claimYaml('x', 1).replace("model == 'H100'", "model == "))
  const r = await cli(['allocate', '-f', file])
  assert.equal(r.code, 2)
  assert.match(r.err, /spec\.devices\.requests\[0\]\.exactly\.selectors\[0\]\.cel\.expression/)
})

test('folders are read recursively; --node restricts the node; pods get their templates as claims', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuplane-'))
  writeFileSync(join(dir, 'a-cluster.yaml'), CLUSTER)
  writeFileSync(
    join(dir, 'b-pod.yaml'),
    `apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: two-gpus, namespace: ns}
spec:
  spec:
    devices:
      requests:
      - {name: gpus, exactly: {deviceClassName: gpu.example.com, count: 2}}
---
apiVersion: v1
kind: Pod
metadata: {name: trainer, namespace: ns}
spec:
  resourceClaims:
  - {name: gpus, resourceClaimTemplateName: two-gpus}
  containers: [{name: c, image: x}]
`,
  )
  const r = await cli(['allocate', '-f', dir, '-o', 'json'])
  assert.equal(r.code, 0, r.err)
  const report = JSON.parse(r.out)
  assert.equal(report.allocated[0].metadata.name, 'trainer-gpus')
  assert.equal(report.allocated[0].status.allocation.devices.results.length, 2)
  const elsewhere = await cli(['allocate', '-f', dir, '--node', 'node-b', '-o', 'json'])
  assert.equal(elsewhere.code, 3)
})

test('a missing file is invalid input; help documents exit codes', async () => {
  const r = await cli(['allocate', '-f', '/nonexistent/x.yaml'])
  assert.equal(r.code, 2)
  assert.match(r.err, /no such file/)
  const help = await cli(['allocate', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.out, /Exit codes:/)
  assert.match(help.out, /unallocatable/)
})

test('the installed bin runs the example of the README', () => {
  const out = execFileSync(process.execPath, [join(ROOT, 'bin/gpuplane.js'), 'allocate', '-f', join(ROOT, 'examples/gpu-node.yaml'), '-o', 'json'], { encoding: 'utf8' })
  const report = JSON.parse(out)
  assert.ok(report.allocated.length >= 3)
  assert.equal(report.unallocatable.length, 0)
  const bad = spawnSync(process.execPath, [join(ROOT, 'bin/gpuplane.js'), 'allocate'], { encoding: 'utf8' })
  assert.equal(bad.status, 2)
})
