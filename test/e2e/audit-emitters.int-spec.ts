import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RunningStack } from '@strongroom/cli';
import {
  AUDIT_STREAM,
  type AuditEvent,
  auditMessageSchema,
  createUser,
  HEADERS,
  OPERATOR_IDENTITY,
  PLATFORM_AUDIT_TENANT_ID,
  signRequest,
} from '@strongroom/contracts';
import { BusClient, busTlsFilesFor, connectBus, serviceCredentialsOverBus } from '@strongroom/platform';
import { decodeJwt } from 'jose';
import type { NatsConnection } from 'nats';
import * as oidc from 'openid-client';
import { type StartedSignIn, startSignIn } from './browser-sign-in';
import { readStream } from './support/event-stream';
import { expectStatus, LedgerApi, moving } from './support/ledger-api';
import { startTestStack, type TestStack } from './test-stack';

const PASSWORD = 'a long and unusual passphrase for the audit trail';
const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const STREAM_TIMEOUT_MS = 30_000;

/**
 * Issue 7, "must be shown" 5: auth, tenants and ledger emit the required audit events end to end.
 * Real actions through the gateway of a running stack (a sign-in failed and one that succeeded, a
 * token issued, an API key created and revoked, an environment changed, an allocation, a
 * redemption, a settlement and a refused transfer), each sent with its own request id; then
 * every expected event is read back from the AUDIT stream, as the audit service reads it.
 */
describe('audit events of auth, tenants and ledger, end to end', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let operatorConnection: NatsConnection;
  /** The demo client (client credentials, sandbox) acts on the demo tenant. */
  let token: string;
  let demoActor: { type: 'client'; id: string };
  const requestIdOf = (what: string) => `e2e-audit-${what}-${randomUUID()}`;

  /** A call of the API with the demo client's token and our request id. */
  // biome-ignore lint/suspicious/noExplicitAny: replies are read field by field
  function call<T = any>(method: string, path: string, requestId: string, body?: unknown) {
    const api = new LedgerApi(stack.gatewayUrl, stack.demo.tenantId, token);
    return api.request<T>(method, path, {
      ...(body !== undefined ? { body } : {}),
      headers: { [HEADERS.requestId]: requestId },
    });
  }

  /** client_credentials at the token endpoint, as the demo client, under our request id. */
  async function clientCredentials(requestId: string): Promise<string> {
    const response = await fetch(`${stack.gatewayUrl}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${stack.demo.clientId}:${stack.demo.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        [HEADERS.requestId]: requestId,
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  /** Posts the sign-in form under our request id; the status of the page it answered. */
  async function postSignIn(started: StartedSignIn, email: string, password: string, requestId: string) {
    const response = await started.browser.request(started.interaction, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', [HEADERS.requestId]: requestId },
      body: new URLSearchParams({ email, password, totp: '' }).toString(),
    });
    return response.status;
  }

  /** Every audit event on the stream (any emitter) until each of `requestIds` has `counts` events (1 by default). */
  async function auditEventsFor(requestIds: Record<string, number>): Promise<AuditEvent[]> {
    const ofRequests = (read: readonly { payload: unknown }[]) =>
      read
        .flatMap((message) => auditMessageSchema.parse(message.payload).events)
        .filter((event) => event.requestId !== undefined && event.requestId in requestIds);
    const read = await readStream({
      natsUrl: stack.natsUrl,
      stateDir: testStack.stateDir,
      identity: 'audit',
      stream: AUDIT_STREAM.name,
      subject: 'audit.events.>',
      done: (messages) => {
        const events = ofRequests(messages);
        return Object.entries(requestIds).every(
          ([id, count]) => events.filter((event) => event.requestId === id).length >= count,
        );
      },
      timeoutMs: STREAM_TIMEOUT_MS,
    });
    return ofRequests(read);
  }

  const eventOf = (events: readonly AuditEvent[], requestId: string, action: string) =>
    events.find((event) => event.requestId === requestId && event.action === action);

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    demoActor = { type: 'client', id: stack.demo.clientId };
    operatorConnection = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), OPERATOR_IDENTITY),
      name: 'e2e-audit-emitters',
    });
    token = await clientCredentials(requestIdOf('setup-token'));
  }, 120_000);

  afterAll(async () => {
    await operatorConnection?.close();
    await testStack?.dispose();
  }, 60_000);

  it('records a failed and a successful sign-in and a token issued (auth)', async () => {
    // A user of the demo tenant, and an application it signs in to (authorization code + PKCE).
    const email = `audit-${randomUUID().slice(0, 8)}@demo.test`;
    const operator = new BusClient(operatorConnection, {
      defaultTimeoutMs: 10_000,
      actingAs: serviceCredentialsOverBus(new BusClient(operatorConnection, { defaultTimeoutMs: 10_000 })),
    });
    const user = await operator.request(createUser, {
      tenantId: stack.demo.tenantId,
      email,
      password: PASSWORD,
      roles: ['viewer'],
    });
    const registered = await call('POST', `/v1/tenants/${stack.demo.tenantId}/clients`, requestIdOf('client'), {
      environment: 'sandbox',
      name: 'Audit e2e app',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      permissions: ['tenants.tenants.read'],
    });
    const web = expectStatus(registered, 201) as { clientId: string; clientSecret: string };
    const webConfig = await oidc.discovery(new URL(stack.gatewayUrl), web.clientId, web.clientSecret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });

    const started = await startSignIn(webConfig, stack.gatewayUrl, REDIRECT_URI, 'openid tenants.tenants.read');
    const failedLogin = requestIdOf('login-failed');
    expect(await postSignIn(started, email, `${PASSWORD}!`, failedLogin)).toBe(401);
    const login = requestIdOf('login');
    expect(await postSignIn(started, email, PASSWORD, login)).toBe(303);
    const issued = requestIdOf('token');
    const tokenIssued = await clientCredentials(issued);

    const events = await auditEventsFor({ [failedLogin]: 1, [login]: 1, [issued]: 1 });
    expect(eventOf(events, failedLogin, 'auth.login.attempt')).toMatchObject({
      tenantId: stack.demo.tenantId,
      outcome: 'failure',
      reason: 'invalid_credentials',
      actor: { type: 'anonymous', id: 'anonymous' },
      details: { clientId: web.clientId },
    });
    expect(eventOf(events, login, 'auth.login.attempt')).toMatchObject({
      tenantId: stack.demo.tenantId,
      outcome: 'success',
      actor: { type: 'user', id: user.id },
      resource: { type: 'user', id: user.id },
      sourceIp: expect.any(String),
    });
    expect(eventOf(events, issued, 'auth.token.issue')).toMatchObject({
      tenantId: stack.demo.tenantId,
      environment: 'sandbox',
      outcome: 'success',
      actor: demoActor,
      resource: { type: 'access_token', id: decodeJwt(tokenIssued).jti },
      details: { grantType: 'client_credentials', clientId: stack.demo.clientId },
    });
    // Never the email or the password, in any event of the run.
    expect(JSON.stringify(events)).not.toContain(email);
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
  });

  it('records an API key created and revoked, and a refused key (auth), and an environment changed (tenants)', async () => {
    const tenantPath = `/v1/tenants/${stack.demo.tenantId}`;
    const created = requestIdOf('api-key-create');
    const issued = expectStatus(
      await call('POST', `${tenantPath}/api-keys`, created, {
        environment: 'sandbox',
        name: 'Audit e2e key',
        permissions: ['tenants.tenants.read'],
      }),
      201,
    ) as { apiKey: string; signingSecret: string; key: { keyId: string } };
    const revoked = requestIdOf('api-key-revoke');
    expectStatus(await call('DELETE', `${tenantPath}/api-keys/${issued.key.keyId}`, revoked), 200);
    const refusedKey = requestIdOf('api-key-refused');
    const withRevokedKey = await fetch(`${stack.gatewayUrl}${tenantPath}`, {
      headers: {
        'x-api-key': issued.apiKey,
        [HEADERS.requestId]: refusedKey,
        ...signRequest({
          method: 'GET',
          url: tenantPath,
          keyId: issued.key.keyId,
          signingSecret: issued.signingSecret,
        }),
      },
    });
    expect(withRevokedKey.status).toBe(401);
    const environment = requestIdOf('environment');
    expectStatus(
      await call('PATCH', `${tenantPath}/environments/sandbox`, environment, { ipAllowlist: ['0.0.0.0/0', '::/0'] }),
      200,
    );

    const events = await auditEventsFor({ [created]: 1, [revoked]: 1, [environment]: 1 });
    for (const [requestId, action] of [
      [created, 'auth.api-key.create'],
      [revoked, 'auth.api-key.revoke'],
    ] as const) {
      expect(eventOf(events, requestId, action)).toMatchObject({
        tenantId: stack.demo.tenantId,
        environment: 'sandbox',
        outcome: 'success',
        actor: demoActor,
        resource: { type: 'api_key', id: issued.key.keyId },
      });
    }
    expect(eventOf(events, environment, 'tenants.environment.update')).toMatchObject({
      tenantId: stack.demo.tenantId,
      environment: 'sandbox',
      outcome: 'success',
      actor: demoActor,
      resource: { type: 'tenant_environment', id: `${stack.demo.tenantId}/sandbox` },
      details: { ipAllowlistEntries: { before: 0, after: 2 } },
    });
    // The revoked key, presented on a signed request: auth refused it, and recorded it as denied
    // (in the platform's chain: a refused key's tenant is not looked up), naming the key by its id.
    const refusals = await auditEventsFor({ [refusedKey]: 1 });
    expect(eventOf(refusals, refusedKey, 'auth.api-key.authenticate')).toMatchObject({
      tenantId: PLATFORM_AUDIT_TENANT_ID,
      environment: 'sandbox',
      outcome: 'denied',
      reason: 'INVALID_API_KEY',
      actor: { type: 'anonymous', id: 'anonymous' },
      resource: { type: 'api_key', id: issued.key.keyId },
    });
    // No key material in any of them.
    expect(JSON.stringify(events)).not.toContain(issued.apiKey);
    expect(JSON.stringify(events)).not.toContain(issued.signingSecret);
    expectStatus(
      await call('PATCH', `${tenantPath}/environments/sandbox`, requestIdOf('reset'), { ipAllowlist: [] }),
      200,
    );
  });

  it('records an allocation, a redemption, a settlement and a refused transfer, one event each (ledger)', async () => {
    const ledger = new LedgerApi(stack.gatewayUrl, stack.demo.tenantId, token);
    const cash = await ledger.openAccount('cash', 'asset');
    const wallet = await ledger.openAccount('wallet', 'liability', { flags: { debitsMustNotExceedCredits: true } });
    const merchant = await ledger.openAccount('merchant', 'liability');
    const transfer = (category: string, debited: { id: string }, credited: { id: string }, amount: string) => ({
      type: 'immediate' as const,
      id: randomUUID(),
      category: category as 'allocation',
      reference: `audit-${category}`,
      postings: moving(debited, credited, amount),
    });
    const sent = {
      allocation: transfer('allocation', cash, wallet, '10000'),
      redemption: transfer('redemption', wallet, merchant, '2500'),
      settlement: transfer('settlement', merchant, cash, '2500'),
      overdraft: transfer('redemption', wallet, merchant, '999999'),
    };
    const requestIds = Object.fromEntries(Object.keys(sent).map((name) => [name, requestIdOf(`ledger-${name}`)]));
    for (const [name, command] of Object.entries(sent)) {
      const reply = await ledger.transfer(command, { [HEADERS.requestId]: requestIds[name]! });
      expect([name, reply.status]).toEqual([name, name === 'overdraft' ? 409 : 201]);
    }

    const events = await auditEventsFor(Object.fromEntries(Object.values(requestIds).map((id) => [id, 1])));
    for (const [name, command] of Object.entries(sent)) {
      const ofTransfer = events.filter((event) => event.resource.id === command.id);
      // One event per transfer, in the tenant's chain, naming the client and the request.
      expect(ofTransfer).toHaveLength(1);
      expect(ofTransfer[0]).toMatchObject({
        tenantId: stack.demo.tenantId,
        environment: 'sandbox',
        action: `ledger.transfer.${command.category}`,
        actor: demoActor,
        requestId: requestIds[name],
        resource: { type: 'transfer', id: command.id },
        ...(name === 'overdraft'
          ? { outcome: 'failure', reason: 'INSUFFICIENT_FUNDS', details: { type: 'immediate', accountId: wallet.id } }
          : {
              outcome: 'success',
              details: {
                type: 'immediate',
                amountsMinor: { USD: command.postings[0].amount },
              },
            }),
      });
    }
  });
});
