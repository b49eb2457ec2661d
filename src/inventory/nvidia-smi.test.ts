// Tests of the nvidia-smi parsers against the real reads in test/fixtures/nvidia-smi and against
// synthetic variants (several GPUs, NVLink, MIG instances) built here and marked as such.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { GpuplaneError } from '../common/errors.ts'
import {
  inventoryFromNvidiaSmi,
  parseMigInstances,
  parseMigPlacements,
  parseMigProfiles,
  parseNvidiaSmiXml,
  parseTopology,
  type MigProfile,
} from './nvidia-smi.ts'

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'nvidia-smi')
const read = (machine: string, file: string): string => readFileSync(join(FIXTURES, machine, file), 'utf8')

function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GpuplaneError, `expected GpuplaneError, got ${String(e)}`)
    assert.equal(e.code, 'INVALID_INPUT')
    assert.match(e.message, pattern)
    return true
  })
}

// [name, id, free, total, GiB, MiB, SM, DEC, ENC, CE, JPEG, OFA] exactly as `nvidia-smi mig -lgip` printed them.
type ProfileRow = [string, number, number, number, number, number, number, number, number, number, number, number]
const toProfile = ([name, id, free, total, gib, mib, sm, dec, enc, ce, jpeg, ofa]: ProfileRow): MigProfile => ({
  name, id, instancesFree: free, instancesTotal: total, memoryGiB: gib, memoryMiB: mib, p2p: false,
  multiprocessors: sm, decoders: dec, encoders: enc, copyEngines: ce, jpegEngines: jpeg, ofaEngines: ofa,
})

// Both parts reported the same legal placements (8 memory slices; 7g takes all 8).
const REAL_PLACEMENTS = new Map([
  [19, { starts: [0, 1, 2, 3, 4, 5, 6], size: 1 }],
  [20, { starts: [0, 1, 2, 3, 4, 5, 6], size: 1 }],
  [15, { starts: [0, 2, 4, 6], size: 2 }],
  [14, { starts: [0, 2, 4], size: 2 }],
  [9, { starts: [0, 4], size: 4 }],
  [5, { starts: [0], size: 4 }],
  [0, { starts: [0], size: 8 }],
])

const MACHINES = [
  {
    dir: 'h100-passthrough',
    uuid: 'GPU-a450c0d7-7a54-d5d0-306d-87b34a97c57c',
    productName: 'NVIDIA H100 80GB HBM3',
    memoryMiB: 81559,
    profiles: [
      ['1g.10gb', 19, 7, 7, 9.75, 9984, 16, 1, 0, 1, 1, 0],
      ['1g.10gb+me', 20, 1, 1, 9.75, 9984, 16, 1, 0, 1, 1, 1],
      ['1g.20gb', 15, 4, 4, 19.62, 20091, 26, 1, 0, 1, 1, 0],
      ['2g.20gb', 14, 3, 3, 19.62, 20091, 32, 2, 0, 2, 2, 0],
      ['3g.40gb', 9, 2, 2, 39.5, 40448, 60, 3, 0, 3, 3, 0],
      ['4g.40gb', 5, 1, 1, 39.5, 40448, 64, 4, 0, 4, 4, 0],
      ['7g.80gb', 0, 1, 1, 79.25, 81152, 132, 7, 0, 8, 7, 1],
    ] as ProfileRow[],
  },
  {
    dir: 'h200-passthrough',
    uuid: 'GPU-247420ef-5061-c4d8-5cb1-c933f0299a49',
    productName: 'NVIDIA H200',
    memoryMiB: 143771,
    profiles: [
      ['1g.18gb', 19, 7, 7, 16, 16384, 16, 1, 0, 1, 1, 0],
      ['1g.18gb+me', 20, 1, 1, 16, 16384, 16, 1, 0, 1, 1, 1],
      ['1g.35gb', 15, 4, 4, 32.5, 33280, 26, 1, 0, 1, 1, 0],
      ['2g.35gb', 14, 3, 3, 32.5, 33280, 32, 2, 0, 2, 2, 0],
      ['3g.71gb', 9, 2, 2, 69.75, 71424, 60, 3, 0, 3, 3, 0],
      ['4g.71gb', 5, 1, 1, 69.75, 71424, 64, 4, 0, 4, 4, 0],
      ['7g.141gb', 0, 1, 1, 140, 143360, 132, 7, 0, 8, 7, 1],
    ] as ProfileRow[],
  },
]

for (const m of MACHINES) {
  describe(`real ${m.dir}`, () => {
    test('nvidia-smi -q -x', () => {
      const xml = parseNvidiaSmiXml(read(m.dir, 'nvidia-smi-q.xml'))
      assert.equal(xml.driverVersion, '580.159.04')
      assert.equal(xml.cudaVersion, '13.0')
      assert.deepEqual(xml.migDevices, [])
      assert.deepEqual(xml.gpus, [
        {
          index: 0,
          uuid: m.uuid,
          productName: m.productName,
          pciBusId: '0000:00:06.0',
          pcieRoot: 'pci0000:00',
          memoryMiB: m.memoryMiB,
          driverVersion: '580.159.04',
          cudaDriverVersion: '13.0',
          migEnabled: false,
        },
      ])
    })

    test('nvidia-smi mig -lgip: the 7 GPU instance profiles', () => {
      assert.deepEqual(parseMigProfiles(read(m.dir, 'mig-lgip.txt')), new Map([[0, m.profiles.map(toProfile)]]))
    })

    test('nvidia-smi mig -lgipp: the placements the hardware reported', () => {
      assert.deepEqual(parseMigPlacements(read(m.dir, 'mig-lgipp.txt')), new Map([[0, REAL_PLACEMENTS]]))
    })

    test('nvidia-smi topo -m: one GPU, NUMA 0, no NVLink (ANSI escapes stripped)', () => {
      const topo = parseTopology(read(m.dir, 'topo-m.txt'))
      assert.deepEqual(topo, {
        columns: ['GPU0'],
        gpus: [{ index: 0, links: {}, cpuAffinity: '0-15', numaAffinity: 0 }],
        pairs: [],
        nvlinkDomains: [],
        pcieHostBridgeGroups: [[0]],
      })
    })

    test('inventoryFromNvidiaSmi combines all four', () => {
      const inv = inventoryFromNvidiaSmi({
        xml: read(m.dir, 'nvidia-smi-q.xml'),
        migProfiles: read(m.dir, 'mig-lgip.txt'),
        migPlacements: read(m.dir, 'mig-lgipp.txt'),
        topo: read(m.dir, 'topo-m.txt'),
        host: 'hv-1',
      })
      assert.equal(inv.host.node, 'localhost')
      assert.equal(inv.host.host, 'hv-1')
      // No catalog lookup here (the publisher resolves model), and one GPU has no NVLink domain.
      assert.ok(!('model' in inv.host.gpus[0]!) && !('nvlinkDomain' in inv.host.gpus[0]!))
      // The GPU carries the MIG table it reported, -lgip rows joined with their -lgipp placements.
      const { migProfiles, ...gpu } = inv.host.gpus[0]!
      assert.deepEqual(
        migProfiles?.map((p) => [p.name, p.profileId, p.placements.map((x) => x.start), p.placements[0]?.size]),
        inv.migProfiles?.get(0)?.map((p) => [p.name, p.id, REAL_PLACEMENTS.get(p.id)!.starts, REAL_PLACEMENTS.get(p.id)!.size]),
      )
      assert.deepEqual([gpu], [
        {
          index: 0,
          uuid: m.uuid,
          productName: m.productName,
          pciBusId: '0000:00:06.0',
          pcieRoot: 'pci0000:00',
          memoryMiB: m.memoryMiB,
          driverVersion: '580.159.04',
          cudaDriverVersion: '13.0',
          migEnabled: false,
          numaNode: 0,
        },
      ])
      assert.equal(inv.migProfiles?.get(0)?.length, 7)
      assert.deepEqual(inv.migPlacements?.get(0), REAL_PLACEMENTS)
      assert.deepEqual(inv.warnings, [])
    })
  })
}

// ---- synthetic multi-GPU matrices (format of real DGX outputs: tabs, the extra empty cell before
// "GPU NUMA ID", NIC columns, ANSI underline around the header) -----------------------------------

function topoText(n: number, link: (a: number, b: number) => string, opts: { nics?: string[][]; cpu?: (i: number) => string } = {}): string {
  const nics = opts.nics ?? []
  const cols = [...Array.from({ length: n }, (_, i) => `GPU${i}`), ...nics.map((_, k) => `NIC${k}`)]
  const header = `\t\x1b[4m${cols.join('\t')}\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\x1b[0m`
  const rows = Array.from({ length: n }, (_, a) => {
    const cells = Array.from({ length: n }, (_, b) => (a === b ? ' X ' : link(a, b)))
    const nicCells = nics.map((perGpu) => perGpu[a]!)
    const cpu = opts.cpu ? opts.cpu(a) : a < n / 2 ? '0-55,112-167' : '56-111,168-223'
    return `GPU${a}\t${[...cells, ...nicCells].join('\t')}\t${cpu}\t${a < n / 2 ? 0 : 1}\t\tN/A`
  })
  const nicRows = nics.map((perGpu, k) => `NIC${k}\t${[...perGpu, ...nics.map((_, j) => (j === k ? ' X ' : 'SYS'))].join('\t')}\t\t\t\t`)
  return [header, ...rows, ...nicRows, '', 'Legend:', '', '  X    = Self', '  NV#  = Connection traversing a bonded set of # NVLinks', ''].join('\n')
}

/** Synthetic: the real H100 XML with its <gpu> repeated n times under new uuids, minors and buses. */
function multiGpuXml(n: number, bus: (i: number) => string): string {
  const real = read('h100-passthrough', 'nvidia-smi-q.xml')
  const start = real.indexOf('<gpu id=')
  const end = real.indexOf('</gpu>') + '</gpu>'.length
  const gpu = real.slice(start, end)
  const copies = Array.from({ length: n }, (_, i) =>
    gpu
      .replaceAll('00000000:00:06.0', `00000000:${bus(i)}:00.0`)
      .replace('GPU-a450c0d7-7a54-d5d0-306d-87b34a97c57c', `GPU-00000000-0000-0000-0000-00000000000${i}`)
      .replace('<minor_number>0</minor_number>', `<minor_number>${i}</minor_number>`)
      .replace('<pci_bus>00</pci_bus>', `<pci_bus>${bus(i)}</pci_bus>`),
  )
  return real.slice(0, start) + copies.join('\n\t') + real.slice(end).replace('<attached_gpus>1</attached_gpus>', `<attached_gpus>${n}</attached_gpus>`)
}

const DGX_BUSES = ['1B', '43', '52', '61', '9D', 'C3', 'D1', 'DF']

describe('synthetic nvidia-smi topo -m', () => {
  test('8 GPUs all NV18: one NVLink domain, NUMA from the affinity column', () => {
    const text = topoText(8, () => 'NV18', { nics: [['PXB', 'PXB', 'NODE', 'NODE', 'SYS', 'SYS', 'SYS', 'SYS']] })
    const topo = parseTopology(text)
    assert.deepEqual(topo.nvlinkDomains, [[0, 1, 2, 3, 4, 5, 6, 7]])
    assert.equal(topo.pairs.length, 28)
    assert.ok(topo.pairs.every((p) => p.link === 'NV18' && p.nvlinks === 18))
    assert.deepEqual(topo.gpus.map((g) => g.numaAffinity), [0, 0, 0, 0, 1, 1, 1, 1])
    assert.equal(topo.gpus[5]!.cpuAffinity, '56-111,168-223')
    assert.equal(topo.gpus[0]!.gpuNumaId, undefined)
    assert.deepEqual(topo.gpus[0]!.links.NIC0, 'PXB')
    // NV18 hides the GPU-GPU PCIe path; NIC0 (PXB to GPU0 and GPU1) shows those two share a host bridge.
    assert.deepEqual(topo.pcieHostBridgeGroups, [[0, 1], [2], [3], [4], [5], [6], [7]])

    const inv = inventoryFromNvidiaSmi({ xml: multiGpuXml(8, (i) => DGX_BUSES[i]!), topo: text, node: 'dgx-1' })
    assert.deepEqual(inv.host.gpus.map((g) => g.nvlinkDomain), Array(8).fill('dgx-1-nvl0'))
    assert.deepEqual(inv.host.gpus.map((g) => g.numaNode), [0, 0, 0, 0, 1, 1, 1, 1])
    assert.deepEqual(inv.host.gpus.map((g) => g.pciBusId), DGX_BUSES.map((b) => `0000:${b.toLowerCase()}:00.0`))
    // GPU1 (bus 43) takes GPU0's stand-in root (bus 1b); the others keep their own bus.
    assert.deepEqual(inv.host.gpus.map((g) => g.pcieRoot), ['pci0000:1b', 'pci0000:1b', 'pci0000:52', 'pci0000:61', 'pci0000:9d', 'pci0000:c3', 'pci0000:d1', 'pci0000:df'])
    assert.deepEqual(inv.host.gpus.map((g) => g.index), [0, 1, 2, 3, 4, 5, 6, 7])
  })

  test('NVLink pairs (NV4 between 0-1, 2-3, 4-5, 6-7): four domains', () => {
    const pairLink = (a: number, b: number): string => (a >> 1 === b >> 1 ? 'NV4' : (a < 4) === (b < 4) ? 'NODE' : 'SYS')
    const topo = parseTopology(topoText(8, pairLink))
    assert.deepEqual(topo.nvlinkDomains, [[0, 1], [2, 3], [4, 5], [6, 7]])
    assert.deepEqual(topo.pairs.find((p) => p.a === 2 && p.b === 3), { a: 2, b: 3, link: 'NV4', nvlinks: 4 })
    assert.deepEqual(topo.pairs.find((p) => p.a === 0 && p.b === 5), { a: 0, b: 5, link: 'SYS' })
    const inv = inventoryFromNvidiaSmi({ xml: multiGpuXml(8, (i) => DGX_BUSES[i]!), topo: topoText(8, pairLink), node: 'n1' })
    assert.deepEqual(inv.host.gpus.map((g) => g.nvlinkDomain), ['n1-nvl0', 'n1-nvl0', 'n1-nvl1', 'n1-nvl1', 'n1-nvl2', 'n1-nvl2', 'n1-nvl3', 'n1-nvl3'])
  })

  test('no NVLink: no domains; PIX/PHB join PCIe groups, NODE/SYS do not', () => {
    // GPU0-1 behind one switch (PIX), GPU2 through the same host bridge as GPU3 (PHB), 0-2 NODE, rest SYS.
    const link = (a: number, b: number): string => {
      const key = `${Math.min(a, b)}${Math.max(a, b)}`
      return key === '01' ? 'PIX' : key === '23' ? 'PHB' : key === '02' || key === '03' || key === '12' || key === '13' ? 'NODE' : 'SYS'
    }
    const text = topoText(4, link)
    const topo = parseTopology(text)
    assert.deepEqual(topo.nvlinkDomains, [])
    assert.deepEqual(topo.pcieHostBridgeGroups, [[0, 1], [2, 3]])
    const inv = inventoryFromNvidiaSmi({ xml: multiGpuXml(4, (i) => ['18', '19', '3b', '3c'][i]!), topo: text })
    assert.deepEqual(inv.host.gpus.map((g) => g.nvlinkDomain), [undefined, undefined, undefined, undefined])
    assert.deepEqual(inv.host.gpus.map((g) => g.pcieRoot), ['pci0000:18', 'pci0000:18', 'pci0000:3b', 'pci0000:3b'])
  })

  test('empty CPU Affinity cells and an N/A NUMA affinity', () => {
    const text = topoText(2, () => 'NV12', { cpu: (i) => (i === 0 ? '' : 'N/A') }).replace('\t1\t\tN/A', '\tN/A\t\tN/A')
    const topo = parseTopology(text)
    assert.deepEqual(topo.gpus.map((g) => [g.cpuAffinity, g.numaAffinity]), [[undefined, 0], [undefined, undefined]])
  })

  test('tabs lost (copied through a terminal): cells aligned from the right', () => {
    const text = [
      '        GPU0    GPU1    GPU2    GPU3    CPU Affinity    NUMA Affinity   GPU NUMA ID',
      'GPU0     X      NV2     SYS     SYS     0-15    0               N/A',
      'GPU1    NV2      X      SYS     SYS     0-15    0               N/A',
      'GPU2    SYS     SYS      X      NV2             1               N/A',
      'GPU3    SYS     SYS     NV2      X              1               N/A',
    ].join('\n')
    const topo = parseTopology(text)
    assert.deepEqual(topo.nvlinkDomains, [[0, 1], [2, 3]])
    assert.deepEqual(topo.gpus.map((g) => g.numaAffinity), [0, 0, 1, 1])
    assert.deepEqual(topo.gpus.map((g) => g.cpuAffinity), ['0-15', '0-15', undefined, undefined])
  })
})

// ---- synthetic MIG: the real H100 XML with MIG enabled and devices, and `mig -lgi` in the
// format of NVIDIA's MIG user guide ------------------------------------------------------------

interface FakeMig { gi: number; ci: number; sm: number; ce: number; dec: number; enc: number; ofa: number; jpg: number; mib: number }
const MIG_3G: Omit<FakeMig, 'gi' | 'ci'> = { sm: 60, ce: 3, dec: 3, enc: 0, ofa: 0, jpg: 3, mib: 40448 }
const MIG_4G: Omit<FakeMig, 'gi' | 'ci'> = { sm: 64, ce: 4, dec: 4, enc: 0, ofa: 0, jpg: 4, mib: 40448 }
const MIG_1G: Omit<FakeMig, 'gi' | 'ci'> = { sm: 16, ce: 1, dec: 1, enc: 0, ofa: 0, jpg: 1, mib: 9984 }
const MIG_1G_ME: Omit<FakeMig, 'gi' | 'ci'> = { ...MIG_1G, ofa: 1 }

function migXml(devices: FakeMig[]): string {
  const body = devices
    .map(
      (d, k) => `
			<mig_device>
				<index>${k}</index>
				<gpu_instance_id>${d.gi}</gpu_instance_id>
				<compute_instance_id>${d.ci}</compute_instance_id>
				<device_attributes>
					<shared>
						<multiprocessor_count>${d.sm}</multiprocessor_count>
						<copy_engine_count>${d.ce}</copy_engine_count>
						<encoder_count>${d.enc}</encoder_count>
						<decoder_count>${d.dec}</decoder_count>
						<ofa_count>${d.ofa}</ofa_count>
						<jpg_count>${d.jpg}</jpg_count>
					</shared>
				</device_attributes>
				<fb_memory_usage>
					<total>${d.mib} MiB</total>
					<reserved>0 MiB</reserved>
					<used>12 MiB</used>
					<free>${d.mib - 12} MiB</free>
				</fb_memory_usage>
			</mig_device>`,
    )
    .join('')
  return read('h100-passthrough', 'nvidia-smi-q.xml')
    .replace('<current_mig>Disabled</current_mig>', '<current_mig>Enabled</current_mig>')
    .replace(/<mig_devices>\s*None\s*<\/mig_devices>/, `<mig_devices>${body}\n\t\t</mig_devices>`)
}

const LGI = `+-------------------------------------------------------+
| GPU instances:                                        |
| GPU   Name             Profile  Instance   Placement  |
|                          ID       ID       Start:Size |
|=======================================================|
|   0  MIG 3g.40gb          9        1          4:4     |
+-------------------------------------------------------+
|   0  MIG 1g.10gb         19        9          0:1     |
+-------------------------------------------------------+
|   0  MIG 1g.10gb         19       10          1:1     |
+-------------------------------------------------------+
`

describe('synthetic MIG devices', () => {
  const devices: FakeMig[] = [
    { gi: 1, ci: 0, ...MIG_3G },
    { gi: 9, ci: 0, ...MIG_1G },
  ]

  test('parseMigInstances reads the -lgi table', () => {
    assert.deepEqual(parseMigInstances(LGI), new Map([[0, [
      { profile: '3g.40gb', profileId: 9, gpuInstanceId: 1, placement: { start: 4, size: 4 } },
      { profile: '1g.10gb', profileId: 19, gpuInstanceId: 9, placement: { start: 0, size: 1 } },
      { profile: '1g.10gb', profileId: 19, gpuInstanceId: 10, placement: { start: 1, size: 1 } },
    ]]]))
    assert.deepEqual(parseMigInstances('No MIG-enabled devices found.\n'), new Map())
  })

  test('the XML alone lists MIG devices but cannot place them', () => {
    const xml = parseNvidiaSmiXml(migXml(devices))
    assert.equal(xml.gpus[0]!.migEnabled, true)
    assert.equal(xml.gpus[0]!.migDevices, undefined)
    assert.deepEqual(xml.migDevices[0], {
      gpu: 0, index: 0, gpuInstanceId: 1, computeInstanceId: 0, multiprocessors: 60,
      copyEngines: 3, encoders: 0, decoders: 3, ofaEngines: 0, jpegEngines: 3, memoryMiB: 40448,
    })
    invalid(() => inventoryFromNvidiaSmi({ xml: migXml(devices) }), /GPU instance 1.*nvidia-smi mig -lgi/)
  })

  test('with -lgi: profile and placement per GPU instance; an instance without compute instance is reported', () => {
    const inv = inventoryFromNvidiaSmi({ xml: migXml(devices), migInstances: LGI })
    assert.deepEqual(inv.host.gpus[0]!.migDevices, [
      { profile: '3g.40gb', profileId: 9, gpuInstanceId: 1, computeInstanceId: 0, placement: { start: 4, size: 4 }, memoryMiB: 40448, multiprocessors: 60 },
      { profile: '1g.10gb', profileId: 19, gpuInstanceId: 9, computeInstanceId: 0, placement: { start: 0, size: 1 }, memoryMiB: 9984, multiprocessors: 16 },
    ])
    assert.deepEqual(inv.warnings, ['GPU 0: GPU instance 10 (1g.10gb at 1:1) has no compute instance: it holds its memory slices but is no MIG device'])
    assert.equal(inv.migInstances?.get(0)?.length, 3)
    // parseNvidiaSmiXml takes the same listings.
    const xml = parseNvidiaSmiXml(migXml(devices), { instances: parseMigInstances(LGI) })
    assert.deepEqual(xml.gpus[0]!.migDevices, inv.host.gpus[0]!.migDevices)
  })

  test('with -lgi missing a GPU instance of the XML: error', () => {
    invalid(() => inventoryFromNvidiaSmi({ xml: migXml([{ gi: 2, ci: 0, ...MIG_3G }]), migInstances: LGI }), /GPU instance 2.*no such GPU instance/)
  })

  test('without -lgi: a forced placement (4g, 7g) is taken, profiles matched by memory and engines', () => {
    const lgip = read('h100-passthrough', 'mig-lgip.txt')
    const lgipp = read('h100-passthrough', 'mig-lgipp.txt')
    const inv = inventoryFromNvidiaSmi({ xml: migXml([{ gi: 2, ci: 0, ...MIG_4G }]), migProfiles: lgip, migPlacements: lgipp })
    assert.deepEqual(inv.host.gpus[0]!.migDevices, [
      { profile: '4g.40gb', profileId: 5, gpuInstanceId: 2, computeInstanceId: 0, placement: { start: 0, size: 4 }, memoryMiB: 40448, multiprocessors: 64 },
    ])
    // The +me variant differs from 1g.10gb only by its OFA engine; it has a single instance but 7 starts.
    invalid(() => inventoryFromNvidiaSmi({ xml: migXml([{ gi: 7, ci: 0, ...MIG_1G_ME }]), migProfiles: lgip, migPlacements: lgipp }), /profile 1g\.10gb\+me matched, but its placement is not forced/)
    // 3g.40gb has two legal starts: not forced.
    invalid(() => inventoryFromNvidiaSmi({ xml: migXml(devices), migProfiles: lgip, migPlacements: lgipp }), /3g\.40gb matched, but its placement is not forced.*mig -lgi/)
    // Memory fits no profile.
    invalid(() => inventoryFromNvidiaSmi({ xml: migXml([{ gi: 3, ci: 0, ...MIG_1G, mib: 5000 }]), migProfiles: lgip, migPlacements: lgipp }), /no profile of `nvidia-smi mig -lgip`/)
  })

  test('several compute instances in one GPU instance are reported', () => {
    const split: FakeMig[] = [
      { gi: 1, ci: 0, ...MIG_3G, sm: 32 },
      { gi: 1, ci: 1, ...MIG_3G, sm: 28 },
    ]
    const inv = inventoryFromNvidiaSmi({ xml: migXml(split), migInstances: LGI })
    assert.deepEqual(inv.host.gpus[0]!.migDevices?.map((d) => [d.computeInstanceId, d.profile, d.placement.start, d.multiprocessors]), [[0, '3g.40gb', 4, 32], [1, '3g.40gb', 4, 28]])
    assert.ok(inv.warnings.some((w) => /GPU instance 1 has 2 compute instances/.test(w)))
  })
})

describe('robust to format variations', () => {
  test('-lgip with CRLF, N/A engine counts and two GPUs', () => {
    const text = [
      '+------------------------------------------------------------------+',
      '| GPU instance profiles:                                           |',
      '| GPU   Name          ID    Instances   Memory     P2P    SM    DEC   ENC |',
      '|                           Free/Total   GiB              CE    JPEG  OFA |',
      '|==================================================================|',
      '|   0  MIG 1g.5gb     19     7/7        4.75       No     14     0     0   |',
      '|                                                          1     0     0   |',
      '+------------------------------------------------------------------+',
      '|   1  MIG 7g.40gb     0     0/1        39.25      Yes    98     N/A   0   |',
      '|                                                          7     N/A   1   |',
      '+------------------------------------------------------------------+',
    ].join('\r\n')
    const t = parseMigProfiles(text)
    assert.deepEqual([...t.keys()], [0, 1])
    assert.deepEqual(t.get(1), [{ name: '7g.40gb', id: 0, instancesFree: 0, instancesTotal: 1, memoryGiB: 39.25, memoryMiB: 40192, p2p: true, multiprocessors: 98, encoders: 0, copyEngines: 7, ofaEngines: 1 }])
  })

  test('"No MIG-supported devices found." means no profiles, not an error', () => {
    assert.deepEqual(parseMigProfiles('No MIG-supported devices found.\n'), new Map())
    assert.deepEqual(parseMigPlacements('No MIG-supported devices found.\n'), new Map())
  })

  test('-lgipp with extra spaces and several GPUs', () => {
    const t = parseMigPlacements('  GPU  0 Profile ID  9 Placements: { 0, 4 }:4  \n\nGPU 1 Profile ID 0 Placement : {0}:8\n')
    assert.deepEqual(t, new Map([[0, new Map([[9, { starts: [0, 4], size: 4 }]])], [1, new Map([[0, { starts: [0], size: 8 }]])]]))
  })

  test('XML: BDF case and domain normalised, N/A memory and minor number tolerated', () => {
    const xml = read('h100-passthrough', 'nvidia-smi-q.xml')
      .replaceAll('00000000:00:06.0', '00000001:AB:1F.7')
      .replace('<total>81559 MiB</total>', '<total>N/A</total>')
      .replace('<minor_number>0</minor_number>', '<minor_number>N/A</minor_number>')
    const gpu = parseNvidiaSmiXml(xml).gpus[0]!
    assert.equal(gpu.pciBusId, '0001:ab:1f.7')
    assert.equal(gpu.pcieRoot, 'pci0001:ab')
    assert.equal(gpu.memoryMiB, undefined)
    assert.equal(gpu.index, 0)
  })
})

describe('bad input', () => {
  const xml = read('h100-passthrough', 'nvidia-smi-q.xml')

  test('XML', () => {
    invalid(() => parseNvidiaSmiXml('GPU 0: NVIDIA H100'), /not well-formed XML.*nvidia-smi -q -x/)
    invalid(() => parseNvidiaSmiXml('<gpu><uuid>x</uuid>'), /not well-formed XML/)
    invalid(() => parseNvidiaSmiXml('<log><gpu/></log>'), /root element <nvidia_smi_log>/)
    invalid(() => parseNvidiaSmiXml(xml.replace(/<uuid>.*<\/uuid>/, '<uuid>N/A</uuid>')), /expected a value in <uuid>/)
    invalid(() => parseNvidiaSmiXml(xml.replace('<total>81559 MiB</total>', '<total>80 GB</total>')), /expected "<n> MiB"/)
    invalid(() => parseNvidiaSmiXml(xml.replace('<pci_bus_id>00000000:00:06.0</pci_bus_id>', '<pci_bus_id>six</pci_bus_id>')), /PCI address/)
    invalid(() => parseNvidiaSmiXml(xml.replace('<current_mig>Disabled</current_mig>', '<current_mig>Maybe</current_mig>')), /Enabled, Disabled or N\/A/)
    const twice = xml.replace('</gpu>', '</gpu>' + xml.slice(xml.indexOf('<gpu id='), xml.indexOf('</gpu>') + 6))
    invalid(() => parseNvidiaSmiXml(twice), /same uuid/)
    const err = (() => {
      try {
        parseNvidiaSmiXml(xml.replace(/<uuid>.*<\/uuid>/, ''))
      } catch (e) {
        return e as GpuplaneError
      }
      return undefined
    })()
    assert.equal(err?.location.path, 'nvidia_smi_log.gpu[0].uuid')
  })

  test('mig listings', () => {
    invalid(() => parseMigProfiles(read('h100-passthrough', 'topo-m.txt')), /expected the GPU instance profile table of `nvidia-smi mig -lgip`/)
    invalid(() => parseMigProfiles(LGI), /expected the GPU instance profile table/)
    invalid(() => parseMigProfiles(read('h100-passthrough', 'mig-lgip.txt').replace('9.75 ', 'lots')), /line 6: Memory: expected GiB/)
    invalid(() => parseMigProfiles(read('h100-passthrough', 'mig-lgip.txt').replace('16     1     0   |\n|', '16     1   |\n|')), /line 6: expected a profile row/)
    invalid(() => parseMigPlacements(read('h100-passthrough', 'mig-lgip.txt')), /line 1: expected "GPU <n> Profile ID <id> Placements/)
    invalid(() => parseMigPlacements(''), /found none/)
    invalid(() => parseMigPlacements('GPU  0 Profile ID 19 Placements: {0,a}:1'), /whole numbers/)
    invalid(() => parseMigPlacements('GPU 0 Profile ID 9 Placements: {0}:4\nGPU 0 Profile ID 9 Placements: {4}:4'), /listed twice/)
    invalid(() => parseMigInstances(read('h100-passthrough', 'mig-lgip.txt')), /expected the GPU instance table of `nvidia-smi mig -lgi`/)
    invalid(() => parseMigInstances(LGI.replace('4:4', 'four')), /line 6: expected "GPU  MIG <name>/)
  })

  test('topology', () => {
    invalid(() => parseTopology('hello'), /expected the matrix of `nvidia-smi topo -m`/)
    invalid(() => parseTopology(read('h100-passthrough', 'mig-lgipp.txt')), /expected the matrix/)
    invalid(() => parseTopology(topoText(2, () => 'NV4').replace('GPU1\tNV4\t X ', 'GPU1\tNV4')), /row GPU1 should read X|row GPU1 has/)
    invalid(() => parseTopology(topoText(3, () => 'SYS').replace(/\nGPU2[^\n]*/, '')), /lists GPU2 but no row/)
    invalid(() => parseTopology(topoText(2, () => 'SYS').replace('GPU1\t', 'GPUX\t')), /line 3: expected a matrix row/)
  })

  test('listings of another host', () => {
    invalid(() => inventoryFromNvidiaSmi({ xml, topo: topoText(2, () => 'NV4') }), /topo -m: lists GPUs 0, 1 but `nvidia-smi -q -x` has 1 GPU/)
    const lgipp = 'GPU  0 Profile ID 9 Placements: {0,4}:4\nGPU  3 Profile ID 9 Placements: {0,4}:4\n'
    invalid(() => inventoryFromNvidiaSmi({ xml, migPlacements: lgipp }), /mig -lgipp: lists GPU 3/)
  })
})
