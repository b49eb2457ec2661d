// Node selection and taint toleration, as kube-scheduler's node affinity and DRA's toleration rules define them.
import type { NodeSelector, NodeSelectorRequirement, NodeSelectorTerm } from '../api/meta.ts'
import type { DeviceTaint, DeviceToleration } from '../api/resource-v1.ts'
import type { NodeInfo } from './types.ts'

/**
 * Whether a slice or device with these node-selection fields is usable from `node`.
 * Exactly one field is expected to be set; with none, nothing matches (an unknown future field).
 */
export function nodeMatches(node: NodeInfo | undefined, nodeName: string | undefined, allNodes: boolean | undefined, selector: NodeSelector | undefined): boolean {
  if (nodeName) return node !== undefined && node.name === nodeName
  if (allNodes) return true
  if (selector) return node !== undefined && nodeSelectorMatches(selector, node)
  return false
}

/** Terms are ORed; requirements within a term are ANDed; a term with no requirements matches nothing. */
export function nodeSelectorMatches(selector: NodeSelector, node: NodeInfo): boolean {
  return selector.nodeSelectorTerms.some((term) => termMatches(term, node))
}

function termMatches(term: NodeSelectorTerm, node: NodeInfo): boolean {
  const exprs = term.matchExpressions ?? []
  const fields = term.matchFields ?? []
  if (exprs.length === 0 && fields.length === 0) return false
  const labels = node.labels ?? {}
  for (const r of exprs) if (!requirementMatches(r, labels[r.key])) return false
  for (const r of fields) {
    // metadata.name is the only field selector node affinity supports.
    if (r.key !== 'metadata.name') return false
    if (!requirementMatches(r, node.name)) return false
  }
  return true
}

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? []
  switch (r.operator) {
    case 'In':
      return value !== undefined && values.includes(value)
    case 'NotIn':
      return value === undefined || !values.includes(value)
    case 'Exists':
      return value !== undefined
    case 'DoesNotExist':
      return value === undefined
    case 'Gt':
    case 'Lt': {
      if (value === undefined || values.length !== 1) return false
      if (!/^-?\d+$/.test(value) || !/^-?\d+$/.test(values[0])) return false
      const a = BigInt(value)
      const b = BigInt(values[0])
      return r.operator === 'Gt' ? a > b : a < b
    }
  }
}

/** Only NoSchedule and NoExecute taints block allocation; None and unknown effects are ignored. */
export function taintBlocks(taint: DeviceTaint, tolerations: readonly DeviceToleration[] | undefined): boolean {
  if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') return false
  return !(tolerations ?? []).some((t) => tolerates(t, taint))
}

/** Upstream's ToleratesTaint: empty effect matches any effect, empty key with Exists matches any key. */
export function tolerates(t: DeviceToleration, taint: DeviceTaint): boolean {
  if (t.effect && t.effect !== taint.effect) return false
  if (t.key && t.key !== taint.key) return false
  switch (t.operator ?? 'Equal') {
    case 'Exists':
      return true
    case 'Equal':
    case '':
      return (t.value ?? '') === (taint.value ?? '')
    default:
      return false
  }
}
