// Validation of objects sent to the API, with the same decoders and checks the CLI reads files with, so the API rejects what the CLI rejects.
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { decodeText, describeIssue, formatPath, toPlain, type Foreign } from '../api/decode.ts'
import { parseKind, type KindDecoder } from '../api/decode-kind.ts'
import { parseCluster } from '../api/gpuplane-v1alpha1.ts'
import { ObjectMeta } from '../api/meta.ts'
import { parseNamespace } from '../api/namespace-v1alpha1.ts'
import { RESOURCE_V1 } from '../api/resource-v1.ts'
import { selectorCheck } from '../cel/index.ts'
import { GpuplaneError } from '../common/errors.ts'
import { clusterToHosts } from '../inventory/cluster.ts'

/** A JSON object as received. */
export type Body = Record<string, unknown>

/**
 * Checks one object of a kind (apiVersion and kind already match it) and returns what to store.
 * Throws GpuplaneError (INVALID_INPUT, or the code of a failed check) with the field path.
 */
export type Validator = (object: Body) => Body

/** Media types the API reads objects in; YAML as `kubectl apply` users write it. */
export const BODY_MEDIA_TYPES = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml']

/** The object of a request body: one JSON or YAML mapping. */
export function parseBody(text: string, contentType: string | undefined): Body {
  let value: unknown
  try {
    value = contentType?.includes('yaml') ? toPlain(parseYaml(text, { intAsBigInt: true, uniqueKeys: true, maxAliasCount: 100 })) : JSON.parse(text)
  } catch (e) {
    throw new GpuplaneError('INVALID_INPUT', `the request body is not valid ${contentType?.includes('yaml') ? 'YAML' : 'JSON'}: ${(e as Error).message.split('\n')[0]}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GpuplaneError('INVALID_INPUT', 'the request body must be one object with apiVersion, kind and metadata')
  }
  return value as Body
}

/**
 * resource.k8s.io kinds: the shape and upstream rules of decodeText, then CEL compilation. Objects
 * of v1beta1/v1beta2 are stored converted to v1; v1 objects are stored as sent.
 */
export const draValidator: Validator = (object) => {
  const { objects } = decodeText(JSON.stringify(object), undefined, [selectorCheck])
  const decoded = objects[0]
  if (decoded === undefined) throw new GpuplaneError('INVALID_INPUT', 'expected a resource.k8s.io object', { path: 'kind' })
  return object.apiVersion === RESOURCE_V1 ? object : (toPlain(decoded.object) as Body)
}

/** A gpuplane.io kind checked by its decoder's parse function (and `more`, given the decoded object); stored as sent. */
export function gpuplaneValidator<T>(parse: (f: Foreign) => T, more?: (decoded: T) => void): Validator {
  return (object) => {
    const decoded = parse({ apiVersion: String(object.apiVersion), kind: String(object.kind), raw: object, location: {}, seq: 0 })
    more?.(decoded)
    return object
  }
}

/** A gpuplane.io kind checked by a KindDecoder (the wording `gpuplane schedule` reads files with). */
export function decoderValidator<S extends z.ZodType>(decoder: KindDecoder<S>): Validator {
  return gpuplaneValidator((f) => parseKind(f, decoder))
}

/** A kind with a plain zod schema (no decoder of its own in src/api); stored as sent. */
export function schemaValidator(schema: z.ZodType): Validator {
  return (object) => {
    const parsed = schema.safeParse(object)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new GpuplaneError('INVALID_INPUT', describeIssue(issue), { path: formatPath(issue.path) })
    }
    return object
  }
}

/**
 * For kinds whose schema has no `status` (the controller may still write one, e.g. on a
 * Cluster): checks the object without its status and keeps the status as it is.
 */
export function ignoringStatus(validate: Validator): Validator {
  return (object) => {
    if (object.status === undefined) return validate(object)
    const { status, ...rest } = object
    return { ...validate(rest), status }
  }
}

export const namespaceValidator = gpuplaneValidator(parseNamespace)

/** Clusters also pass the catalog checks of `gpuplane inventory cluster` (models, MIG and vGPU profiles, wiring). */
export const clusterValidator = gpuplaneValidator(parseCluster, (decoded) => void clusterToHosts(decoded))

/** A core v1 Node as the inventory publishes it: a name, labels, and any spec and status. */
export const NodeSchema = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Node'),
  metadata: ObjectMeta,
  spec: z.looseObject({}).optional(),
  status: z.looseObject({}).optional(),
})
