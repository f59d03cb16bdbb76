import type { ServiceName } from '@strongroom/contracts';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { BusClient } from '../bus/bus-client';
import type { CommonConfig } from '../config/service-config';
import type { ProcessCredentials } from '../credentials/process-credentials';
import type { ReadinessCheck } from '../health/ops-server';
import type { SecretsProvider } from '../secrets/secrets-provider';

/** Nest injection token of the resources the platform opened for a service. */
export const SERVICE_RESOURCES = Symbol.for('strongroom.service-resources');

/** What the platform opens once per process and hands to every handler. */
export interface ServiceResources {
  readonly service: ServiceName;
  readonly version: string;
  readonly startedAtMs: number;
  readonly config: CommonConfig;
  readonly logger: Logger;
  readonly connection: NatsConnection;
  readonly bus: BusClient;
  /** Vault, or local encrypted files in development. */
  readonly secrets: SecretsProvider;
  /** The runtime-role DataSource (absent only in the gateway, which owns no data). */
  readonly dataSource?: DataSource;
  /**
   * The token verifier, revocation list and the process's own service token. Every process
   * started by runBackendService or runGateway has them; optional so tests can build resources.
   */
  readonly credentials?: ProcessCredentials;
  /** Readiness checks a module adds at start (e.g. one per regional database), next to bus and db. */
  readonly readinessChecks?: Map<string, ReadinessCheck>;
  /** The registry the ops server exposes at /metrics: a module registers its own figures here. */
  readonly metrics?: Registry;
}

/** The process's credentials (every running service and the gateway has them). */
export function credentialsOf(resources: ServiceResources): ProcessCredentials {
  if (!resources.credentials) throw new Error(`${resources.service} was started without credentials`);
  return resources.credentials;
}

/** The runtime DataSource of a backend service (every backend has one; the gateway has none). */
export function dataSourceOf(resources: ServiceResources): DataSource {
  if (!resources.dataSource) throw new Error(`${resources.service} has no database`);
  return resources.dataSource;
}
