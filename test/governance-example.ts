// Test fixture: the gateway configuration of issue 7 exactly as written there, with a real key hash in place of its placeholder.
import { createHash } from 'node:crypto'

/** The example agent's key, and its hash as the Agent lists it. */
export const EXAMPLE_KEY = 'gp-example-key-support-bot'
export const EXAMPLE_KEY_HASH = `sha256:${createHash('sha256').update(EXAMPLE_KEY).digest('hex')}`

/** The issue's text: its key hash is a placeholder, `sha256:<hex digest of the key>`. */
export const ISSUE_EXAMPLE_AS_WRITTEN = `apiVersion: gpuplane.io/v1alpha1
kind: Model
metadata: {name: llama-3.1-8b}
spec:
  upstream: {baseURL: "http://127.0.0.1:8000/v1", model: meta-llama/Llama-3.1-8B-Instruct, apiKeyEnv: VLLM_API_KEY}
  pricing: {inputPerMTok: 0.10, outputPerMTok: 0.20}
  maxTokens: 4096
  namespaces: [team-a]
---
apiVersion: gpuplane.io/v1alpha1
kind: Agent
metadata: {name: support-bot, namespace: team-a}
spec:
  keyHashes: ["sha256:<hex digest of the key>"]
  models: [llama-3.1-8b]
---
apiVersion: gpuplane.io/v1alpha1
kind: TokenPolicy
metadata: {name: team-a-daily, namespace: team-a}
spec:
  selector: {agent: support-bot}   # optional; without it the policy covers the whole namespace
  mode: hard-reject
  limits:
  - {window: day, tokens: 200000}
  - {window: minute, requests: 600}
`

/** The example with the placeholder filled in, as a user writes it. */
export const ISSUE_EXAMPLE = ISSUE_EXAMPLE_AS_WRITTEN.replace('sha256:<hex digest of the key>', EXAMPLE_KEY_HASH)
