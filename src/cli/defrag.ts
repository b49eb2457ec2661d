// `gpuplane defrag`: proposes the fewest moves of running workloads that make room for the pending ones; with --apply, prints the placement after them.
import { Command, Option } from 'commander'
import { stringify } from 'yaml'
import { toPlain } from '../api/decode.ts'
import { planDefrag, type DefragPlan, type Move } from '../scheduler/defrag.ts'
import { stringifyJson } from './allocate.ts'
import { disruptionBudgets, formatTable, readPlacementInput, renderPlacement, restorePlacements, type PlacementOutput } from './schedule.ts'

const DEFRAG_HELP = `
What it reads:
  The same input as gpuplane schedule (its output, typically, with the same cluster files):
  Workloads with status.nodeName run where they are, holding their claims' allocations; the
  others are pending.

What it plans:
  For each pending workload (highest priority first), either it fits as the cluster is, or the
  fewest moves that make room for it on one node: a move takes a running workload off that node
  and places it on another one, evicting nothing. Only workloads of a priority at most the
  pending one's move; gang members never move; no namespace is moved more often than its
  disruptionBudget.maxPreemptions. Among equally few moves it prefers the lowest priorities
  moved, then the most whole GPUs freed. At most 3 moves per pending workload, from the 8
  lowest-priority movable workloads of a node, and at most 2000 fit checks per pending workload.

Output (nothing changes without --apply):
  -o table (default): the moves (workload, from, to, for which pending workload, and what each
  gains: whole GPUs and NVLink domains freed on the node it leaves), the pending workloads the
  plan places, and those it cannot help with the reason per node class.
  -o json, -o yaml: the plan as {moves, placed, unhelpable}.
  --apply: instead of the plan, the placement after it, as gpuplane schedule prints it (-o yaml
  or json: valid input again; -o table: one workload a line).

Exit codes:
  0  a plan was found, or there is nothing to do
  1  internal error
  2  invalid input (the message names the file, document index and field path)
  3  some pending workloads cannot be helped (the reason says why)

Example:
  gpuplane inventory cluster -f examples/defrag-demo.yaml --classes > /tmp/defrag-cluster.yaml
  gpuplane defrag -f /tmp/defrag-cluster.yaml -f examples/defrag-demo.yaml
`

/** What a move gains, in words: "1 GPU freed on a; NVLink domain a-nvl0 whole". */
export function describeGains(m: Move): string {
  const gpus = `${m.gpusFreed} GPU${m.gpusFreed === 1 ? '' : 's'} freed on ${m.from}`
  const domains = m.nvlinkDomainsFreed.length === 0 ? '' : `; NVLink domain${m.nvlinkDomainsFreed.length === 1 ? '' : 's'} ${m.nvlinkDomainsFreed.join(', ')} whole`
  return gpus + domains
}

/** The plan as tables (moves, placed, cannot help) or as one {moves, placed, unhelpable} object. */
export function renderPlan(plan: DefragPlan, output: PlacementOutput): string {
  const { moves, placed, unhelpable } = plan
  if (output === 'json') return stringifyJson({ moves, placed, unhelpable }) + '\n'
  if (output === 'yaml') return stringify(toPlain({ moves, placed, unhelpable }), { lineWidth: 0 })
  const parts: string[] = []
  if (moves.length > 0) {
    parts.push(formatTable(['MOVE', 'WORKLOAD', 'PRIORITY', 'FROM', 'TO', 'FOR', 'GAINS'], moves.map((m, i) => [String(i + 1), m.workload, String(m.priority), m.from, m.to, m.for, describeGains(m)])))
  }
  if (placed.length > 0) parts.push(formatTable(['PENDING', 'NODE', 'MOVES'], placed.map((p) => [p.workload, p.node, String(p.moves)])))
  if (unhelpable.length > 0) parts.push(formatTable(['CANNOT HELP', 'REASON'], unhelpable.map((u) => [u.workload, u.reason])))
  return parts.join('\n')
}

/** One line on stderr that says what was (or would be) done. */
function summary(plan: DefragPlan, applied: boolean): string {
  const n = plan.moves.length
  if (n === 0 && plan.placed.length === 0 && plan.unhelpable.length === 0) return 'nothing to do: no workload is pending\n'
  const moves = `${n} move${n === 1 ? '' : 's'}`
  const placed = `${plan.placed.length} pending workload${plan.placed.length === 1 ? '' : 's'}`
  return applied ? `applied: ${moves}, ${placed} placed\n` : `dry run: ${moves} proposed; ${placed} would be placed; rerun with --apply to emit the new placement\n`
}

export function registerDefrag(program: Command, out: (s: string) => void, err: (s: string) => void): void {
  program
    .command('defrag')
    .description('proposes the fewest moves of running workloads that make room for pending ones; --apply prints the placement after them')
    .requiredOption('-f, --filename <PATH...>', 'files or folders with the objects to read ("-" for stdin)')
    .addOption(new Option('-o, --output <FORMAT>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .option('--apply', 'print the placement after the moves (as gpuplane schedule prints it) instead of the plan', false)
    .addHelpText('after', DEFRAG_HELP)
    .action((opts: { filename: string[]; output: PlacementOutput; apply: boolean }) => {
      const input = readPlacementInput(opts.filename)
      const { scheduler, running, pending } = restorePlacements(input, { preemption: false })
      const plan = planDefrag(scheduler, running, pending, { movesLeft: disruptionBudgets(input.namespaces) })
      const reasons = new Map(plan.unhelpable.map((u) => [u.workload, u.reason]))
      out(opts.apply ? renderPlacement(input, plan.placements, reasons, opts.output) : renderPlan(plan, opts.output))
      err(summary(plan, opts.apply))
      for (const u of plan.unhelpable) err(`workload ${u.workload} cannot be helped: ${u.reason}\n`)
      program.setOptionValue('exitCode', plan.unhelpable.length > 0 ? 3 : 0)
    })
}
