import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Client } from 'pg';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  appendOnlySql,
  createServiceDataSource,
  grantRuntimeSequenceSql,
  grantRuntimeSql,
  tenantIsolationSql,
  withTenant,
} from '../src';

class TenantTables1700000000001 implements MigrationInterface {
  readonly name = 'TenantTables1700000000001';
  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      'CREATE TABLE notes (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, body text NOT NULL)',
      ...tenantIsolationSql('notes'),
      ...grantRuntimeSql('notes', ['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
      'CREATE TABLE entries (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, amount_minor bigint NOT NULL)',
      ...tenantIsolationSql('entries'),
      ...grantRuntimeSql('entries', ['SELECT', 'INSERT']),
      ...grantRuntimeSequenceSql('entries_id_seq'),
      ...appendOnlySql('entries'),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }
  async down(): Promise<void> {}
}

const tenantA = randomUUID();
const tenantB = randomUUID();

describe('tenant isolation and append-only tables, as the runtime role', () => {
  let database: TestDatabase;
  let runtime: Client;
  let owner: Client;

  beforeAll(async () => {
    database = await createTestDatabase('isolation', [TenantTables1700000000001]);
    owner = new Client({ connectionString: database.ownerUrl });
    runtime = new Client({ connectionString: database.runtimeUrl });
    await owner.connect();
    await runtime.connect();
    // Seed one row per tenant through the policy (as the owner, who is subject to FORCE too).
    for (const [tenant, body] of [
      [tenantA, 'a-note'],
      [tenantB, 'b-note'],
    ]) {
      await owner.query('BEGIN');
      await owner.query("SELECT set_config('app.tenant_id', $1, true)", [tenant]);
      await owner.query('INSERT INTO notes (id, tenant_id, body) VALUES ($1, $2, $3)', [randomUUID(), tenant, body]);
      await owner.query('INSERT INTO entries (tenant_id, amount_minor) VALUES ($1, 100)', [tenant]);
      await owner.query('COMMIT');
    }
  });

  afterAll(async () => {
    await runtime?.end();
    await owner?.end();
    await database?.drop();
  });

  async function asTenant<T>(tenant: string | null, work: () => Promise<T>): Promise<T> {
    await runtime.query('BEGIN');
    try {
      if (tenant) await runtime.query("SELECT set_config('app.tenant_id', $1, true)", [tenant]);
      return await work();
    } finally {
      await runtime.query('ROLLBACK');
    }
  }

  it('is not a superuser, cannot bypass RLS and owns no table', async () => {
    const role = await runtime.query('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user');
    expect(role.rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
    const owned = await runtime.query(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user",
    );
    expect(owned.rows).toEqual([]);
  });

  it('sees no rows and can insert nothing without a tenant context', async () => {
    await asTenant(null, async () => {
      expect((await runtime.query('SELECT * FROM notes')).rowCount).toBe(0);
      expect((await runtime.query('SELECT * FROM entries')).rowCount).toBe(0);
    });
    await expect(
      asTenant(null, () =>
        runtime.query('INSERT INTO notes (id, tenant_id, body) VALUES ($1, $2, $3)', [randomUUID(), tenantA, 'x']),
      ),
    ).rejects.toThrow(/row-level security/);
  });

  it("reads only its own tenant's rows", async () => {
    const rows = await asTenant(tenantA, () => runtime.query('SELECT body FROM notes'));
    expect(rows.rows).toEqual([{ body: 'a-note' }]);
  });

  it("cannot update or delete another tenant's rows", async () => {
    await asTenant(tenantA, async () => {
      const updated = await runtime.query("UPDATE notes SET body = 'pwned' WHERE tenant_id = $1", [tenantB]);
      const deleted = await runtime.query('DELETE FROM notes WHERE tenant_id = $1', [tenantB]);
      expect([updated.rowCount, deleted.rowCount]).toEqual([0, 0]);
    });
    // Tenant B's row is untouched (read through B's context: FORCE filters the owner too).
    await owner.query('BEGIN');
    await owner.query("SELECT set_config('app.tenant_id', $1, true)", [tenantB]);
    expect((await owner.query('SELECT body FROM notes')).rows).toEqual([{ body: 'b-note' }]);
    await owner.query('ROLLBACK');
  });

  it('cannot insert a row for another tenant, nor move its own row there', async () => {
    await expect(
      asTenant(tenantA, () =>
        runtime.query('INSERT INTO notes (id, tenant_id, body) VALUES ($1, $2, $3)', [randomUUID(), tenantB, 'x']),
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(asTenant(tenantA, () => runtime.query('UPDATE notes SET tenant_id = $1', [tenantB]))).rejects.toThrow(
      /row-level security/,
    );
  });

  it('inserts into an append-only table within its own tenant', async () => {
    const inserted = await asTenant(tenantA, () =>
      runtime.query('INSERT INTO entries (tenant_id, amount_minor) VALUES ($1, 5) RETURNING amount_minor', [tenantA]),
    );
    expect(inserted.rows).toEqual([{ amount_minor: '5' }]);
  });

  it('refuses UPDATE and DELETE on an append-only table by grant', async () => {
    await expect(asTenant(tenantA, () => runtime.query('UPDATE entries SET amount_minor = 1'))).rejects.toThrow(
      /permission denied/,
    );
    await expect(asTenant(tenantA, () => runtime.query('DELETE FROM entries'))).rejects.toThrow(/permission denied/);
    await expect(asTenant(tenantA, () => runtime.query('TRUNCATE entries'))).rejects.toThrow(/permission denied/);
  });

  it('refuses UPDATE and DELETE on an append-only table by trigger, even for the owner', async () => {
    for (const statement of ['UPDATE entries SET amount_minor = 1', 'DELETE FROM entries', 'TRUNCATE entries']) {
      await owner.query('BEGIN');
      await owner.query("SELECT set_config('app.tenant_id', $1, true)", [tenantA]);
      await expect(owner.query(statement)).rejects.toThrow(/append-only/);
      await owner.query('ROLLBACK');
    }
  });

  it('cannot turn row-level security off or alter the tables', async () => {
    await expect(runtime.query('ALTER TABLE notes DISABLE ROW LEVEL SECURITY')).rejects.toThrow(/must be owner/);
    await expect(runtime.query('ALTER TABLE entries DISABLE TRIGGER entries_append_only')).rejects.toThrow(
      /must be owner/,
    );
    await expect(runtime.query('CREATE TABLE sneaky (id int)')).rejects.toThrow(/permission denied/);
  });

  it('withTenant scopes a TypeORM transaction and refuses a malformed tenant id', async () => {
    const dataSource = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'test' });
    await dataSource.initialize();
    try {
      const rows = await withTenant(dataSource, tenantB, (manager) => manager.query('SELECT body FROM notes'));
      expect(rows).toEqual([{ body: 'b-note' }]);
      await expect(withTenant(dataSource, "x' OR 1=1 --", async () => 1)).rejects.toMatchObject({ code: 'VALIDATION' });
      // The setting is transaction-local: nothing leaks to the next use of the pooled connection.
      expect(await dataSource.query('SELECT body FROM notes')).toEqual([]);
    } finally {
      await dataSource.destroy();
    }
  });
});
