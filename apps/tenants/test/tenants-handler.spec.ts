import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { NatsContext } from '@nestjs/microservices';
import {
  type AuditEventInput,
  auditEventSchema,
  PLATFORM_TENANT_ID,
  type Tenant,
  type TenantSettings,
} from '@strongroom/contracts';
import {
  BusDelivery,
  busHandlerHooks,
  PlatformError,
  type Principal,
  type ServiceResources,
} from '@strongroom/platform';
import { headers as natsHeaders } from 'nats';
import { TenantsHandler } from '../src/tenants/tenants.handler';
import type { TenantsRepository } from '../src/tenants/tenants.repository';
import { AuditPublisher } from '../src/tenants-audit';

const DEFAULT_SETTINGS: TenantSettings = {
  accessTokenTtlSeconds: 900,
  refreshTokenTtlSeconds: 604_800,
  kycRetentionDays: 1_826,
  auditRetentionDays: 2_557,
  ratePlan: 'standard',
};

/** The repository's contract in memory: what the handler asks of it, and nothing of Postgres. */
class InMemoryTenants {
  readonly rows = new Map<string, Tenant>();
  readonly calls: string[] = [];

  async create(input: { slug: string; name: string; region: Tenant['region']; settings?: TenantSettings }) {
    this.calls.push(`create:${JSON.stringify(input.settings ?? null)}`);
    const tenant: Tenant = {
      id: randomUUID(),
      slug: input.slug,
      name: input.name,
      region: input.region,
      status: 'active',
      settings: input.settings ?? DEFAULT_SETTINGS,
      createdAt: new Date().toISOString(),
    };
    this.rows.set(tenant.id, tenant);
    return tenant;
  }

  async find(tenantId: string) {
    return this.rows.get(tenantId);
  }

  async setStatus(tenantId: string, status: Tenant['status']) {
    this.calls.push(`setStatus:${status}`);
    const tenant = this.rows.get(tenantId);
    if (tenant) tenant.status = status;
    return tenant;
  }

  async updateSettings(tenantId: string, settings: Partial<TenantSettings>) {
    this.calls.push(`updateSettings:${JSON.stringify(settings)}`);
    const tenant = this.rows.get(tenantId);
    if (tenant) tenant.settings = { ...tenant.settings, ...settings };
    return tenant;
  }
}

/** The refusals' audit events as they would be published (the AUDIT stream is the int tests'). */
class RecordedAudit extends AuditPublisher {
  readonly events: AuditEventInput[] = [];

  constructor() {
    super({} as ServiceResources);
  }

  override publish(events: readonly AuditEventInput[]): void {
    this.events.push(...events);
  }
}

const tokens = new Map<string, Principal>();

function tokenOf(tenantId: string, permissions: string[]): string {
  const authorization = `Bearer ${randomUUID()}`;
  tokens.set(authorization, {
    subject: tenantId === PLATFORM_TENANT_ID ? 'service:strongroom-admin' : 'tenant-admin-1',
    tenantId,
    environment: 'production',
    clientId: undefined,
    tokenId: randomUUID(),
    issuedAt: new Date(),
    expiresAt: new Date(Date.now() + 900_000),
    permissions: new Set(permissions),
  });
  return authorization;
}

const ADMINISTRATION = [
  'tenants.tenants.create',
  'tenants.tenants.read',
  'tenants.tenants.suspend',
  'tenants.settings.update',
];

type Method = 'create' | 'get' | 'suspend' | 'reactivate' | 'updateSettings';

describe('TenantsHandler (through @Handles, a stand-in verifier, the repository in memory)', () => {
  const installed = busHandlerHooks.verifyCredential;
  let repository: InMemoryTenants;
  let handler: TenantsHandler;
  let audit: RecordedAudit;
  const operator = tokenOf(PLATFORM_TENANT_ID, ADMINISTRATION);

  /** Calls the decorated method as BusServer would: the reply, or the bus error body. */
  async function call(method: Method, payload: unknown, authorization: string) {
    const headers = natsHeaders();
    headers.set('authorization', authorization);
    const invoke = handler[method] as unknown as (data: unknown, context: NatsContext) => Promise<unknown>;
    try {
      return {
        reply: await invoke.call(handler, new BusDelivery(payload, undefined), {
          getHeaders: () => headers,
        } as unknown as NatsContext),
      };
    } catch (error) {
      return { error: (error as { getError(): unknown }).getError() as { code: string } };
    }
  }

  beforeAll(() => {
    busHandlerHooks.verifyCredential = async (authorization) => {
      const principal = authorization === undefined ? undefined : tokens.get(authorization);
      if (principal === undefined) throw PlatformError.unauthenticated();
      return principal;
    };
  });
  afterAll(() => {
    busHandlerHooks.verifyCredential = installed;
  });
  beforeEach(() => {
    repository = new InMemoryTenants();
    audit = new RecordedAudit();
    handler = new TenantsHandler(repository as unknown as TenantsRepository, audit);
  });

  async function seeded(): Promise<Tenant> {
    const tenant = await repository.create({ slug: 'acme', name: 'Acme', region: 'ke' });
    repository.calls.length = 0;
    return tenant;
  }

  it('creates a tenant without settings (the repository applies the defaults) and with partial settings (defaults fill in)', async () => {
    await expect(call('create', { slug: 'acme', name: 'Acme' }, operator)).resolves.toMatchObject({
      reply: { slug: 'acme', region: 'default', settings: DEFAULT_SETTINGS },
    });
    await expect(
      call('create', { slug: 'zed', name: 'Zed', settings: { accessTokenTtlSeconds: 1800 } }, operator),
    ).resolves.toMatchObject({ reply: { settings: { accessTokenTtlSeconds: 1800, refreshTokenTtlSeconds: 604_800 } } });
    expect(repository.calls).toEqual([
      'create:null',
      'create:{"accessTokenTtlSeconds":1800,"refreshTokenTtlSeconds":604800,"kycRetentionDays":1826,"auditRetentionDays":2557,"ratePlan":"standard"}',
    ]);
  });

  it.each([
    ['14 minutes access', { accessTokenTtlSeconds: 14 * 60 }],
    ['61 minutes access', { accessTokenTtlSeconds: 61 * 60 }],
    ['91 days refresh', { refreshTokenTtlSeconds: 91 * 86_400 }],
    ['59 minutes refresh', { refreshTokenTtlSeconds: 59 * 60 }],
    ['a fractional lifetime', { accessTokenTtlSeconds: 900.5 }],
    ['an unknown setting', { idleTimeoutSeconds: 60 }],
  ])('refuses %s as VALIDATION, on create and on update, before the repository', async (_case, settings) => {
    const tenant = await seeded();
    await expect(call('create', { slug: 'bad', name: 'Bad', settings }, operator)).resolves.toEqual({
      error: expect.objectContaining({ code: 'VALIDATION' }),
    });
    await expect(call('updateSettings', { tenantId: tenant.id, settings }, operator)).resolves.toEqual({
      error: expect.objectContaining({ code: 'VALIDATION' }),
    });
    expect(repository.calls).toEqual([]);
  });

  it('lets a platform principal suspend, reactivate and re-time a tenant', async () => {
    const tenant = await seeded();
    await expect(call('suspend', { tenantId: tenant.id }, operator)).resolves.toMatchObject({
      reply: { id: tenant.id, status: 'suspended' },
    });
    await expect(call('reactivate', { tenantId: tenant.id }, operator)).resolves.toMatchObject({
      reply: { id: tenant.id, status: 'active' },
    });
    const settings = { accessTokenTtlSeconds: 3600, refreshTokenTtlSeconds: 90 * 86_400 };
    await expect(call('updateSettings', { tenantId: tenant.id, settings }, operator)).resolves.toMatchObject({
      reply: { id: tenant.id, settings },
    });
    expect(repository.calls).toEqual([
      'setStatus:suspended',
      'setStatus:active',
      `updateSettings:${JSON.stringify(settings)}`,
    ]);
    // Changes are recorded by the repository, in their transactions: no refusal here.
    expect(audit.events).toEqual([]);
  });

  it.each(['suspend', 'reactivate', 'updateSettings'] as const)(
    "answers %s by the tenant's own admin FORBIDDEN, even holding the permission",
    async (method) => {
      const tenant = await seeded();
      const ownAdmin = tokenOf(tenant.id, ADMINISTRATION);
      const payload =
        method === 'updateSettings' ? { tenantId: tenant.id, settings: DEFAULT_SETTINGS } : { tenantId: tenant.id };
      await expect(call(method, payload, ownAdmin)).resolves.toEqual({
        error: expect.objectContaining({ code: 'FORBIDDEN' }),
      });
      // Nor for a tenant that does not exist: the refusal is the same, so it reveals nothing.
      await expect(call(method, { ...payload, tenantId: randomUUID() }, ownAdmin)).resolves.toEqual({
        error: expect.objectContaining({ code: 'FORBIDDEN' }),
      });
      expect(repository.calls).toEqual([]);
      expect(repository.rows.get(tenant.id)).toMatchObject({ status: 'active', settings: DEFAULT_SETTINGS });
      // Both attempts audited as denied, in the caller's own chain (never one it merely named).
      const action = { suspend: 'tenants.tenant.suspend', reactivate: 'tenants.tenant.reactivate' }[
        method as 'suspend' | 'reactivate'
      ];
      expect(audit.events).toHaveLength(2);
      for (const event of audit.events) {
        expect(auditEventSchema.safeParse(event).success).toBe(true);
        expect(event).toMatchObject({
          tenantId: tenant.id,
          action: action ?? 'tenants.settings.update',
          outcome: 'denied',
          reason: 'FORBIDDEN',
          actor: { type: 'user', id: 'tenant-admin-1' },
          resource: { type: 'tenant' },
        });
      }
    },
  );

  it.each(['suspend', 'reactivate', 'updateSettings'] as const)(
    'answers %s of an unknown tenant NOT_FOUND',
    async (method) => {
      const tenantId = randomUUID();
      const payload = method === 'updateSettings' ? { tenantId, settings: DEFAULT_SETTINGS } : { tenantId };
      await expect(call(method, payload, operator)).resolves.toEqual({
        error: expect.objectContaining({ code: 'NOT_FOUND' }),
      });
      expect(audit.events).toMatchObject([
        {
          tenantId: PLATFORM_TENANT_ID,
          outcome: 'failure',
          reason: 'NOT_FOUND',
          actor: { type: 'service', id: 'strongroom-admin' },
          resource: { type: 'tenant', id: tenantId },
        },
      ]);
    },
  );

  it('records a creation refused to a tenant principal as denied, in its own chain', async () => {
    const tenant = await seeded();
    const ownAdmin = tokenOf(tenant.id, ADMINISTRATION);
    await expect(call('create', { slug: 'rogue', name: 'Rogue' }, ownAdmin)).resolves.toEqual({
      error: expect.objectContaining({ code: 'FORBIDDEN' }),
    });
    expect(audit.events).toMatchObject([
      {
        tenantId: tenant.id,
        action: 'tenants.tenant.create',
        outcome: 'denied',
        resource: { type: 'tenant', id: 'new' },
        details: { slug: 'rogue', region: 'default' },
      },
    ]);
  });

  it('answers a token without the permission FORBIDDEN before anything else', async () => {
    const tenant = await seeded();
    const reader = tokenOf(PLATFORM_TENANT_ID, ['tenants.tenants.read']);
    await expect(call('suspend', { tenantId: tenant.id }, reader)).resolves.toEqual({
      error: expect.objectContaining({ code: 'FORBIDDEN' }),
    });
    expect(repository.calls).toEqual([]);
  });
});
