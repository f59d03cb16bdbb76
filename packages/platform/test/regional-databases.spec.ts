import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { PlatformError, RegionalDatabases, type TenantRegionResolver } from '../src';

const SECRET = 'p4ssw0rd-that-must-not-leak';
const defaultDataSource = { name: 'default' } as unknown as DataSource;
const unknownTenants: TenantRegionResolver = {
  regionOf: (tenantId) => Promise.reject(PlatformError.notFound('Tenant', tenantId)),
};

describe('regional databases, without a database', () => {
  it('serves every region from the default database when none has its own', async () => {
    const databases = await RegionalDatabases.open({
      service: 'ledger',
      defaultDataSource,
      regions: {},
      migrations: [],
      migrateOnStart: true,
      resolver: unknownTenants,
    });
    expect(databases.regions).toEqual([]);
    for (const region of ['default', 'ke', 'sa'] as const)
      expect(databases.dataSourceOf(region)).toBe(defaultDataSource);
    expect(databases.readinessChecks()).toEqual({});
  });

  it('does not start when a regional database does not answer, naming its variable and not its URL', async () => {
    const open = RegionalDatabases.open({
      service: 'ledger',
      defaultDataSource,
      regions: { ke: { runtimeUrl: `postgres://ledger_app:${SECRET}@127.0.0.1:1/strongroom_ledger` } },
      migrations: [],
      migrateOnStart: true,
      resolver: unknownTenants,
    });
    await expect(open).rejects.toThrow(/opening the database of DATABASE_RUNTIME_URL_KE failed/);
    await expect(open).rejects.not.toThrow(SECRET);
  });

  it('touches no database when the tenant’s region cannot be resolved', async () => {
    const databases = await RegionalDatabases.open({
      service: 'ledger',
      defaultDataSource,
      regions: {},
      migrations: [],
      migrateOnStart: true,
      resolver: unknownTenants,
    });
    const work = jest.fn(async () => 'written');
    await expect(databases.withTenant(randomUUID(), work)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(work).not.toHaveBeenCalled();
  });
});
