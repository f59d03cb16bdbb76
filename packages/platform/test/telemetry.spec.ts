import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InstrumentationNodeModuleFile } from '@opentelemetry/instrumentation';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import {
  extractTraceContext,
  injectTraceHeaders,
  startBusClientSpan,
  startBusServerSpan,
  startTelemetry,
  type Telemetry,
  TelemetryError,
  traceIdOf,
} from '../src/telemetry';
import { createInstrumentations } from '../src/telemetry/start-telemetry';

describe('bus helpers before telemetry is started', () => {
  it('are no-ops: nothing injected, no trace id, spans do not record', () => {
    const carrier: Record<string, string> = {};
    const client = startBusClientSpan('ledger.v1.transfers.post');
    injectTraceHeaders(carrier, client.context);
    client.end();

    expect(carrier).toEqual({});
    expect(client.span.isRecording()).toBe(false);
    expect(traceIdOf(client.context)).toBeUndefined();
  });
});

describe('startTelemetry with an injected exporter', () => {
  // A fresh exporter per test: shutdown() shuts the exporter down too, and it then drops spans.
  let exporter: InMemorySpanExporter;
  let telemetry: Telemetry;

  beforeEach(() => {
    exporter = new InMemorySpanExporter();
    telemetry = startTelemetry({
      serviceName: 'ledger',
      serviceVersion: '0.1.0',
      spanExporter: exporter,
      instrumentations: false,
    });
  });
  afterEach(() => telemetry.shutdown());

  it('refuses a second start in the same process', () => {
    let thrown: unknown;
    try {
      startTelemetry({ serviceName: 'auth', serviceVersion: '0.1.0' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TelemetryError);
    expect(thrown).toMatchObject({ code: 'telemetry.already_started' });
  });

  it('links a bus client span and the server span extracted from its headers into one trace', () => {
    const root = telemetry.tracer.startSpan('POST /v1/transfers');
    const rootContext = trace.setSpan(context.active(), root);

    const client = startBusClientSpan('ledger.v1.transfers.post', rootContext);
    const headers: Record<string, string> = {};
    injectTraceHeaders(headers, client.context);
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    // What the handling service does with the headers of a message it received.
    const parent = extractTraceContext(headers);
    const server = startBusServerSpan('ledger.v1.transfers.post', parent);
    expect(traceIdOf(server.context)).toBe(root.spanContext().traceId);
    server.end();
    client.end();
    root.end();

    const spans = exporter.getFinishedSpans();
    const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER)!;
    const clientSpan = spans.find((s) => s.kind === SpanKind.CLIENT)!;
    expect(serverSpan.spanContext().traceId).toBe(clientSpan.spanContext().traceId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(clientSpan.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(clientSpan.name).toBe('send ledger.v1.transfers.post');
    expect(serverSpan.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': 'ledger.v1.transfers.post',
      'messaging.operation.type': 'process',
    });
    expect(serverSpan.resource.attributes['service.name']).toBe('ledger');
  });

  it('starts a new trace when the received headers carry none or a malformed traceparent', () => {
    const fresh = startBusServerSpan('audit.v1.records.append', extractTraceContext({}));
    const forged = startBusServerSpan('audit.v1.records.append', extractTraceContext({ traceparent: 'not-a-trace' }));
    fresh.end();
    forged.end();
    const [a, b] = exporter.getFinishedSpans();
    expect(a!.parentSpanContext).toBeUndefined();
    expect(b!.parentSpanContext).toBeUndefined();
    expect(a!.spanContext().traceId).not.toBe(b!.spanContext().traceId);
  });

  it('marks a failed exchange as an error span and ends it once', () => {
    const client = startBusClientSpan('kyc.v1.applicants.screen');
    client.end(new Error('no responders'));
    client.end();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no responders' });
  });

  it('gives the active span trace id to code running inside it', () => {
    const span = telemetry.tracer.startSpan('work');
    const inside = context.with(trace.setSpan(context.active(), span), () => traceIdOf());
    span.end();
    expect(inside).toBe(span.spanContext().traceId);
    expect(traceIdOf()).toBeUndefined();
  });

  it('nests pg queries under the active span, and skips those outside any span', async () => {
    const pgInstrumentation = createInstrumentations().find((i) => i instanceof PgInstrumentation)!;
    pgInstrumentation.setTracerProvider(trace.getTracerProvider());
    // Jest's module registry bypasses require hooks, so patch pg's Client by hand as the hook would.
    const clientFile = pgInstrumentation
      .getModuleDefinitions()
      .flatMap((d) => d.files)
      .find((f): f is InstrumentationNodeModuleFile => f.name.endsWith('pg/lib/client.js'))!;
    const { Client } = require('pg') as typeof import('pg');
    clientFile.patch(Client, undefined);
    try {
      const port = await closedPort();
      const queryOnce = async () => {
        const client = new Client({ host: '127.0.0.1', port, connectionTimeoutMillis: 1000 });
        await client.connect().catch(() => undefined);
        await client.query('SELECT 1').catch(() => undefined);
      };
      await queryOnce();
      const parent = telemetry.tracer.startSpan('handle ledger.v1.balances.get');
      await context.with(trace.setSpan(context.active(), parent), queryOnce);
      parent.end();

      const pgSpans = exporter
        .getFinishedSpans()
        .filter((s) => s.instrumentationScope.name.endsWith('instrumentation-pg'));
      // pg.connect and pg.query:SELECT from the second call only; the first had no parent.
      expect(pgSpans.map((s) => s.name).sort()).toEqual(['pg.connect', 'pg.query:SELECT']);
      for (const span of pgSpans) expect(span.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    } finally {
      clientFile.unpatch(Client, undefined);
      pgInstrumentation.disable();
    }
  });
});

describe('startTelemetry in a real Node process', () => {
  // Jest cannot run these paths: its module registry bypasses require hooks (instrumentation), and
  // the OTLP exporter loads `http` with a dynamic import() that Jest's VM refuses. A child process
  // with a 5-line swc require hook runs the real thing.
  it('propagates trace context on outgoing http and posts spans to <endpoint>/v1/traces', async () => {
    const received: Array<{ line: string; traceparent: string | undefined }> = [];
    const collector = createHttpServer((request, response) => {
      const traceparent = request.headers.traceparent;
      received.push({ line: `${request.method} ${request.url}`, traceparent: traceparent as string | undefined });
      request.resume();
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as { port: number };
    try {
      const { code, stderr } = await runChild(CHILD_SCRIPT, { COLLECTOR_PORT: String(port) });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(received.map((r) => r.line)).toEqual(['GET /ping', 'POST /v1/traces']);
      expect(received[0]!.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    } finally {
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  });

  it('rejects an endpoint that is not an http(s) URL', () => {
    expect(() => startTelemetry({ serviceName: 'audit', serviceVersion: '0.1.0', otlpEndpoint: 'otel:4318' })).toThrow(
      expect.objectContaining({ code: 'telemetry.invalid_endpoint' }),
    );
  });
});

const CHILD_SCRIPT = `
const { transformFileSync } = require('@swc/core');
require.extensions['.ts'] = (m, file) =>
  m._compile(transformFileSync(file, { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }).code, file);
const { startTelemetry } = require(${JSON.stringify(path.join(__dirname, '../src/telemetry'))});
const telemetry = startTelemetry({ serviceName: 'gateway', serviceVersion: '0.1.0', otlpEndpoint: 'http://127.0.0.1:' + process.env.COLLECTOR_PORT });
const http = require('node:http');
const { context, trace } = require('@opentelemetry/api');
const span = telemetry.tracer.startSpan('POST /v1/transfers');
context.with(trace.setSpan(context.active(), span), () => {
  http.get('http://127.0.0.1:' + process.env.COLLECTOR_PORT + '/ping', (res) => {
    res.resume();
    res.on('end', () => { span.end(); telemetry.shutdown().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); }); });
  });
});
`;

function runChild(script: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], {
      cwd: path.join(__dirname, '../../..'),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 30_000,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** A port nothing listens on, so pg fails fast with ECONNREFUSED. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
