import type { DataSource, EntityManager } from 'typeorm';
import { withoutTenant, withTenant } from '../src';

const TENANT = '0b7e4c1e-8f0a-4c55-9a41-3f1d2b6c7a10';

/** A DataSource stand-in: each transaction records its queries and runs the work, or fails as told. */
function fakeDataSource(failures: unknown[]) {
  const queries: unknown[][] = [];
  let transactions = 0;
  const manager = { query: async (...args: unknown[]) => queries.push(args) } as unknown as EntityManager;
  const dataSource = {
    transaction: async <T>(work: (manager: EntityManager) => Promise<T>): Promise<T> => {
      transactions += 1;
      const failure = failures.shift();
      const result = await work(manager);
      if (failure) throw failure;
      return result;
    },
  } as unknown as DataSource;
  return { dataSource, queries, transactions: () => transactions };
}

const sqlState = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { driverError: { code } });

describe('withTenant', () => {
  it('sets the tenant transaction-locally before any work', async () => {
    const fake = fakeDataSource([]);
    await withTenant(fake.dataSource, TENANT.toUpperCase(), async (manager) => manager.query('SELECT 1'));
    expect(fake.queries).toEqual([["SELECT set_config('app.tenant_id', $1, true)", [TENANT]], ['SELECT 1']]);
  });

  it.each(['', 'not-a-uuid', "x' OR 1=1 --", `${TENANT} `, `${TENANT}0`])(
    'refuses tenant id %j before opening a transaction',
    async (tenantId) => {
      const fake = fakeDataSource([]);
      await expect(withTenant(fake.dataSource, tenantId, async () => 1)).rejects.toMatchObject({ code: 'VALIDATION' });
      expect(fake.transactions()).toBe(0);
    },
  );

  it('runs the transaction again after a deadlock or a serialization failure', async () => {
    const fake = fakeDataSource([sqlState('40P01'), sqlState('40001')]);
    await expect(withTenant(fake.dataSource, TENANT, async () => 'done')).resolves.toBe('done');
    expect(fake.transactions()).toBe(3);
  });

  it('gives up after a bounded number of attempts', async () => {
    const fake = fakeDataSource(Array.from({ length: 10 }, () => sqlState('40001')));
    await expect(withTenant(fake.dataSource, TENANT, async () => 'done')).rejects.toThrow('sqlstate 40001');
    expect(fake.transactions()).toBe(5);
  });

  it('never retries other failures (a unique violation is an answer, not bad luck)', async () => {
    const fake = fakeDataSource([sqlState('23505')]);
    await expect(withoutTenant(fake.dataSource, async () => 'done')).rejects.toThrow('sqlstate 23505');
    expect(fake.transactions()).toBe(1);
  });
});
