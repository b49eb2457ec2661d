// The HTTP API as the dashboard uses it: the token (sessionStorage), JSON requests, Status errors, and "this server has no such endpoint" as a value.
const TOKEN_KEY = 'gpuplane.token'

/** A failed request: the Status the server sent (code = HTTP status, reason = gpuplane error code). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message)
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}
export function setToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, token)
}

/** Called when the server answers 401: the app shows the login form with the server's message. */
let onUnauthorized: (message: string) => void = () => {}
export function setUnauthorizedHandler(f: (message: string) => void): void {
  onUnauthorized = f
}

export function authHeaders(): Record<string, string> {
  const token = getToken()
  return token ? { authorization: `Bearer ${token}` } : {}
}

/** Reads a failed response's Status (or its text) into an ApiError; tells the app on 401. */
export async function errorOf(res: Response): Promise<ApiError> {
  let reason = `HTTP_${res.status}`
  let message = res.statusText || `HTTP ${res.status}`
  try {
    const body = (await res.json()) as { reason?: string; message?: string }
    if (body.reason) reason = body.reason
    if (body.message) message = body.message
  } catch {
    // not a Status: keep the HTTP status line
  }
  const error = new ApiError(res.status, reason, message)
  if (res.status === 401) onUnauthorized(message)
  return error
}

/** Sends a request with the token; returns the parsed JSON, or throws ApiError. */
export async function api<T = unknown>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() }
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: init.signal })
  if (!res.ok) throw await errorOf(res)
  return (await res.json()) as T
}

/** The result of an endpoint that other parts of gpuplane may not serve (yet): its data, or why not. */
export type Optional<T> = { available: true; data: T } | { available: false; message: string }

/** GET an endpoint that may be absent on this server: 404 (no such route) becomes `available: false`. */
export async function optional<T>(path: string, what: string): Promise<Optional<T>> {
  try {
    return { available: true, data: await api<T>(path) }
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return { available: false, message: `${what} is not available: this server does not serve ${path.split('?')[0]} (${e.message})` }
    throw e
  }
}

/** Path of a kind's collection: core kinds under /api/v1, the others under /apis/GROUP/VERSION. */
export const PATHS = {
  nodes: '/api/v1/nodes',
  resourceslices: '/apis/resource.k8s.io/v1/resourceslices',
  resourceclaims: '/apis/resource.k8s.io/v1/resourceclaims',
  clusters: '/apis/gpuplane.io/v1alpha1/clusters',
  namespaces: '/apis/gpuplane.io/v1alpha1/namespaces',
  workloads: '/apis/gpuplane.io/v1alpha1/workloads',
  models: '/apis/gpuplane.io/v1alpha1/models',
  agents: '/apis/gpuplane.io/v1alpha1/agents',
  tokenpolicies: '/apis/gpuplane.io/v1alpha1/tokenpolicies',
} as const
export type Collection = keyof typeof PATHS

export const GPUPLANE = '/apis/gpuplane.io/v1alpha1'
