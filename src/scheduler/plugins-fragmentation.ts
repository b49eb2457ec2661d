// The `fragmentation` score plugin: FGD's fragmentation gradient over DRA devices, against the recent workload mix.
//
// FGD (Weng et al., USENIX ATC'23; reference/fgd-trace.md §3) places a task where the expected
// fragmentation F_n(M) of the target workload M grows least. Here:
//   n, w   a node and a workload as fragmentation-dra.ts maps them (whole GPUs, MIG devices, vGPUs
//          and memory shares as milli-GPU of their physical GPU);
//   M      FGD's typical workload (`typicalWorkloadMix`, the artifact's 95% cut) of the last WINDOW
//          workloads this plugin scored on the ClusterView, the current one excluded; DEFAULT_MIX
//          until one was seen;
//   score  `fgdScore` of Δ = F_{n+w}(M) − F_n(M) in milli-GPU, FGD's own mapping:
//          trunc(100·sigmoid(−Δ/1000)), 50 for no change, higher for a smaller increase; n+w is the
//          node with the devices the DRA filter chose on it, so claims FGD has no shape for (MIG
//          devices on several GPUs, a whole GPU beside a share) are measured as they are placed;
//   device the same score for n plus that one device: FGD's per-GPU choice (for a share, the GPU
//          where it leaves the least fragment, mostly one already in use) becomes the allocator's
//          candidate order.
// Deterministic: no clock, no randomness. A node's mapped state is kept per ClusterView while its
// generation (view.ts nodeGeneration) is unchanged, which holds as the view changes only through
// the scheduler (types.ts); F is computed once per cycle per distinct node state.
import { Quantity } from '../api/quantity.ts'
import { GpuplaneError } from '../common/errors.ts'
import { draNode, type DraNode, freeAmounts, gpuDevice, milliAfter, nodeState, stateAfter, workloadShape } from './fragmentation-dra.ts'
import { fgdScore, type GpuNodeState, MILLI_PER_GPU, nodeFragmentationScaled, type TaskShape, typicalWorkloadMix, type WorkloadMix, workloadMixFromCounts } from './fragmentation.ts'
import type { CycleContext, Plugin } from './framework.ts'
import { allocations } from './plugins-default.ts'
import type { ClusterView, SchedNode } from './types.ts'
import { nodeGeneration } from './view.ts'

/** Workloads the mix is built from: the last ones scored on a ClusterView. */
export const WINDOW = 1000

/**
 * The mix before any workload was seen: one whole GPU. F is then the free GPU that whole-GPU
 * workloads cannot use, so shares pack onto GPUs already in use.
 */
export const DEFAULT_MIX: WorkloadMix = workloadMixFromCounts([{ task: { cpuMilli: 0, gpuCount: 1, gpuMilliPerGpu: MILLI_PER_GPU }, count: 1 }])

/** A ring of the last `size` workload shapes. */
class ShapeWindow {
  private readonly shapes: TaskShape[] = []
  private next = 0

  constructor(private readonly size: number) {}

  add(shape: TaskShape): void {
    if (this.shapes.length < this.size) this.shapes.push(shape)
    else this.shapes[this.next] = shape
    this.next = (this.next + 1) % this.size
  }

  /** Oldest first. */
  list(): TaskShape[] {
    return [...this.shapes.slice(this.next), ...this.shapes.slice(0, this.next)]
  }
}

/** A node's mapped state, valid while its generation holds. */
interface NodeNow {
  generation: number
  dra: DraNode
  /** Free amount of each GPU's share dimensions. */
  free: number[][]
  state: GpuNodeState
}

const NOW = new WeakMap<ClusterView, Map<string, NodeNow>>()

/** The node's state, mapped again only when a reservation or release changed it. */
function nodeNow(view: ClusterView, node: SchedNode): NodeNow {
  let byNode = NOW.get(view)
  if (!byNode) NOW.set(view, (byNode = new Map()))
  const generation = nodeGeneration(view, node.name)
  let now = byNode.get(node.name)
  if (now?.generation !== generation) {
    const dra = draNode(view.snapshot, node.name)
    const free = freeAmounts(dra, view.state)
    byNode.set(node.name, (now = { generation, dra, free, state: nodeState(view, node, dra, free) }))
  }
  return now
}

const MIX_KEY = 'fragmentation/mix'
const SEEN_KEY = 'fragmentation/seen'
const F_KEY = 'fragmentation/f'
const NODES_KEY = 'fragmentation/nodes'
const MEMORY_KEY = 'fragmentation/memory'

/** A node in one cycle: its state, F_n(M)·scale, and device scores by GPU free milli before and after. */
interface NodeEntry {
  now: NodeNow
  f: number
  scores: Map<number, number>
}

/** The memory the cycle's claims ask of a shared GPU: their largest `capacity.requests.memory`, 0 for none. */
function memoryRequested(ctx: CycleContext): number {
  let most = ctx.data.get(MEMORY_KEY) as number | undefined
  if (most === undefined) {
    most = 0
    for (const c of ctx.claims) {
      for (const r of c.spec.devices?.requests ?? []) {
        for (const e of [r.exactly, ...(r.firstAvailable ?? [])]) {
          const q = e?.capacity?.requests?.memory
          if (q !== undefined) most = Math.max(most, Number(Quantity.parse(q).value()))
        }
      }
    }
    ctx.data.set(MEMORY_KEY, most)
  }
  return most
}

/** The `fragmentation` plugin, with the workloads it has seen on each ClusterView. */
export interface FragmentationPlugin extends Plugin {
  /** The shapes of the last workloads scored on the view, oldest first (at most the window). */
  recentWorkloads(view: ClusterView): TaskShape[]
}

/**
 * A `fragmentation` plugin whose mix is built from the last `window` workloads (default WINDOW).
 * Its scores depend on that history, so it does not declare `nodeLocalScore`.
 */
export function fragmentationPlugin(options: { window?: number } = {}): FragmentationPlugin {
  const size = options.window ?? WINDOW
  if (!Number.isSafeInteger(size) || size < 1) throw new GpuplaneError('INVALID_INPUT', `the fragmentation window must be a positive integer, got ${size}`, { path: 'window' })
  const windows = new WeakMap<ClusterView, ShapeWindow>()
  const windowOf = (view: ClusterView) => {
    let w = windows.get(view)
    if (!w) windows.set(view, (w = new ShapeWindow(size)))
    return w
  }

  /** The cycle's mix, built once from the window as it was when the cycle began. */
  const mixOf = (ctx: CycleContext): WorkloadMix => {
    let mix = ctx.data.get(MIX_KEY) as WorkloadMix | undefined
    if (!mix) {
      const seen = windowOf(ctx.view).list()
      ctx.data.set(MIX_KEY, (mix = seen.length > 0 ? typicalWorkloadMix(seen) : DEFAULT_MIX))
    }
    return mix
  }

  /** F_n(M)·scale, once per cycle per state (F is blind to GPU order; nodes in one state share it). */
  const fragmentationOf = (ctx: CycleContext, state: GpuNodeState): number => {
    let memo = ctx.data.get(F_KEY) as Map<string, number> | undefined
    if (!memo) ctx.data.set(F_KEY, (memo = new Map()))
    const key = `${[...state.gpuMilliFree].sort((a, b) => a - b).join(',')}/${state.cpuMilliFree}/${state.gpuModel ?? ''}`
    let f = memo.get(key)
    if (f === undefined) memo.set(key, (f = nodeFragmentationScaled(state, mixOf(ctx))))
    return f
  }

  const nodeEntry = (ctx: CycleContext, node: SchedNode): NodeEntry => {
    let byNode = ctx.data.get(NODES_KEY) as Map<string, NodeEntry> | undefined
    if (!byNode) ctx.data.set(NODES_KEY, (byNode = new Map()))
    const now = nodeNow(ctx.view, node)
    let e = byNode.get(node.name)
    if (e?.now !== now) byNode.set(node.name, (e = { now, f: fragmentationOf(ctx, now.state), scores: new Map() }))
    return e
  }

  /** fgdScore of Δ F(M), in milli-GPU, from the node's state to `after`. */
  const scoreOf = (ctx: CycleContext, e: NodeEntry, after: GpuNodeState) => fgdScore((fragmentationOf(ctx, after) - e.f) / mixOf(ctx).scale)

  return {
    name: 'fragmentation',
    recentWorkloads: (view) => windowOf(view).list(),
    score(ctx, node) {
      mixOf(ctx) // before the workload joins the window: the mix is of the workloads before it
      const e = nodeEntry(ctx, node)
      const chosen = allocations(ctx).get(node.name) ?? []
      if (!ctx.data.has(SEEN_KEY)) {
        // The workload joins the window once, with its shape on the first node scored.
        ctx.data.set(SEEN_KEY, true)
        windowOf(ctx.view).add(workloadShape(ctx.view, node, chosen, ctx.cpuMilli))
      }
      return scoreOf(ctx, e, stateAfter(ctx.view, e.now.dra, e.now.state, chosen, ctx.cpuMilli))
    },
    scoreDevice(ctx, node, device) {
      const e = nodeEntry(ctx, node)
      const { dra, free, state } = e.now
      const d = gpuDevice(dra, device.driver, device.pool, device.device)
      if (!d) return 0
      // A share of a shared GPU takes what the claims ask (else the device's default).
      const after = milliAfter(dra, d, free[d.gpu], dra.gpus[d.gpu].kind === 'shared' ? [memoryRequested(ctx) || d.takes[0]] : d.takes)
      // Taking a GPU from x to y milli free scores alike on every GPU with x free.
      const key = state.gpuMilliFree[d.gpu] * (MILLI_PER_GPU + 1) + after
      let score = e.scores.get(key)
      if (score === undefined) {
        const gpuMilliFree = [...state.gpuMilliFree]
        gpuMilliFree[d.gpu] = after
        e.scores.set(key, (score = scoreOf(ctx, e, { ...state, gpuMilliFree, cpuMilliFree: Math.max(0, state.cpuMilliFree - ctx.cpuMilli) })))
      }
      return score
    },
  }
}

/**
 * Prefer the placement that grows the expected fragmentation of the recent workload mix least
 * (FGD); scores only where a profile gives it a weight.
 */
export const fragmentation: FragmentationPlugin = fragmentationPlugin()
