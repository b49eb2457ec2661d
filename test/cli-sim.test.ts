// End-to-end tests of `gpuplane sim` on a small trace: the summary, --json in the schema, --report, the shipped variants, exit codes.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { cli, tmp } from './cli-helpers.ts'

const NODES = `sn,cpu_milli,memory_mib,gpu,model
node-a,32000,262144,8,G2
node-b,32000,131072,4,T4
node-c,16000,65536,2,T4
node-d,64000,262144,0,
`
const PODS = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
pod-0,4000,8192,1,500,,LS,Running,0,1,0
pod-1,4000,8192,1,250,,LS,Running,0,1,0
pod-2,8000,16384,1,1000,,LS,Running,0,1,0
pod-3,2000,4096,0,0,,BE,Running,0,1,0
pod-4,4000,8192,2,1000,,LS,Running,0,1,0
pod-5,4000,8192,1,810,,LS,Running,0,1,0
pod-6,4000,8192,1,470,T4,LS,Running,0,1,0
pod-7,6000,8192,1,1000,,LS,Running,0,1,0
`

test('sim: the summary and --json with the issue schema', async () => {
  const nodes = tmp('nodes.csv', NODES)
  const pods = tmp('openb_pod_list_tiny.csv', PODS)
  const json = join(mkdtempSync(join(tmpdir(), 'gpuplane-sim-')), 'out.json')
  const r = await cli(['sim', '--nodes', nodes, '--pods', pods, '--policy', 'fgd', '--seeds', '3', '--json', json])
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /^fgd on tiny: 3 seeds \(42\.\.44\), 4 nodes, 14 GPUs, 8 trace pods inflated to 130% of GPU capacity/)
  assert.match(r.out, /unallocated GPU at 100% arrived: \d+\.\d\d% ± \d+\.\d\d \(median \d+\.\d\d\)/)
  assert.match(r.out, /ARRIVED %\s+UNALLOCATED %\s+SD\s+FRAG %\s+FRAG RATE %\s+FAILED cpu\/share\/whole\/multi\n80 /)
  assert.match(r.out, /utilization at 100% arrived: .* of GPUs hold a pod/)
  assert.equal(r.err, '', 'no progress bar when stderr is not a terminal')
  const result = JSON.parse(readFileSync(json, 'utf8'))
  assert.equal(result.policy, 'fgd')
  assert.equal(result.trace, 'tiny')
  assert.deepEqual(result.seeds, [42, 43, 44])
  assert.ok(result.points.some((p: { arrivedPct: number }) => p.arrivedPct === 100))
  for (const p of result.points) for (const key of ['arrivedPct', 'allocatedPct', 'unallocatedPct', 'fragPct']) assert.equal(typeof p[key], 'number', key)
  assert.deepEqual(Object.keys(result.unallocatedAt100).sort(), ['mean', 'median', 'sd'])

  const again = join(mkdtempSync(join(tmpdir(), 'gpuplane-sim-')), 'out.json')
  assert.equal((await cli(['sim', '--nodes', nodes, '--pods', pods, '--policy', 'fgd', '--seeds', '3', '--json', again])).code, 0)
  assert.equal(readFileSync(again, 'utf8'), readFileSync(json, 'utf8'), 'deterministic')
})

test('sim: slicing reports its cost; --report writes the HTML report', async () => {
  const nodes = tmp('nodes.csv', NODES)
  const pods = tmp('openb_pod_list_tiny.csv', PODS)
  const r = await cli(['sim', '--nodes', nodes, '--pods', pods, '--seeds', '2', '--slicing', 'vgpu', '--gpu-model', 'G2=A100-80GB'])
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /gpuplane on tiny: .*, vgpu slicing/)
  assert.match(r.out, /vgpu slicing costs -?\d+\.\d\d points of unallocated GPU at 100% .*ideal sharing: \d+\.\d\d%/)

  const dir = join(mkdtempSync(join(tmpdir(), 'gpuplane-sim-')), 'report')
  const rep = await cli(['sim', '--nodes', nodes, '--pods', pods, '--seeds', '1', '--report', dir])
  assert.equal(rep.code, 0, rep.err)
  assert.ok(existsSync(join(dir, 'index.html')))
  assert.match(rep.err, /report: .*index\.html/)
})

test('sim: a shipped variant by name, with the paper beside ours', async () => {
  const r = await cli(['sim', '--pods', 'default', '--policy', 'bestfit', '--seeds', '1', '--quiet'])
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /^bestfit on default: seed 42, 1,213 nodes, 6,212 GPUs, 8,152 trace pods/)
  assert.match(r.out, /paper \(05-BestFit, seeds 42\.\.51\): 7\.14 ± 0\.14/)
})

test('sim: invalid input exits 2 and says what is wrong', async () => {
  const nodes = tmp('nodes.csv', NODES)
  const badPods = tmp('pods.csv', 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1000,10,1,500\nq,1000,10,two,500\n')
  const cases: [string[], RegExp][] = [
    [['--nodes', nodes, '--pods', badPods], /pods\.csv: line 3: column num_gpu: expected a whole number, got "two"/],
    [['--pods', 'cpu999'], /--pods cpu999: no such file and no shipped trace variant of that name; variants: default, /],
    [['--seeds', '0'], /--seeds: expected 1 to 1000 seeds, got 0/],
    [['--pods', 'all'], /--pods all: names \d+ pod lists; gpuplane sim replays one/],
    [['--inflate', 'lots'], /--inflate: expected a number, got "lots"/],
    [['--policy', 'tetris'], /argument 'tetris' is invalid/],
    [['--gpu-model', 'G2=A100-80GB'], /--gpu-model only matters with --slicing/],
    [['--slicing', 'mig', '--gpu-model', 'G2'], /--gpu-model G2: write CODE=MODEL/],
  ]
  for (const [args, message] of cases) {
    const r = await cli(['sim', ...args])
    assert.equal(r.code, 2, args.join(' '))
    assert.match(r.err, message)
  }
})
