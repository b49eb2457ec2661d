// Processes on a shared GPU named by their workload: GPUPLANE_WORKLOAD read from <proc>/<pid>/environ, by the library and by `gpuplane agent --proc` against a fake nvidia-smi and a real server.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openTelemetryStore } from '../src/store/index.ts'
import { nameProcessOwners, ownerFromEnviron, ownerOfProcess, parseWorkloadRef } from '../src/telemetry/process-owner.ts'
import { fakeNvidiaSmi, until } from './fake-nvidia-smi.ts'
import { utilizationServer, type UtilizationServer } from './utilization-server.ts'

/** Writes a fake /proc/<pid>/environ (NUL-separated, as the kernel gives it). */
function environ(proc: string, pid: number, vars: string[]): void {
  mkdirSync(join(proc, String(pid)), { recursive: true })
  writeFileSync(join(proc, String(pid), 'environ'), vars.join('\0') + '\0')
}

describe('process owners', () => {
  let proc: string
  before(() => {
    proc = mkdtempSync(join(tmpdir(), 'gp-proc-'))
  })
  after(() => rmSync(proc, { recursive: true, force: true }))

  it('reads <namespace>/<workload> from GPUPLANE_WORKLOAD and refuses what is not one', () => {
    assert.deepEqual(parseWorkloadRef('team-a/train-7'), { namespace: 'team-a', workload: 'train-7' })
    assert.deepEqual(parseWorkloadRef('team-a/llm.v2'), { namespace: 'team-a', workload: 'llm.v2' }, 'a workload name is a DNS subdomain')
    for (const bad of ['team-a', '/train', 'team-a/', 'Team-A/train', 'team.a/train', 'team-a/Train', 'team-a/a/b', `${'x'.repeat(64)}/w`]) {
      assert.equal(parseWorkloadRef(bad), undefined, bad)
    }
    assert.deepEqual(ownerFromEnviron('PATH=/bin\0GPUPLANE_WORKLOAD=team-b/serve\0HOME=/root\0'), { namespace: 'team-b', workload: 'serve' })
    assert.equal(ownerFromEnviron('PATH=/bin\0XGPUPLANE_WORKLOAD=team-b/serve\0'), undefined, 'only the variable itself')
    assert.equal(ownerFromEnviron(''), undefined)
  })

  it('names each process in place, leaving gone and unnamed ones alone', async () => {
    environ(proc, 101, ['PATH=/usr/bin', 'GPUPLANE_WORKLOAD=team-a/train'])
    environ(proc, 102, ['PATH=/usr/bin'])
    environ(proc, 103, ['GPUPLANE_WORKLOAD=not a name'])
    assert.deepEqual(await ownerOfProcess(proc, 101), { namespace: 'team-a', workload: 'train' })
    assert.equal(await ownerOfProcess(proc, 999), undefined, 'a process that has exited')
    const samples = [{ processes: [{ pid: 101, usedBytes: 1 }, { pid: 102, usedBytes: 2 }, { pid: 103, usedBytes: 3 }, { pid: 999, usedBytes: 4 }] }, { processes: [{ pid: 101, usedBytes: 5 }] }, {}]
    await nameProcessOwners(samples, proc)
    assert.deepEqual(samples, [
      { processes: [{ pid: 101, usedBytes: 1, namespace: 'team-a', workload: 'train' }, { pid: 102, usedBytes: 2 }, { pid: 103, usedBytes: 3 }, { pid: 999, usedBytes: 4 }] },
      { processes: [{ pid: 101, usedBytes: 5, namespace: 'team-a', workload: 'train' }] },
      {},
    ])
  })
})

describe('gpuplane agent names the processes of a shared GPU', () => {
  let srv: UtilizationServer
  before(async () => {
    srv = await utilizationServer('gp-agent-procs-')
  })
  after(() => srv.close())

  it('gpuplane agent --proc DIR sends each process with the workload its environment names, and the server keeps them', async () => {
    const { dir, store, url, token } = srv
    const proc = join(dir, 'proc')
    environ(proc, 4242, ['GPUPLANE_WORKLOAD=team-a/train'])
    environ(proc, 4343, ['HOME=/root'])
    const script = fakeNvidiaSmi(dir, { apps: [{ pid: 4242, usedMiB: 20_000 }, { pid: 4343, usedMiB: 1_000 }] }).script
    const bin = join(import.meta.dirname, '..', 'bin', 'gpuplane.js')
    const child = spawn(process.execPath, [bin, 'agent', '--server', url, '--token', token, '--node', 'h200', '--interval', '50ms', '--nvidia-smi', script, '--proc', proc], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const telemetry = openTelemetryStore(store)
    try {
      await until('samples stored', async () => (await telemetry.samples({ from: 0, to: Date.now() + 60_000 })).length >= 3, 20_000)
      child.kill('SIGTERM')
      assert.equal(await exited, 0, `exits 0 (${stderr})`)
    } finally {
      clearTimeout(killer)
      child.kill('SIGKILL')
    }
    const samples = await telemetry.samples({ from: 0, to: Date.now() + 60_000 })
    for (const s of samples) {
      assert.deepEqual(s.processes, [
        { pid: 4242, usedBytes: 20_000 * 1024 * 1024, namespace: 'team-a', workload: 'train' },
        { pid: 4343, usedBytes: 1_000 * 1024 * 1024 },
      ])
    }
  })
})
