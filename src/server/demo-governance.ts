// The AI-gateway part of `gpuplane server --demo`: the Models, Agents and TokenPolicies of examples/governance-demo.yaml, with demo-echo pointed at the built-in echo upstream and a fresh key per demo agent, printed once.
//
// Loaded when the Model `demo-echo` does not exist (one commit, so a concurrent replica's load
// makes ours a no-op), so restarting with --demo adds nothing. Keys are generated at load and only
// their hashes stored (as `gpuplane key create` does): the keys can be printed this once only.
// The echo upstream listens on a new port at every start, so each start with --demo points the
// demo-echo Model (only while it keeps its gpuplane.io/demo label) at the echo of this process.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseAgent } from '../api/agent-v1alpha1.ts'
import { decodeText, toPlain, type Foreign } from '../api/decode.ts'
import { parseModel } from '../api/model-v1alpha1.ts'
import { parseTokenPolicy } from '../api/tokenpolicy-v1alpha1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { hashAgentKey } from '../governance/access.ts'
import type { NewObject, Store, StoredObject } from '../store/types.ts'

export const GOVERNANCE_DEMO_FILE = fileURLToPath(new URL('../../examples/governance-demo.yaml', import.meta.url))

/** The Model served by the echo upstream; its presence means the governance demo is loaded. */
export const DEMO_ECHO_MODEL = 'demo-echo'
/** Label of the Model the server re-points at its echo upstream at each --demo start. */
const ECHO_LABEL = 'gpuplane.io/demo'
/** Label of the demo Agents that get a generated key at load. */
const KEY_LABEL = 'gpuplane.io/demo-key'

const PARSERS: Record<string, (f: Foreign) => unknown> = { Model: parseModel, Agent: parseAgent, TokenPolicy: parseTokenPolicy }

export interface GovernanceDemoResult {
  loaded: boolean
  objects: number
  /** The keys generated, by `namespace/agent` (shown once: only their hashes are stored). */
  keys: Array<{ agent: string; key: string }>
}

/** Loads the governance demo unless demo-echo exists, pointing demo-echo at `echoURL`; else re-points an existing demo-echo. */
export async function loadGovernanceDemo(store: Store, echoURL: string): Promise<GovernanceDemoResult> {
  const existing = await store.get({ kind: 'Model', name: DEMO_ECHO_MODEL })
  if (existing) {
    await repointEcho(store, existing, echoURL)
    return { loaded: false, objects: 0, keys: [] }
  }
  const { objects, keys } = governanceDemoObjects(echoURL)
  try {
    await store.commit(objects.map((object) => ({ op: 'create', object })))
  } catch (e) {
    // Another replica loaded it between our check and our commit, or some of it is there already.
    if (e instanceof GpuplaneError && e.code === 'ALREADY_EXISTS') return { loaded: false, objects: 0, keys: [] }
    throw e
  }
  return { loaded: true, objects: objects.length, keys }
}

/** The demo's objects, checked with the API's decoders, demo-echo at `echoURL` and a new key per labelled agent. */
export function governanceDemoObjects(echoURL: string): { objects: NewObject[]; keys: GovernanceDemoResult['keys'] } {
  const { foreign } = decodeText(readFileSync(GOVERNANCE_DEMO_FILE, 'utf8'), GOVERNANCE_DEMO_FILE)
  const keys: GovernanceDemoResult['keys'] = []
  const objects = foreign.map((f) => {
    const object = toPlain(f.raw) as NewObject
    const spec = object.spec as Record<string, unknown>
    if (f.kind === 'Model' && object.metadata.labels?.[ECHO_LABEL] !== undefined) spec.upstream = { ...(spec.upstream as object), baseURL: echoURL }
    if (f.kind === 'Agent' && object.metadata.labels?.[KEY_LABEL] === 'true') {
      const key = `gp-${randomBytes(32).toString('base64url')}`
      keys.push({ agent: `${object.metadata.namespace}/${object.metadata.name}`, key })
      spec.keyHashes = [hashAgentKey(key)]
    }
    const parse = PARSERS[f.kind]
    if (!parse) throw new GpuplaneError('INVALID_INPUT', `the governance demo has a ${f.kind}; it holds only Model, Agent and TokenPolicy objects`, f.location)
    parse({ ...f, raw: object })
    return object
  })
  return { objects, keys }
}

async function repointEcho(store: Store, model: StoredObject, echoURL: string): Promise<void> {
  if (model.metadata.labels?.[ECHO_LABEL] === undefined) return
  const spec = model.spec as { upstream: { baseURL: string } }
  if (spec.upstream.baseURL === echoURL) return
  try {
    await store.update({ ...model, spec: { ...spec, upstream: { ...spec.upstream, baseURL: echoURL } } }, model.metadata.resourceVersion)
  } catch (e) {
    // A replica started at the same moment re-pointed it to its own echo: that one serves too.
    if (!(e instanceof GpuplaneError && e.code === 'CONFLICT')) throw e
  }
}
