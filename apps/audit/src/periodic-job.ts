import type { Logger } from 'pino';

/**
 * Runs `work` every `intervalMs` (from the end of one run to the start of the next, so runs never
 * overlap), the first run `firstDelayMs` after start (a daily job of a service restarted more
 * often than daily still runs); a failed run is logged and the next one comes on time.
 * Interval 0: never runs.
 */
export class PeriodicJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly work: () => Promise<unknown>,
    private readonly logger: Logger,
    private readonly firstDelayMs = intervalMs,
  ) {}

  start(): void {
    if (this.intervalMs > 0) this.schedule(Math.min(this.firstDelayMs, this.intervalMs));
  }

  /** Stops scheduling and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs = this.intervalMs): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.work()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn({ err: error, job: this.name }, 'a periodic audit job failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, delayMs);
    this.timer.unref();
  }
}
