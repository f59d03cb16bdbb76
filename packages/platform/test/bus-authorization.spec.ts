import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { NatsContext } from '@nestjs/microservices';
import { defineRequest, PLATFORM_TENANT_ID, tenantIdSchema } from '@strongroom/contracts';
import { headers as natsHeaders } from 'nats';
import { z } from 'zod';
import {
  assertMayActOnTenant,
  assertMayAdministerTenants,
  assertMayCreateTenants,
  assertMayUseEnvironment,
  BusDelivery,
  type BusRequestContext,
  busHandlerHooks,
  Handles,
  PlatformError,
  type Principal,
} from '../src';

const tenantId = randomUUID();
const otherTenantId = randomUUID();

function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    subject: 'user-1',
    tenantId,
    environment: 'production',
    clientId: undefined,
    tokenId: randomUUID(),
    issuedAt: new Date(),
    expiresAt: new Date(Date.now() + 900_000),
    permissions: new Set(['tenants.tenants.read']),
    ...overrides,
  };
}

const readTenant = defineRequest({
  subject: 'tenants.v1.probes.read',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: z.object({ tenantId: z.string(), subject: z.string() }),
  permission: 'tenants.tenants.read',
  summary: 'Test-only: a handler acting on a tenant',
});
const openProbe = defineRequest({
  subject: 'tenants.v1.probes.open',
  request: z.object({}).strict(),
  response: z.object({ anonymous: z.boolean(), replyIdentity: z.string().optional() }),
  permission: 'platform.health.read',
  authentication: 'none',
  summary: 'Test-only: a public contract',
});

const ran: string[] = [];

class ProbeHandlers {
  @Handles(readTenant)
  async read(input: { tenantId: string }, context: BusRequestContext) {
    ran.push('read');
    assertMayActOnTenant(context.principal, input.tenantId);
    return { tenantId: input.tenantId, subject: context.principal!.subject };
  }

  @Handles(openProbe)
  async open(_input: object, context: BusRequestContext) {
    ran.push('open');
    return { anonymous: context.principal === undefined, replyIdentity: context.replyIdentity };
  }
}

const handlers = new ProbeHandlers();
const tokens = new Map<string, Principal>();

function natsContextWith(authorization?: string): NatsContext {
  const hdrs = natsHeaders();
  if (authorization !== undefined) hdrs.set('authorization', authorization);
  return { getHeaders: () => hdrs } as unknown as NatsContext;
}

/** Calls the decorated method as BusServer would, and returns the reply or the bus error body. */
async function call(method: 'read' | 'open', payload: unknown, authorization?: string, replyTo?: string) {
  const invoke = handlers[method] as unknown as (data: unknown, ctx: NatsContext) => Promise<unknown>;
  try {
    return { reply: await invoke.call(handlers, new BusDelivery(payload, replyTo), natsContextWith(authorization)) };
  } catch (error) {
    return { error: (error as { getError(): unknown }).getError() as { code: string } };
  }
}

function tokenFor(holder: Principal): string {
  const authorization = `Bearer ${randomUUID()}`;
  tokens.set(authorization, holder);
  return authorization;
}

describe('deny by default in @Handles', () => {
  const installed = busHandlerHooks.verifyCredential;

  beforeAll(() => {
    busHandlerHooks.verifyCredential = async (authorization) => {
      const holder = authorization === undefined ? undefined : tokens.get(authorization);
      if (holder === undefined) throw PlatformError.unauthenticated();
      return holder;
    };
  });
  afterAll(() => {
    busHandlerHooks.verifyCredential = installed;
  });
  beforeEach(() => {
    ran.length = 0;
  });

  it('runs the handler for a verified caller holding the permission, and hands it the principal', async () => {
    await expect(call('read', { tenantId }, tokenFor(principal()))).resolves.toEqual({
      reply: { tenantId, subject: 'user-1' },
    });
    expect(ran).toEqual(['read']);
  });

  it.each([
    ['no credential', undefined],
    ['a credential the verifier refuses', 'Bearer forged.token.value'],
  ])('answers %s with UNAUTHENTICATED and never runs the handler', async (_case, authorization) => {
    await expect(call('read', { tenantId }, authorization)).resolves.toEqual({
      error: expect.objectContaining({ code: 'UNAUTHENTICATED' }),
    });
    expect(ran).toEqual([]);
  });

  it('answers a valid token without the permission with FORBIDDEN and never runs the handler', async () => {
    const holder = principal({ permissions: new Set(['auth.users.create']) });
    await expect(call('read', { tenantId }, tokenFor(holder))).resolves.toEqual({
      error: expect.objectContaining({ code: 'FORBIDDEN', details: { permission: 'tenants.tenants.read' } }),
    });
    expect(ran).toEqual([]);
  });

  it('authorizes before validating: an anonymous caller learns nothing about the schema', async () => {
    await expect(call('read', { tenantId: 'not-a-uuid', extra: true })).resolves.toEqual({
      error: expect.objectContaining({ code: 'UNAUTHENTICATED' }),
    });
    await expect(call('read', { tenantId: 'not-a-uuid' }, tokenFor(principal()))).resolves.toEqual({
      error: expect.objectContaining({ code: 'VALIDATION' }),
    });
    expect(ran).toEqual([]);
  });

  it('fails closed when no verifier was installed', async () => {
    const installedHere = busHandlerHooks.verifyCredential;
    busHandlerHooks.verifyCredential = installed;
    try {
      await expect(call('read', { tenantId }, tokenFor(principal()))).resolves.toEqual({
        error: expect.objectContaining({ code: 'UNAUTHENTICATED' }),
      });
    } finally {
      busHandlerHooks.verifyCredential = installedHere;
    }
    expect(ran).toEqual([]);
  });

  it('lets anyone call a public contract, with no principal, and names the identity of the reply inbox', async () => {
    await expect(call('open', {}, undefined, '_INBOX.ledger.abc.1')).resolves.toEqual({
      reply: { anonymous: true, replyIdentity: 'ledger' },
    });
    await expect(call('open', {}, undefined, '_INBOX.nobody-known.abc.1')).resolves.toEqual({
      reply: { anonymous: true },
    });
    await expect(call('open', {}, undefined, 'not.an.inbox')).resolves.toEqual({ reply: { anonymous: true } });
  });

  it("refuses another tenant's principal as NOT_FOUND after the permission check passed", async () => {
    await expect(call('read', { tenantId: otherTenantId }, tokenFor(principal()))).resolves.toEqual({
      error: expect.objectContaining({ code: 'NOT_FOUND', details: { resource: 'Tenant', id: otherTenantId } }),
    });
  });
});

describe('the tenant rule', () => {
  const refusedAs = (action: () => void, code: string) => {
    try {
      action();
    } catch (error) {
      expect(error).toBeInstanceOf(PlatformError);
      expect((error as PlatformError).code).toBe(code);
      return;
    }
    throw new Error(`expected ${code}`);
  };

  it('lets a principal act on its own tenant', () => {
    expect(() => assertMayActOnTenant(principal(), tenantId)).not.toThrow();
  });

  it("answers another tenant's id NOT_FOUND, exactly like a tenant that does not exist", () => {
    const refusal = (() => {
      try {
        assertMayActOnTenant(principal(), otherTenantId);
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(PlatformError);
    expect((refusal as PlatformError).toBody()).toEqual(PlatformError.notFound('Tenant', otherTenantId).toBody());
  });

  it('lets a platform principal act on any tenant', () => {
    expect(() => assertMayActOnTenant(principal({ tenantId: PLATFORM_TENANT_ID }), otherTenantId)).not.toThrow();
  });

  it('refuses a missing principal as UNAUTHENTICATED', () => {
    refusedAs(() => assertMayActOnTenant(undefined, tenantId), 'UNAUTHENTICATED');
    refusedAs(() => assertMayCreateTenants(undefined), 'UNAUTHENTICATED');
  });

  it('keeps a tenant credential to its own environment (FORBIDDEN otherwise); platform principals have none', () => {
    expect(() => assertMayUseEnvironment(principal({ environment: 'sandbox' }), 'sandbox')).not.toThrow();
    refusedAs(() => assertMayUseEnvironment(principal({ environment: 'sandbox' }), 'production'), 'FORBIDDEN');
    expect(() =>
      assertMayUseEnvironment(principal({ tenantId: PLATFORM_TENANT_ID, environment: 'sandbox' }), 'production'),
    ).not.toThrow();
  });

  it('lets only platform principals create tenants (FORBIDDEN otherwise: nothing exists to hide)', () => {
    expect(() => assertMayCreateTenants(principal({ tenantId: PLATFORM_TENANT_ID }))).not.toThrow();
    refusedAs(() => assertMayCreateTenants(principal()), 'FORBIDDEN');
  });

  it("lets only platform principals administer tenants, FORBIDDEN even for the tenant's own admin", () => {
    expect(() => assertMayAdministerTenants(principal({ tenantId: PLATFORM_TENANT_ID }))).not.toThrow();
    const ownAdmin = principal({ permissions: new Set(['tenants.tenants.suspend', 'tenants.settings.update']) });
    refusedAs(() => assertMayAdministerTenants(ownAdmin), 'FORBIDDEN');
    refusedAs(() => assertMayAdministerTenants(undefined), 'UNAUTHENTICATED');
  });

  it('accepts the platform tenant id as a tenant id', () => {
    expect(tenantIdSchema.safeParse(PLATFORM_TENANT_ID).success).toBe(true);
  });
});
