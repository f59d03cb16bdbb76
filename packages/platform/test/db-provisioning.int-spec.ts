import { randomBytes } from 'node:crypto';
import { testAdminUrl } from '@strongroom/testing';
import { Client } from 'pg';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  dropServiceDatabase,
  grantRuntimeSql,
  provisionServiceDatabase,
  runMigrations,
  serviceDatabaseName,
} from '../src';

class Widgets1700000000001 implements MigrationInterface {
  readonly name = 'Widgets1700000000001';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE widgets (id int PRIMARY KEY, label text NOT NULL)');
    for (const statement of grantRuntimeSql('widgets', ['SELECT', 'UPDATE (label)']))
      await queryRunner.query(statement);
  }
  async down(): Promise<void> {}
}

async function queryAs<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('provisioning a service database', () => {
  let adminUrl: string;
  const databaseName = `t_provision_${randomBytes(5).toString('hex')}`;
  // Passwords as `npm start` passes them; an embedded test Postgres (scram-sha-256) needs them too.
  const passwords = {
    ownerPassword: randomBytes(18).toString('base64url'),
    runtimePassword: randomBytes(18).toString('base64url'),
  };
  let urls: { ownerUrl: string; runtimeUrl: string };

  beforeAll(async () => {
    adminUrl = await testAdminUrl();
    urls = await provisionServiceDatabase({ adminUrl, databaseName, ...passwords });
  });

  afterAll(async () => {
    await dropServiceDatabase(adminUrl, databaseName);
  });

  it('names service databases strongroom_<service> and refuses names that would need quoting', () => {
    expect(serviceDatabaseName('ledger')).toBe('strongroom_ledger');
    expect(() => serviceDatabaseName('ledger"; DROP DATABASE x; --')).toThrow(/not a plain SQL identifier/);
  });

  it('is idempotent: provisioning again changes nothing and returns the same URLs', async () => {
    await expect(provisionServiceDatabase({ adminUrl, databaseName, ...passwords })).resolves.toEqual(urls);
  });

  it('creates an owner and a runtime role that are neither superusers nor RLS-exempt', async () => {
    const roles = await queryAs(adminUrl, (admin) =>
      admin.query(
        `SELECT rolname, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles
          WHERE rolname = ANY($1) ORDER BY rolname`,
        [[`${databaseName}_app`, `${databaseName}_owner`]],
      ),
    );
    const flags = { rolsuper: false, rolbypassrls: false, rolcreatedb: false, rolcreaterole: false, rolcanlogin: true };
    expect(roles.rows).toEqual([
      { rolname: `${databaseName}_app`, ...flags },
      { rolname: `${databaseName}_owner`, ...flags },
    ]);
    const owner = await queryAs(adminUrl, (admin) =>
      admin.query('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [databaseName]),
    );
    expect(owner.rows).toEqual([{ owner: `${databaseName}_owner` }]);
  });

  it('lets the runtime role connect and use the schema, but create nothing', async () => {
    await queryAs(urls.runtimeUrl, async (runtime) => {
      const rights = await runtime.query(
        `SELECT has_database_privilege(current_database(), 'CREATE') AS create_schema,
                has_schema_privilege('public', 'USAGE') AS use_public,
                has_schema_privilege('public', 'CREATE') AS create_in_public`,
      );
      expect(rights.rows).toEqual([{ create_schema: false, use_public: true, create_in_public: false }]);
      await expect(runtime.query('CREATE TABLE sneaky (id int)')).rejects.toThrow(/permission denied/);
    });
  });

  it('grants PUBLIC nothing on the database or its schema', async () => {
    const acl = await queryAs(urls.ownerUrl, (owner) =>
      owner.query(
        `SELECT has_database_privilege('public', current_database(), 'CONNECT') AS connect,
                has_schema_privilege('public', 'public', 'USAGE') AS use_public`,
      ),
    );
    expect(acl.rows).toEqual([{ connect: false, use_public: false }]);
  });

  it('runs migrations once, as the owner, granting only what each migration names', async () => {
    expect(await runMigrations(urls.ownerUrl, [Widgets1700000000001])).toEqual(['Widgets1700000000001']);
    expect(await runMigrations(urls.ownerUrl, [Widgets1700000000001])).toEqual([]);
    await queryAs(urls.ownerUrl, (owner) => owner.query("INSERT INTO widgets VALUES (1, 'a')"));
    await queryAs(urls.runtimeUrl, async (runtime) => {
      await expect(runtime.query("UPDATE widgets SET label = 'b' WHERE id = 1")).resolves.toMatchObject({
        rowCount: 1,
      });
      await expect(runtime.query('UPDATE widgets SET id = 2')).rejects.toThrow(/permission denied/);
      await expect(runtime.query('INSERT INTO widgets VALUES (3, $1)', ['c'])).rejects.toThrow(/permission denied/);
      await expect(runtime.query('DELETE FROM widgets')).rejects.toThrow(/permission denied/);
      // The migrations table belongs to the owner: the runtime role can neither read nor rewrite history.
      await expect(runtime.query('SELECT * FROM schema_migrations')).rejects.toThrow(/permission denied/);
      await expect(runtime.query('DELETE FROM schema_migrations')).rejects.toThrow(/permission denied/);
    });
    const owners = await queryAs(urls.ownerUrl, (owner) =>
      owner.query("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"),
    );
    expect(owners.rows).toEqual([{ tableowner: `${databaseName}_owner` }]);
  });

  it('drops the database and both roles', async () => {
    const other = `t_provision_${randomBytes(5).toString('hex')}`;
    await provisionServiceDatabase({ adminUrl, databaseName: other });
    await dropServiceDatabase(adminUrl, other);
    const left = await queryAs(adminUrl, (admin) =>
      admin.query(
        `SELECT (SELECT count(*)::int FROM pg_database WHERE datname = $1) AS databases,
                (SELECT count(*)::int FROM pg_roles WHERE rolname LIKE $1 || '\\_%') AS roles`,
        [other],
      ),
    );
    expect(left.rows).toEqual([{ databases: 0, roles: 0 }]);
  });
});
