// Running a built server: listen, and shut down in order (stop accepting, end watches, finish requests in flight, stop the controller, close the store).
import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/types.ts'

/** Something with a background loop to stop at shutdown (the scheduling controller). */
export interface Stoppable {
  stop(): Promise<void>
}

export interface ServeOptions {
  app: FastifyInstance
  /** Closed last, after every request in flight has finished. */
  store: Store
  /** Stopped after the HTTP server has closed, before the store closes. */
  controller?: Stoppable
  port: number
  host: string
}

export interface Serving {
  /** `http://host:port` the server listens on (the port chosen when 0 was asked). */
  url: string
  /**
   * Graceful shutdown: new connections are refused and new requests on open ones get 503, watch
   * streams end, requests in flight finish, then the controller stops and the store closes.
   * Calling it again returns the same promise.
   */
  shutdown(): Promise<void>
}

/** Starts listening; returns where, and how to shut down. */
export async function serve(options: ServeOptions): Promise<Serving> {
  const { app } = options
  await app.listen({ port: options.port, host: options.host })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : options.port
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  let closing: Promise<void> | undefined
  return {
    url: `http://${host}:${port}`,
    shutdown() {
      closing ??= (async () => {
        await app.close()
        await options.controller?.stop()
        await options.store.close()
      })()
      return closing
    },
  }
}
