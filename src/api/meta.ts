// Shared Kubernetes object pieces: ObjectMeta, NodeSelector, Quantity and int64 fields as zod schemas.
import { z } from 'zod'
import { Quantity } from './quantity.ts'

/** int64 read from YAML/JSON: the decoder gives bigint for integers; keep it exact. */
export const Int64 = z.union([z.bigint(), z.number().int()]).transform((v) => BigInt(v))

/** A count field (int32/int64 in Go) that we keep as a JS number; bounded so it stays exact. */
export const Count = z
  .union([z.bigint(), z.number().int()])
  .refine((v) => BigInt(v) <= BigInt(Number.MAX_SAFE_INTEGER) && BigInt(v) >= -BigInt(Number.MAX_SAFE_INTEGER), 'integer out of range')
  .transform((v) => Number(v))

/**
 * A resource.Quantity field. Kubernetes accepts a string ("10Gi") or a bare number; we keep the
 * string form the user wrote, after checking that it parses, so output round-trips exactly.
 */
export const QuantityString = z
  .union([z.string(), z.number(), z.bigint()])
  .transform((v, ctx) => {
    const s = typeof v === 'string' ? v : String(v)
    if (Quantity.tryParse(s) === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `"${s}" is not a valid quantity: write a number with an optional suffix such as 10Gi, 500m, 1e3 or 80G`,
      })
      return z.NEVER
    }
    return s
  })

export const ObjectMeta = z.looseObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: Count.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
})
export type ObjectMeta = z.infer<typeof ObjectMeta>

const NodeSelectorRequirement = z.strictObject({
  key: z.string(),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
  values: z.array(z.string()).optional(),
})
export type NodeSelectorRequirement = z.infer<typeof NodeSelectorRequirement>

export const NodeSelectorTerm = z.strictObject({
  matchExpressions: z.array(NodeSelectorRequirement).optional(),
  matchFields: z.array(NodeSelectorRequirement).optional(),
})
export type NodeSelectorTerm = z.infer<typeof NodeSelectorTerm>

export const NodeSelector = z.strictObject({
  nodeSelectorTerms: z.array(NodeSelectorTerm),
})
export type NodeSelector = z.infer<typeof NodeSelector>

/** Opaque driver parameters: any JSON value (RawExtension). */
export const RawExtension = z.unknown()

export const OpaqueDeviceConfiguration = z.strictObject({
  driver: z.string(),
  parameters: RawExtension,
})
export type OpaqueDeviceConfiguration = z.infer<typeof OpaqueDeviceConfiguration>
