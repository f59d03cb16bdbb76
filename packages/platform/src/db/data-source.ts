import { Client } from 'pg';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';

// biome-ignore lint/complexity/noBannedTypes: TypeORM takes migration classes as plain constructors.
export type MigrationList = MixedList<Function>;
// biome-ignore lint/complexity/noBannedTypes: TypeORM takes entity classes as plain constructors.
export type EntityList = MixedList<Function | string | EntitySchema>;

export interface ServiceDataSourceOptions {
  url: string;
  applicationName: string;
  entities?: EntityList;
  /** Connections in this process's pool. */
  poolSize?: number;
}

const POOL_SIZE_DEFAULT = 10;
const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;
const MIGRATIONS_TABLE = 'schema_migrations';

/** The runtime DataSource of a service: never synchronizes, never migrates. */
export function createServiceDataSource(options: ServiceDataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    applicationName: options.applicationName,
    entities: options.entities ?? [],
    synchronize: false,
    migrationsRun: false,
    logging: false,
    poolSize: options.poolSize ?? POOL_SIZE_DEFAULT,
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    extra: { idleTimeoutMillis: IDLE_TIMEOUT_MS },
  });
}

/**
 * Runs pending migrations as the owner role, one transaction each. A session-level advisory
 * lock serialises replicas that start together, so a migration never runs twice at once.
 */
export async function runMigrations(ownerUrl: string, migrations: MigrationList): Promise<string[]> {
  const lock = new Client({ connectionString: ownerUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await lock.connect();
  const dataSource = new DataSource({
    type: 'postgres',
    url: ownerUrl,
    applicationName: 'strongroom-migrations',
    migrations,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
  });
  try {
    await lock.query("SELECT pg_advisory_lock(hashtext('strongroom.migrations'))");
    await dataSource.initialize();
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await lock.end();
  }
}
