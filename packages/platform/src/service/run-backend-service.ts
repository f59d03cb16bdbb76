import type { DynamicModule, INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { BackendServiceName } from '@strongroom/contracts';
import { BusClient } from '../bus/bus-client';
import { BusServer } from '../bus/bus-server';
import { connectBus } from '../bus/connection';
import { busHandlerHooks } from '../bus/handles';
import { busTlsFilesFor } from '../bus/tls';
import { loadConfig } from '../config/load-config';
import { backendConfigSchema, pkiDirOf } from '../config/service-config';
import {
  busCredentialSources,
  type CredentialSources,
  startProcessCredentials,
} from '../credentials/process-credentials';
import { createServiceDataSource, type MigrationList, runMigrations } from '../db';
import { startOpsServer } from '../health/ops-server';
import { createLogger } from '../logging/create-logger';
import { createBusMetrics, createMetricsRegistry } from '../metrics/metrics-registry';
import { OutboxRelay } from '../outbox';
import { startTelemetry } from '../telemetry/start-telemetry';
import { dependencyChecks } from './health-report';
import { NestPinoLogger } from './nest-logger';
import { openSecrets } from './open-secrets';
import { serviceRootModule } from './platform.module';
import type { ServiceResources } from './service-resources';
import { exitOnSignals } from './shutdown';

export interface BackendServiceSpec {
  service: BackendServiceName;
  version: string;
  module: Type<unknown> | DynamicModule;
  migrations: MigrationList;
  /**
   * Where the process gets its verification keys and its own token, when not from the auth
   * service over the bus: auth itself holds the signing keys (and may not call its own subjects).
   */
  credentialSources?: (resources: ServiceResources) => CredentialSources;
}

export interface RunningService {
  resources: ServiceResources;
  app: INestMicroservice;
  opsPort: number;
}

/**
 * Starts one backend service process: config (validated), telemetry, logs, migrations (as the
 * owner role, when given a migration URL), the runtime-role DataSource, the mTLS bus, the
 * credentials (revocation feed caught up, token verifier installed), the Nest handlers in the
 * service's queue group, the outbox relay and the ops endpoint; stops them in
 * reverse on SIGTERM/SIGINT.
 */
export async function runBackendService(spec: BackendServiceSpec, env = process.env): Promise<RunningService> {
  const config = loadConfig(spec.service, backendConfigSchema(spec.service), env);
  const telemetry = startTelemetry({
    serviceName: spec.service,
    serviceVersion: spec.version,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const logger = createLogger({ service: spec.service, level: config.LOG_LEVEL });

  if (config.DATABASE_MIGRATION_URL && config.MIGRATE_ON_START) {
    await runMigrations(config.DATABASE_MIGRATION_URL, spec.migrations);
    logger.info('migrations applied');
  }
  const dataSource = createServiceDataSource({ url: config.DATABASE_RUNTIME_URL, applicationName: spec.service });
  await dataSource.initialize();

  const connection = await connectBus({
    servers: config.NATS_URL,
    tls: busTlsFilesFor(pkiDirOf(config), spec.service),
    name: spec.service,
  });
  const registry = createMetricsRegistry({ service: spec.service });
  const busMetrics = createBusMetrics(registry);
  busHandlerHooks.observe = (subject, outcome, seconds) => busMetrics.observe(subject, 'server', outcome, seconds);
  busHandlerHooks.reportUnexpected = (subject, error) => logger.error({ subject, err: error }, 'handler failed');

  const opened: ServiceResources = {
    readinessChecks: new Map(),
    service: spec.service,
    version: spec.version,
    startedAtMs: Date.now(),
    config,
    logger,
    connection,
    bus: new BusClient(connection, { defaultTimeoutMs: config.BUS_TIMEOUT_MS }),
    secrets: openSecrets(spec.service, config, logger),
    dataSource,
    metrics: registry,
  };
  // Before the handlers listen: the revocation feed has caught up, so no revoked token is accepted.
  const credentials = await startProcessCredentials({
    identity: spec.service,
    connection,
    config,
    logger,
    sources: spec.credentialSources?.(opened) ?? busCredentialSources(opened.bus),
  });
  busHandlerHooks.verifyCredential = (authorization) => credentials.verifier.verify(authorization);
  const resources: ServiceResources = { ...opened, credentials };
  const app = await NestFactory.createMicroservice(serviceRootModule(spec.module, resources), {
    strategy: new BusServer(async () => connection, {
      queue: spec.service,
      metrics: registry,
      logger: { warn: (details, message) => logger.warn(details, message) },
    }),
    logger: new NestPinoLogger(logger),
  });
  await app.listen();

  const relay = new OutboxRelay({ dataSource, connection, logger });
  relay.start();
  const ops = await startOpsServer({
    host: config.OPS_HOST,
    port: config.OPS_PORT,
    service: spec.service,
    checks: dependencyChecks(resources),
    registry,
  });
  logger.info({ opsPort: ops.port, nats: config.NATS_URL }, 'ready');

  exitOnSignals(logger, () => [
    ['ops endpoint', () => ops.close()],
    ['outbox relay', () => relay.stop()],
    ['revocation feed', () => credentials.stop()],
    ['bus handlers', () => app.close()],
    ['database', () => dataSource.destroy()],
    ['telemetry', () => telemetry.shutdown()],
  ]);
  return { resources, app, opsPort: ops.port };
}

/** `main.ts` of every backend: run, or print why not (naming the variable or certificate) and exit 1. */
export function mainOf(spec: BackendServiceSpec): void {
  runBackendService(spec).catch((error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(`${spec.service} failed to start: ${message}\n`);
    process.exit(1);
  });
}
