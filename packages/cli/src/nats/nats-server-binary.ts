import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export class NatsServerNotFoundError extends Error {
  override readonly name = 'NatsServerNotFoundError';
  readonly code = 'NATS_SERVER_NOT_FOUND';
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** NATS_SERVER_BIN, then the Debian locations, then PATH. */
export function findNatsServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NATS_SERVER_BIN) {
    if (isExecutable(env.NATS_SERVER_BIN)) return env.NATS_SERVER_BIN;
    throw new NatsServerNotFoundError(`NATS_SERVER_BIN=${env.NATS_SERVER_BIN} is not an executable file`);
  }
  const onPath = (env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, 'nats-server'));
  const found = ['/usr/sbin/nats-server', '/usr/bin/nats-server', ...onPath].find(isExecutable);
  if (found) return found;
  throw new NatsServerNotFoundError(
    'nats-server is not installed: `apt-get install nats-server` (or set NATS_SERVER_BIN to its path)',
  );
}
