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
