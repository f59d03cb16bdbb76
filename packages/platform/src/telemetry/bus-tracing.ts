import {
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_SYSTEM_NATS,
} from './messaging-attributes';

/** Tracer name for spans the bus creates, so they can be told apart from Nest or pg spans. */
const BUS_TRACER_NAME = '@strongroom/platform/bus';

/**
 * Writes the W3C `traceparent` (and `tracestate`) of `ctx` into `carrier`, keys in lower case.
 * Copy them into NATS message headers. Writes nothing when telemetry is not started.
 */
export function injectTraceHeaders(carrier: Record<string, string>, ctx: Context = context.active()): void {
  propagation.inject(ctx, carrier, defaultTextMapSetter);
}

/**
 * Reads the W3C trace context from headers received on the bus (keys in lower case).
 * Starts from the root context: a handler must not inherit whatever happened to be active
 * when the subscription was created.
 */
export function extractTraceContext(carrier: Record<string, string>): Context {
  return propagation.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

/** The 32-hex trace id of the span active in `ctx`, or undefined when there is none. */
export function traceIdOf(ctx: Context = context.active()): string | undefined {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

export interface BusSpan {
  span: Span;
  /** The parent context with this span active: inject it into headers, run the handler in it. */
  context: Context;
  /** Ends the span, marking it failed when `error` is given. Idempotent. */
  end(error?: unknown): void;
}

/** A span for a request sent on the bus, child of the active span. */
export function startBusClientSpan(subject: string, parentContext: Context = context.active()): BusSpan {
  return startBusSpan(subject, SpanKind.CLIENT, 'send', parentContext);
}

/** A span for a request handled from the bus, child of the span extracted from its headers. */
export function startBusServerSpan(subject: string, parentContext: Context): BusSpan {
  return startBusSpan(subject, SpanKind.SERVER, 'process', parentContext);
}

function startBusSpan(subject: string, kind: SpanKind, operation: 'send' | 'process', parentContext: Context): BusSpan {
  // Semconv span name: "{operation} {destination}"; subjects are low-cardinality (declared in contracts).
  const span = trace.getTracer(BUS_TRACER_NAME).startSpan(
    `${operation} ${subject}`,
    {
      kind,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_NATS,
        [ATTR_MESSAGING_DESTINATION_NAME]: subject,
        [ATTR_MESSAGING_OPERATION_TYPE]: operation,
        [ATTR_MESSAGING_OPERATION_NAME]: operation === 'send' ? 'request' : 'process',
      },
    },
    parentContext,
  );
  let ended = false;
  return {
    span,
    context: trace.setSpan(parentContext, span),
    end(error?: unknown) {
      if (ended) return;
      ended = true;
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
      span.end();
    },
  };
}
