// Who may call what: agents found by key hash, the kill switch, and which Models an agent may use (401, 403, 404 decisions of the gateway).
//
// Keys are never kept, only `sha256:<hex>` of each (agent-v1alpha1.ts). The gateway hashes the
// presented key and looks the hash up; the match is then confirmed with a constant-time
// comparison. Looking up a hash leaks nothing useful through timing: an attacker who learns a
// prefix of the hash of their guess learns nothing about any real key (SHA-256 is preimage
// resistant), which is why the hash, not the key, is the lookup index.
//
// A key hash listed by two agents would let one key act as either (possibly across namespaces):
// buildRegistry drops that hash from both agents and reports it in `problems`.
import { hash, timingSafeEqual } from 'node:crypto'
import { KEY_HASH_PREFIX, type Agent } from '../api/agent-v1alpha1.ts'
import type { Model } from '../api/model-v1alpha1.ts'
import type { TokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { namespaceOf } from './policies.ts'

/** An agent as the gateway knows it. */
export interface AgentIdentity {
  namespace: string
  name: string
  agent: Agent
}

/** The governance objects indexed for the gateway's hot path; rebuild it when any of them changes. */
export interface GovernanceRegistry {
  models: ReadonlyMap<string, Model>
  /** Agents by key hash (`sha256:<hex>`). */
  agentsByKeyHash: ReadonlyMap<string, AgentIdentity>
  /** TokenPolicies by namespace. */
  policiesByNamespace: ReadonlyMap<string, readonly TokenPolicy[]>
  /** Inconsistencies that were resolved by refusing access (log them). */
  problems: string[]
}

/**
 * `sha256:` and the lowercase hex SHA-256 of a key, as Agents list it. crypto.hash (one call, no
 * Hash object) takes about 1 µs, a third of createHash's: the key is hashed on every request
 * rather than its identity cached by the raw key, which would keep presented keys in memory and
 * make the lookup a comparison of secrets, for a saving of 1 µs in some 300.
 */
export function hashAgentKey(key: string): string {
  return KEY_HASH_PREFIX + hash('sha256', key, 'hex')
}

/** Indexes Models, Agents and TokenPolicies (decoded and validated) for lookups. */
export function buildRegistry(objects: { models: readonly Model[]; agents: readonly Agent[]; policies: readonly TokenPolicy[] }): GovernanceRegistry {
  const problems: string[] = []
  const models = new Map(objects.models.map((m) => [m.metadata.name as string, m]))
  const owners = new Map<string, AgentIdentity[]>()
  for (const agent of objects.agents) {
    const identity = { namespace: namespaceOf(agent), name: agent.metadata.name as string, agent }
    for (const hash of agent.spec.keyHashes) owners.set(hash, [...(owners.get(hash) ?? []), identity])
  }
  const agentsByKeyHash = new Map<string, AgentIdentity>()
  for (const [hash, list] of owners) {
    if (list.length === 1) agentsByKeyHash.set(hash, list[0])
    else problems.push(`key hash ${hash.slice(0, 19)}… is listed by several agents (${list.map((a) => `${a.namespace}/${a.name}`).join(', ')}); that key is refused until only one lists it`)
  }
  const policiesByNamespace = new Map<string, TokenPolicy[]>()
  for (const p of objects.policies) policiesByNamespace.set(namespaceOf(p), [...(policiesByNamespace.get(namespaceOf(p)) ?? []), p])
  return { models, agentsByKeyHash, policiesByNamespace, problems }
}

/**
 * The agent a presented key (the Bearer token, undefined when absent) belongs to. UNAUTHORIZED
 * (401) for a missing, unknown or revoked key; FORBIDDEN (403) for a disabled agent.
 */
export function authenticate(registry: GovernanceRegistry, key: string | undefined): AgentIdentity {
  const identity = identifyAgent(registry, key)
  checkEnabled(identity)
  return identity
}

/** The agent a presented key belongs to, disabled or not: UNAUTHORIZED (401) for a missing, unknown or revoked key. */
export function identifyAgent(registry: GovernanceRegistry, key: string | undefined): AgentIdentity {
  if (key === undefined || key === '') throw new GpuplaneError('UNAUTHORIZED', 'missing agent key: send it as "Authorization: Bearer <key>"')
  const hash = hashAgentKey(key)
  const identity = registry.agentsByKeyHash.get(hash)
  if (identity === undefined || !identity.agent.spec.keyHashes.some((h) => constantTimeEqual(h, hash))) {
    throw new GpuplaneError('UNAUTHORIZED', 'unknown or revoked agent key; ask the namespace admin for a valid key')
  }
  return identity
}

/** FORBIDDEN (403) when the agent is disabled (the kill switch). */
export function checkEnabled(identity: AgentIdentity): void {
  if (identity.agent.spec.disabled === true) throw new GpuplaneError('FORBIDDEN', `agent ${identity.namespace}/${identity.name} is disabled`)
}

/**
 * The Model `name` if the agent may call it. NOT_FOUND (404) when no Model has that name;
 * FORBIDDEN (403) when it is not approved for the agent's namespace or not in the agent's list.
 */
export function authorizeModel(registry: GovernanceRegistry, identity: AgentIdentity, name: string): Model {
  const model = registry.models.get(name)
  if (model === undefined) throw new GpuplaneError('NOT_FOUND', `model "${name}" does not exist; GET /v1/models lists the models this agent may use`, { path: 'model' })
  if (!model.spec.namespaces.includes(identity.namespace)) {
    throw new GpuplaneError('FORBIDDEN', `model "${name}" is not approved for namespace ${identity.namespace}`, { path: 'model' })
  }
  if (!identity.agent.spec.models.includes(name)) {
    throw new GpuplaneError('FORBIDDEN', `agent ${identity.namespace}/${identity.name} may not use model "${name}"; add it to the Agent's spec.models`, { path: 'model' })
  }
  return model
}

/** The Models the agent may call (for GET /v1/models), by name. */
export function modelsFor(registry: GovernanceRegistry, identity: AgentIdentity): Model[] {
  return identity.agent.spec.models
    .map((name) => registry.models.get(name))
    .filter((m): m is Model => m !== undefined && m.spec.namespaces.includes(identity.namespace))
    .sort((a, b) => (a.metadata.name as string).localeCompare(b.metadata.name as string))
}

/** The TokenPolicies of a namespace (for planAdmission). */
export function policiesOf(registry: GovernanceRegistry, namespace: string): readonly TokenPolicy[] {
  return registry.policiesByNamespace.get(namespace) ?? []
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
