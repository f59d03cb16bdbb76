import { runMigrations } from '@strongroom/platform';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import { migrations } from '../migrations';
import type { GatewayConfig } from './gateway-config';

/** The gateway's database, as two pools so a slow Idempotency-Key transaction never delays a counter. */
export interface GatewayDatabase {
  /** Rate-limit counters: small, one statement each, a short timeout (then the in-memory fallback). */
  counters: Pool;
  /** Idempotency-Key records: short transactions under the tenant's RLS context. */
  records: Pool;
  close(): Promise<void>;
}

// STYLE: a limit on everything. Pool sizes: a counter upsert takes well under a millisecond, so 8
// connections carry thousands a second; idempotent POSTs are rarer and hold theirs a few statements.
const COUNTER_CONNECTIONS_MAX = 8;
const RECORD_CONNECTIONS_MAX = 4;
const RECORD_STATEMENT_TIMEOUT_MS = 5_000;
const IDLE_CONNECTION_TIMEOUT_MS = 30_000;

/** Migrates (as the owner, when given its URL) and opens the runtime-role pools. */
export async function openGatewayDatabase(config: GatewayConfig, logger: Logger): Promise<GatewayDatabase> {
  if (config.DATABASE_MIGRATION_URL !== undefined && config.MIGRATE_ON_START) {
    await runMigrations(config.DATABASE_MIGRATION_URL, migrations);
    logger.info('migrations applied');
  }
  const pool = (name: string, max: number, timeoutMs: number) => {
    const created = new Pool({
      connectionString: config.DATABASE_RUNTIME_URL,
      application_name: `gateway-${name}`,
      max,
      connectionTimeoutMillis: timeoutMs,
      idleTimeoutMillis: IDLE_CONNECTION_TIMEOUT_MS,
      // Client-side (the server may not answer at all) and server-side bounds.
      query_timeout: timeoutMs,
      statement_timeout: timeoutMs,
    });
    // An idle connection that breaks (Postgres restarted) is dropped by the pool; only log it.
    created.on('error', (error) => logger.warn({ err: error, pool: name }, 'database connection lost'));
    return created;
  };
  const counters = pool('rate-limits', COUNTER_CONNECTIONS_MAX, config.RATE_LIMIT_STORE_TIMEOUT_MS);
  const records = pool('idempotency', RECORD_CONNECTIONS_MAX, RECORD_STATEMENT_TIMEOUT_MS);
  // Fail at start, naming the database, rather than at the first request.
  await records.query('SELECT 1');
  return {
    counters,
    records,
    close: async () => {
      await Promise.all([counters.end(), records.end()]);
    },
  };
}
