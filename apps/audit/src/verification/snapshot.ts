import type { DataSource, EntityManager } from 'typeorm';

/**
 * A read-only REPEATABLE READ transaction in the tenant's context: every statement sees the same
 * snapshot, so a long read (verification, an export's boundaries) is not confused by records
 * stored meanwhile.
 */
export function inTenantSnapshot<T>(
  dataSource: DataSource,
  tenantId: string,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  return dataSource.transaction('REPEATABLE READ', async (manager) => {
    await manager.query('SET TRANSACTION READ ONLY');
    await manager.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
    return work(manager);
  });
}
