// Compiling the CEL selectors of DRA objects while they are read, so a bad expression is refused with its path.
import type { ObjectCheck } from '../api/decode.ts'
import { GpuplaneError, type ErrorCode } from '../common/errors.ts'
import { compileSelector } from './compile.ts'

/**
 * An ObjectCheck for decodeText/readObjects: compiles every selector of a DeviceClass, ResourceClaim
 * or ResourceClaimTemplate and reports each one that does not compile (or costs too much) with its
 * field path. Used by the CLI on files and by the server on request bodies, so both refuse alike.
 */
export const selectorCheck: ObjectCheck = (obj) => {
  const problems: Array<{ path: string; message: string; code?: ErrorCode }> = []
  const check = (expression: string, path: string) => {
    try {
      compileSelector(expression)
    } catch (e) {
      if (e instanceof GpuplaneError) problems.push({ path, message: e.message, code: e.code })
      else throw e
    }
  }
  if (obj.kind === 'DeviceClass') obj.spec.selectors?.forEach((s, i) => s.cel && check(s.cel.expression, `spec.selectors[${i}].cel.expression`))
  const claim = obj.kind === 'ResourceClaim' ? { spec: obj.spec, prefix: 'spec' } : obj.kind === 'ResourceClaimTemplate' ? { spec: obj.spec.spec, prefix: 'spec.spec' } : undefined
  claim?.spec.devices?.requests?.forEach((r, i) => {
    const base = `${claim.prefix}.devices.requests[${i}]`
    r.exactly?.selectors?.forEach((s, j) => s.cel && check(s.cel.expression, `${base}.exactly.selectors[${j}].cel.expression`))
    r.firstAvailable?.forEach((sub, k) => sub.selectors?.forEach((s, j) => s.cel && check(s.cel.expression, `${base}.firstAvailable[${k}].selectors[${j}].cel.expression`)))
  })
  return problems
}
