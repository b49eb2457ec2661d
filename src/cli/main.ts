// The gpuplane command line: parses arguments, runs a verb, maps errors to exit codes.
import { Command, CommanderError, Option } from 'commander'
import { GpuplaneError } from '../common/errors.ts'
import { renderReport, runAllocate } from './allocate.ts'
import { registerDefrag } from './defrag.ts'
import { registerInventory } from './inventory.ts'
import { registerSchedule } from './schedule.ts'
import { registerSim } from './sim.ts'
import { registerApply } from './apply.ts'
import { registerLogin } from './config.ts'
import { registerDelete } from './delete.ts'
import { registerDescribe } from './describe.ts'
import { registerGet } from './get.ts'
import { registerAudit, registerToken } from './token.ts'
import { registerServer } from './server.ts'
import { registerGateway } from './gateway.ts'
import { registerKey } from './key.ts'
import { registerAgent } from './agent.ts'
import { registerReport } from './report.ts'

const ALLOCATE_HELP = `
What it reads:
  Every YAML/JSON document under each PATH (folders recursively, files in name order; "-" is
  stdin), including "kind: List" documents as "kubectl get -o yaml" writes them:
  ResourceSlices, DeviceClasses, ResourceClaims and ResourceClaimTemplates of resource.k8s.io/v1
  (v1beta2 and v1beta1 are read too), Nodes (for names and labels) and Pods (for the claims
  they reference). Other kinds are ignored.

What it allocates, in document order:
  - each ResourceClaim without status.allocation;
  - each Pod's claims together, on one node: the claims it names and one claim per
    ResourceClaimTemplate it references (named <pod>-<entry>);
  - each ResourceClaimTemplate no Pod references, as one claim named after the template.
  Claims that already have status.allocation hold their devices.

Where:
  On --node NAME if given; else on the first node that fits, trying the Nodes of the input in
  order, or, without Nodes, every node named by a ResourceSlice in name order.

Output:
  -o yaml (default): the allocated claims, with status.allocation set, as YAML documents.
  -o json: {"allocated": [claims], "unallocatable": [{"namespace", "name", "reason", "code"}]}.
  Claims that cannot be allocated are also reported on stderr.

Exit codes:
  0  every claim was allocated
  1  internal error
  2  invalid input (the message names the file, document index and field path)
  3  some claims could not be allocated (the reason and code say why)

Example:
  gpuplane allocate -f examples/gpu-node.yaml -o json
`

export function buildProgram(out: (s: string) => void, err: (s: string) => void): Command {
  const program = new Command()
  program
    .name('gpuplane')
    .description('gpuplane: a control plane for shared GPU infrastructure (Kubernetes DRA allocation, scheduling, utilization, AI governance)')
    .configureOutput({ writeOut: out, writeErr: err })
    .exitOverride()
    .showHelpAfterError()
    // A subcommand's options stay its own (`sim --report` vs `sim compare --report`): commander
    // needs this on every ancestor of a command that enables positional options.
    .enablePositionalOptions()

  program
    .command('allocate')
    .description('offline DRA allocation of the claims in PATH against the slices and classes in PATH')
    .requiredOption('-f, --filename <PATH...>', 'files or folders with the objects to read ("-" for stdin)')
    .addOption(new Option('-o, --output <FORMAT>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .option('--node <NAME>', 'allocate on this node only')
    .addHelpText('after', ALLOCATE_HELP)
    .action((opts: { filename: string[]; output: 'yaml' | 'json'; node?: string }) => {
      const report = runAllocate({ files: opts.filename, output: opts.output, node: opts.node })
      out(renderReport(report, opts.output))
      for (const u of report.unallocatable) err(`claim ${u.namespace}/${u.name} not allocated (${u.code}): ${u.reason}\n`)
      program.setOptionValue('exitCode', report.unallocatable.length > 0 ? 3 : 0)
    })
  registerInventory(program, out, err)
  registerSchedule(program, out, err)
  registerDefrag(program, out, err)
  registerSim(program, out, err)
  // Verbs against a server (src/cli/client.ts).
  registerLogin(program, out)
  registerApply(program, out, err)
  registerGet(program, out, err)
  registerDescribe(program, out)
  registerDelete(program, out, err)
  registerToken(program, out, err)
  registerAudit(program, out)
  registerServer(program, err)
  registerGateway(program, err)
  registerKey(program, out)
  registerAgent(program, err)
  registerReport(program, out)
  return program
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[], out = (s: string) => void process.stdout.write(s), err = (s: string) => void process.stderr.write(s)): Promise<number> {
  const program = buildProgram(out, err)
  if (argv.length <= 2) {
    out(program.helpInformation())
    return 0
  }
  try {
    await program.parseAsync(argv)
    return (program.getOptionValue('exitCode') as number | undefined) ?? 0
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors are invalid input.
      return e.exitCode === 0 ? 0 : 2
    }
    if (e instanceof GpuplaneError) {
      err(`error: ${e.describe()}\n`)
      return e.exitCode
    }
    err(`internal error: ${(e as Error)?.stack ?? String(e)}\n`)
    return 1
  }
}
