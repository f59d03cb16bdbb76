import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type ReadinessCheck = () => Promise<boolean>;
export type ComponentStatus = 'up' | 'down';

export interface OpsServerOptions {
  /** `0.0.0.0` in a container so the kubelet can probe; `127.0.0.1` on a laptop. */
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  service: string;
  /** Dependencies the service needs to serve requests, e.g. `{db, bus}`. */
  checks: Record<string, ReadinessCheck>;
  registry: Registry;
  /** A check that has not answered by then counts as down. Default 2000 ms, under a probe's 5 s. */
  checkTimeoutMs?: number;
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

export interface ReadinessReport {
  service: string;
  status: ComponentStatus;
  checks: Record<string, ComponentStatus>;
}

const CHECK_TIMEOUT_MS_DEFAULT = 2000;
// Probes are tiny GETs; anything slower than this is a stuck client, not a probe.
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * The operations port of a service: liveness, readiness and Prometheus metrics, on plain
 * node:http apart from the application so a wedged Nest app or a saturated bus still answers.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const checkTimeoutMs = options.checkTimeoutMs ?? CHECK_TIMEOUT_MS_DEFAULT;
  const server = createServer((request, response) => {
    route(request, response, options, checkTimeoutMs).catch(() => {
      if (!response.headersSent) sendJson(response, 500, { error: 'internal_error' });
      else response.destroy();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Prometheus and kubelets keep connections alive; close() alone would wait for them.
        server.closeAllConnections();
      }),
  };
}

async function route(
  request: IncomingMessage,
  response: ServerResponse,
  options: OpsServerOptions,
  checkTimeoutMs: number,
): Promise<void> {
  const path = (request.url ?? '/').split('?', 1)[0];
  const known = path === '/health/live' || path === '/health/ready' || path === '/metrics';
  if (!known) return sendJson(response, 404, { error: 'not_found', path });
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return sendJson(response, 405, { error: 'method_not_allowed' });
  }

  if (path === '/health/live') {
    // Liveness never looks at dependencies: a database outage must not make k8s restart every pod.
    return sendJson(response, 200, { service: options.service, status: 'up' });
  }
  if (path === '/health/ready') {
    const report = await readiness(options.service, options.checks, checkTimeoutMs);
    return sendJson(response, report.status === 'up' ? 200 : 503, report);
  }
  const body = await options.registry.metrics();
  response.writeHead(200, { 'content-type': options.registry.contentType, 'cache-control': 'no-store' });
  response.end(body);
}

/** Runs every check at once, each bounded by the timeout; the service is up only if all are. */
export async function readiness(
  service: string,
  checks: Record<string, ReadinessCheck>,
  checkTimeoutMs: number,
): Promise<ReadinessReport> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((name) => runCheck(checks[name]!, checkTimeoutMs)));
  const statuses: Record<string, ComponentStatus> = {};
  names.forEach((name, i) => {
    statuses[name] = results[i] ? 'up' : 'down';
  });
  return { service, status: results.every(Boolean) ? 'up' : 'down', checks: statuses };
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    // A check that throws is as down as one that answers false.
    return await Promise.race([
      Promise.resolve()
        .then(check)
        .then(
          (ok) => ok === true,
          () => false,
        ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function sendJson(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}
