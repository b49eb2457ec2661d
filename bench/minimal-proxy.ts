// The gateway benchmark's floor: the least a Node.js proxy can do (node:http in, undici request() out, no checks), run as its own process.
//
//   node --import tsx bench/minimal-proxy.ts --upstream http://127.0.0.1:PORT
// Listens on 127.0.0.1, a free port, and prints `{"port": N}` on stdout once listening. Each
// request's body is read whole and POSTed to the upstream at the same path over undici's global
// keep-alive pool (as the gateway does); the answer is passed back chunk by chunk, so streams are
// not buffered. No authentication, parsing or counting: the gateway's cost is what it adds to this.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { request } from 'undici'

const { values: args } = parseArgs({ options: { upstream: { type: 'string' } } })
if (args.upstream === undefined) throw new Error('--upstream URL is required')
const UPSTREAM = args.upstream.replace(/\/+$/, '')

const server = createServer((req, res) => {
  const parts: Buffer[] = []
  req.on('data', (c: Buffer) => parts.push(c))
  req.on('end', () => {
    const abort = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    void (async () => {
      try {
        const up = await request(UPSTREAM + (req.url ?? '/'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(parts), signal: abort.signal })
        res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') })
        for await (const chunk of up.body) res.write(chunk as Buffer)
        res.end()
      } catch (e) {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: (e as Error).message } }))
        else res.destroy()
      }
    })()
  })
})

server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n'))
process.on('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
