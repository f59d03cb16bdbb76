import { randomUUID } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { HEADERS, REQUEST_ID_PATTERN } from '@strongroom/contracts';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** A caller's `x-request-id` is kept when it is safe to echo and log; otherwise we mint one. */
export function requestIdOf(request: { headers: Record<string, string | string[] | undefined> }): string {
  const offered = request.headers[HEADERS.requestId];
  return typeof offered === 'string' && REQUEST_ID_PATTERN.test(offered) ? offered : randomUUID();
}

const tracer = () => trace.getTracer('@strongroom/gateway');
const spans = new WeakMap<FastifyRequest, ReturnType<ReturnType<typeof tracer>['startSpan']>>();

/**
 * One server span per HTTP request, continuing the caller's W3C trace context, active while
 * the route runs so the bus calls it makes (and their services' spans) join the same trace.
 */
export function traceRequests(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const carrier: Record<string, string> = {};
    for (const name of [HEADERS.traceparent, HEADERS.tracestate]) {
      const value = request.headers[name];
      if (typeof value === 'string') carrier[name] = value;
    }
    const parent = propagation.extract(ROOT_CONTEXT, carrier);
    const span = tracer().startSpan(
      `${request.method} ${request.routeOptions.url ?? 'unmatched'}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'url.path': request.url.split('?')[0] },
      },
      parent,
    );
    spans.set(request, span);
    void reply.header(HEADERS.requestId, String(request.id));
    context.with(trace.setSpan(parent, span), done);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
