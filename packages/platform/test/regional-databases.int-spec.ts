import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  defineEvent,
  getTenant,
  OPERATOR_IDENTITY,
  PLATFORM_TENANT_ID,
  PLATFORM_VERSION,
  type RequestOf,
  SERVICE_TOKEN_PERMISSIONS,
  type Tenant,
  tenantSettingsSchema,
} from '@strongroom/contracts';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@strongroom/testing';
import type { NatsConnection } from 'nats';
import { Client } from 'pg';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { z } from 'zod';
import {
  assertMayActOnTenant,
  BusClient,
  type BusRequestContext,
  BusServer,
  busHandlerHooks,
  type CommonConfig,
  createLogger,
  createServiceDataSource,
  enqueueEvent,
  ensureEventStreams,
  grantRuntimeSql,
  Handles,
  Outbox1763856000000,
  openRegionalDatabasesFor,
  PlatformError,
  type Principal,
  type ProcessCredentials,
  type RegionalDatabases,
  type SecretsProvider,
  type ServiceResources,
  tenantIsolationSql,
  withDatabase,
} from '../src';

/** A tenant-owned table, as ledger's will be: RLS on `app.tenant_id`, runtime grants from the migration. */
class ResidencyNotes1763856000100 implements MigrationInterface {
  readonly name = 'ResidencyNotes1763856000100';
  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      'CREATE TABLE residency_notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL, body text NOT NULL)',
      ...tenantIsolationSql('residency_notes'),
      ...grantRuntimeSql('residency_notes', ['SELECT', 'INSERT']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }
  async down(): Promise<void> {}
}
// Every service database starts with the outbox, the regional ones too.
const migrations = [Outbox1763856000000, ResidencyNotes1763856000100];

const noteWritten = defineEvent({
  subject: 'evt.ledger.v1.residency-notes.written',
  payload: z.object({ body: z.string() }).strict(),
  summary: 'Test-only event written in a tenant transaction',
});

// Token verification is tested elsewhere (credentials.spec.ts, apps/auth zero-trust.int-spec.ts): here
// the stand-in tenants service knows one token, ledger's own, with the permissions auth would grant it.
const LEDGER_SERVICE_TOKEN = 'Bearer ledger.service.token';
const ledgerPrincipal: Principal = {
  subject: 'service:ledger',
  tenantId: PLATFORM_TENANT_ID,
  environment: 'production',
  clientId: 'service:ledger',
  tokenId: 'ledger-token-1',
  issuedAt: new Date(),
  expiresAt: new Date(Date.now() + 300_000),
  permissions: new Set(SERVICE_TOKEN_PERMISSIONS.ledger),
};

function tenantIn(region: Tenant['region']): Tenant {
  const id = randomUUID();
  return {
    id,
    slug: `t-${id.slice(0, 8)}`,
    name: `Tenant in ${region}`,
    region,
    status: 'active',
    settings: tenantSettingsSchema.parse({}),
    createdAt: new Date().toISOString(),
  };
}

const tenantKe = tenantIn('ke');
const tenantDefault = tenantIn('default');
// A region without a database of its own is served by the default one.
const tenantZm = tenantIn('zm');
// Known to tenants but not looked up until the tenants service is down.
const tenantNg = tenantIn('ng');
const tenants = new Map([tenantKe, tenantDefault, tenantZm, tenantNg].map((tenant) => [tenant.id, tenant]));
const lookups: string[] = [];

@Controller()
class StandInTenantsHandler {
  @Handles(getTenant)
  async get(input: RequestOf<typeof getTenant>, context: BusRequestContext): Promise<Tenant> {
    assertMayActOnTenant(context.principal, input.tenantId);
    lookups.push(input.tenantId);
    const tenant = tenants.get(input.tenantId);
    if (tenant === undefined) throw PlatformError.notFound('Tenant', input.tenantId);
    return tenant;
  }
}

@Module({ controllers: [StandInTenantsHandler] })
class StandInTenantsModule {}

async function startStandInTenants(nats: TestNats): Promise<INestMicroservice> {
  const connection = await nats.connectAs('tenants');
  const service = await NestFactory.createMicroservice(StandInTenantsModule, {
    strategy: new BusServer(async () => connection, { queue: 'tenants' }),
    logger: false,
  });
  await service.listen();
  // A round trip: the server has registered the subscriptions before the first request is sent.
  await connection.flush();
  return service;
}

/** Rows of a database, read as the superuser (who bypasses RLS): what is really stored there. */
async function asSuperuser<R extends object>(
  database: TestDatabase,
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  const admin = new Client({ connectionString: withDatabase(database.adminUrl, database.databaseName) });
  await admin.connect();
  try {
    return (await admin.query<R>(sql, values)).rows;
  } finally {
    await admin.end();
  }
}

/** Notes per tenant in a database. */
async function storedRows(database: TestDatabase): Promise<Record<string, string[]>> {
  const rows = await asSuperuser<{ tenant_id: string; body: string }>(
    database,
    'SELECT tenant_id, body FROM residency_notes ORDER BY body',
  );
  const byTenant: Record<string, string[]> = {};
  for (const row of rows) byTenant[row.tenant_id] = [...(byTenant[row.tenant_id] ?? []), row.body];
  return byTenant;
}

describe('regional databases: a tenant’s rows live in its region’s database', () => {
  let nats: TestNats;
  let tenantsService: INestMicroservice;
  let ledgerConnection: NatsConnection;
  let defaultDatabase: TestDatabase;
  let keDatabase: TestDatabase;
  let defaultDataSource: DataSource;
  let databases: RegionalDatabases;
  const installedVerifier = busHandlerHooks.verifyCredential;

  beforeAll(async () => {
    busHandlerHooks.verifyCredential = async (authorization) => {
      if (authorization !== LEDGER_SERVICE_TOKEN) throw PlatformError.unauthenticated();
      return ledgerPrincipal;
    };
    nats = await startTestNats();
    const operator = await nats.connectAs(OPERATOR_IDENTITY);
    await ensureEventStreams(operator);
    await operator.close();
    tenantsService = await startStandInTenants(nats);
    ledgerConnection = await nats.connectAs('ledger');

    // The default database is migrated by runBackendService; the regional one by RegionalDatabases.
    [defaultDatabase, keDatabase] = await Promise.all([
      createTestDatabase('residency_default', migrations),
      createTestDatabase('residency_ke'),
    ]);
    defaultDataSource = createServiceDataSource({ url: defaultDatabase.runtimeUrl, applicationName: 'ledger' });
    await defaultDataSource.initialize();

    const resources = {
      service: 'ledger',
      version: PLATFORM_VERSION,
      startedAtMs: Date.now(),
      config: {} as CommonConfig,
      logger: createLogger({ service: 'ledger', level: 'silent' }),
      connection: ledgerConnection,
      bus: new BusClient(ledgerConnection, { defaultTimeoutMs: 2_000 }),
      secrets: {} as SecretsProvider,
      dataSource: defaultDataSource,
      credentials: { asService: { authorization: async () => LEDGER_SERVICE_TOKEN } } as unknown as ProcessCredentials,
    } satisfies ServiceResources;
    databases = await openRegionalDatabasesFor(resources, {
      service: 'ledger',
      migrations,
      env: {
        DATABASE_RUNTIME_URL: defaultDatabase.runtimeUrl,
        DATABASE_RUNTIME_URL_KE: keDatabase.runtimeUrl,
        DATABASE_MIGRATION_URL_KE: keDatabase.ownerUrl,
      },
    });
  });

  afterAll(async () => {
    busHandlerHooks.verifyCredential = installedVerifier;
    await databases?.close();
    if (defaultDataSource?.isInitialized) await defaultDataSource.destroy();
    await ledgerConnection?.close();
    await tenantsService?.close();
    await nats?.stop();
    await Promise.all([defaultDatabase?.drop(), keDatabase?.drop()]);
  });

  it('migrates the regional database as its owner, with row-level security forced', async () => {
    expect(databases.regions).toEqual(['ke']);
    const owner = new Client({ connectionString: keDatabase.ownerUrl });
    await owner.connect();
    try {
      const applied = await owner.query('SELECT name FROM schema_migrations ORDER BY id');
      expect(applied.rows).toEqual(migrations.map((migration) => ({ name: migration.name })));
      const table = await owner.query(
        `SELECT tableowner, relrowsecurity, relforcerowsecurity FROM pg_tables
           JOIN pg_class ON relname = tablename WHERE tablename = 'residency_notes'`,
      );
      expect(table.rows).toEqual([
        { tableowner: `${keDatabase.databaseName}_owner`, relrowsecurity: true, relforcerowsecurity: true },
      ]);
    } finally {
      await owner.end();
    }
  });

  it('writes each tenant’s rows to its region’s database only', async () => {
    const write = (tenant: Tenant, body: string) =>
      databases.withTenant(tenant.id, async (manager, region) => {
        await manager.query('INSERT INTO residency_notes (tenant_id, body) VALUES ($1, $2)', [tenant.id, body]);
        return region;
      });
    await expect(write(tenantKe, 'ke-1')).resolves.toBe('ke');
    await expect(write(tenantDefault, 'default-1')).resolves.toBe('default');
    await expect(write(tenantZm, 'zm-1')).resolves.toBe('zm');
    await expect(write(tenantKe, 'ke-2')).resolves.toBe('ke');

    expect(await storedRows(keDatabase)).toEqual({ [tenantKe.id]: ['ke-1', 'ke-2'] });
    expect(await storedRows(defaultDatabase)).toEqual({
      [tenantDefault.id]: ['default-1'],
      [tenantZm.id]: ['zm-1'],
    });
    // Each region asked the tenants service once: regions are remembered.
    expect(lookups.filter((id) => id === tenantKe.id)).toHaveLength(1);
  });

  it('keeps row-level security in every regional database', async () => {
    const visible = (tenant: Tenant) =>
      databases.withTenant(tenant.id, (manager) => manager.query('SELECT tenant_id FROM residency_notes'));
    expect(new Set((await visible(tenantKe)).map((row: { tenant_id: string }) => row.tenant_id))).toEqual(
      new Set([tenantKe.id]),
    );
    // In the ke database, a ke tenant cannot write a row of another tenant.
    await expect(
      databases.withTenant(tenantKe.id, (manager) =>
        manager.query('INSERT INTO residency_notes (tenant_id, body) VALUES ($1, $2)', [tenantDefault.id, 'smuggled']),
      ),
    ).rejects.toThrow(/row-level security/);

    const runtime = new Client({ connectionString: keDatabase.runtimeUrl });
    await runtime.connect();
    try {
      // Without a tenant context, or under another tenant's, the ke database shows nothing.
      expect((await runtime.query('SELECT * FROM residency_notes')).rowCount).toBe(0);
      await runtime.query('BEGIN');
      await runtime.query("SELECT set_config('app.tenant_id', $1, true)", [tenantDefault.id]);
      expect((await runtime.query('SELECT * FROM residency_notes')).rowCount).toBe(0);
      await runtime.query('ROLLBACK');
    } finally {
      await runtime.end();
    }
  });

  it('publishes the events of a regional transaction from that region’s outbox', async () => {
    const eventId = await databases.withTenant(tenantKe.id, async (manager) => {
      await manager.query('INSERT INTO residency_notes (tenant_id, body) VALUES ($1, $2)', [tenantKe.id, 'ke-evt']);
      return enqueueEvent(manager, noteWritten, { body: 'ke-evt' }, { tenantId: tenantKe.id });
    });
    // Written in the region's database, never the default one (no relay runs there in this test,
    // so a row written there would stay), then published by the region's relay, which removes the
    // row in the transaction that publishes it (outbox-relay.ts).
    const outboxRow = 'SELECT tenant_id FROM outbox WHERE id = $1';
    expect(await asSuperuser(defaultDatabase, outboxRow, [eventId])).toEqual([]);
    const deadline = Date.now() + 10_000;
    while ((await asSuperuser(keDatabase, outboxRow, [eventId])).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await asSuperuser(keDatabase, outboxRow, [eventId])).toEqual([]);
    // Gone only once JetStream acknowledged it: once, on the ledger's stream.
    const info = await (await ledgerConnection.jetstreamManager()).streams.info('EVT_LEDGER', {
      subjects_filter: noteWritten.subject,
    });
    expect(info.state.subjects?.[noteWritten.subject]).toBe(1);
  });

  it('reports each regional database in readiness', async () => {
    const checks = databases.readinessChecks();
    expect(Object.keys(checks)).toEqual(['db.ke']);
    await expect(checks['db.ke']!()).resolves.toBe(true);
  });

  it('answers NOT_FOUND for a tenant the tenants service does not know, touching no database', async () => {
    const unknown = randomUUID();
    const work = jest.fn(async () => 'written');
    await expect(databases.withTenant(unknown, work)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      details: { resource: 'Tenant', id: unknown },
    });
    expect(work).not.toHaveBeenCalled();
  });

  it('answers UNAVAILABLE while the tenants service is down, never writing to a guessed database', async () => {
    await tenantsService.close();
    const work = jest.fn(async () => 'written');
    try {
      await expect(databases.withTenant(tenantNg.id, work)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        details: { dependency: 'tenants' },
      });
      expect(work).not.toHaveBeenCalled();
      // A tenant already resolved keeps working: its region cannot have changed.
      await expect(databases.withTenant(tenantKe.id, async (_manager, region) => region)).resolves.toBe('ke');
    } finally {
      tenantsService = await startStandInTenants(nats);
    }
    // The failure was not remembered: back up, the tenant resolves.
    await expect(databases.withTenant(tenantNg.id, async (_manager, region) => region)).resolves.toBe('ng');
  });
});
