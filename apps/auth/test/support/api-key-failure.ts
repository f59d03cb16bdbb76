import { ApiKeyError } from '../../src/api-keys/api-key-errors';

/** The ApiKeyError code `run` throws, or 'accepted' when it returns. */
export function apiKeyFailureOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiKeyError) return error.code;
    throw error;
  }
  return 'accepted';
}
