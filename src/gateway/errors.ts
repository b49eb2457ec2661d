// Errors as OpenAI's API writes them (`{"error": {"message", "type", "param", "code"}}`), so that OpenAI clients show the message.
import { GpuplaneError, type ErrorCode } from '../common/errors.ts'

/** The body of every error the gateway itself sends (upstream errors pass through as the upstream wrote them). */
export interface OpenAIErrorBody {
  error: {
    message: string
    /** OpenAI's error type: invalid_request_error, authentication_error, permission_error, not_found_error, ... */
    type: string
    /** The request field at fault, when one is. */
    param: string | null
    /** gpuplane's stable error code (common/errors.ts). */
    code: ErrorCode
  }
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
}

/** The status and OpenAI-style body of a GpuplaneError. */
export function openAIError(e: GpuplaneError): { status: number; body: OpenAIErrorBody } {
  const status = e.httpStatus
  return { status, body: { error: { message: e.message, type: TYPE_BY_STATUS[status] ?? 'api_error', param: e.location.path ?? null, code: e.code } } }
}

/** Fastify's own errors (body too large, bad content length, ...) as GpuplaneErrors; anything else is INTERNAL. */
export function asGpuplaneError(e: unknown): GpuplaneError {
  if (e instanceof GpuplaneError) return e
  const err = e as { code?: string; statusCode?: number; message?: string }
  if (err?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new GpuplaneError('PAYLOAD_TOO_LARGE', `${err.message}; send a smaller request body`)
  if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return new GpuplaneError('INVALID_INPUT', err.message ?? 'invalid request')
  return new GpuplaneError('INTERNAL', 'internal error in the gateway; see its log', {}, { cause: e })
}
