// gpuplane.io/v1alpha1 Agent: an AI agent of a namespace, its key hashes, the models it may call and its kill switch; zod schema and decoding with file/document/path errors.
//
// An Agent is namespaced: it spends its namespace's budgets and may only call Models approved for
// its namespace (model-v1alpha1.ts) that it also lists in `models`. It authenticates with any key
// whose hash is in `keyHashes`; keys themselves are never stored, only `sha256:` and the lowercase
// hex SHA-256 digest of the key (`gpuplane key hash` prints it). Removing a hash revokes that key;
// `disabled: true` refuses every key of the agent.
//
// Example:
//
//   apiVersion: gpuplane.io/v1alpha1
//   kind: Agent
//   metadata: {name: support-bot, namespace: team-a}
//   spec:
//     keyHashes: ["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
//     models: [llama-3.1-8b]
import { z } from 'zod'
import type { ErrorLocation } from '../common/errors.ts'
import type { Foreign } from './decode.ts'
import { decodeKind, GPUPLANE_V1ALPHA1, parseKind, type KindDecoder } from './decode-kind.ts'
import { namespacedMeta, ObjectName, refuseDuplicates } from './governance-fields.ts'

/** The one key hash algorithm: `sha256:` and 64 hex digits. */
export const KEY_HASH_PREFIX = 'sha256:'
const KEY_HASH = /^sha256:[0-9a-f]{64}$/

/** A key hash, `sha256:` and the 64-digit hex SHA-256 of the key; uppercase hex is accepted and kept lowercase. */
export const KeyHash = z
  .string()
  .transform((v) => (v.startsWith(KEY_HASH_PREFIX) ? KEY_HASH_PREFIX + v.slice(KEY_HASH_PREFIX.length).toLowerCase() : v))
  .refine((v) => KEY_HASH.test(v), {
    message: 'must be "sha256:" and the 64 hex digits of the key\'s SHA-256 (gpuplane key hash prints it); never write the key itself',
  })

const AgentSpecFields = z.strictObject({
  /** Hashes of the agent's keys (each once); an empty list leaves the agent no key. */
  keyHashes: z.array(KeyHash),
  /** Models (Model names) the agent may call, each also approved for the agent's namespace. */
  models: z.array(ObjectName),
  /** Refuse every request of the agent (the kill switch); default false. */
  disabled: z.boolean().optional(),
})

export const AgentSpec = AgentSpecFields.superRefine((spec, ctx) => {
  for (const field of ['keyHashes', 'models'] as const) {
    const seen = new Map<string, number>()
    spec[field].forEach((v, i) => {
      const first = seen.get(v)
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [field, i], message: `${field === 'models' ? `model "${v}"` : 'this key hash'} is listed twice (also at ${field}[${first}]); keep one` })
      else seen.set(v, i)
    })
  }
})
export type AgentSpec = z.infer<typeof AgentSpec>

export const Agent = z.strictObject({
  apiVersion: z.literal(GPUPLANE_V1ALPHA1),
  kind: z.literal('Agent'),
  /** `name` (a DNS subdomain, required) and the agent's namespace. */
  metadata: namespacedMeta('Agent', 'support-bot'),
  spec: AgentSpec,
  status: z.looseObject({}).optional(),
})
export type Agent = z.infer<typeof Agent>

/** A decoded Agent with where it came from; `location.path` is the object's own path (e.g. `items[0]` in a List). */
export interface DecodedAgent {
  agent: Agent
  location: ErrorLocation
}

const AGENT_DECODER: KindDecoder<typeof Agent> = { kind: 'Agent', schema: Agent }

/**
 * Reads the Agent objects of a YAML/JSON text (multi-document, `kind: List` too); other kinds are
 * ignored. The same namespace/name twice is an error at the second; `defaultNamespace` stands for
 * an absent metadata.namespace in that check. Throws GpuplaneError (INVALID_INPUT) naming file,
 * document and field path.
 */
export function decodeAgents(text: string, file?: string, defaultNamespace = 'default'): DecodedAgent[] {
  const out = decodeKind(text, file, AGENT_DECODER).map(({ object, location }) => ({ agent: object, location }))
  refuseDuplicates('Agent', out.map((d) => ({ key: `${d.agent.metadata.namespace ?? defaultNamespace}/${d.agent.metadata.name as string}`, location: d.location })))
  return out
}

/** Shape and rule checks of one Agent read by decodeText. */
export function parseAgent(f: Foreign): DecodedAgent {
  const { object, location } = parseKind(f, AGENT_DECODER)
  return { agent: object, location }
}
