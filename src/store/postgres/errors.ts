// PostgreSQL and connection errors as GpuplaneErrors: which to retry, which mean the database is unavailable.
import { GpuplaneError } from '../../common/errors.ts'
import { redactUrl } from '../../common/redact.ts'

/** SQLSTATEs after which the whole transaction can run again: serialization_failure, deadlock_detected. */
const RETRYABLE = new Set(['40001', '40P01'])

/** Node socket errors that mean the server cannot be reached (with SQLSTATE class 08 but 08P01, a protocol violation). */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN'])

function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

export function isRetryable(e: unknown): boolean {
  const code = sqlState(e)
  return code !== undefined && RETRYABLE.has(code)
}

/** The URL without its password, for messages. */
export function describeUrl(url: string): string {
  return redactUrl(url, 'the PostgreSQL URL (unparsable: use postgres://user[:password]@host[:port]/database)')
}

/**
 * An error of pg as a GpuplaneError: connection problems and an overloaded or restarting server
 * are UNAVAILABLE (with what to check), retryable conflicts that ran out of retries CONFLICT.
 * `committing`: the error came while COMMIT was in flight, so the outcome is unknown.
 */
export function postgresError(e: unknown, where: string, committing = false): unknown {
  if (e instanceof GpuplaneError) return e
  const code = sqlState(e) ?? ''
  const message = e instanceof Error ? e.message : String(e)
  const unavailable = (what: string) => new GpuplaneError('UNAVAILABLE', `PostgreSQL at ${where}: ${what}`, {}, { cause: e })
  if (RETRYABLE.has(code)) {
    return new GpuplaneError('CONFLICT', `PostgreSQL at ${where}: ${message}, still after retries: retry the request`, {}, { cause: e })
  }
  const lost =
    SOCKET_ERRORS.has(code) ||
    (code.startsWith('08') && code !== '08P01') ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(message)
  if (lost && committing) {
    return unavailable(`the connection was lost while committing (${message}): the write may or may not have been applied; read the object again before retrying`)
  }
  if (lost) return unavailable(`cannot reach the server (${message}): check that PostgreSQL is running and the URL is right`)
  if (code === '57P01' || code === '57P02' || code === '57P03') return unavailable(`the server is shutting down or starting (${message}): retry shortly`)
  if (code === '53300') return unavailable(`too many connections (${message}): lower poolSize or raise max_connections`)
  if (code === '3D000') return unavailable(`${message}: create the database first (createdb)`)
  if (code === '28P01' || code === '28000') return unavailable(`authentication failed (${message}): check the user and password in the URL`)
  if (code === '42P01') return unavailable(`${message}: the gpuplane schema is missing, call migrate() first`)
  return e
}
