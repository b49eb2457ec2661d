// The gateway benchmark's mock OpenAI-compatible upstream, run as its own process: chat completions answered at once, as JSON with usage or as SSE chunks.
//
//   node --import tsx bench/gateway-upstream.ts [--chunks 8]
// Listens on 127.0.0.1, a free port, and prints `{"port": N}` on stdout once listening. Every POST
// is answered without delay (the benchmark measures what sits between client and upstream, not a
// model): a non-streaming request gets a chat.completion with `usage`; a streaming one gets
// --chunks content chunks, each written in its own event-loop turn (so they leave as separate
// writes, as a real model's tokens do), then the usage chunk when stream_options.include_usage
// is set, then `data: [DONE]`. Ends on SIGTERM.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({ options: { chunks: { type: 'string', default: '8' } } })
const CHUNKS = Number(args.chunks)
const CHUNK_TEXT = 'token '
const PROMPT_TOKENS = 12

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

const server = createServer((req, res) => {
  const parts: Buffer[] = []
  req.on('data', (c: Buffer) => parts.push(c))
  req.on('end', () => {
    let body: { model?: string; stream?: boolean; stream_options?: { include_usage?: boolean } }
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8')) as typeof body
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad JSON","type":"invalid_request_error"}}')
      return
    }
    if (body.stream === true) void stream(res, body.model ?? 'mock', body.stream_options?.include_usage === true)
    else {
      const reply = {
        id: 'chatcmpl-bench',
        object: 'chat.completion',
        created: 0,
        model: body.model ?? 'mock',
        choices: [{ index: 0, message: { role: 'assistant', content: CHUNK_TEXT.repeat(CHUNKS) }, finish_reason: 'stop' }],
        usage: { prompt_tokens: PROMPT_TOKENS, completion_tokens: CHUNKS, total_tokens: PROMPT_TOKENS + CHUNKS },
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply))
    }
  })
})

async function stream(res: import('node:http').ServerResponse, model: string, includeUsage: boolean): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  const chunk = (delta: object, i: number) => `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta, finish_reason: i === CHUNKS - 1 ? 'stop' : null }] })}\n\n`
  for (let i = 0; i < CHUNKS; i++) {
    if (res.destroyed) return
    res.write(chunk(i === 0 ? { role: 'assistant', content: CHUNK_TEXT } : { content: CHUNK_TEXT }, i))
    await turn()
  }
  if (res.destroyed) return
  if (includeUsage) res.write(`data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 0, model, choices: [], usage: { prompt_tokens: PROMPT_TOKENS, completion_tokens: CHUNKS, total_tokens: PROMPT_TOKENS + CHUNKS } })}\n\n`)
  res.end('data: [DONE]\n\n')
}

// Keep-alive connections of the proxies in front stay open between benchmark runs.
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n'))
process.on('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
