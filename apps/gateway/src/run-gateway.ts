import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { HEADERS, PLATFORM_VERSION } from '@strongroom/contracts';
import {
  auditDropCounter,
  BusClient,
  busCredentialSources,
  busTlsFilesFor,
  connectBus,
  createLogger,
  createMetricsRegistry,
  dependencyChecks,
  exitOnSignals,
  loadConfig,
  NestPinoLogger,
  openSecrets,
  pkiDirOf,
  refusalAuditOver,
  type ServiceResources,
  serviceRootModule,
  startOpsServer,
  startProcessCredentials,
  startTelemetry,
} from '@strongroom/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { registerApiRoutes } from './api/api-routes';
import { registerApiReference } from './docs/api-reference';
import { GatewayModule } from './gateway.module';
import { type GatewayConfig, gatewayConfigSchema } from './gateway-config';
import { openGatewayEdge } from './gateway-edge';
import { registerCors } from './http/cors';
import { ProblemFilter } from './http/problem.filter';
import { problemFromError } from './http/problem-details';
import { requestIdOf, traceRequests } from './http/request-tracing';
import { registerSecurityHeaders } from './http/security-headers';
import { registerOidcForwarding } from './oauth/oidc-forwarding';

export interface RunningGateway {
  app: NestFastifyApplication;
  url: string;
  config: GatewayConfig;
}

/** The HTTP edge: Fastify under Nest, every route forwarding to the bus as the `gateway` identity. */
export async function runGateway(env = process.env): Promise<RunningGateway> {
  const config = loadConfig('gateway', gatewayConfigSchema, env);
  const telemetry = startTelemetry({
    serviceName: 'gateway',
    serviceVersion: PLATFORM_VERSION,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL });
  // Migrated and reachable before anything listens: shared rate limits and Idempotency-Key records.
  const edge = await openGatewayEdge(config, logger);
  const connection = await connectBus({
    servers: config.NATS_URL,
    tls: busTlsFilesFor(pkiDirOf(config), 'gateway'),
    name: 'gateway',
  });
  const bus = new BusClient(connection, { defaultTimeoutMs: config.BUS_TIMEOUT_MS });
  // The gateway verifies its clients' tokens too (and forwards them): same verifier, same revocation feed.
  const credentials = await startProcessCredentials({
    identity: 'gateway',
    connection,
    config,
    logger,
    sources: busCredentialSources(bus),
  });
  const resources: ServiceResources = {
    service: 'gateway',
    version: PLATFORM_VERSION,
    startedAtMs: Date.now(),
    config,
    logger,
    connection,
    bus,
    secrets: openSecrets('gateway', config, logger),
    credentials,
  };

  const registry = createMetricsRegistry({ service: 'gateway' });
  // Requests refused at the edge are audited as the gateway's, bounded (a flood of 401s costs no memory).
  const refusals = refusalAuditOver(connection, 'gateway', { logger, dropped: auditDropCounter(registry) });

  const adapter = new FastifyAdapter({
    bodyLimit: config.BODY_LIMIT_BYTES,
    genReqId: requestIdOf,
    // The gateway's own pino (redaction included) for errors routes log; no per-request access log.
    loggerInstance: logger,
    disableRequestLogging: true,
    // Behind a proxy the operator names it; otherwise X-Forwarded-For is ignored.
    trustProxy: config.TRUSTED_PROXIES.length > 0 ? config.TRUSTED_PROXIES : false,
    // Errors Fastify raises before routing (a malformed URL) are problems too, not its own JSON.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      const problem = problemFromError(error, String(request.id));
      void reply
        .status(problem.status)
        .header('content-type', 'application/problem+json')
        .header(HEADERS.requestId, String(request.id))
        .send(problem);
    },
  });
  // First: a preflight is answered in its onRequest hook, before any route or authentication.
  registerCors(adapter.getInstance(), {
    allowedOrigins: config.CORS_ALLOWED_ORIGINS,
    allowCredentials: config.CORS_ALLOW_CREDENTIALS,
  });
  // Before the routes: every non-API request is counted in a preHandler hook (gateway-edge.ts).
  edge.register(adapter.getInstance());
  registerOidcForwarding(adapter.getInstance(), bus);
  registerApiReference(adapter.getInstance());
  registerApiRoutes(adapter.getInstance(), {
    publicUrl: config.PUBLIC_URL,
    bus,
    credentials,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    rateLimits: edge.rateLimits,
    idempotency: edge.idempotency,
    refusals,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    serviceRootModule(GatewayModule.withConfig(config), resources),
    adapter,
    // Fastify parses JSON itself; the form parser is the OIDC forwarding's (raw string).
    { logger: new NestPinoLogger(logger), bodyParser: false },
  );
  app.useGlobalFilters(new ProblemFilter(logger));
  registerSecurityHeaders(app.getHttpAdapter().getInstance());
  traceRequests(app.getHttpAdapter().getInstance());
  await app.listen({ host: config.HOST, port: config.PORT });
  const url = await app.getUrl();

  const ops = await startOpsServer({
    host: config.OPS_HOST,
    port: config.OPS_PORT,
    service: 'gateway',
    checks: dependencyChecks(resources),
    registry,
  });
  logger.info({ url, opsPort: ops.port }, 'ready');

  exitOnSignals(logger, () => [
    ['ops endpoint', () => ops.close()],
    ['http', () => app.close()],
    ['refusal audit', () => refusals.settled()],
    ['database', () => edge.close()],
    ['revocation feed', () => credentials.stop()],
    ['bus', () => connection.drain()],
    ['telemetry', () => telemetry.shutdown()],
  ]);
  return { app, url, config };
}
