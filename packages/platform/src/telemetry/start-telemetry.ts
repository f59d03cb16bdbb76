import { context, propagation, type Tracer, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { type Instrumentation, registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion: string;
  /** OTLP/HTTP base URL of a collector, e.g. `http://otel-collector:4318`. No export when absent. */
  otlpEndpoint?: string;
  /** Tests inject an InMemorySpanExporter; spans are exported synchronously on end. */
  spanExporter?: SpanExporter;
  /** Off in unit tests that must not patch `http`/`pg` for the rest of the process. */
  instrumentations?: boolean;
}

export interface Telemetry {
  tracer: Tracer;
  /** Flushes buffered spans and unregisters the global provider so telemetry can start again. */
  shutdown(): Promise<void>;
}

export class TelemetryError extends Error {
  override readonly name = 'TelemetryError';
  private constructor(
    readonly code: 'telemetry.already_started' | 'telemetry.invalid_endpoint',
    message: string,
  ) {
    super(message);
  }

  static alreadyStarted(serviceName: string): TelemetryError {
    return new TelemetryError(
      'telemetry.already_started',
      `telemetry is already started in this process (by ${serviceName}); call shutdown() first`,
    );
  }

  static invalidEndpoint(endpoint: string): TelemetryError {
    return new TelemetryError('telemetry.invalid_endpoint', `OTLP endpoint is not an http(s) URL: ${endpoint}`);
  }
}

// Limits on the export pipeline, so a slow or absent collector costs bounded memory, not an outage.
const EXPORT_QUEUE_SPANS_MAX = 2048;
const EXPORT_BATCH_SPANS_MAX = 512;
const EXPORT_DELAY_MS = 2000;
const EXPORT_TIMEOUT_MS = 10_000;
const OTLP_TRACES_PATH = '/v1/traces';

let startedBy: string | undefined;

/**
 * Starts tracing for this process. Call it first in `main.ts`, before Nest, `pg` or the bus are
 * loaded: `http` and `pg` are instrumented by patching the modules when they are required.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (startedBy !== undefined) throw TelemetryError.alreadyStarted(startedBy);

  const spanProcessors: SpanProcessor[] = [];
  if (options.spanExporter) spanProcessors.push(new SimpleSpanProcessor(options.spanExporter));
  if (options.otlpEndpoint) spanProcessors.push(otlpBatchProcessor(options.otlpEndpoint));

  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion,
    }),
    spanProcessors,
    // Nothing to export spans to: none is recorded (trace context is still made and propagated,
    // so logs keep their trace ids), which spares every request the building of its spans.
    ...(spanProcessors.length === 0 ? { sampler: new AlwaysOffSampler() } : {}),
  });
  // AsyncLocalStorage keeps the active span across awaits, NATS callbacks and pg pool queues.
  provider.register({
    contextManager: new AsyncLocalStorageContextManager(),
    propagator: new W3CTraceContextPropagator(),
  });

  const unregisterInstrumentations =
    options.instrumentations === false
      ? () => {}
      : registerInstrumentations({ tracerProvider: provider, instrumentations: createInstrumentations() });

  startedBy = options.serviceName;
  return {
    tracer: trace.getTracer(options.serviceName, options.serviceVersion),
    async shutdown() {
      unregisterInstrumentations();
      try {
        await provider.shutdown();
      } finally {
        // Even when the last export fails, release the globals so the process can start again.
        trace.disable();
        context.disable();
        propagation.disable();
        startedBy = undefined;
      }
    },
  };
}

function otlpBatchProcessor(endpoint: string): SpanProcessor {
  if (!/^https?:\/\//.test(endpoint)) throw TelemetryError.invalidEndpoint(endpoint);
  // The `url` option is the full signal URL; OTEL_EXPORTER_OTLP_ENDPOINT is the base (OTLP spec).
  const url = `${endpoint.replace(/\/+$/, '')}${OTLP_TRACES_PATH}`;
  const exporter = new OTLPTraceExporter({ url, timeoutMillis: EXPORT_TIMEOUT_MS, concurrencyLimit: 2 });
  return new BatchSpanProcessor(exporter, {
    maxQueueSize: EXPORT_QUEUE_SPANS_MAX,
    maxExportBatchSize: EXPORT_BATCH_SPANS_MAX,
    scheduledDelayMillis: EXPORT_DELAY_MS,
    exportTimeoutMillis: EXPORT_TIMEOUT_MS,
  });
}

/** Exported for tests, which patch modules by hand: Jest's module registry bypasses require hooks. */
export function createInstrumentations(): Instrumentation[] {
  return [
    new HttpInstrumentation({
      // Probes and scrapes every few seconds would drown real traces.
      ignoreIncomingRequestHook: (request) => /^\/(health\/|metrics)/.test(request.url ?? ''),
      // The OTLP exporter itself uses http; tracing its requests would feed back into the exporter.
      requireParentforOutgoingSpans: true,
    }),
    // A query outside any request (pool warm-up, migrations) is not worth a root trace.
    new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
  ];
}
