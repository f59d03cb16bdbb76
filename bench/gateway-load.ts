import { Agent, request } from 'node:http';

const REQUEST_TIMEOUT_MS = 10_000;

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One keep-alive HTTP/1.1 connection per client in flight, as a pool of API clients would hold. */
export class GatewayClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(gatewayUrl: string, connections: number) {
    this.url = new URL(gatewayUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  send(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer> {
    return new Promise((resolveAnswer, reject) => {
      const outgoing = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolveAnswer({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', reject);
        },
      );
      outgoing.on('timeout', () => outgoing.destroy(new Error(`${method} ${path} timed out`)));
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface LoadResult {
  perSecond: number;
  p99Ms: number;
}

/**
 * `count` operations with `concurrency` in flight; each must succeed (the first failure rejects).
 * `worker` (0 … concurrency-1) names the loop an operation runs on, for chains of dependent calls.
 */
export async function load(
  count: number,
  concurrency: number,
  operation: (index: number, worker: number) => Promise<unknown>,
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  const startedAt = performance.now();
  const run = async (worker: number) => {
    while (next < count) {
      const index = next;
      next += 1;
      const sentAt = performance.now();
      await operation(index, worker);
      latenciesMs.push(performance.now() - sentAt);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, worker) => run(worker)));
  const elapsedMs = performance.now() - startedAt;
  latenciesMs.sort((a, b) => a - b);
  return {
    perSecond: count / (elapsedMs / 1000),
    p99Ms: latenciesMs[Math.ceil(latenciesMs.length * 0.99) - 1]!,
  };
}

export function expectStatus(answer: HttpAnswer, status: number, what: string): HttpAnswer {
  if (answer.status !== status) throw new Error(`${what} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  return answer;
}

export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
}
