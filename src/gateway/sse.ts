// Relays an upstream's server-sent events to the client event by event: reads the usage chunk, counts the generated text, and drops the usage chunk for clients that did not ask for it.
//
// Only complete events are inspected: a chunk's trailing partial event waits for the next chunk
// (at most one event is ever held), everything before it is returned at once for the caller to
// write. Events are written back byte for byte as the upstream sent them, never re-serialized.
import { utf8Length } from '../governance/bound.ts'

/** Usage as an OpenAI-compatible upstream reports it. */
export interface UpstreamUsage {
  promptTokens: number
  completionTokens: number
}

const EVENT_END = /\r\n\r\n|\n\n|\r\r/

/** One streamed response's relay: push each upstream chunk, write what it returns; end() at the end of the stream. */
export class SseRelay {
  /** The upstream's usage, once its usage chunk was seen. */
  usage: UpstreamUsage | undefined
  /** UTF-8 bytes of the generated text seen so far (content, reasoning, refusals, tool calls): the fallback count when no usage comes. */
  completionBytes = 0
  private pending = ''
  private readonly decoder = new TextDecoder()

  /** `showUsage`: the client asked for the usage chunk (stream_options.include_usage). */
  constructor(private readonly showUsage: boolean) {}

  /** The complete events of the stream so far that the client should see, as text ('' for none yet). */
  push(chunk: Uint8Array): string {
    this.pending += this.decoder.decode(chunk, { stream: true })
    let out = ''
    for (let m = EVENT_END.exec(this.pending); m !== null; m = EVENT_END.exec(this.pending)) {
      const end = m.index + m[0].length
      const event = this.pending.slice(0, end)
      this.pending = this.pending.slice(end)
      if (this.inspect(event.slice(0, m.index))) out += event
    }
    return out
  }

  /** What is left at the end of the stream (an event without its closing blank line). */
  end(): string {
    const rest = this.pending + this.decoder.decode()
    this.pending = ''
    return rest !== '' && this.inspect(rest) ? rest : ''
  }

  /** Reads one event's data; false when the client must not see it. */
  private inspect(event: string): boolean {
    const data = event
      .split(/\r\n|\n|\r/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line[5] === ' ' ? 6 : 5))
      .join('\n')
    if (data === '' || data === '[DONE]') return true
    let chunk: { usage?: unknown; choices?: unknown }
    try {
      chunk = JSON.parse(data) as { usage?: unknown; choices?: unknown }
    } catch {
      return true
    }
    if (typeof chunk !== 'object' || chunk === null) return true
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]) : []
    for (const choice of choices) this.completionBytes += generatedBytes(choice)
    const usage = readUsage(chunk.usage)
    if (usage === undefined) return true
    this.usage = usage
    return this.showUsage || choices.length > 0
  }
}

/** `usage` of a response body or chunk, when it is one. */
export function readUsage(value: unknown): UpstreamUsage | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const u = value as { prompt_tokens?: unknown; completion_tokens?: unknown }
  if (typeof u.prompt_tokens !== 'number') return undefined
  return { promptTokens: u.prompt_tokens, completionTokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : 0 }
}

/** Bytes of the text a streamed choice carries (chat delta or completions text). */
function generatedBytes(choice: unknown): number {
  if (typeof choice !== 'object' || choice === null) return 0
  const c = choice as { text?: unknown; delta?: Record<string, unknown> }
  let bytes = typeof c.text === 'string' ? utf8Length(c.text) : 0
  const delta = c.delta
  if (typeof delta !== 'object' || delta === null) return bytes
  for (const field of ['content', 'reasoning_content', 'reasoning', 'refusal']) {
    if (typeof delta[field] === 'string') bytes += utf8Length(delta[field])
  }
  if (Array.isArray(delta.tool_calls)) bytes += utf8Length(JSON.stringify(delta.tool_calls))
  return bytes
}
