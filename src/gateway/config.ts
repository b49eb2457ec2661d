// The gateway's configuration file: the Models, Agents and TokenPolicies of a YAML/JSON text, indexed as a governance registry.
import { decodeAgents } from '../api/agent-v1alpha1.ts'
import { decodeModels } from '../api/model-v1alpha1.ts'
import { decodeTokenPolicies } from '../api/tokenpolicy-v1alpha1.ts'
import { buildRegistry, type GovernanceRegistry } from '../governance/access.ts'

/**
 * Reads every Model, Agent and TokenPolicy of a multi-document YAML/JSON text (other kinds are
 * ignored) and indexes them. Throws GpuplaneError INVALID_INPUT naming the file, document and field
 * path of the first invalid object. The registry's `problems` list keys refused for a conflict.
 */
export function loadGatewayConfig(text: string, file?: string): GovernanceRegistry {
  return buildRegistry({
    models: decodeModels(text, file).map((d) => d.model),
    agents: decodeAgents(text, file).map((d) => d.agent),
    policies: decodeTokenPolicies(text, file).map((d) => d.policy),
  })
}
