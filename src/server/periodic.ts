// A pass run every interval until stopped: one pass at a time, a failed pass logged and the next one still scheduled, timers unref'd so they never keep the process alive.
export class Periodic {
  private timer?: NodeJS.Timeout
  private running?: Promise<unknown>
  private stopped = true

  constructor(
    private readonly intervalMs: number,
    private readonly pass: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Schedules the first pass one interval from now (no-op when already started). */
  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.schedule()
  }

  /** No more passes; resolves when the one in progress (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    await this.running
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .catch(this.onError)
        .finally(() => this.schedule())
    }, this.intervalMs)
    this.timer.unref()
  }
}
