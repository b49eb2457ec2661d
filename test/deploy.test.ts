// Checks of deploy/: every manifest parses, the kinds are there and wired together, and the server's args and env are flags `gpuplane server` has.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { buildProgram } from '../src/cli/main.ts'

const ROOT = join(import.meta.dirname, '..')
const DEPLOY = join(ROOT, 'deploy')
const MANIFESTS = join(DEPLOY, 'kubernetes')

type Obj = { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown }
type Container = { name: string; image: string; args?: string[]; env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>; ports?: Array<{ name: string; containerPort: number }>; readinessProbe?: Probe; livenessProbe?: Probe; resources?: { requests?: Record<string, string> } }
type Probe = { httpGet?: { path: string; port: string | number } }
type PodSpec = { containers: Container[] }
type Template = { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec }

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []))
}

function load(): Obj[] {
  const objects: Obj[] = []
  for (const file of yamlFiles(DEPLOY)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file}: ${doc.errors[0]?.message}`)
      const o = doc.toJS() as Obj | null
      if (o === null) continue
      assert.ok(typeof o.apiVersion === 'string' && typeof o.kind === 'string', `${file}: apiVersion and kind`)
      objects.push(o)
    }
  }
  return objects
}

const objects = load()
const one = (kind: string, name?: string): Obj => {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name))
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}`)
  return found[0]
}
const secret = one('Secret') as Obj & { stringData: Record<string, string> }
const deployment = one('Deployment') as Obj & { spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: Template } }
const server = deployment.spec.template.spec.containers[0]

/** The long flags of `gpuplane server`, from the CLI itself. */
function serverFlags(): Set<string> {
  const command = buildProgram(() => {}, () => {}).commands.find((c) => c.name() === 'server')
  assert.ok(command, 'gpuplane has a server command')
  return new Set(command.options.map((o) => o.long ?? ''))
}

test('every manifest parses and the kinds are there, in the gpuplane namespace', () => {
  const kinds = objects.map((o) => o.kind).sort()
  assert.deepEqual(kinds, ['Deployment', 'Kustomization', 'Namespace', 'Secret', 'Service', 'Service', 'StatefulSet'])
  for (const o of objects) {
    if (o.kind === 'Namespace' || o.kind === 'Kustomization') continue
    assert.equal(o.metadata?.namespace, 'gpuplane', `${o.kind} ${o.metadata?.name}`)
  }
  const kustomization = one('Kustomization') as Obj & { resources: string[] }
  const files = readdirSync(MANIFESTS).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()
  assert.deepEqual([...kustomization.resources].sort(), files)
})

test('the server Deployment: 2 replicas on PostgreSQL, flags the server has, probes, requests, scrape annotations', () => {
  assert.equal(deployment.spec.replicas, 2)
  const flags = serverFlags()
  const args = server.args ?? []
  assert.equal(args[0], 'server')
  for (const a of args.filter((x) => x.startsWith('--'))) assert.ok(flags.has(a), `gpuplane server has no ${a}`)
  assert.ok(args.includes('--postgres') && !args.includes('--db'), 'replicas share PostgreSQL')
  assert.equal(args[args.indexOf('--host') + 1], '0.0.0.0', 'listens on the pod IP')
  const port = server.ports?.find((p) => p.name === 'http')
  assert.equal(String(port?.containerPort), args[args.indexOf('--port') + 1])
  // Env: the admin token and the URL from the Secret; $(VAR) in args names a defined variable.
  const env = new Map((server.env ?? []).map((e) => [e.name, e]))
  for (const name of ['GPUPLANE_ADMIN_TOKEN', 'GPUPLANE_POSTGRES_URL']) {
    const ref = env.get(name)?.valueFrom?.secretKeyRef
    assert.ok(ref && ref.name === secret.metadata?.name && ref.key in secret.stringData, `${name} from the Secret`)
  }
  for (const a of args) for (const m of a.matchAll(/\$\((\w+)\)/g)) assert.ok(env.has(m[1]), `args use $(${m[1]}), which env defines`)
  assert.equal(server.readinessProbe?.httpGet?.path, '/readyz')
  assert.equal(server.livenessProbe?.httpGet?.path, '/healthz')
  assert.equal(server.readinessProbe?.httpGet?.port, 'http')
  assert.ok(server.resources?.requests?.cpu && server.resources.requests.memory)
  const annotations = deployment.spec.template.metadata.annotations ?? {}
  assert.equal(annotations['prometheus.io/scrape'], 'true')
  assert.equal(annotations['prometheus.io/port'], String(port?.containerPort))
  assert.equal(annotations['prometheus.io/path'], '/metrics')
  assert.deepEqual(deployment.spec.selector.matchLabels, { 'app.kubernetes.io/name': deployment.spec.template.metadata.labels['app.kubernetes.io/name'] })
})

test('Services select their pods, PostgreSQL is where the URL points, with the password of the Secret', () => {
  const api = one('Service', 'gpuplane') as Obj & { spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> } }
  for (const [k, v] of Object.entries(api.spec.selector)) assert.equal(deployment.spec.template.metadata.labels[k], v)
  assert.equal(api.spec.ports[0].targetPort, 'http')
  const sts = one('StatefulSet') as Obj & { spec: { serviceName: string; template: Template } }
  const pgService = one('Service', sts.spec.serviceName) as Obj & { spec: { selector: Record<string, string>; ports: Array<{ port: number }> } }
  for (const [k, v] of Object.entries(pgService.spec.selector)) assert.equal(sts.spec.template.metadata.labels[k], v)
  const url = new URL(secret.stringData['postgres-url'])
  assert.equal(url.hostname, pgService.metadata?.name)
  assert.equal(Number(url.port), pgService.spec.ports[0].port)
  const pgEnv = new Map((sts.spec.template.spec.containers[0].env ?? []).map((e) => [e.name, e]))
  assert.equal(pgEnv.get('POSTGRES_PASSWORD')?.valueFrom?.secretKeyRef?.key, 'postgres-password')
  assert.equal(pgEnv.get('POSTGRES_USER')?.value, decodeURIComponent(url.username))
  assert.equal(pgEnv.get('POSTGRES_DB')?.value, url.pathname.slice(1))
})

test('the Dockerfile: node:20-slim, production dependencies (tsx among them), the bin as entry point', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8')
  assert.match(dockerfile, /^FROM node:20-slim AS deps$/m)
  assert.match(dockerfile, /^FROM node:20-slim$/m)
  assert.match(dockerfile, /npm ci --omit=dev/)
  assert.match(dockerfile, /^ENTRYPOINT \["node", "bin\/gpuplane\.js"\]$/m)
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  for (const runtime of ['tsx', 'fastify', 'better-sqlite3', 'pg']) assert.ok(pkg.dependencies[runtime], `${runtime} is a runtime dependency`)
  const cmd = JSON.parse(/^CMD (.*)$/m.exec(dockerfile)![1]) as string[]
  const flags = serverFlags()
  assert.equal(cmd[0], 'server')
  for (const a of cmd.filter((x) => x.startsWith('--'))) assert.ok(flags.has(a), `gpuplane server has no ${a}`)
})
