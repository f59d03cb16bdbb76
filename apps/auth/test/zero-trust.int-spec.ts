import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  defineRequest,
  issueServiceToken,
  OPERATOR_IDENTITY,
  PLATFORM_TENANT_ID,
  SERVICE_TOKEN_PERMISSIONS,
  tenantIdSchema,
  tokensRevoked,
} from '@strongroom/contracts';
import {
  assertMayActOnTenant,
  BusClient,
  type BusRequestContext,
  BusServer,
  busCredentialSources,
  busHandlerHooks,
  decodeJson,
  encodeJson,
  Handles,
  type ProcessCredentials,
  serviceCredentialsOverBus,
  startProcessCredentials,
} from '@strongroom/platform';
import { decodeJwt } from 'jose';
import type { NatsConnection } from 'nats';
import { z } from 'zod';
import { ServiceTokensModule } from '../src/service-tokens/service-tokens.module';
import { JwksHandler } from '../src/signing-keys/jwks.handler';
import { SigningKeyStore } from '../src/signing-keys/signing-key-store';
import { type BareAuthSlice, PUBLIC_URL, startAuthSlice, TOKEN_AUDIENCE } from './support/auth-slice';

/** A ledger handler acting on a tenant, guarded as every real one is. */
const readBalance = defineRequest({
  subject: 'ledger.v1.probes.read',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: z.object({ tenantId: z.string(), caller: z.string() }),
  permission: 'tenants.tenants.read',
  summary: 'Test-only: a handler acting on a tenant',
});

const handled: string[] = [];

@Controller()
class ProbeHandler {
  @Handles(readBalance)
  async read(input: { tenantId: string }, context: BusRequestContext) {
    handled.push(input.tenantId);
    assertMayActOnTenant(context.principal, input.tenantId);
    return { tenantId: input.tenantId, caller: context.principal!.subject };
  }
}
@Module({ controllers: [ProbeHandler] })
class ProbeModule {}

@Module({ imports: [ServiceTokensModule], controllers: [JwksHandler], providers: [SigningKeyStore] })
class AuthSliceModule {}

describe('deny by default on the bus (real mTLS nats-server, real verifier over JWKS and JetStream)', () => {
  const tenantId = randomUUID();
  const otherTenantId = randomUUID();
  let slice: BareAuthSlice;
  let ledger: INestMicroservice;
  let ledgerConnection: NatsConnection;
  let credentials: ProcessCredentials;

  /** An end user's token (subject `user-1`), signed with auth's current key as the OIDC provider signs them. */
  function userToken(claims: { tenant: string; permissions: string[]; jti?: string }): Promise<string> {
    return slice.userToken({
      tenantId: claims.tenant,
      permissions: claims.permissions,
      subject: 'user-1',
      jti: claims.jti,
    });
  }

  beforeAll(async () => {
    // Auth holds only its key ring here: the ledger verifies over the bus, as every other service does.
    slice = await startAuthSlice({ label: 'zero-trust', module: AuthSliceModule, database: false });

    // The ledger's process credentials, as runBackendService builds them: JWKS from auth over the bus.
    ledgerConnection = await slice.connect('ledger');
    credentials = await startProcessCredentials({
      identity: 'ledger',
      connection: ledgerConnection,
      config: { PUBLIC_URL, TOKEN_AUDIENCE },
      logger: slice.resources.logger,
      sources: busCredentialSources(new BusClient(ledgerConnection, { defaultTimeoutMs: 2_000 })),
    });
    busHandlerHooks.verifyCredential = (authorization) => credentials.verifier.verify(authorization);
    ledger = await NestFactory.createMicroservice(ProbeModule, {
      strategy: new BusServer(async () => ledgerConnection, { queue: 'ledger' }),
      logger: false,
    });
    await ledger.listen();
  });

  afterAll(async () => {
    await credentials?.stop();
    await ledger?.close();
    // Restores the verifier hook, closes auth and every connection, stops nats-server.
    await slice?.stop();
  });

  beforeEach(() => {
    handled.length = 0;
  });

  async function gatewayBus(): Promise<BusClient> {
    return new BusClient(await slice.connect('gateway'), { defaultTimeoutMs: 2_000 });
  }

  it('serves a caller of the tenant holding the permission', async () => {
    const bus = await gatewayBus();
    const credential = await userToken({ tenant: tenantId, permissions: ['tenants.tenants.read'] });
    await expect(bus.request(readBalance, { tenantId }, { credential })).resolves.toEqual({
      tenantId,
      caller: 'user-1',
    });
  });

  it('answers a call without a token UNAUTHENTICATED, and the handler never runs', async () => {
    const bus = await gatewayBus();
    await expect(bus.request(readBalance, { tenantId })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(handled).toEqual([]);
  });

  it('answers a valid token without the permission FORBIDDEN, and the handler never runs', async () => {
    const bus = await gatewayBus();
    const credential = await userToken({ tenant: tenantId, permissions: ['auth.users.create'] });
    await expect(bus.request(readBalance, { tenantId }, { credential })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(handled).toEqual([]);
  });

  it("answers another tenant's token NOT_FOUND, as if the tenant did not exist", async () => {
    const bus = await gatewayBus();
    const credential = await userToken({ tenant: otherTenantId, permissions: ['tenants.tenants.read'] });
    await expect(bus.request(readBalance, { tenantId }, { credential })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      details: { resource: 'Tenant', id: tenantId },
    });
  });

  it('refuses a token UNAUTHENTICATED once its revocation arrives through JetStream', async () => {
    const bus = await gatewayBus();
    const jti = randomUUID();
    const credential = await userToken({ tenant: tenantId, permissions: ['tenants.tenants.read'], jti });
    await expect(bus.request(readBalance, { tenantId }, { credential })).resolves.toMatchObject({ tenantId });

    const now = new Date();
    const revocation = {
      scope: 'token',
      tokenId: jti,
      revokedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 900_000).toISOString(),
    };
    const authConnection = await slice.connect('auth');
    await authConnection.jetstream().publish(tokensRevoked.subject, encodeJson(revocation), { msgID: randomUUID() });

    const deadline = Date.now() + 2_000;
    let outcome: unknown;
    while (Date.now() < deadline) {
      outcome = await bus.request(readBalance, { tenantId }, { credential }).catch((error: unknown) => error);
      if ((outcome as { code?: string }).code === 'UNAUTHENTICATED') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(outcome).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('gives the operator its own least-privilege platform token, which works on any tenant', async () => {
    const operator = new BusClient(await slice.connect(OPERATOR_IDENTITY), { defaultTimeoutMs: 2_000 });
    const token = await operator.request(issueServiceToken, {});
    expect(token).toMatchObject({ tokenType: 'Bearer', expiresInSeconds: 300 });
    expect(decodeJwt(token.accessToken)).toMatchObject({
      iss: PUBLIC_URL,
      aud: TOKEN_AUDIENCE,
      sub: 'service:strongroom-admin',
      client_id: 'service:strongroom-admin',
      tenant_id: PLATFORM_TENANT_ID,
      env: 'production',
      permissions: [...SERVICE_TOKEN_PERMISSIONS[OPERATOR_IDENTITY]],
    });
    // Carried by a caller nats-server lets reach the ledger: a platform principal passes the tenant rule.
    const bus = await gatewayBus();
    await expect(
      bus.request(readBalance, { tenantId: otherTenantId }, { credential: `Bearer ${token.accessToken}` }),
    ).resolves.toEqual({ tenantId: otherTenantId, caller: 'service:strongroom-admin' });
  });

  it("gives the gateway a token with no permission beyond public calls: FORBIDDEN on a tenant's data", async () => {
    const gateway = await gatewayBus();
    const asGateway = new BusClient(await slice.connect('gateway'), {
      defaultTimeoutMs: 2_000,
      actingAs: serviceCredentialsOverBus(gateway),
    });
    await expect(asGateway.request(readBalance, { tenantId })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(handled).toEqual([]);
  });

  it("lets no identity obtain another identity's token: naming its inbox sends the token to that identity alone", async () => {
    const gateway = await slice.connect('gateway');
    const operator = await slice.connect(OPERATOR_IDENTITY);
    const stolenInbox = '_INBOX.strongroom-admin.stolen';

    const seenByGateway: unknown[] = [];
    gateway.subscribe(`${stolenInbox}.>`, { callback: (error, message) => seenByGateway.push(error ?? message) });
    const delivered = new Promise<Uint8Array>((resolve) => {
      operator.subscribe(`${stolenInbox}.>`, { max: 1, callback: (_error, message) => resolve(message.data) });
    });
    await operator.flush();

    const packet = { pattern: issueServiceToken.subject, data: {}, id: randomUUID() };
    gateway.publish(issueServiceToken.subject, encodeJson(packet), { reply: `${stolenInbox}.1` });
    const reply = decodeJson(await delivered) as { response: { accessToken: string } };
    expect(decodeJwt(reply.response.accessToken)).toMatchObject({ sub: 'service:strongroom-admin' });

    await gateway.flush();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // nats-server refused the gateway's subscription to another identity's inbox: it saw no token.
    expect(seenByGateway.every((seen) => seen instanceof Error)).toBe(true);

    const own = await new BusClient(gateway, { defaultTimeoutMs: 2_000 }).request(issueServiceToken, {});
    expect(decodeJwt(own.accessToken)).toMatchObject({
      sub: 'service:gateway',
      permissions: ['auth.api-keys.authenticate', 'tenants.environments.read'],
    });
  });
});
