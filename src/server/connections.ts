// Graceful close of the HTTP server's connections: idle ones (and fresh ones that sent nothing yet) close at once, busy ones after their response.
//
// Node's server.close() only reaps keep-alive connections between requests; a client that opened
// a connection and sent nothing (HTTP clients pre-connect, e.g. after aborting a watch) would hold
// the shutdown until the keep-alive timeout (72 s in Fastify). So the server tracks how many
// requests are in flight on each socket, and at shutdown closes the sockets with none, and the
// others as soon as their last response has been written.
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

export interface ConnectionTracker {
  /** From now on, every socket closes once no request is in flight on it. */
  closeWhenIdle(): void
}

export function trackConnections(server: Server): ConnectionTracker {
  const inFlight = new Map<Socket, number>()
  let closing = false
  const release = (socket: Socket) => {
    const n = (inFlight.get(socket) ?? 1) - 1
    inFlight.set(socket, n)
    if (closing && n === 0) socket.destroySoon()
  }
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0)
    socket.once('close', () => inFlight.delete(socket))
  })
  server.on('request', (req, res) => {
    const socket = req.socket
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1)
    res.once('close', () => release(socket))
  })
  return {
    closeWhenIdle() {
      closing = true
      for (const [socket, n] of inFlight) if (n === 0) socket.destroy()
    },
  }
}
