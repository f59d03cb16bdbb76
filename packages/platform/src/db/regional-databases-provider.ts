import type { FactoryProvider } from '@nestjs/common';
import type { BackendServiceName } from '@strongroom/contracts';
import { loadConfig } from '../config/load-config';
import { backendConfigSchema, regionalDatabasesConfigSchema } from '../config/service-config';
import { credentialsOf, dataSourceOf, SERVICE_RESOURCES, type ServiceResources } from '../service/service-resources';
import type { MigrationList } from './data-source';
import { RegionalDatabases } from './regional-databases';
import { tenantRegionsOverBus } from './tenant-regions';

export interface RegionalDatabasesSpec {
  service: BackendServiceName;
  /** The same migrations the service runs on its default database. */
  migrations: MigrationList;
  /** Defaults to `process.env`, where runBackendService reads the rest of the configuration. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Opens a service's regional databases from its environment (`DATABASE_RUNTIME_URL_<REGION>`,
 * `DATABASE_MIGRATION_URL_<REGION>`), resolving tenants' regions through the tenants service
 * with the service's own token.
 */
export async function openRegionalDatabasesFor(
  resources: ServiceResources,
  spec: RegionalDatabasesSpec,
): Promise<RegionalDatabases> {
  const env = spec.env ?? process.env;
  // A copy: process.env is not a plain object, and zod's record refuses it.
  const regions = loadConfig(spec.service, regionalDatabasesConfigSchema(), { ...env });
  const { MIGRATE_ON_START } = loadConfig(spec.service, backendConfigSchema(spec.service), env);
  const databases = await RegionalDatabases.open({
    service: spec.service,
    defaultDataSource: dataSourceOf(resources),
    regions,
    migrations: spec.migrations,
    migrateOnStart: MIGRATE_ON_START,
    resolver: tenantRegionsOverBus({ bus: resources.bus, asService: credentialsOf(resources).asService }),
    outbox: { connection: resources.connection, logger: resources.logger },
    logger: resources.logger,
  });
  // Each regional database joins /health/ready and the bus health check.
  for (const [name, check] of Object.entries(databases.readinessChecks())) resources.readinessChecks?.set(name, check);
  resources.logger.info({ regions: databases.regions }, 'regional databases open');
  return databases;
}

/**
 * The Nest provider of `RegionalDatabases` for a service that keeps tenant data in its tenant's
 * region: resolved while the application is created, so every regional database is migrated
 * and open before a handler listens; closed by the application's shutdown hooks.
 */
export function regionalDatabasesProvider(spec: RegionalDatabasesSpec): FactoryProvider<RegionalDatabases> {
  return {
    provide: RegionalDatabases,
    inject: [SERVICE_RESOURCES],
    useFactory: (resources: ServiceResources) => openRegionalDatabasesFor(resources, spec),
  };
}
