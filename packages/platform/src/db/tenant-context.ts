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
  return retryTransient(() =>
    dataSource.transaction(async (manager) => {
      await manager.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId.toLowerCase()]);
      return work(manager);
    }),
  );
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
