import { Client } from 'pg';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import { databaseRoles, quoteIdentifier } from './identifiers';
import { RUNTIME_ROLE_SETTING } from './migration-sql';

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
const IDLE_CONNECTION_TIMEOUT_MS = 30_000;
// STYLE: a limit on everything. A request never holds a connection, a lock or a snapshot for long;
// provision.ts sets the same bounds on the runtime role, these hold even where it did not run.
const STATEMENT_TIMEOUT_MS = 30_000;
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
const LOCK_TIMEOUT_MS = 10_000;
// Migrations may rewrite big tables: longer statements, but still bounded.
const MIGRATION_STATEMENT_TIMEOUT_MS = 15 * 60_000;
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
    extra: {
      idleTimeoutMillis: IDLE_CONNECTION_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
      lock_timeout: LOCK_TIMEOUT_MS,
    },
  });
}

export interface RunMigrationsOptions {
  /** The role migrations grant to; defaults to `<db>_app`, the name provisionServiceDatabase gives it. */
  runtimeRole?: string;
}

/**
 * Runs pending migrations as the owner role, one transaction each, so the owner owns every
 * table and the migrations table (the runtime role has no grant on it). A session-level
 * advisory lock serialises replicas that start together: a migration never runs twice at once.
 * Every migration connection carries `strongroom.runtime_role` for the grant helpers.
 */
export async function runMigrations(
  ownerUrl: string,
  migrations: MigrationList,
  options: RunMigrationsOptions = {},
): Promise<string[]> {
  const databaseName = decodeURIComponent(new URL(ownerUrl).pathname.slice(1));
  const runtimeRole = options.runtimeRole ?? databaseRoles(databaseName).runtime;
  quoteIdentifier(runtimeRole);
  const lock = new Client({ connectionString: ownerUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await lock.connect();
  const dataSource = new DataSource({
    type: 'postgres',
    url: ownerUrl,
    applicationName: 'strongroom-migrations',
    migrations,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    migrationsRun: false,
    synchronize: false,
    logging: false,
    poolSize: 1,
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    extra: {
      options: `-c ${RUNTIME_ROLE_SETTING}=${runtimeRole}`,
      statement_timeout: MIGRATION_STATEMENT_TIMEOUT_MS,
      lock_timeout: LOCK_TIMEOUT_MS,
    },
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
