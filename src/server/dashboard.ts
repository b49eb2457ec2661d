// The dashboard's static files: dist/web (built by `npm run build`) served at `/` without a token; the page itself asks for one and calls the API with it.
//
// Only files that exist under the dashboard folder are served; any other path falls through to
// the API's 404 Status, so unknown API paths answer as before. When the folder has not been built,
// `/` answers 503 with a page saying how to build it. Files are read per request (a rebuild shows
// at once, and nothing is cached in memory); they are small and the dashboard is used by people,
// not by load.
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** Where `npm run build` (web/build.ts) writes the dashboard. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url))

const MEDIA_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>gpuplane dashboard not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The dashboard is not built</h1>
<p>This server runs, and its API answers, but the dashboard's files are missing from <code>dist/web</code>.
Build them once with <code>npm run build</code> in gpuplane's folder (<code>npm start</code> does it for you), then reload this page.</p>
<p>The API is documented at <a href="/openapi.json">/openapi.json</a>.</p></body></html>`

/** Registers GET `/` and GET `/<file>` for the files of `dir` (default DASHBOARD_DIR), all open (no token). */
export function registerDashboardRoutes(app: FastifyInstance, dir = DASHBOARD_DIR): void {
  const open = { config: { open: true } }
  app.get('/', open, async (_request, reply) => {
    const page = await readIfFile(join(dir, 'index.html'))
    if (page === undefined) return reply.code(503).type(MEDIA_TYPES['.html']).header('cache-control', 'no-store').send(NOT_BUILT)
    return send(reply, page, '.html')
  })
  // A wildcard below every API route: find-my-way prefers static and parametric routes, so this
  // only sees paths no other route claims.
  app.get('/*', open, async (request: FastifyRequest, reply: FastifyReply) => {
    const relative = (request.params as { '*': string })['*']
    const file = safePath(dir, relative)
    const body = file === undefined ? undefined : await readIfFile(file)
    if (body === undefined) return reply.callNotFound()
    return send(reply, body, extname(file as string))
  })
}

function send(reply: FastifyReply, body: Buffer, ext: string): FastifyReply {
  // no-cache: the browser revalidates, so a rebuilt dashboard is picked up at the next load.
  return reply.type(MEDIA_TYPES[ext] ?? 'application/octet-stream').header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(body)
}

/** `relative` inside `dir`, or undefined when it would leave it (`..`, absolute paths, NUL) or names a hidden file. */
function safePath(dir: string, relative: string): string | undefined {
  if (relative === '' || relative.includes('\0') || relative.includes('\\')) return undefined
  let decoded: string
  try {
    decoded = decodeURIComponent(relative)
  } catch {
    return undefined
  }
  const parts = normalize(decoded).split('/')
  if (parts.some((p) => p === '..' || p.startsWith('.')) || decoded.startsWith('/')) return undefined
  const full = join(dir, ...parts)
  return full.startsWith(dir.endsWith(sep) ? dir : dir + sep) ? full : undefined
}

async function readIfFile(file: string): Promise<Buffer | undefined> {
  try {
    if (!(await stat(file)).isFile()) return undefined
    return await readFile(file)
  } catch {
    return undefined
  }
}
