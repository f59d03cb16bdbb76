import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  createTenant,
  getTenant,
  getTenantEnvironment,
  listTenantEnvironments,
  listTenants,
  OPERATOR_IDENTITY,
  PLATFORM_TENANT_ID,
  ROLE_PERMISSIONS,
  reactivateTenant,
  suspendTenant,
  type Tenant,
  type TenantSettings,
  type TenantSettingsPatch,
  updateTenantEnvironment,
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
import type { NatsConnection } from 'nats';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
// Auth's key ring, JWKS and service tokens, as every service's tests verify real tokens against them.
import { ServiceTokensModule } from '../../auth/src/service-tokens/service-tokens.module';
import { JwksHandler } from '../../auth/src/signing-keys/jwks.handler';
import { SigningKeyStore } from '../../auth/src/signing-keys/signing-key-store';
import { about, auditOutbox, readAuditStream } from '../../auth/test/support/audit-stream';
import { type BareAuthSlice, PUBLIC_URL, startAuthSlice, TOKEN_AUDIENCE } from '../../auth/test/support/auth-slice';
import { migrations } from '../migrations';
import { TenantsModule } from '../src/tenants.module';

@Module({ imports: [ServiceTokensModule], controllers: [JwksHandler], providers: [SigningKeyStore] })
class AuthKeysModule {}

const DEFAULT_SETTINGS: TenantSettings = {
  accessTokenTtlSeconds: 900,
  refreshTokenTtlSeconds: 604_800,
  kycRetentionDays: 1_826,
  auditRetentionDays: 2_557,
  ratePlan: 'standard',
};

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
  /** The audit service's identity: the one that reads the AUDIT stream. */
  let auditReader: NatsConnection;
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
    auditReader = await slice.connect('audit');
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

  /** A platform administrator's token (of the platform tenant), as a super_admin signed in would hold. */
  function platformAdmin(): Promise<string> {
    return slice.userToken({
      tenantId: PLATFORM_TENANT_ID,
      permissions: ['tenants.tenants.list', 'tenants.environments.read', 'tenants.environments.update'],
      subject: 'platform-admin-1',
    });
  }

  let slugs = 0;
  /** `settings` as sent: partial or out of bounds on purpose, so typed loosely and checked by the service. */
  function create(settings?: Partial<Record<keyof TenantSettings, number | string>>): Promise<Tenant> {
    slugs += 1;
    const slug = `tenant-${slugs}-${randomUUID().slice(0, 8)}`;
    return operator.request(createTenant, {
      slug,
      name: `Tenant ${slugs}`,
      region: 'ke',
      ...(settings ? { settings: settings as unknown as TenantSettings } : {}),
    });
  }

  /** The tenant's domain events (its audit events are auditOf's). */
  async function outboxOf(tenantId: string): Promise<Array<{ subject: string; payload: Tenant }>> {
    const { rows } = await superuser.query(
      "SELECT subject, payload FROM outbox WHERE tenant_id = $1 AND subject LIKE 'evt.%' ORDER BY seq",
      [tenantId],
    );
    return rows;
  }

  /** The audit events the tenants service's transactions wrote for the tenant's chain. */
  async function auditOf(tenantId: string) {
    return (await auditOutbox(superuser, 'tenants')).filter((event) => event.tenantId === tenantId);
  }

  /** Refusals: published straight to the AUDIT stream (they wrote nothing). */
  function refusalsAbout(resourceId: string, count: number) {
    return readAuditStream(auditReader, {
      emitter: 'tenants',
      done: (events) => events.filter(about(resourceId)).length >= count,
    }).then((events) => events.filter(about(resourceId)));
  }

  const OPERATOR_ACTOR = { type: 'service', id: OPERATOR_IDENTITY };

  async function stored(tenantId: string): Promise<{ status: string; settings: object }> {
    const { rows } = await superuser.query('SELECT status, settings FROM tenants WHERE id = $1', [tenantId]);
    return rows[0];
  }

  it('creates a tenant with the default token lifetimes, or with the ones given', async () => {
    const plain = await create();
    expect(plain).toMatchObject({ status: 'active', settings: DEFAULT_SETTINGS });
    expect(await stored(plain.id)).toEqual({ status: 'active', settings: DEFAULT_SETTINGS });

    const timed = await create({ accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 3600 });
    expect(timed.settings).toEqual({ ...DEFAULT_SETTINGS, accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 3600 });
    await expect(operator.request(getTenant, { tenantId: timed.id })).resolves.toEqual(timed);
    expect(await outboxOf(timed.id)).toEqual([{ subject: 'evt.tenants.v1.tenants.created', payload: timed }]);
    // Its creation opens the tenant's own audit chain, written with it.
    expect(await auditOf(timed.id)).toEqual([
      expect.objectContaining({
        tenantId: timed.id,
        action: 'tenants.tenant.create',
        outcome: 'success',
        actor: OPERATOR_ACTOR,
        resource: { type: 'tenant', id: timed.id },
        requestId: expect.any(String),
        details: { slug: timed.slug, region: 'ke', settings: timed.settings },
      }),
    ]);

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
      operator.request(updateTenantSettings, { tenantId: tenant.id, settings: settings as TenantSettingsPatch }),
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
    // The changes are in the tenant's chain, once each; the repeated calls changed nothing and recorded nothing.
    expect((await auditOf(tenant.id)).map((event) => [event.action, event.outcome, event.actor])).toEqual([
      ['tenants.tenant.create', 'success', OPERATOR_ACTOR],
      ['tenants.tenant.suspend', 'success', OPERATOR_ACTOR],
      ['tenants.tenant.reactivate', 'success', OPERATOR_ACTOR],
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
    expect((await auditOf(tenant.id)).map((event) => event.action)).toEqual([
      'tenants.tenant.create',
      'tenants.tenant.suspend',
    ]);
  });

  it('changes the settings with one event; the same settings again change nothing', async () => {
    const tenant = await create();
    const settings = { accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 90 * 86_400 };
    const updated = await operator.request(updateTenantSettings, { tenantId: tenant.id, settings });
    // A patch: the settings it does not name keep their values.
    expect(updated).toEqual({ ...tenant, settings: { ...DEFAULT_SETTINGS, ...settings } });
    expect(await stored(tenant.id)).toEqual({ status: 'active', settings: updated.settings });
    await expect(operator.request(updateTenantSettings, { tenantId: tenant.id, settings })).resolves.toEqual(updated);
    expect(await outboxOf(tenant.id)).toEqual([
      { subject: 'evt.tenants.v1.tenants.created', payload: tenant },
      { subject: 'evt.tenants.v1.tenants.settings-updated', payload: updated },
    ]);
    expect((await auditOf(tenant.id)).slice(1)).toEqual([
      expect.objectContaining({
        action: 'tenants.settings.update',
        outcome: 'success',
        resource: { type: 'tenant', id: tenant.id },
        details: { patch: settings },
      }),
    ]);
  });

  it("records a refused creation (a taken slug) as a failure in the caller's chain, and writes no audit event for it", async () => {
    const tenant = await create();
    await expect(
      operator.request(createTenant, { slug: tenant.slug, name: 'Again', region: 'ke' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    const written = (await auditOutbox(superuser, 'tenants')).filter(
      (event) => event.action === 'tenants.tenant.create' && event.details.slug === tenant.slug,
    );
    expect(written.map((event) => event.resource.id)).toEqual([tenant.id]);
    const refused = await readAuditStream(auditReader, {
      emitter: 'tenants',
      done: (events) => events.some((event) => event.outcome !== 'success' && event.details.slug === tenant.slug),
    });
    expect(refused.filter((event) => event.details.slug === tenant.slug)).toEqual([
      expect.objectContaining({
        tenantId: PLATFORM_TENANT_ID,
        action: 'tenants.tenant.create',
        outcome: 'failure',
        reason: 'CONFLICT',
        actor: OPERATOR_ACTOR,
        resource: { type: 'tenant', id: 'new' },
      }),
    ]);
  });

  it("answers the tenant's own admin FORBIDDEN, even with the permissions in its token, and changes nothing", async () => {
    const tenant = await create();
    const credential = await slice.userToken({
      tenantId: tenant.id,
      permissions: [...(ROLE_PERMISSIONS.partner_admin ?? []), 'tenants.tenants.suspend', 'tenants.settings.update'],
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
    expect((await auditOf(tenant.id)).map((event) => event.action)).toEqual(['tenants.tenant.create']);
    // Each attempt is audited as denied, published to the AUDIT stream in the caller's chain.
    const denied = await refusalsAbout(tenant.id, 3);
    expect(denied.map((event) => [event.action, event.outcome, event.reason, event.tenantId, event.actor])).toEqual([
      ['tenants.tenant.suspend', 'denied', 'FORBIDDEN', tenant.id, { type: 'user', id: 'tenant-admin-1' }],
      ['tenants.tenant.reactivate', 'denied', 'FORBIDDEN', tenant.id, { type: 'user', id: 'tenant-admin-1' }],
      ['tenants.settings.update', 'denied', 'FORBIDDEN', tenant.id, { type: 'user', id: 'tenant-admin-1' }],
    ]);
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
    const { ratePlan: _plan, ...withoutPlan } = DEFAULT_SETTINGS;
    for (const settings of [
      { ...DEFAULT_SETTINGS, accessTokenTtlSeconds: 899 },
      { ...DEFAULT_SETTINGS, accessTokenTtlSeconds: 3601 },
      { ...DEFAULT_SETTINGS, refreshTokenTtlSeconds: 3599 },
      { ...DEFAULT_SETTINGS, refreshTokenTtlSeconds: 7_776_001 },
      { ...DEFAULT_SETTINGS, accessTokenTtlSeconds: 900.5 },
      { ...DEFAULT_SETTINGS, accessTokenTtlSeconds: '900' },
      { ...DEFAULT_SETTINGS, kycRetentionDays: 364 },
      { ...DEFAULT_SETTINGS, auditRetentionDays: 2_556 },
      { ...DEFAULT_SETTINGS, ratePlan: 'unlimited' },
      withoutPlan,
      { accessTokenTtlSeconds: 900 },
      { ...DEFAULT_SETTINGS, extra: 1 },
    ]) {
      await expect(
        asRuntime('UPDATE tenants SET settings = $2::jsonb WHERE id = $1', [tenant.id, JSON.stringify(settings)]),
      ).rejects.toMatchObject({ code: '23514' });
    }
    const bounds = { ...DEFAULT_SETTINGS, accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 7_776_000 };
    await asRuntime("UPDATE tenants SET status = 'suspended', settings = $2::jsonb WHERE id = $1", [
      tenant.id,
      JSON.stringify(bounds),
    ]);
    expect(await stored(tenant.id)).toEqual({ status: 'suspended', settings: bounds });
  });
  it('lists tenants to the platform only, oldest first, a page at a time, filtered by status and region', async () => {
    const made = [await create(), await create(), await create()];
    await operator.request(suspendTenant, { tenantId: made[1]!.id });
    const seen: Tenant[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1_000; page += 1) {
      const answer = await gateway.request(
        listTenants,
        { limit: 2, ...(cursor ? { cursor } : {}) },
        { credential: await platformAdmin() },
      );
      expect(answer.tenants.length).toBeLessThanOrEqual(2);
      seen.push(...answer.tenants);
      if (answer.nextCursor === null) break;
      cursor = answer.nextCursor;
    }
    const ids = seen.map((tenant) => tenant.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => made.some((tenant) => tenant.id === id))).toEqual(made.map((tenant) => tenant.id));
    const suspended = await gateway.request(
      listTenants,
      { limit: 100, status: 'suspended' },
      { credential: await platformAdmin() },
    );
    expect(suspended.tenants.every((tenant) => tenant.status === 'suspended')).toBe(true);
    expect(suspended.tenants.map((tenant) => tenant.id)).toContain(made[1]!.id);
    const elsewhere = await gateway.request(
      listTenants,
      { limit: 100, region: 'zw' },
      { credential: await platformAdmin() },
    );
    expect(elsewhere.tenants.map((tenant) => tenant.id)).not.toContain(made[0]!.id);
    await expect(
      gateway.request(listTenants, { limit: 5, cursor: randomUUID() }, { credential: await platformAdmin() }),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
    });

    const credential = await slice.userToken({
      tenantId: made[0]!.id,
      permissions: ['tenants.tenants.list', 'tenants.tenants.read'],
      subject: 'tenant-admin-1',
    });
    await expect(gateway.request(listTenants, { limit: 10 }, { credential })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });

  it('gives each tenant a sandbox and a production environment, open to every address at first', async () => {
    const tenant = await create({ ratePlan: 'premium' });
    const { environments } = await gateway.request(
      listTenantEnvironments,
      { tenantId: tenant.id },
      { credential: await platformAdmin() },
    );
    expect(environments.map((environment) => [environment.environment, environment.ipAllowlist])).toEqual([
      ['sandbox', []],
      ['production', []],
    ]);
    expect(environments.every((environment) => environment.effectiveRatePlan === 'premium')).toBe(true);
  });

  it("changes an environment's allowlist (canonical CIDRs, IPv4 and IPv6) with one event; host bits set are VALIDATION", async () => {
    const tenant = await create({ ratePlan: 'standard' });
    const credential = await slice.userToken({
      tenantId: tenant.id,
      permissions: ['tenants.environments.read', 'tenants.environments.update'],
      subject: 'tenant-admin-1',
    });
    const updated = await gateway.request(
      updateTenantEnvironment,
      {
        tenantId: tenant.id,
        environment: 'production',
        ipAllowlist: ['203.0.113.0/24', '2001:DB8:0:0::/32', '203.0.113.0/24', '198.51.100.7/32'],
        ratePlan: 'basic',
      },
      { credential },
    );
    expect(updated).toMatchObject({
      environment: 'production',
      ipAllowlist: ['203.0.113.0/24', '2001:db8::/32', '198.51.100.7/32'],
      ratePlan: 'basic',
      effectiveRatePlan: 'basic',
    });
    await expect(
      gateway.request(getTenantEnvironment, { tenantId: tenant.id, environment: 'production' }, { credential }),
    ).resolves.toEqual(updated);
    // The same change again writes nothing; the sandbox is untouched.
    await gateway.request(
      updateTenantEnvironment,
      { tenantId: tenant.id, environment: 'production', ipAllowlist: updated.ipAllowlist },
      { credential },
    );
    expect((await outboxOf(tenant.id)).map((row) => row.subject)).toEqual([
      'evt.tenants.v1.tenants.created',
      'evt.tenants.v1.environments.updated',
    ]);
    expect((await auditOf(tenant.id)).slice(1)).toEqual([
      expect.objectContaining({
        environment: 'production',
        action: 'tenants.environment.update',
        outcome: 'success',
        actor: { type: 'user', id: 'tenant-admin-1' },
        resource: { type: 'tenant_environment', id: `${tenant.id}/production` },
        details: { ipAllowlistEntries: { before: 0, after: 3 }, ratePlan: { before: null, after: 'basic' } },
      }),
    ]);
    const sandboxCredential = await slice.userToken({
      tenantId: tenant.id,
      env: 'sandbox',
      permissions: ['tenants.environments.read', 'tenants.environments.update'],
      subject: 'tenant-admin-1',
    });
    await expect(
      gateway.request(
        getTenantEnvironment,
        { tenantId: tenant.id, environment: 'sandbox' },
        { credential: sandboxCredential },
      ),
    ).resolves.toMatchObject({ ipAllowlist: [], ratePlan: null });
    // The service checks the environment too, not only the gateway: a production credential reaches no sandbox setting.
    for (const request of [
      gateway.request(getTenantEnvironment, { tenantId: tenant.id, environment: 'sandbox' }, { credential }),
      gateway.request(
        updateTenantEnvironment,
        { tenantId: tenant.id, environment: 'sandbox', ipAllowlist: ['0.0.0.0/0'] },
        { credential },
      ),
    ])
      await expect(request).rejects.toMatchObject({ code: 'FORBIDDEN', details: { reason: 'WRONG_ENVIRONMENT' } });

    for (const ipAllowlist of [['203.0.113.1/24'], ['2001:db8::1/32'], ['not-a-range'], ['10.0.0.0/33']]) {
      await expect(
        gateway.request(
          updateTenantEnvironment,
          { tenantId: tenant.id, environment: 'sandbox', ipAllowlist },
          { credential: sandboxCredential },
        ),
      ).rejects.toMatchObject({ code: 'VALIDATION' });
    }
    await expect(
      gateway.request(
        updateTenantEnvironment,
        {
          tenantId: tenant.id,
          environment: 'sandbox',
          ipAllowlist: Array.from({ length: 101 }, (_, i) => `10.0.${i}.0/24`),
        },
        { credential: sandboxCredential },
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it("refuses an environment plan above the tenant's, and caps it when the tenant's plan is lowered", async () => {
    const tenant = await create({ ratePlan: 'standard' });
    const credential = await slice.userToken({
      tenantId: tenant.id,
      env: 'sandbox',
      permissions: ['tenants.environments.update'],
      subject: 'tenant-admin-1',
    });
    await expect(
      gateway.request(
        updateTenantEnvironment,
        { tenantId: tenant.id, environment: 'sandbox', ratePlan: 'premium' },
        { credential },
      ),
    ).rejects.toMatchObject({ code: 'FORBIDDEN', details: { reason: 'ABOVE_TENANT_PLAN' } });
    const [denied] = await refusalsAbout(`${tenant.id}/sandbox`, 1);
    expect(denied).toMatchObject({
      tenantId: tenant.id,
      environment: 'sandbox',
      action: 'tenants.environment.update',
      outcome: 'denied',
      reason: 'ABOVE_TENANT_PLAN',
    });
    await gateway.request(
      updateTenantEnvironment,
      {
        tenantId: tenant.id,
        environment: 'sandbox',
        ratePlan: 'standard',
      },
      { credential: await platformAdmin() },
    );
    await operator.request(updateTenantSettings, { tenantId: tenant.id, settings: { ratePlan: 'basic' } });
    await expect(
      gateway.request(
        getTenantEnvironment,
        { tenantId: tenant.id, environment: 'sandbox' },
        { credential: await platformAdmin() },
      ),
    ).resolves.toMatchObject({ ratePlan: 'standard', effectiveRatePlan: 'basic' });
  });

  it("answers another tenant's environments NOT_FOUND and changes nothing", async () => {
    const [mine, theirs] = [await create(), await create()];
    const credential = await slice.userToken({
      tenantId: mine.id,
      permissions: ['tenants.environments.read', 'tenants.environments.update'],
      subject: 'tenant-admin-1',
    });
    await expect(
      gateway.request(listTenantEnvironments, { tenantId: theirs.id }, { credential }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      gateway.request(
        updateTenantEnvironment,
        { tenantId: theirs.id, environment: 'production', ipAllowlist: ['0.0.0.0/0'] },
        { credential },
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      gateway.request(
        getTenantEnvironment,
        { tenantId: theirs.id, environment: 'production' },
        { credential: await platformAdmin() },
      ),
    ).resolves.toMatchObject({ ipAllowlist: [] });
    // And under RLS the runtime role sees and changes none of their rows from its context.
    const changed = await withTenant(dataSource, mine.id, (manager) =>
      manager.query(
        "WITH u AS (UPDATE tenant_environments SET ip_allowlist = '{0.0.0.0/0}' WHERE tenant_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM u",
        [theirs.id],
      ),
    );
    expect(changed).toEqual([{ n: 0 }]);
  });
});
