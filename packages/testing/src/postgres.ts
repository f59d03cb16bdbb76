import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '@strongroom/cli';
import { dropServiceDatabase, type MigrationList, provisionServiceDatabase, runMigrations } from '@strongroom/platform';
import { Client } from 'pg';
import { freeStablePort } from './free-port';

/** Set by Jest's global setup for the workers: the superuser URL of the test Postgres. */
export const TEST_ADMIN_URL_VARIABLE = 'STRONGROOM_TEST_ADMIN_URL';
const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const PROBE_TIMEOUT_MS = 2_000;

async function answers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The Postgres tests use: TEST_DATABASE_URL, else the machine's own server on 5432 when it
 * answers (fast), else an embedded server from npm started for this run (a fresh machine).
 */
export async function acquireTestPostgres(): Promise<{ adminUrl: string; stop(): Promise<void> }> {
  const candidate = process.env.TEST_DATABASE_URL ?? LOCAL_POSTGRES_URL;
  if (await answers(candidate)) return { adminUrl: candidate, stop: async () => {} };
  const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-pg-'));
  const embedded = await startEmbeddedPostgres({
    dataDir,
    port: await freeStablePort(),
    adminPassword: randomBytes(18).toString('base64url'),
  });
  return {
    adminUrl: embedded.adminUrl,
    stop: async () => {
      await embedded.stop();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(embedded.clusterDir, { recursive: true, force: true });
    },
  };
}

export class TestPostgresError extends Error {
  override readonly name = 'TestPostgresError';
  constructor(
    readonly code: 'TEST_POSTGRES_UNAVAILABLE',
    message: string,
  ) {
    super(message);
  }
}

/** The superuser URL of the test Postgres: from Jest's global setup, else a local server that answers. */
export async function testAdminUrl(): Promise<string> {
  const fromSetup = process.env[TEST_ADMIN_URL_VARIABLE];
  if (fromSetup) return fromSetup;
  const candidate = process.env.TEST_DATABASE_URL ?? LOCAL_POSTGRES_URL;
  if (await answers(candidate)) return candidate;
  throw new TestPostgresError(
    'TEST_POSTGRES_UNAVAILABLE',
    `no test Postgres at ${new URL(candidate).host}: run the tests through Jest (its global setup starts one) or set TEST_DATABASE_URL`,
  );
}

export interface TestDatabase {
  databaseName: string;
  adminUrl: string;
  ownerUrl: string;
  runtimeUrl: string;
  drop(): Promise<void>;
}

/**
 * A uniquely named database with its owner and runtime roles, provisioned and migrated exactly
 * as a service's is, so test files run in parallel without sharing a table or a role.
 */
export async function createTestDatabase(label: string, migrations: MigrationList = []): Promise<TestDatabase> {
  const adminUrl = await testAdminUrl();
  const databaseName = `t_${label.replace(/[^a-z0-9]/g, '_').slice(0, 20)}_${randomBytes(5).toString('hex')}`;
  const urls = await provisionServiceDatabase({
    adminUrl,
    databaseName,
    ownerPassword: randomBytes(18).toString('base64url'),
    runtimePassword: randomBytes(18).toString('base64url'),
  });
  await runMigrations(urls.ownerUrl, migrations);
  return { databaseName, adminUrl, ...urls, drop: () => dropServiceDatabase(adminUrl, databaseName) };
}
