import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now: the kernel picks it, we release it. Another process
 * may take it before the caller binds; callers that spawn a server treat a bind failure as fatal.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`No TCP address for a listener on ${host}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

const STABLE_PORT_MIN = 10_000;
const STABLE_PORT_ATTEMPTS_MAX = 50;

/**
 * A free port for a server started seconds later (a whole stack's gateway and bus): drawn below
 * the kernel's ephemeral range, so no outgoing connection (a Postgres or NATS client of any test
 * running beside it) can be given it in the meantime, as a port 0 pick can. Another test drawing
 * the same one at random is the remaining, far smaller, chance.
 */
export async function freeStablePort(host = '127.0.0.1'): Promise<number> {
  const ephemeralMin = ephemeralPortMin();
  for (let attempt = 0; attempt < STABLE_PORT_ATTEMPTS_MAX; attempt += 1) {
    const port = STABLE_PORT_MIN + Math.floor(Math.random() * (ephemeralMin - STABLE_PORT_MIN));
    if (await canListen(host, port)) return port;
  }
  return freePort(host);
}

function ephemeralPortMin(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > STABLE_PORT_MIN + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
