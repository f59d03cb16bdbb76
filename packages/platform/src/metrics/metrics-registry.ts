import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface MetricsRegistryOptions {
  service: string;
  /** Process and Node.js runtime metrics (CPU, memory, event-loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

/**
 * One registry per service rather than prom-client's global one, so tests and a process hosting
 * several components never collide on metric names. Every series carries `service`.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.defaultMetrics !== false) {
    // Default metrics keep their standard names (process_*, nodejs_*) so stock dashboards work.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  }
  return registry;
}

// Request latencies in seconds: 5 ms (a cached read) up to 10 s (the bus request timeout).
const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * `ok`: a reply; `error`: an error reply (typed error code); `timeout`: no reply in time;
 * `unavailable`: no responder on the subject. A closed set keeps the label's cardinality fixed.
 */
export type BusRequestOutcome = 'ok' | 'error' | 'timeout' | 'unavailable';
/** `client`: measured by the caller (includes the network); `server`: by the handler. */
export type BusSide = 'client' | 'server';

type BusLabel = 'subject' | 'side' | 'outcome';

export interface BusMetrics {
  requestDurationSeconds: Histogram<BusLabel>;
  requestsTotal: Counter<BusLabel>;
  /** Records one request; `subject` must be a declared subject, never one built from data. */
  observe(subject: string, side: BusSide, outcome: BusRequestOutcome, durationSeconds: number): void;
}

export function createBusMetrics(registry: Registry): BusMetrics {
  const labelNames: BusLabel[] = ['subject', 'side', 'outcome'];
  const requestDurationSeconds = new Histogram<BusLabel>({
    name: 'strongroom_bus_request_duration_seconds',
    help: 'Duration of NATS request/reply exchanges, by subject, side and outcome',
    labelNames,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [registry],
  });
  const requestsTotal = new Counter<BusLabel>({
    name: 'strongroom_bus_requests_total',
    help: 'NATS request/reply exchanges, by subject, side and outcome',
    labelNames,
    registers: [registry],
  });
  return {
    requestDurationSeconds,
    requestsTotal,
    observe(subject, side, outcome, durationSeconds) {
      const labels = { subject, side, outcome };
      requestDurationSeconds.observe(labels, durationSeconds);
      requestsTotal.inc(labels);
    },
  };
}

type HttpLabel = 'method' | 'route' | 'status';

export interface HttpMetrics {
  requestDurationSeconds: Histogram<HttpLabel>;
  requestsTotal: Counter<HttpLabel>;
  /** `route` is the route template (`/v1/accounts/:id`), never the raw URL: ids would explode cardinality. */
  observe(method: string, route: string, status: number, durationSeconds: number): void;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  const labelNames: HttpLabel[] = ['method', 'route', 'status'];
  const requestDurationSeconds = new Histogram<HttpLabel>({
    name: 'strongroom_http_request_duration_seconds',
    help: 'Duration of HTTP requests served, by method, route template and status code',
    labelNames,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [registry],
  });
  const requestsTotal = new Counter<HttpLabel>({
    name: 'strongroom_http_requests_total',
    help: 'HTTP requests served, by method, route template and status code',
    labelNames,
    registers: [registry],
  });
  return {
    requestDurationSeconds,
    requestsTotal,
    observe(method, route, status, durationSeconds) {
      const labels = { method, route, status: String(status) };
      requestDurationSeconds.observe(labels, durationSeconds);
      requestsTotal.inc(labels);
    },
  };
}
