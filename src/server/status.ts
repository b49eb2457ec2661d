// Errors on the wire: every failure of the HTTP API is a Kubernetes-style Status object carrying gpuplane's stable error code.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ERROR_CODES, GpuplaneError, type ErrorCode } from '../common/errors.ts'

/** What a failed request answers: `code` is the HTTP status, `reason` the stable ErrorCode clients match on. */
export interface Status {
  apiVersion: 'v1'
  kind: 'Status'
  status: 'Failure'
  code: number
  reason: ErrorCode
  message: string
  details?: StatusDetails
}

export interface StatusDetails {
  /** Field path of the input that was wrong, e.g. `spec.resourceClaims[0].name`. */
  field?: string
}

/** The Status of an error code and message. */
export function status(code: ErrorCode, message: string, details: StatusDetails = {}): Status {
  const out: Status = { apiVersion: 'v1', kind: 'Status', status: 'Failure', code: ERROR_CODES[code].http, reason: code, message }
  const kept = Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined && v !== ''))
  if (Object.keys(kept).length > 0) out.details = kept
  return out
}

/** Fastify's own errors (raised before our handlers run) in gpuplane's codes. */
const FASTIFY_CODES: Record<string, { code: ErrorCode; message: (e: FastifyError) => string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: () => 'the request body is larger than the server accepts; split the objects into several requests or raise the server\'s --body-limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'INVALID_INPUT', message: (e) => `${e.message}; send the object as JSON (Content-Type: application/json) or YAML (application/yaml)` },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_INPUT', message: () => 'the request body is empty; send the object as JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'INVALID_INPUT', message: () => 'the Content-Length header does not match the body' },
}

/** HTTP statuses Fastify or a plugin may set, in our codes (the first code of the table with that status). */
function codeForHttp(http: number): ErrorCode {
  if (http === 413) return 'PAYLOAD_TOO_LARGE'
  const found = (Object.keys(ERROR_CODES) as ErrorCode[]).find((c) => ERROR_CODES[c].http === http)
  if (found) return found
  return http >= 500 ? 'INTERNAL' : 'INVALID_INPUT'
}

/** The Status of anything thrown while handling a request. */
export function statusOf(error: unknown): Status {
  if (error instanceof GpuplaneError) return status(error.code, error.message, { field: error.location.path })
  const fe = error as Partial<FastifyError>
  const known = fe.code !== undefined ? FASTIFY_CODES[fe.code] : undefined
  if (known) return status(known.code, known.message(fe as FastifyError))
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return status(codeForHttp(fe.statusCode), fe.message ?? 'invalid request')
  return status('INTERNAL', 'internal error; the server log has the details')
}

/** Sends a Status with its HTTP status. */
export function sendStatus(reply: FastifyReply, body: Status): FastifyReply {
  return reply.code(body.code).type('application/json; charset=utf-8').send(body)
}

/** Makes every error and unknown path of `app` answer a Status; internal errors are logged with their stack. */
export function installStatusHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const body = statusOf(error)
    if (body.code >= 500) request.log.error({ err: error }, 'request failed')
    request.failure = `${body.reason}: ${body.message}`
    if (body.code === 401) reply.header('www-authenticate', 'Bearer')
    return sendStatus(reply, body)
  })
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    sendStatus(reply, status('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; the paths are listed in /openapi.json`)),
  )
}

declare module 'fastify' {
  interface FastifyRequest {
    /** `CODE: message` of the error the request failed with, for the audit log. */
    failure?: string
  }
}
