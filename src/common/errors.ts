// The one error type of gpuplane: a stable code, a message that says what to do, and where input was wrong.

/**
 * Every error code gpuplane can report, with the HTTP status and CLI exit code it maps to.
 * Codes are stable API: clients match on them, so never rename one.
 */
export const ERROR_CODES = {
  INTERNAL: { http: 500, exit: 1 },
  INVALID_INPUT: { http: 400, exit: 2 },
  UNKNOWN_KIND: { http: 400, exit: 2 },
  SELECTOR_INVALID: { http: 400, exit: 2 },
  SELECTOR_TOO_COSTLY: { http: 400, exit: 2 },
  SELECTOR_RUNTIME_ERROR: { http: 422, exit: 3 },
  CLAIM_UNSATISFIABLE: { http: 409, exit: 3 },
  CLASS_NOT_FOUND: { http: 422, exit: 3 },
  POOL_INCOMPLETE: { http: 409, exit: 3 },
  POOL_INVALID: { http: 409, exit: 3 },
  ALLOCATION_CONFLICT: { http: 409, exit: 3 },
  TOO_MANY_RESULTS: { http: 422, exit: 3 },
  SEARCH_LIMIT: { http: 503, exit: 3 },
  NOT_FOUND: { http: 404, exit: 3 },
  TOKEN_CAP_EXCEEDED: { http: 429, exit: 3 },
  ALREADY_EXISTS: { http: 409, exit: 3 },
  CONFLICT: { http: 409, exit: 3 },
  GONE: { http: 410, exit: 3 },
  UNAUTHORIZED: { http: 401, exit: 4 },
  FORBIDDEN: { http: 403, exit: 4 },
  PAYLOAD_TOO_LARGE: { http: 413, exit: 2 },
  UNAVAILABLE: { http: 503, exit: 5 },
} as const satisfies Record<string, { http: number; exit: number }>

export type ErrorCode = keyof typeof ERROR_CODES

export interface ErrorLocation {
  /** File the input came from, when it came from a file. */
  file?: string
  /** 0-based index of the YAML/JSON document in that file (items of a List count inside it). */
  document?: number
  /** Field path in Kubernetes style, e.g. `spec.devices[2].attributes`. */
  path?: string
}

export class GpuplaneError extends Error {
  readonly code: ErrorCode
  readonly location: ErrorLocation

  constructor(code: ErrorCode, message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'GpuplaneError'
    this.code = code
    this.location = location
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit
  }

  /** One line for humans: `file[doc 2] spec.devices[0].name: message`. */
  describe(): string {
    return `${formatLocation(this.location)}${this.message}`
  }
}

export function formatLocation(loc: ErrorLocation): string {
  const parts: string[] = []
  if (loc.file !== undefined) parts.push(loc.document !== undefined ? `${loc.file} (document ${loc.document})` : loc.file)
  else if (loc.document !== undefined) parts.push(`document ${loc.document}`)
  if (loc.path) parts.push(loc.path)
  return parts.length ? parts.join(': ') + ': ' : ''
}

export function isGpuplaneError(e: unknown): e is GpuplaneError {
  return e instanceof GpuplaneError
}
