import type { DataSource, EntityManager } from 'typeorm';
import { PlatformError } from '../errors/platform-error';
import { sqlStateOf } from './sql-errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// 40001 serialization_failure, 40P01 deadlock_detected: the transaction may simply be run again.
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
const ATTEMPTS_MAX = 5;
const BACKOFF_BASE_MS = 5;

/**
 * Runs `work` in a transaction whose tenant is `tenantId`: `SET LOCAL app.tenant_id` first, so
 * every row-level-security policy filters by it and a repository bug cannot cross tenants.
 * Deadlocks and serialization failures are retried (bounded, with jitter): `work` must not
 * have side effects outside the transaction.
 */
export async function withTenant<T>(
  dataSource: DataSource,
  tenantId: string,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  if (!UUID.test(tenantId)) throw PlatformError.validation('tenant id must be a UUID', { tenantId: '(invalid)' });
  // The id is a checked UUID, so it can be written into the statement: BEGIN and the tenant's
  // setting then take one round trip instead of two (a quarter of a simple read's).
  const begin = `BEGIN; SELECT set_config('app.tenant_id', '${tenantId.toLowerCase()}', true)`;
  return retryTransient(() => inTransaction(dataSource, begin, work));
}

/** A transaction begun by `begin` (one round trip), committed after `work`, rolled back if it throws. */
async function inTransaction<T>(
  dataSource: DataSource,
  begin: string,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(begin);
    const result = await work(runner.manager);
    await runner.query('COMMIT');
    return result;
  } catch (error) {
    // Whatever failed (the begin, the work, the commit), the connection goes back to the pool
    // outside any transaction; a ROLLBACK with none open is only a warning.
    await runner.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await runner.release();
  }
}

/** A transaction on platform tables that have no tenant (outbox): no tenant context at all. */
export function withoutTenant<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return retryTransient(() => dataSource.transaction(work));
}

async function retryTransient<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (tries >= ATTEMPTS_MAX || !isRetryable(error)) throw error;
      const delayMs = BACKOFF_BASE_MS * 2 ** tries * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

function isRetryable(error: unknown): boolean {
  return RETRYABLE_SQLSTATES.has(sqlStateOf(error) ?? '');
}
