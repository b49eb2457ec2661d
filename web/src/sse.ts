// A server-sent events parser for streams read with fetch() (EventSource cannot send an Authorization header): text chunks in, messages out.
export interface SseMessage {
  id?: string
  data?: string
  comment?: string
}

/** Feeds chunks of an event stream; returns the complete messages each chunk finishes (blank line = end of message). */
export class SseParser {
  private buffer = ''

  push(chunk: string): SseMessage[] {
    this.buffer += chunk
    const out: SseMessage[] = []
    let end: number
    // Messages end with a blank line; \r\n and \r line ends are allowed by the format. A \r at
    // the end of a chunk waits for the next one (it may be the first half of a \r\n).
    const held = this.buffer.endsWith('\r') ? '\r' : ''
    this.buffer = this.buffer.slice(0, this.buffer.length - held.length).replace(/\r\n?/g, '\n')
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      const message: SseMessage = {}
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          message.comment = line.slice(1).trim()
          continue
        }
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        let value = colon < 0 ? '' : line.slice(colon + 1)
        if (value.startsWith(' ')) value = value.slice(1)
        if (field === 'id') message.id = value
        else if (field === 'data') data.push(value)
      }
      if (data.length > 0) message.data = data.join('\n')
      out.push(message)
    }
    this.buffer += held
    return out
  }
}
