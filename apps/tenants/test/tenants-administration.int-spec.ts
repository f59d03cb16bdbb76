import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  createTenant,
  getTenant,
  OPERATOR_IDENTITY,
  ROLE_PERMISSIONS,
  reactivateTenant,
  suspendTenant,
  type Tenant,
  type TenantSettings,
  updateTenantSettings,
} from '@strongroom/contracts';
import {
  BusClient,
  BusServer,
  busCredentialSources,
  busHandlerHooks,
  createServiceDataSource,
  type ProcessCredentials,
  type ServiceResources,
  serviceCredentialsOverBus,
  serviceRootModule,
  startProcessCredentials,
  withTenant,
} from '@strongroom/platform';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
// Auth's key ring, JWKS and service tokens, as every service's tests verify real tokens against them.
import { ServiceTokensModule } from '../../auth/src/service-tokens/service-tokens.module';
import { JwksHandler } from '../../auth/src/signing-keys/jwks.handler';
import { SigningKeyStore } from '../../auth/src/signing-keys/signing-key-store';
import { type BareAuthSlice, PUBLIC_URL, startAuthSlice, TOKEN_AUDIENCE } from '../../auth/test/support/auth-slice';
import { migrations } from '../migrations';
import { TenantsModule } from '../src/tenants.module';

@Module({ imports: [ServiceTokensModule], controllers: [JwksHandler], providers: [SigningKeyStore] })
class AuthKeysModule {}

const DEFAULT_SETTINGS = { accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 604_800 };

describe('tenant administration (real mTLS bus, real tokens, real Postgres)', () => {
  let slice: BareAuthSlice;
  let database: TestDatabase;
  let dataSource: DataSource;
  let superuser: Client;
  let credentials: ProcessCredentials;
  let tenants: INestMicroservice;
  /** The CLI's client: the operator's own service token, issued by auth. */
  let operator: BusClient;
  /** The gateway's connection, forwarding its callers' tokens. */
  let gateway: BusClient;
  const installedVerifier = busHandlerHooks.verifyCredential;

  beforeAll(async () => {
    slice = await startAuthSlice({ label: 'tenants-admin', module: AuthKeysModule, database: false });
    database = await createTestDatabase('tenants_admin', migrations);
    dataSource = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'tenants-test', poolSize: 4 });
    await dataSource.initialize();
    superuser = new Client({
      connectionString: database.adminUrl.replace(/\/[^/?]*(\?|$)/, `/${database.databaseName}$1`),
    });
    await superuser.connect();

    // Tenants as runBackendService starts it: JWKS from auth over the bus, revocations from JetStream.
    const connection = await slice.connect('tenants');
    const bus = new BusClient(connection, { defaultTimeoutMs: 2_000 });
    credentials = await startProcessCredentials({
      identity: 'tenants',
      connection,
      config: { PUBLIC_URL, TOKEN_AUDIENCE },
      logger: slice.resources.logger,
      sources: busCredentialSources(bus),
    });
    busHandlerHooks.verifyCredential = (authorization) => credentials.verifier.verify(authorization);
    const resources: ServiceResources = {
      service: 'tenants',
      version: 'test',
      startedAtMs: Date.now(),
      config: { PUBLIC_URL, TOKEN_AUDIENCE } as ServiceResources['config'],
      logger: slice.resources.logger,
      connection,
      bus,
      secrets: slice.resources.secrets,
      dataSource,
      credentials,
    };
    tenants = await NestFactory.createMicroservice(serviceRootModule(TenantsModule, resources), {
      strategy: new BusServer(async () => connection, { queue: 'tenants' }),
      logger: false,
    });
    await tenants.listen();

    const operatorConnection = await slice.connect(OPERATOR_IDENTITY);
    operator = new BusClient(operatorConnection, {
      defaultTimeoutMs: 5_000,
      actingAs: serviceCredentialsOverBus(new BusClient(operatorConnection, { defaultTimeoutMs: 5_000 })),
    });
    gateway = new BusClient(await slice.connect('gateway'), { defaultTimeoutMs: 5_000 });
  });

  afterAll(async () => {
    busHandlerHooks.verifyCredential = installedVerifier;
    await tenants?.close();
    await credentials?.stop();
    await dataSource?.destroy();
    await superuser?.end();
    await database?.drop();
    await slice?.stop();
  });

  let slugs = 0;
  /** `settings` as sent: partial or out of bounds on purpose, so typed loosely and checked by the service. */
  function create(settings?: Partial<Record<keyof TenantSettings, number>>): Promise<Tenant> {
    slugs += 1;
    const slug = `tenant-${slugs}-${randomUUID().slice(0, 8)}`;
    return operator.request(createTenant, {
      slug,
      name: `Tenant ${slugs}`,
      region: 'ke',
      ...(settings ? { settings: settings as TenantSettings } : {}),
    });
  }

  async function outboxOf(tenantId: string): Promise<Array<{ subject: string; payload: Tenant }>> {
    const { rows } = await superuser.query('SELECT subject, payload FROM outbox WHERE tenant_id = $1 ORDER BY seq', [
      tenantId,
    ]);
    return rows;
  }

  async function stored(tenantId: string): Promise<{ status: string; settings: object }> {
    const { rows } = await superuser.query('SELECT status, settings FROM tenants WHERE id = $1', [tenantId]);
    return rows[0];
  }

  it('creates a tenant with the default token lifetimes, or with the ones given', async () => {
    const plain = await create();
    expect(plain).toMatchObject({ status: 'active', settings: DEFAULT_SETTINGS });
    expect(await stored(plain.id)).toEqual({ status: 'active', settings: DEFAULT_SETTINGS });

    const timed = await create({ accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 3600 });
    expect(timed.settings).toEqual({ accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 3600 });
    await expect(operator.request(getTenant, { tenantId: timed.id })).resolves.toEqual(timed);
    expect(await outboxOf(timed.id)).toEqual([{ subject: 'evt.tenants.v1.tenants.created', payload: timed }]);

    // Partial settings: the other lifetime takes its default.
    await expect(create({ accessTokenTtlSeconds: 1800 })).resolves.toMatchObject({
      settings: { accessTokenTtlSeconds: 1800, refreshTokenTtlSeconds: 604_800 },
    });
  });

  it.each([
    ['a 14-minute access token', { accessTokenTtlSeconds: 14 * 60 }],
    ['a 61-minute access token', { accessTokenTtlSeconds: 61 * 60 }],
    ['a 91-day refresh token', { refreshTokenTtlSeconds: 91 * 86_400 }],
  ])('refuses %s as VALIDATION, on create and on update', async (_case, settings) => {
    await expect(create(settings)).rejects.toMatchObject({ code: 'VALIDATION' });
    const tenant = await create();
    await expect(
      operator.request(updateTenantSettings, { tenantId: tenant.id, settings: settings as TenantSettings }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(await stored(tenant.id)).toEqual({ status: 'active', settings: DEFAULT_SETTINGS });
  });

  it('suspends once (one event), answers a second suspend with the tenant and no new event, and reactivates', async () => {
    const tenant = await create();
    const suspended = await operator.request(suspendTenant, { tenantId: tenant.id });
    expect(suspended).toEqual({ ...tenant, status: 'suspended' });
    expect(await stored(tenant.id)).toMatchObject({ status: 'suspended' });

    await expect(operator.request(suspendTenant, { tenantId: tenant.id })).resolves.toEqual(suspended);
    expect(await outboxOf(tenant.id)).toEqual([
      { subject: 'evt.tenants.v1.tenants.created', payload: tenant },
      { subject: 'evt.tenants.v1.tenants.suspended', payload: suspended },
    ]);

    const reactivated = await operator.request(reactivateTenant, { tenantId: tenant.id });
    expect(reactivated).toEqual(tenant);
    await expect(operator.request(reactivateTenant, { tenantId: tenant.id })).resolves.toEqual(tenant);
    expect((await outboxOf(tenant.id)).map((row) => row.subject)).toEqual([
      'evt.tenants.v1.tenants.created',
      'evt.tenants.v1.tenants.suspended',
      'evt.tenants.v1.tenants.reactivated',
    ]);
  });

  it('writes one event for racing suspends', async () => {
    const tenant = await create();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => operator.request(suspendTenant, { tenantId: tenant.id })),
    );
    for (const answer of answers) expect(answer.status).toBe('suspended');
    expect((await outboxOf(tenant.id)).map((row) => row.subject)).toEqual([
      'evt.tenants.v1.tenants.created',
      'evt.tenants.v1.tenants.suspended',
    ]);
  });

  it('changes the settings with one event; the same settings again change nothing', async () => {
    const tenant = await create();
    const settings = { accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 90 * 86_400 };
    const updated = await operator.request(updateTenantSettings, { tenantId: tenant.id, settings });
    expect(updated).toEqual({ ...tenant, settings });
    expect(await stored(tenant.id)).toEqual({ status: 'active', settings });
    await expect(operator.request(updateTenantSettings, { tenantId: tenant.id, settings })).resolves.toEqual(updated);
    expect(await outboxOf(tenant.id)).toEqual([
      { subject: 'evt.tenants.v1.tenants.created', payload: tenant },
      { subject: 'evt.tenants.v1.tenants.settings-updated', payload: updated },
    ]);
  });

  it("answers the tenant's own admin FORBIDDEN, even with the permissions in its token, and changes nothing", async () => {
    const tenant = await create();
    const credential = await slice.userToken({
      tenantId: tenant.id,
      permissions: [...ROLE_PERMISSIONS.partner_admin, 'tenants.tenants.suspend', 'tenants.settings.update'],
      subject: 'tenant-admin-1',
    });
    // The token itself is good: it reads its own tenant.
    await expect(gateway.request(getTenant, { tenantId: tenant.id }, { credential })).resolves.toEqual(tenant);
    const settings = { accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 90 * 86_400 };
    await expect(gateway.request(suspendTenant, { tenantId: tenant.id }, { credential })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(gateway.request(reactivateTenant, { tenantId: tenant.id }, { credential })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(
      gateway.request(updateTenantSettings, { tenantId: tenant.id, settings }, { credential }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await stored(tenant.id)).toEqual({ status: 'active', settings: DEFAULT_SETTINGS });
    expect((await outboxOf(tenant.id)).map((row) => row.subject)).toEqual(['evt.tenants.v1.tenants.created']);
  });

  it('answers an unknown tenant NOT_FOUND', async () => {
    const tenantId = randomUUID();
    await expect(operator.request(suspendTenant, { tenantId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(operator.request(reactivateTenant, { tenantId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      operator.request(updateTenantSettings, { tenantId, settings: DEFAULT_SETTINGS }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await outboxOf(tenantId)).toEqual([]);
  });

  it('lets the runtime role update only status and settings, and the table holds settings to their bounds', async () => {
    const tenant = await create();
    const asRuntime = (sql: string, parameters: unknown[]) =>
      withTenant(dataSource, tenant.id, (manager) => manager.query(sql, parameters));
    for (const column of ['slug', 'name', 'region']) {
      await expect(
        asRuntime(`UPDATE tenants SET ${column} = $2 WHERE id = $1`, [tenant.id, 'zw']),
      ).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('permission denied') });
    }
    await expect(asRuntime('DELETE FROM tenants WHERE id = $1', [tenant.id])).rejects.toMatchObject({ code: '42501' });
    await expect(asRuntime('UPDATE tenants SET created_at = now() WHERE id = $1', [tenant.id])).rejects.toMatchObject({
      code: '42501',
    });

    // Past the service's validation, the CHECKs still refuse what the contract would.
    for (const settings of [
      { accessTokenTtlSeconds: 899, refreshTokenTtlSeconds: 604_800 },
      { accessTokenTtlSeconds: 3601, refreshTokenTtlSeconds: 604_800 },
      { accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 3599 },
      { accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 7_776_001 },
      { accessTokenTtlSeconds: 900.5, refreshTokenTtlSeconds: 604_800 },
      { accessTokenTtlSeconds: '900', refreshTokenTtlSeconds: 604_800 },
      { accessTokenTtlSeconds: 900 },
      { ...DEFAULT_SETTINGS, extra: 1 },
    ]) {
      await expect(
        asRuntime('UPDATE tenants SET settings = $2::jsonb WHERE id = $1', [tenant.id, JSON.stringify(settings)]),
      ).rejects.toMatchObject({ code: '23514' });
    }
    const bounds = { accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 7_776_000 };
    await asRuntime("UPDATE tenants SET status = 'suspended', settings = $2::jsonb WHERE id = $1", [
      tenant.id,
      JSON.stringify(bounds),
    ]);
    expect(await stored(tenant.id)).toEqual({ status: 'suspended', settings: bounds });
  });
});
