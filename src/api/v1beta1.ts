// resource.k8s.io/v1beta1 → v1: device fields move out of `basic`, flat request fields move into `exactly`.
//
// The same rules as upstream's ResourceNormalizationRules, applied to the raw object before the v1
// schema checks it; V1BETA1_PATH_RULES maps error paths back to where the user wrote the field.
import type { DraObject } from './resource-v1.ts'

type Raw = Record<string, unknown>

const REQUEST_FIELDS = ['deviceClassName', 'selectors', 'allocationMode', 'count', 'adminAccess', 'tolerations', 'capacity'] as const

export function normalizeV1beta1(kind: DraObject['kind'], obj: Raw): Raw {
  const out = structuredClone(obj)
  const spec = out.spec as Raw | undefined
  if (!isRecord(spec)) return out
  switch (kind) {
    case 'ResourceSlice':
      if (Array.isArray(spec.devices)) spec.devices = spec.devices.map(flattenBasic)
      break
    case 'ResourceClaim':
      normalizeClaimSpec(spec)
      break
    case 'ResourceClaimTemplate':
      if (isRecord(spec.spec)) normalizeClaimSpec(spec.spec)
      break
    case 'DeviceClass':
      break
  }
  return out
}

function flattenBasic(device: unknown): unknown {
  if (!isRecord(device) || !isRecord(device.basic)) return device
  const { basic, ...rest } = device
  return { ...rest, ...basic }
}

function normalizeClaimSpec(spec: Raw): void {
  const devices = spec.devices
  if (!isRecord(devices) || !Array.isArray(devices.requests)) return
  devices.requests = devices.requests.map((r) => {
    if (!isRecord(r)) return r
    const hasFlat = REQUEST_FIELDS.some((f) => r[f] !== undefined)
    if (!hasFlat) return r
    const exactly: Raw = {}
    const rest: Raw = {}
    for (const [k, v] of Object.entries(r)) {
      if ((REQUEST_FIELDS as readonly string[]).includes(k)) exactly[k] = v
      else rest[k] = v
    }
    return { ...rest, exactly }
  })
}

/** Maps a path in the normalised (v1) object back to the v1beta1 field the user wrote. */
export const V1BETA1_PATH_RULES: Record<DraObject['kind'], (path: string) => string> = {
  ResourceSlice: (p) => p.replace(/^spec\.devices\[(\d+)\]\.(?!name\b)/, 'spec.devices[$1].basic.'),
  ResourceClaim: (p) => p.replace(/^spec\.devices\.requests\[(\d+)\]\.exactly\./, 'spec.devices.requests[$1].'),
  ResourceClaimTemplate: (p) => p.replace(/^spec\.spec\.devices\.requests\[(\d+)\]\.exactly\./, 'spec.spec.devices.requests[$1].'),
  DeviceClass: (p) => p,
}

function isRecord(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
