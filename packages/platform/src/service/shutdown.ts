import type { Logger } from 'pino';

/** Ctrl-C / SIGTERM must stop a service well within the 10 s the start script allows. */
export const SHUTDOWN_DEADLINE_MS = 8_000;

export type ShutdownStep = readonly [name: string, close: () => Promise<unknown>];

/**
 * Runs the steps in order on the first SIGTERM/SIGINT, each failure logged but not stopping
 * the rest; the process exits when done or when the deadline passes, whichever comes first.
 */
export function exitOnSignals(logger: Logger, steps: () => readonly ShutdownStep[]): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown deadline passed, exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    for (const [name, close] of steps()) {
      try {
        await close();
      } catch (error) {
        logger.error({ step: name, err: error }, 'shutdown step failed');
      }
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
