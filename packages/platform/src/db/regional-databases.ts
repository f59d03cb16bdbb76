import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import {
  type Region,
  type RegionalDatabaseUrls,
  type RegionDatabaseUrls,
  ROUTABLE_REGIONS,
  type RoutableRegion,
  regionDatabaseVariables,
} from '../config/service-config';
import type { ReadinessCheck } from '../health/ops-server';
import { OutboxRelay } from '../outbox/outbox-relay';
import { createServiceDataSource, type MigrationList, runMigrations } from './data-source';
import { withTenant } from './tenant-context';
import type { TenantRegionResolver } from './tenant-regions';

export interface OpenRegionalDatabasesOptions {
  /** The service (the `application_name` of its connections). */
  service: string;
  /** The default region's runtime DataSource: the service's own, opened and migrated by the platform. */
  defaultDataSource: DataSource;
  /** The regions that have a database of their own; any other region is served by the default one. */
  regions: RegionalDatabaseUrls;
  /** The service's migrations, run as the owner on every regional database that has a migration URL. */
  migrations: MigrationList;
  migrateOnStart: boolean;
  resolver: TenantRegionResolver;
  /**
   * Publishes each regional database's outbox (events written in a tenant's transaction land in
   * that tenant's database); the platform's relay serves the default database only.
   */
  outbox?: { connection: NatsConnection; logger: Logger };
  logger?: Logger;
}

/**
 * A service's databases by data-residency region (DESIGN "Data"): the default one, plus one per
 * region configured with its own (`DATABASE_RUNTIME_URL_<REGION>`). Every one carries the same
 * schema, migrated at start, so `withTenant` can run a tenant's work in its region's database
 * under the same tenant context (SET LOCAL + row-level security) as a single-database service.
 */
export class RegionalDatabases {
  private constructor(
    private readonly defaultDataSource: DataSource,
    private readonly regional: ReadonlyMap<RoutableRegion, DataSource>,
    private readonly resolver: TenantRegionResolver,
    private readonly relays: readonly OutboxRelay[],
  ) {}

  /**
   * Migrates (as the owner, under the advisory lock of runMigrations) and opens every regional
   * database, one after the other so a failure names its region. At start, not on first use: a
   * region whose database is unreachable or behind on its schema stops the service instead of
   * failing a tenant's request later.
   */
  static async open(options: OpenRegionalDatabasesOptions): Promise<RegionalDatabases> {
    const opened = new Map<RoutableRegion, DataSource>();
    try {
      for (const region of ROUTABLE_REGIONS) {
        const urls = options.regions[region];
        if (urls !== undefined) opened.set(region, await openRegion(region, urls, options));
      }
    } catch (error) {
      await Promise.allSettled([...opened.values()].map((dataSource) => dataSource.destroy()));
      throw error;
    }
    const { outbox } = options;
    const relays = [...opened].flatMap(([region, dataSource]) => {
      if (outbox === undefined) return [];
      const relay = new OutboxRelay({
        dataSource,
        connection: outbox.connection,
        logger: outbox.logger.child({ region }),
      });
      relay.start();
      return [relay];
    });
    return new RegionalDatabases(options.defaultDataSource, opened, options.resolver, relays);
  }

  /** The regions served by a database of their own (the default one aside). */
  get regions(): RoutableRegion[] {
    return [...this.regional.keys()];
  }

  /** The database of `region`: its own when configured, else the default one. */
  dataSourceOf(region: Region): DataSource {
    return (region === 'default' ? undefined : this.regional.get(region)) ?? this.defaultDataSource;
  }

  /**
   * Runs `work` in a transaction of the tenant's region's database, scoped to the tenant
   * (`withTenant`). The region is resolved first: NOT_FOUND for an unknown tenant, UNAVAILABLE
   * when the tenants service cannot say, and in both cases no database is touched.
   */
  async withTenant<T>(tenantId: string, work: (manager: EntityManager, region: Region) => Promise<T>): Promise<T> {
    const region = await this.resolver.regionOf(tenantId);
    return withTenant(this.dataSourceOf(region), tenantId, (manager) => work(manager, region));
  }

  /** One readiness check per regional database (`db.ke`, …), next to the default `db`. */
  readinessChecks(): Record<string, ReadinessCheck> {
    const checks: Record<string, ReadinessCheck> = {};
    for (const [region, dataSource] of this.regional) {
      checks[`db.${region}`] = async () => {
        await dataSource.query('SELECT 1');
        return true;
      };
    }
    return checks;
  }

  /** Stops the regional outbox relays, then closes the regional pools; the default DataSource is the platform's. */
  async close(): Promise<void> {
    await Promise.all(this.relays.map((relay) => relay.stop()));
    await Promise.all([...this.regional.values()].map((dataSource) => dataSource.destroy()));
  }

  /** Nest calls this on `app.close()`, which the service's shutdown runs before closing the default database. */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }
}

async function openRegion(
  region: RoutableRegion,
  urls: RegionDatabaseUrls,
  options: OpenRegionalDatabasesOptions,
): Promise<DataSource> {
  const variables = regionDatabaseVariables(region);
  if (urls.migrationUrl !== undefined && options.migrateOnStart) {
    const applied = await runMigrations(urls.migrationUrl, options.migrations).catch((error: unknown) => {
      throw regionFailure(`migrating the database of ${variables.migration}`, error);
    });
    options.logger?.info({ region, applied: applied.length }, 'regional migrations applied');
  }
  const dataSource = createServiceDataSource({
    url: urls.runtimeUrl,
    applicationName: `${options.service}:${region}`,
  });
  await dataSource.initialize().catch((error: unknown) => {
    throw regionFailure(`opening the database of ${variables.runtime}`, error);
  });
  return dataSource;
}

// Names the variable, never its value (the URL may hold a password); the driver's message is a host at most.
function regionFailure(what: string, error: unknown): Error {
  const reason = error instanceof Error ? error.message : String(error);
  return new Error(`${what} failed: ${reason}`, { cause: error });
}
