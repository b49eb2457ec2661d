// `gpuplane key create` and `gpuplane key hash`: agent keys and the `sha256:` hashes Agents list in place of them.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { GpuplaneError } from '../common/errors.ts'
import { hashAgentKey } from '../governance/access.ts'

/** Prefix of generated agent keys, so that a leaked key is recognisable in logs and scanners. */
export const AGENT_KEY_PREFIX = 'gp-'
/** Random bytes in a generated key: 256 bits, beyond guessing. */
const KEY_BYTES = 32

/** A new random agent key. */
export function newAgentKey(): string {
  return AGENT_KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url')
}

const KEY_HELP = `
Keys are never stored: an Agent lists the hash of each of its keys in spec.keyHashes, and the
gateway hashes the key a client presents and compares. "key create" prints a new key once: give
it to the agent and put its hash in the Agent. "key hash" hashes a key you already have.

Examples:
  gpuplane key create
  gpuplane key hash gp-...
  printf %s "$KEY" | gpuplane key hash
`

export function registerKey(program: Command, out: (s: string) => void): void {
  const key = program.command('key').description('agent keys: create one, or hash one for an Agent').addHelpText('after', KEY_HELP)
  key
    .command('create')
    .description('prints a new agent key (shown this once) and the hash to list in the Agent')
    .action(() => {
      const k = newAgentKey()
      out(`key:  ${k}\nhash: ${hashAgentKey(k)}\n(the key is shown this once; put the hash in the Agent's spec.keyHashes)\n`)
    })
  key
    .command('hash')
    .description('prints the sha256: hash of KEY (read from stdin when absent) for an Agent\'s spec.keyHashes')
    .argument('[KEY]', 'the key; omit it to read the key from stdin (keeps it out of the shell history)')
    .action((given: string | undefined) => {
      const k = given ?? readFileSync(0, 'utf8').trim()
      if (k === '') throw new GpuplaneError('INVALID_INPUT', 'no key given: pass it as an argument or on stdin')
      out(`${hashAgentKey(k)}\n`)
    })
}
