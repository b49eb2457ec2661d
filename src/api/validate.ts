// Semantic validation of resource.k8s.io/v1 objects: upstream's create-time rules (Kubernetes 1.36, default gates).
//
// The zod schemas in resource-v1.ts check shapes; this module checks what upstream's
// pkg/apis/resource/validation/validation.go and the declarative tags of
// k8s.io/api/resource/v1/types.go check on create: name formats, limits, one-of fields and
// references between fields. It does not compile CEL (src/cel does) and it does not know other
// objects (whether a DeviceClass exists, whether a pool's counter sets are complete).
//
// Contract: `validateObject` never throws for an object the schemas accepted; it returns every
// problem it finds as a FieldError, in document order, and an empty list for a valid object.
// Like upstream, a list over its size limit reports only that (its items are not inspected).
//
// The rules live in validate-slice.ts (ResourceSlice) and validate-claim.ts (DeviceClass,
// ResourceClaim, ResourceClaimTemplate), on the shared field checks of validate-common.ts; this
// file is the entry point and the public API.
import { GpuplaneError, type ErrorLocation } from '../common/errors.ts'
import type { DraObject } from './resource-v1.ts'
import { validateDeviceClass, validateResourceClaim, validateResourceClaimTemplate } from './validate-claim.ts'
import { show, type FieldError } from './validate-common.ts'
import { validateResourceSlice } from './validate-slice.ts'

export { qualifiedNameProblems, type FieldError } from './validate-common.ts'
export { validateResourceSlice } from './validate-slice.ts'
export { validateDeviceClass, validateResourceClaim, validateResourceClaimTemplate } from './validate-claim.ts'

/** Validates any DRA object by its kind; returns all problems found (empty when valid). */
export function validateObject(obj: DraObject): FieldError[] {
  switch (obj.kind) {
    case 'ResourceSlice':
      return validateResourceSlice(obj)
    case 'DeviceClass':
      return validateDeviceClass(obj)
    case 'ResourceClaim':
      return validateResourceClaim(obj)
    case 'ResourceClaimTemplate':
      return validateResourceClaimTemplate(obj)
    default: {
      const kind = (obj as { kind?: unknown }).kind
      return [{ path: 'kind', message: `unsupported kind ${show(kind)}: expected ResourceSlice, DeviceClass, ResourceClaim or ResourceClaimTemplate` }]
    }
  }
}

/**
 * Turns validation problems into one INVALID_INPUT error (undefined when there are none). The
 * location's path is the first problem's; the message lists all of them, one per line.
 */
export function fieldErrorsToError(errors: readonly FieldError[], location: ErrorLocation = {}): GpuplaneError | undefined {
  if (errors.length === 0) return undefined
  const first = errors[0]
  const message =
    errors.length === 1 ? first.message : `${errors.length} problems:\n` + errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')
  return new GpuplaneError('INVALID_INPUT', message, { ...location, path: first.path })
}
