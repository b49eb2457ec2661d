// The demo's upstream: a tiny OpenAI-compatible API on loopback that echoes the last message back (model "demo-echo"), so `gpuplane server --demo` can be called through its gateway without a GPU.
//
// It answers POST /v1/chat/completions, /v1/completions and /v1/embeddings and GET /v1/models,
// streams (SSE) when asked, and reports usage like a real server: prompt tokens counted as
// whitespace-separated words of the message text (never more than its UTF-8 bytes, so the
// gateway's prompt bound holds), completion tokens as the words it sends, never above max_tokens.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Largest body the echo reads (bytes): it is a demo, not an inference server. */
const MAX_BODY = 1024 * 1024

export interface EchoUpstream {
  /** Base URL with `/v1`, e.g. `http://127.0.0.1:41234/v1`. */
  url: string
  close(): Promise<void>
}

/** Starts the echo on `host` (default 127.0.0.1) and `port` (default 0: any free port). */
export async function startEchoUpstream(options: { host?: string; port?: number } = {}): Promise<EchoUpstream> {
  const server: Server = createServer((req, res) => {
    answer(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { error: { message: 'echo upstream failed', type: 'server_error' } })
      else res.destroy()
    })
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host}:${port}/v1`,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '').split('?')[0]
  if (req.method === 'GET' && path === '/v1/models') return send(res, 200, { object: 'list', data: [{ id: 'echo', object: 'model', created: 0, owned_by: 'gpuplane-demo' }] })
  if (req.method !== 'POST' || !['/v1/chat/completions', '/v1/completions', '/v1/embeddings'].includes(path)) {
    return send(res, 404, { error: { message: `the echo upstream has no ${req.method} ${path}`, type: 'invalid_request_error' } })
  }
  let text = ''
  for await (const chunk of req) {
    text += String(chunk)
    if (text.length > MAX_BODY) return send(res, 413, { error: { message: 'request too large for the echo upstream', type: 'invalid_request_error' } })
  }
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    return send(res, 400, { error: { message: 'the body is not JSON', type: 'invalid_request_error' } })
  }
  const prompt = promptText(body)
  const promptTokens = words(prompt).length
  if (path === '/v1/embeddings') {
    const inputs = Array.isArray(body.input) ? body.input : [body.input]
    return send(res, 200, { object: 'list', model: body.model, data: inputs.map((input, index) => ({ object: 'embedding', index, embedding: embed(String(input)) })), usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } })
  }
  const max = typeof body.max_tokens === 'number' ? body.max_tokens : typeof body.max_completion_tokens === 'number' ? body.max_completion_tokens : 64
  const reply = ['echo:', ...words(lastText(body))].slice(0, Math.max(0, max))
  const usage = { prompt_tokens: promptTokens, completion_tokens: reply.length, total_tokens: promptTokens + reply.length }
  const chat = path === '/v1/chat/completions'
  if (body.stream !== true) {
    const choice = chat ? { index: 0, message: { role: 'assistant', content: reply.join(' ') }, finish_reason: 'stop' } : { index: 0, text: reply.join(' '), finish_reason: 'stop' }
    return send(res, 200, { id: 'echo-1', object: chat ? 'chat.completion' : 'text_completion', created: Math.floor(Date.now() / 1000), model: body.model, choices: [choice], usage })
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  reply.forEach((word, i) => {
    const piece = i === 0 ? word : ` ${word}`
    const choice = chat ? { index: 0, delta: { content: piece }, finish_reason: null } : { index: 0, text: piece, finish_reason: null }
    res.write(`data: ${JSON.stringify({ id: 'echo-1', object: chat ? 'chat.completion.chunk' : 'text_completion', model: body.model, choices: [choice] })}\n\n`)
  })
  const options = body.stream_options as { include_usage?: boolean } | undefined
  if (options?.include_usage === true) res.write(`data: ${JSON.stringify({ id: 'echo-1', object: 'chat.completion.chunk', model: body.model, choices: [], usage })}\n\n`)
  res.end('data: [DONE]\n\n')
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

/** Every text of the request: message contents (string or text parts), prompt, input. */
function promptText(body: Record<string, unknown>): string {
  const parts: string[] = []
  for (const m of Array.isArray(body.messages) ? body.messages : []) parts.push(contentText((m as { content?: unknown }).content))
  for (const field of [body.prompt, body.input]) {
    if (typeof field === 'string') parts.push(field)
    else if (Array.isArray(field)) parts.push(...field.filter((v): v is string => typeof v === 'string'))
  }
  return parts.join(' ')
}

/** The text the echo repeats: the last message's, else the prompt. */
function lastText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? body.messages : []
  if (messages.length > 0) return contentText((messages[messages.length - 1] as { content?: unknown }).content)
  return typeof body.prompt === 'string' ? body.prompt : ''
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) return content.map((p) => (typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join(' ')
  return ''
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '')
}

/** A deterministic 8-dimensional stand-in for an embedding. */
function embed(text: string): number[] {
  const v = new Array<number>(8).fill(0)
  for (let i = 0; i < text.length; i++) v[i % 8] += text.charCodeAt(i) / 1000
  return v
}
