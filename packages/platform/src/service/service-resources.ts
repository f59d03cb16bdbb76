import type { ServiceName } from '@strongroom/contracts';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { BusClient } from '../bus/bus-client';
import type { CommonConfig } from '../config/service-config';
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
}

/** The runtime DataSource of a backend service (every backend has one; the gateway has none). */
export function dataSourceOf(resources: ServiceResources): DataSource {
  if (!resources.dataSource) throw new Error(`${resources.service} has no database`);
  return resources.dataSource;
}
