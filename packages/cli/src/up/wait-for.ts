const POLL_INTERVAL_MS = 200;

export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  readonly code = 'WAIT_TIMEOUT';
}

/** Retries `attempt` until it resolves or the deadline passes; the error names what never happened. */
export async function waitFor<T>(what: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await attempt();
    } catch (error) {
      if ((error as { code?: unknown }).code === 'STARTUP_FAILED') throw error;
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}: ${reason}`);
}
