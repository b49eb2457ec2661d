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

/** The blank line that ends an event (global: push() scans a text with lastIndex). */
const EVENT_END = /\r\n\r\n|\n\n|\r\r/g

/** One streamed response's relay: push each upstream chunk, write what it returns; end() at the end of the stream. */
export class SseRelay {
  /** The upstream's usage, once its usage chunk was seen. */
  usage: UpstreamUsage | undefined
  private bytes = 0
  /**
   * Data of events that cannot carry usage, not parsed yet: only their generated text is wanted,
   * and only if no usage comes, so they are parsed when completionBytes is read, or once
   * DEFERRED_CHARS of them wait (which bounds the memory a stream holds). Most streams end with
   * their usage chunk and are never parsed beyond it.
   */
  private deferred: string[] = []
  private deferredChars = 0
  private pending = ''
  /** The bytes of a character split across chunks, waiting for the rest (see decode). */
  private carry: Buffer | undefined
  private started = false
  /** The last decode() gave the chunk's bytes whole: no character carried in or out, no byte-order mark dropped. */
  private verbatim = false
  /**
   * The last push() returned exactly the chunk it was given: complete events only, none dropped,
   * nothing held before or after. The caller may then write the chunk's bytes as they are rather
   * than the returned text (no second encoding).
   */
  passedThrough = false

  /** `showUsage`: the client asked for the usage chunk (stream_options.include_usage). */
  constructor(private readonly showUsage: boolean) {}

  /** The complete events of the stream so far that the client should see, as text ('' for none yet). */
  push(chunk: Uint8Array): string {
    const prior = this.pending
    const text = prior + this.decode(chunk)
    // Events are found in place (no re-slicing of what is left per event); the common case, every
    // event kept, returns one slice of the text.
    let out = ''
    let kept = 0
    let start = 0
    EVENT_END.lastIndex = 0
    for (let m = EVENT_END.exec(text); m !== null; m = EVENT_END.exec(text)) {
      const end = m.index + m[0].length
      if (!this.inspect(text.slice(start, m.index))) {
        out += text.slice(kept, start)
        kept = end
      }
      start = end
    }
    this.pending = text.slice(start)
    this.passedThrough = kept === 0 && prior === '' && start === text.length && this.verbatim
    return kept === 0 ? text.slice(0, start) : out + text.slice(kept, start)
  }

  /** What is left at the end of the stream (an event without its closing blank line). */
  end(): string {
    const rest = this.pending + (this.carry === undefined ? '' : this.carry.toString('utf8'))
    this.pending = ''
    this.carry = undefined
    return rest !== '' && this.inspect(rest) ? rest : ''
  }

  /**
   * A chunk as text, as a streaming TextDecoder would give it (a leading byte-order mark dropped,
   * a character split across chunks completed by the next one), through Buffer's native decoder:
   * a TextDecoder call costs several times more on the short chunks of a stream.
   */
  private decode(chunk: Uint8Array): string {
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    this.verbatim = this.carry === undefined
    if (this.carry !== undefined) {
      bytes = Buffer.concat([this.carry, bytes])
      this.carry = undefined
    }
    const cut = completeUtf8Length(bytes)
    if (cut < bytes.length) {
      this.carry = Buffer.from(bytes.subarray(cut))
      this.verbatim = false
    }
    let text = bytes.toString('utf8', 0, cut)
    if (!this.started && text !== '') {
      this.started = true
      if (text.charCodeAt(0) === 0xfeff) {
        text = text.slice(1)
        this.verbatim = false
      }
    }
    return text
  }

  /** UTF-8 bytes of the generated text seen so far (content, reasoning, refusals, tool calls): the fallback count when no usage comes. */
  get completionBytes(): number {
    this.countDeferred()
    return this.bytes
  }

  private countDeferred(): void {
    for (const data of this.deferred) this.bytes += choicesBytes(parseChunk(data))
    this.deferred = []
    this.deferredChars = 0
  }

  /** Reads one event's data; false when the client must not see it. */
  private inspect(event: string): boolean {
    const data = eventData(event)
    if (data === '' || data === '[DONE]') return true
    if (!mayCarryUsage(data)) {
      // Shown whatever it holds: only its text counts, later (see `deferred`).
      this.deferred.push(data)
      this.deferredChars += data.length
      if (this.deferredChars > DEFERRED_CHARS) this.countDeferred()
      return true
    }
    const chunk = parseChunk(data)
    if (chunk === undefined) return true
    this.bytes += choicesBytes(chunk)
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]) : []
    const usage = readUsage(chunk.usage)
    if (usage === undefined) return true
    this.usage = usage
    return this.showUsage || choices.length > 0
  }
}

/** Bytes of `bytes` up to the start of a multi-byte character cut off at its end (all of them when none is). */
function completeUtf8Length(bytes: Buffer): number {
  const end = bytes.length
  for (let i = end - 1; i >= 0 && i >= end - 4; i--) {
    const b = bytes[i]
    if (b < 0x80) return end
    if (b < 0xc0) continue
    const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2
    return i + length > end ? i : end
  }
  return end
}

/** The data of an event: its `data:` lines joined by newlines (a single-line event, the usual kind, without splitting). */
function eventData(event: string): string {
  if (event.indexOf('\n') < 0 && event.indexOf('\r') < 0) return event.startsWith('data:') ? event.slice(event[5] === ' ' ? 6 : 5) : ''
  return event
    .split(/\r\n|\n|\r/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line[5] === ' ' ? 6 : 5))
    .join('\n')
}

/** Most characters of event data a relay holds unparsed (see SseRelay.deferred). */
const DEFERRED_CHARS = 64 * 1024

/** `"usage"`, then null: a usage field that holds no usage (OpenAI sends one in every chunk). */
const NULL_USAGE = /"usage"\s*:\s*null/y

/**
 * False when the event's JSON cannot have a `usage` field other than null: "usage" occurs only
 * as `"usage": null`, and no \u escape could spell the name otherwise. True when it may (and
 * for anything unsure): such events are parsed at once.
 */
function mayCarryUsage(data: string): boolean {
  if (data.includes('\\u')) return true
  for (let i = data.indexOf('usage'); i >= 0; i = data.indexOf('usage', i + 5)) {
    NULL_USAGE.lastIndex = i - 1
    if (i === 0 || !NULL_USAGE.test(data)) return true
  }
  return false
}

type Chunk = { usage?: unknown; choices?: unknown }

/** An event's data as a JSON object; undefined when it is not one. */
function parseChunk(data: string): Chunk | undefined {
  try {
    const chunk = JSON.parse(data) as unknown
    return typeof chunk === 'object' && chunk !== null ? (chunk as Chunk) : undefined
  } catch {
    return undefined
  }
}

/** Bytes of the generated text of a chunk's choices. */
function choicesBytes(chunk: Chunk | undefined): number {
  if (chunk === undefined || !Array.isArray(chunk.choices)) return 0
  let bytes = 0
  for (const choice of chunk.choices as unknown[]) bytes += generatedBytes(choice)
  return bytes
}

/** Delta fields whose text a model generates (counted when no usage comes). */
const DELTA_TEXT_FIELDS = ['content', 'reasoning_content', 'reasoning', 'refusal'] as const

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
  for (const field of DELTA_TEXT_FIELDS) {
    if (typeof delta[field] === 'string') bytes += utf8Length(delta[field])
  }
  if (Array.isArray(delta.tool_calls)) bytes += utf8Length(JSON.stringify(delta.tool_calls))
  return bytes
}
