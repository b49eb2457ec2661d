// The HTTP API's object routes on a real SQLite store: CRUD per kind family, validation with field paths, conflicts, label selectors, body limits.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { testServer, workload, WORKLOADS, type TestServer } from './server-helpers.ts'

const GPU_NODE = parseAllDocuments(readFileSync('examples/gpu-node.yaml', 'utf8')).map((d) => d.toJS() as Record<string, any>).filter((o) => o !== null)
const ofKind = (kind: string) => GPU_NODE.filter((o) => o.kind === kind)
const SLICES = '/apis/resource.k8s.io/v1/resourceslices'
const CLASSES = '/apis/resource.k8s.io/v1/deviceclasses'
const CLAIMS = '/apis/resource.k8s.io/v1/namespaces/team-a/resourceclaims'
const NAMESPACES = '/apis/gpuplane.io/v1alpha1/namespaces'
const CLUSTERS = '/apis/gpuplane.io/v1alpha1/clusters'

describe('server API', () => {
  let s: TestServer
  before(async () => {
    s = await testServer()
  })
  after(async () => {
    await s.close()
  })

  test('a Workload: create (namespace filled, status Pending), get, list, replace, delete', async () => {
    const created = await s.call('POST', WORKLOADS, { body: workload('train') })
    assert.equal(created.status, 201)
    assert.equal(created.body.metadata.namespace, 'team-a')
    assert.deepEqual(created.body.status, { phase: 'Pending' })
    assert.match(created.body.metadata.resourceVersion, /^\d+$/)
    assert.ok(created.body.metadata.uid)

    const got = await s.call('GET', `${WORKLOADS}/train`)
    assert.equal(got.status, 200)
    assert.deepEqual(got.body, created.body)

    const list = await s.call('GET', WORKLOADS)
    assert.equal(list.body.kind, 'WorkloadList')
    assert.equal(list.body.apiVersion, 'gpuplane.io/v1alpha1')
    assert.deepEqual(list.body.items.map((o: any) => o.metadata.name), ['train'])
    assert.ok(Number(list.body.metadata.resourceVersion) >= Number(created.body.metadata.resourceVersion))

    const next = { ...got.body, spec: { ...got.body.spec, priority: 5 } }
    const replaced = await s.call('PUT', `${WORKLOADS}/train`, { body: next })
    assert.equal(replaced.status, 200)
    assert.equal(replaced.body.spec.priority, 5)
    assert.ok(Number(replaced.body.metadata.resourceVersion) > Number(got.body.metadata.resourceVersion))
    assert.deepEqual(replaced.body.status, { phase: 'Pending' }, 'status kept by a replace')

    const deleted = await s.call('DELETE', `${WORKLOADS}/train`)
    assert.equal(deleted.status, 200)
    assert.equal(deleted.body.metadata.name, 'train')
    const gone = await s.call('GET', `${WORKLOADS}/train`)
    assert.equal(gone.status, 404)
    assert.equal(gone.body.kind, 'Status')
    assert.equal(gone.body.reason, 'NOT_FOUND')
    assert.match(gone.body.message, /Workload "train" not found in namespace "team-a"/)
  })

  test('the cluster-wide list of a namespaced kind has every namespace; POST there is refused', async () => {
    await s.call('POST', WORKLOADS, { body: workload('a1') })
    await s.call('POST', '/apis/gpuplane.io/v1alpha1/namespaces/team-b/workloads', { body: workload('b1') })
    const all = await s.call('GET', '/apis/gpuplane.io/v1alpha1/workloads')
    assert.deepEqual(all.body.items.map((o: any) => `${o.metadata.namespace}/${o.metadata.name}`).sort(), ['team-a/a1', 'team-b/b1'])
    const post = await s.call('POST', '/apis/gpuplane.io/v1alpha1/workloads', { body: workload('x') })
    assert.equal(post.status, 400)
    assert.match(post.body.message, /namespaced: POST them to \/apis\/gpuplane.io\/v1alpha1\/namespaces\/\{namespace\}\/workloads/)
    await s.call('DELETE', `${WORKLOADS}/a1`)
    await s.call('DELETE', '/apis/gpuplane.io/v1alpha1/namespaces/team-b/workloads/b1')
  })

  test('DRA kinds: a ResourceSlice, a DeviceClass (cluster-scoped) and ResourceClaims round-trip', async () => {
    const slice = await s.call('POST', SLICES, { body: ofKind('ResourceSlice')[0] })
    assert.equal(slice.status, 201, JSON.stringify(slice.body))
    assert.equal(slice.body.metadata.namespace ?? '', '')
    assert.deepEqual(slice.body.spec, ofKind('ResourceSlice')[0].spec)
    const cls = await s.call('POST', CLASSES, { body: ofKind('DeviceClass')[0] })
    assert.equal(cls.status, 201, JSON.stringify(cls.body))
    for (const claim of ofKind('ResourceClaim')) {
      const { namespace: _, ...metadata } = claim.metadata
      const res = await s.call('POST', CLAIMS, { body: { ...claim, metadata } })
      assert.equal(res.status, 201, JSON.stringify(res.body))
    }
    const claims = await s.call('GET', CLAIMS)
    assert.equal(claims.body.kind, 'ResourceClaimList')
    assert.equal(claims.body.items.length, ofKind('ResourceClaim').length)
    const classes = await s.call('GET', CLASSES)
    assert.deepEqual(classes.body.items.map((o: any) => o.metadata.name), [ofKind('DeviceClass')[0].metadata.name])
  })

  test('v1beta2 and v1beta1 DRA objects are stored as resource.k8s.io/v1', async () => {
    const beta = { apiVersion: 'resource.k8s.io/v1beta2', kind: 'DeviceClass', metadata: { name: 'beta-class' }, spec: { selectors: [{ cel: { expression: 'device.driver == "gpu.nvidia.com"' } }] } }
    const res = await s.call('POST', CLASSES, { body: beta })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.equal(res.body.apiVersion, 'resource.k8s.io/v1')
  })

  test('a core v1 Node at /api/v1/nodes', async () => {
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'h100-node-1', labels: { 'gpuplane.io/gpu-model': 'H100-80GB' } }, status: { capacity: { cpu: '64' } } }
    const res = await s.call('POST', '/api/v1/nodes', { body: node })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.deepEqual(res.body.status, { capacity: { cpu: '64' } }, 'the admin may write status')
    const list = await s.call('GET', '/api/v1/nodes')
    assert.equal(list.body.apiVersion, 'v1')
    assert.equal(list.body.kind, 'NodeList')
  })

  test('gpuplane Namespaces and Clusters, with the checks of the CLI (catalog included)', async () => {
    const ns = { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name: 'research' }, spec: { quota: { gpus: 8 } } }
    assert.equal((await s.call('POST', NAMESPACES, { body: ns })).status, 201)
    const got = await s.call('GET', `${NAMESPACES}/research`)
    assert.equal(got.body.spec.quota.gpus, 8)

    const cluster = { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Cluster', metadata: { name: 'lab' }, spec: { hosts: [{ name: 'box', gpus: { model: 'H100-80GB', count: 2 } }] } }
    assert.equal((await s.call('POST', CLUSTERS, { body: cluster })).status, 201)
    const bad = structuredClone(cluster)
    bad.metadata.name = 'lab2'
    bad.spec.hosts[0].gpus.model = 'Z9000'
    const res = await s.call('POST', CLUSTERS, { body: bad })
    assert.equal(res.status, 400)
    assert.equal(res.body.reason, 'INVALID_INPUT')
    assert.equal(res.body.details.field, 'spec.hosts[0].gpus.model')
    assert.match(res.body.message, /unknown GPU model "Z9000"/)
  })

  test('validation errors are Status objects with the field path', async () => {
    const cases: Array<[string, string, unknown, string, RegExp]> = [
      ['unknown field', WORKLOADS, { ...workload('v1'), spec: { priorty: 1 } }, 'spec', /unknown field "priorty"/],
      ['wrong kind for the path', WORKLOADS, { ...workload('v2'), kind: 'ResourceClaim' }, 'kind', /this path takes Workload objects/],
      ['unsupported apiVersion', WORKLOADS, { ...workload('v3'), apiVersion: 'gpuplane.io/v2' }, 'apiVersion', /use gpuplane.io\/v1alpha1/],
      ['no name', WORKLOADS, { ...workload('x'), metadata: {} }, 'metadata.name', /metadata.name is required/],
      ['bad name', WORKLOADS, workload('Not_A_Name'), 'metadata.name', /DNS subdomain/],
      ['namespace differs from the path', WORKLOADS, workload('v4', { namespace: 'team-b' }), 'metadata.namespace', /does not match the namespace in the path/],
      ['namespace on a cluster-scoped kind', NAMESPACES, { apiVersion: 'gpuplane.io/v1alpha1', kind: 'Namespace', metadata: { name: 'n', namespace: 'x' }, spec: {} }, 'metadata.namespace', /cluster-scoped/],
      ['bad CEL', CLASSES, { apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'c' }, spec: { selectors: [{ cel: { expression: 'device.driver ==' } }] } }, 'spec.selectors[0].cel.expression', /./],
      ['DRA rule (upstream validation)', CLAIMS, { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'c' }, spec: { devices: { requests: [{ name: 'Bad Name', exactly: { deviceClassName: 'gpu.nvidia.com' } }] } } }, 'spec.devices.requests[0].name', /./],
    ]
    for (const [what, path, body, field, message] of cases) {
      const res = await s.call('POST', path, { body })
      assert.ok(res.status === 400, `${what}: ${res.status} ${JSON.stringify(res.body)}`)
      assert.equal(res.body.kind, 'Status', what)
      assert.equal(res.body.apiVersion, 'v1', what)
      assert.equal(res.body.status, 'Failure', what)
      assert.equal(res.body.code, 400, what)
      assert.equal(res.body.details?.field, field, `${what}: ${JSON.stringify(res.body)}`)
      assert.match(res.body.message, message, what)
    }
    const cel = await s.call('POST', CLASSES, { body: cases[7][2] })
    assert.equal(cel.body.reason, 'SELECTOR_INVALID')
  })

  test('bodies: invalid JSON, not an object, YAML, no body', async () => {
    const invalid = await s.call('POST', WORKLOADS, { body: '{"apiVersion": ' })
    assert.equal(invalid.status, 400)
    assert.match(invalid.body.message, /not valid JSON/)
    const array = await s.call('POST', WORKLOADS, { body: '[1]' })
    assert.equal(array.status, 400)
    assert.match(array.body.message, /must be one object/)
    const yaml = 'apiVersion: gpuplane.io/v1alpha1\nkind: Workload\nmetadata: {name: from-yaml}\nspec: {priority: 3}\n'
    const res = await s.app.inject({ method: 'POST', url: WORKLOADS, payload: yaml, headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/yaml' } })
    assert.equal(res.statusCode, 201, res.body)
    assert.equal(JSON.parse(res.body).spec.priority, 3)
    const none = await s.call('POST', WORKLOADS)
    assert.equal(none.status, 400)
    const text = await s.app.inject({ method: 'POST', url: WORKLOADS, payload: 'x', headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'text/plain' } })
    assert.equal(text.statusCode, 400)
    assert.match(JSON.parse(text.body).message, /application\/json/)
  })

  test('generateName makes a name', async () => {
    const res = await s.call('POST', WORKLOADS, { body: { ...workload('x'), metadata: { generateName: 'job-' } } })
    assert.equal(res.status, 201)
    assert.match(res.body.metadata.name, /^job-[a-z0-9]{5}$/)
  })

  test('conflicts: ALREADY_EXISTS on create, CONFLICT on a stale replace or delete', async () => {
    const first = await s.call('POST', WORKLOADS, { body: workload('dup') })
    const again = await s.call('POST', WORKLOADS, { body: workload('dup') })
    assert.equal(again.status, 409)
    assert.equal(again.body.reason, 'ALREADY_EXISTS')

    const fresh = await s.call('PUT', `${WORKLOADS}/dup`, { body: { ...first.body, spec: { priority: 1 } } })
    assert.equal(fresh.status, 200)
    const stale = await s.call('PUT', `${WORKLOADS}/dup`, { body: { ...first.body, spec: { priority: 2 } } })
    assert.equal(stale.status, 409)
    assert.equal(stale.body.reason, 'CONFLICT')
    const unconditional = structuredClone(first.body)
    delete unconditional.metadata.resourceVersion
    assert.equal((await s.call('PUT', `${WORKLOADS}/dup`, { body: { ...unconditional, spec: { priority: 3 } } })).status, 200)

    const staleDelete = await s.call('DELETE', `${WORKLOADS}/dup?resourceVersion=${first.body.metadata.resourceVersion}`)
    assert.equal(staleDelete.status, 409)
    const current = await s.call('GET', `${WORKLOADS}/dup`)
    assert.equal((await s.call('DELETE', `${WORKLOADS}/dup?resourceVersion=${current.body.metadata.resourceVersion}`)).status, 200)

    const missing = await s.call('PUT', `${WORKLOADS}/missing`, { body: workload('missing') })
    assert.equal(missing.status, 404)
    const renamed = await s.call('PUT', `${WORKLOADS}/one`, { body: workload('other') })
    assert.equal(renamed.status, 400)
    assert.equal(renamed.body.details.field, 'metadata.name')
  })

  test('label selectors filter lists; a bad selector names the parameter', async () => {
    const ns = '/apis/gpuplane.io/v1alpha1/namespaces/labels/workloads'
    await s.call('POST', ns, { body: workload('l1', { labels: { tier: 'gold', team: 'a' } }) })
    await s.call('POST', ns, { body: workload('l2', { labels: { tier: 'silver', team: 'b' } }) })
    await s.call('POST', ns, { body: workload('l3', { labels: { team: 'a' } }) })
    const names = async (selector: string) => (await s.call('GET', `${ns}?labelSelector=${encodeURIComponent(selector)}`)).body.items.map((o: any) => o.metadata.name).sort()
    assert.deepEqual(await names('tier=gold'), ['l1'])
    assert.deepEqual(await names('tier!=gold'), ['l2', 'l3'])
    assert.deepEqual(await names('tier in (gold,silver)'), ['l1', 'l2'])
    assert.deepEqual(await names('tier notin (gold)'), ['l2', 'l3'])
    assert.deepEqual(await names('tier'), ['l1', 'l2'])
    assert.deepEqual(await names('!tier'), ['l3'])
    assert.deepEqual(await names('team=a,tier'), ['l1'])
    const bad = await s.call('GET', `${ns}?labelSelector=${encodeURIComponent('tier in gold')}`)
    assert.equal(bad.status, 400)
    assert.equal(bad.body.details.field, 'labelSelector')
  })

  test('the status subresource: the admin sets status, checked against the kind; the object must exist', async () => {
    await s.call('POST', WORKLOADS, { body: workload('st') })
    const res = await s.call('PUT', `${WORKLOADS}/st/status`, { body: { status: { phase: 'Scheduled', nodeName: 'n1' } } })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(res.body.status, { phase: 'Scheduled', nodeName: 'n1' })
    assert.equal(res.body.spec.priority, 0, 'spec unchanged')
    const claim = { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'st-claim' }, spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.nvidia.com' } }] } } }
    assert.equal((await s.call('POST', CLAIMS, { body: claim })).status, 201)
    const badStatus = await s.call('PUT', `${CLAIMS}/st-claim/status`, { body: { status: { allocation: { devices: { results: 'x' } } } } })
    assert.equal(badStatus.status, 400)
    assert.match(badStatus.body.details.field, /^status\.allocation/)
    assert.equal((await s.call('PUT', `${WORKLOADS}/nope/status`, { body: { status: {} } })).status, 404)
    assert.equal((await s.call('PUT', `${WORKLOADS}/st/status`, { body: { status: 'x' } })).body.details.field, 'status')
  })

  test('unknown paths answer a NOT_FOUND Status', async () => {
    const res = await s.call('GET', '/apis/gpuplane.io/v1alpha1/gadgets')
    assert.equal(res.status, 404)
    assert.equal(res.body.reason, 'NOT_FOUND')
    assert.match(res.body.message, /openapi.json/)
  })
})

test('a body over the limit is refused with 413 PAYLOAD_TOO_LARGE', async () => {
  const s = await testServer({ bodyLimit: 2048 })
  try {
    const big = workload('big', { labels: { note: 'x'.repeat(60) } })
    ;(big.metadata as any).annotations = { blob: 'y'.repeat(4000) }
    const res = await s.call('POST', WORKLOADS, { body: big })
    assert.equal(res.status, 413)
    assert.equal(res.body.reason, 'PAYLOAD_TOO_LARGE')
    assert.equal(res.body.code, 413)
    assert.equal((await s.call('POST', WORKLOADS, { body: workload('small') })).status, 201)
    const audit = (await s.call('GET', '/apis/gpuplane.io/v1alpha1/auditlog')).body.items
    assert.deepEqual(audit.map((e: any) => [e.action, e.namespace, e.result]), [['create', 'team-a', '413'], ['create', 'team-a', '201']], 'the refused write is audited')
  } finally {
    await s.close()
  }
})
