import { createHmac, createPublicKey, generateKeyPairSync, type JsonWebKey, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DEMO_CLIENT_PERMISSIONS, type RunningStack } from '@strongroom/cli';
import { signRequest } from '@strongroom/contracts';
import fc from 'fast-check';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { Client } from 'pg';
import { type StartedSignIn, startSignIn, submitEnrolment, submitSignIn, totpSecretOf } from './browser-sign-in';
import { readStream, type StreamEvent } from './support/event-stream';
import { startTestStack, type TestStack } from './test-stack';

/** The users' password: searched for in every log at the end. */
const password = 'a long and unusual passphrase';
/** Secrets the tests were given (API keys, signing secrets): none may appear in a log. */
const secretsHandedOut: string[] = [];

/**
 * OAuth2/OIDC as a client sees it: an independent, certified-style client library (openid-client)
 * against the gateway of the running stack, and every token checked again by the services.
 */
describe('OAuth2/OIDC through the gateway', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let config: oidc.Configuration;

  const api = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${stack.gatewayUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    });
  const tenantPath = () => `/v1/tenants/${stack.demo.tenantId}`;
  const discover = (clientId: string, clientSecret: string) =>
    oidc.discovery(new URL(stack.gatewayUrl), clientId, clientSecret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });

  beforeAll(async () => {
    // Debug logs: the most a process ever writes, searched for secrets at the end.
    testStack = await startTestStack({ LOG_LEVEL: 'debug', TRUSTED_PROXIES: '127.0.0.1' });
    stack = testStack.stack;
    config = await discover(stack.demo.clientId, stack.demo.clientSecret);
  }, 120_000);

  afterAll(async () => {
    await testStack?.dispose();
  }, 60_000);

  it('publishes discovery metadata naming the gateway as issuer, S256 PKCE only, no implicit flow', () => {
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(stack.gatewayUrl);
    expect(metadata.token_endpoint).toBe(`${stack.gatewayUrl}/oauth/token`);
    expect(metadata.jwks_uri).toBe(`${stack.gatewayUrl}/jwks`);
    expect(metadata.introspection_endpoint).toBe(`${stack.gatewayUrl}/oauth/introspect`);
    expect(metadata.revocation_endpoint).toBe(`${stack.gatewayUrl}/oauth/revoke`);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.response_types_supported).toEqual(['code']);
  });

  it('serves its OpenAPI 3.1 document, every route with its permission', async () => {
    const response = await fetch(`${stack.gatewayUrl}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; servers: Array<{ url: string }>; paths: object };
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers[0]!.url).toBe(stack.gatewayUrl);
    expect(document.paths).toHaveProperty(
      ['/v1/tenants/{tenantId}/api-keys', 'post', 'x-permission'],
      'auth.api-keys.create',
    );
  });

  it('issues a client_credentials access token: an RS256 at+jwt (seed 003) for the platform audience, 15 minutes, tenant and environment', async () => {
    const tokens = await oidc.clientCredentialsGrant(config);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBe(900);
    expect(tokens.refresh_token).toBeUndefined();
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({
      iss: stack.gatewayUrl,
      aud: 'urn:strongroom:api',
      sub: stack.demo.clientId,
      client_id: stack.demo.clientId,
      tenant_id: stack.demo.tenantId,
      env: 'sandbox',
      permissions: [...DEMO_CLIENT_PERMISSIONS],
    });
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(typeof claims.jti).toBe('string');

    const response = await api(tenantPath(), tokens.access_token);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: stack.demo.tenantId, slug: stack.demo.tenantSlug });
  });

  it('narrows a token to the requested scope and refuses a scope the client does not hold', async () => {
    const narrow = await oidc.clientCredentialsGrant(config, { scope: 'tenants.tenants.read' });
    expect(decodeJwt(narrow.access_token).permissions).toEqual(['tenants.tenants.read']);
    const response = await api(`${tenantPath()}/clients`, narrow.access_token, { method: 'POST', body: '{}' });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'FORBIDDEN', permission: 'auth.clients.create' });
    await expect(oidc.clientCredentialsGrant(config, { scope: 'tenants.tenants.create' })).rejects.toMatchObject({
      error: 'invalid_scope',
    });
  });

  it('refuses a wrong client secret and an unknown client without telling them apart', async () => {
    for (const [clientId, secret] of [
      [stack.demo.clientId, `${stack.demo.clientSecret}x`],
      [`sr_client_${randomBytes(16).toString('base64url')}`, stack.demo.clientSecret],
    ] as const) {
      const response = await fetch(`${stack.gatewayUrl}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
    }
  });

  it('introspects its own tenant’s tokens (RFC 7662) and revokes them (RFC 7009): every service refuses within 1 s', async () => {
    const { access_token: token } = await oidc.clientCredentialsGrant(config);
    const active = await oidc.tokenIntrospection(config, token);
    expect(active).toMatchObject({ active: true, client_id: stack.demo.clientId, tenant_id: stack.demo.tenantId });
    expect((await api(tenantPath(), token)).status).toBe(200);

    await oidc.tokenRevocation(config, token);
    const revokedAt = Date.now();
    // The tenants service itself, asked over the bus with the token (not through the gateway).
    const { BusClient, busTlsFilesFor, connectBus } = await import('@strongroom/platform');
    const { getTenant } = await import('@strongroom/contracts');
    const connection = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'strongroom-admin'),
      name: 'e2e-revocation',
    });
    try {
      const bus = new BusClient(connection, { defaultTimeoutMs: 5_000 });
      const downstream = () =>
        bus.request(getTenant, { tenantId: stack.demo.tenantId }, { credential: `Bearer ${token}` }).then(
          () => 'accepted',
          (error: { code?: string }) => error.code,
        );
      let outcome = await downstream();
      while (outcome === 'accepted' && Date.now() - revokedAt < 5_000) {
        await new Promise((r) => setTimeout(r, 10));
        outcome = await downstream();
      }
      expect(outcome).toBe('UNAUTHENTICATED');
      expect(Date.now() - revokedAt).toBeLessThan(1_000);
    } finally {
      await connection.close();
    }
    expect((await api(tenantPath(), token)).status).toBe(401);
    await expect(oidc.tokenIntrospection(config, token)).resolves.toEqual({ active: false });
  });

  it('revokes every token of a client in bulk, all or nothing, and only within the tenant', async () => {
    const { access_token: admin } = await oidc.clientCredentialsGrant(config);
    const registered = await api(`${tenantPath()}/clients`, admin, {
      method: 'POST',
      body: JSON.stringify({
        environment: 'sandbox',
        name: 'Compromised job',
        grantTypes: ['client_credentials'],
        permissions: ['tenants.tenants.read'],
      }),
    });
    const compromised = (await registered.json()) as { clientId: string; clientSecret: string };
    const { access_token: token } = await oidc.clientCredentialsGrant(
      await discover(compromised.clientId, compromised.clientSecret),
    );
    const revoke = (targets: object[]) =>
      api(`${tenantPath()}/token-revocations`, admin, { method: 'POST', body: JSON.stringify({ targets }) });

    const unknownClient = `sr_client_${randomBytes(16).toString('base64url')}`;
    const partly = await revoke([
      { scope: 'client', clientId: compromised.clientId },
      { scope: 'client', clientId: unknownClient },
    ]);
    expect(partly.status).toBe(404);
    expect((await api(tenantPath(), token)).status).toBe(200);

    expect((await revoke([{ scope: 'client', clientId: compromised.clientId }])).status).toBe(200);
    await expectRefusedWithin(1_000, () => api(tenantPath(), token));
    expect((await api(tenantPath(), admin)).status).toBe(200);
  });

  /** Auth's events on its stream (the outbox keeps a row only until the relay has published it). */
  const authEvents = (subject: string, done: (events: readonly StreamEvent[]) => boolean) =>
    readStream({
      natsUrl: stack.natsUrl,
      stateDir: testStack.stateDir,
      identity: 'gateway',
      stream: 'EVT_AUTH',
      subject,
      done,
      timeoutMs: 10_000,
    });

  it('audits every issuance through the outbox (which token, for whom), never the token itself', async () => {
    const { access_token: token } = await oidc.clientCredentialsGrant(config);
    const jti = decodeJwt(token).jti!;
    const issued = (events: readonly StreamEvent[]) =>
      events.filter((event) => (event.payload as { tokenId?: string }).tokenId === jti);
    {
      const rows = issued(await authEvents('evt.auth.v1.tokens.issued', (events) => issued(events).length > 0)).map(
        (event) => ({ payload: JSON.stringify(event.payload) }),
      );
      expect(JSON.parse(rows[0]!.payload)).toMatchObject({
        tenantId: stack.demo.tenantId,
        clientId: stack.demo.clientId,
        subject: stack.demo.clientId,
        grantType: 'client_credentials',
      });
      expect(rows[0]!.payload).not.toContain(token.split('.')[2]);
    }
  });

  it('answers introspection and revocation of garbage as RFC 7662/7009 ask (inactive, 200)', async () => {
    await expect(oidc.tokenIntrospection(config, 'not-a-token')).resolves.toEqual({ active: false });
    await expect(oidc.tokenRevocation(config, 'not-a-token')).resolves.toBeUndefined();
  });

  describe('tampered tokens are refused at the gateway (services: apps/auth/test/zero-trust.int-spec.ts)', () => {
    let genuine: string;
    const forged = (header: object, payload: object, signature = '') =>
      `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;

    beforeAll(async () => {
      genuine = (await oidc.clientCredentialsGrant(config)).access_token;
    });

    it.each([
      ['alg none', () => forged({ alg: 'none', typ: 'at+jwt' }, decodeJwt(genuine))],
      [
        'HS256 signed with the public key (PEM, the classic algorithm confusion)',
        async () => {
          const jwks = (await (await fetch(`${stack.gatewayUrl}/jwks`)).json()) as { keys: JsonWebKey[] };
          const publicKey = createPublicKey({ key: jwks.keys[0]!, format: 'jwk' });
          const secret = Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }));
          return new SignJWT(decodeJwt(genuine))
            .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: decodeProtectedHeader(genuine).kid! })
            .sign(secret);
        },
      ],
      [
        'an unknown kid',
        async () => {
          const { privateKey } = await generateKeyPair('ES256');
          return new SignJWT(decodeJwt(genuine))
            .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'not-ours' })
            .sign(privateKey);
        },
      ],
      [
        'our kid with another key, another issuer and audience',
        async () => {
          const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
          return new SignJWT({ ...decodeJwt(genuine), iss: 'https://evil.example', aud: 'other-api' })
            .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: decodeProtectedHeader(genuine).kid! })
            .sign(privateKey);
        },
      ],
      [
        'an altered claim (another tenant)',
        () => {
          const [header, , signature] = genuine.split('.');
          const payload = { ...decodeJwt(genuine), tenant_id: '11111111-1111-4111-8111-111111111111' };
          return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
        },
      ],
    ])('%s', async (_case, make) => {
      const token = await make();
      const response = await api(tenantPath(), token);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('Bearer');
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(await response.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    });

    it('a missing token', async () => {
      const response = await fetch(`${stack.gatewayUrl}${tenantPath()}`);
      expect(response.status).toBe(401);
    });
  });

  describe('client registration through the gateway', () => {
    it('registers a client with a subset of the creator’s permissions; its secret is shown once and stored hashed', async () => {
      const { access_token: token } = await oidc.clientCredentialsGrant(config);
      const response = await api(`${tenantPath()}/clients`, token, {
        method: 'POST',
        body: JSON.stringify({
          environment: 'sandbox',
          name: 'Reporting job',
          grantTypes: ['client_credentials'],
          permissions: ['tenants.tenants.read'],
        }),
      });
      expect(response.status).toBe(201);
      const created = (await response.json()) as { clientId: string; clientSecret: string };
      expect(created).toMatchObject({ tenantId: stack.demo.tenantId, permissions: ['tenants.tenants.read'] });

      const reporting = await discover(created.clientId, created.clientSecret);
      const tokens = await oidc.clientCredentialsGrant(reporting);
      expect(decodeJwt(tokens.access_token)).toMatchObject({
        sub: created.clientId,
        permissions: ['tenants.tenants.read'],
      });

      const admin = new Client({ connectionString: await testStack.adminUrlOf('auth') });
      await admin.connect();
      try {
        const { rows } = await admin.query(
          'SELECT metadata::text AS metadata FROM oauth_clients WHERE client_id = $1',
          [created.clientId],
        );
        expect(rows[0].metadata).not.toContain(created.clientSecret);
        expect(rows[0].metadata).toMatch(/"client_secret": "h1\.\d+\./);
      } finally {
        await admin.end();
      }
    });

    it('registers a private_key_jwt client (RFC 7523): no secret, the client proves itself with its key', async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const { access_token: token } = await oidc.clientCredentialsGrant(config);
      const response = await api(`${tenantPath()}/clients`, token, {
        method: 'POST',
        body: JSON.stringify({
          environment: 'sandbox',
          name: 'Bank integration',
          grantTypes: ['client_credentials'],
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'bank-1', alg: 'ES256', use: 'sig' }] },
          permissions: ['tenants.tenants.read'],
        }),
      });
      expect(response.status).toBe(201);
      const created = (await response.json()) as { clientId: string; clientSecret?: string };
      expect(created.clientSecret).toBeUndefined();
      const keyed = await oidc.discovery(
        new URL(stack.gatewayUrl),
        created.clientId,
        undefined,
        oidc.PrivateKeyJwt({ key: privateKey, kid: 'bank-1' }),
        { execute: [oidc.allowInsecureRequests] },
      );
      const tokens = await oidc.clientCredentialsGrant(keyed);
      expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: created.clientId });
      const stranger = await generateKeyPair('ES256');
      const forged = await oidc.discovery(
        new URL(stack.gatewayUrl),
        created.clientId,
        undefined,
        oidc.PrivateKeyJwt({ key: stranger.privateKey, kid: 'bank-1' }),
        { execute: [oidc.allowInsecureRequests] },
      );
      await expect(oidc.clientCredentialsGrant(forged)).rejects.toMatchObject({ error: 'invalid_client' });
    });

    it('refuses to grant a permission the creator lacks, and registering in another tenant', async () => {
      const { access_token: token } = await oidc.clientCredentialsGrant(config);
      const body = { environment: 'sandbox', name: 'Escalation', grantTypes: ['client_credentials'] };
      const escalation = await api(`${tenantPath()}/clients`, token, {
        method: 'POST',
        body: JSON.stringify({ ...body, permissions: ['tenants.tenants.create'] }),
      });
      expect(escalation.status).toBe(400);
      expect(await escalation.json()).toMatchObject({ code: 'VALIDATION' });

      const otherTenant = await api('/v1/tenants/11111111-1111-4111-8111-111111111111/clients', token, {
        method: 'POST',
        body: JSON.stringify({ ...body, permissions: ['tenants.tenants.read'] }),
      });
      expect(otherTenant.status).toBe(404);
      expect((await api('/v1/tenants/11111111-1111-4111-8111-111111111111', token)).status).toBe(404);
    });
  });

  describe('users: authorization code with PKCE, refresh rotation, MFA and throttling', () => {
    const redirectUri = 'http://127.0.0.1:9/callback';
    let webConfig: oidc.Configuration;
    let operatorConnection: import('nats').NatsConnection;
    let operatorBus: import('@strongroom/platform').BusClient;
    let address = 0;
    // Each scenario signs in from its own address: the per-IP limit (5/min) is per scenario.
    const nextAddress = () => `203.0.113.${++address}`;

    const createUser = async (roles: string[]) => {
      const { createUser: contract } = await import('@strongroom/contracts');
      const email = `user-${randomBytes(4).toString('hex')}@demo.test`;
      await operatorBus.request(contract, { tenantId: stack.demo.tenantId, email, password, roles: roles as never });
      return email;
    };
    const signIn = (from = nextAddress()) =>
      startSignIn(webConfig, stack.gatewayUrl, redirectUri, 'openid tenants.tenants.read', from);
    const exchange = (started: StartedSignIn, callback: URL) =>
      oidc.authorizationCodeGrant(webConfig, callback, {
        pkceCodeVerifier: started.verifier,
        expectedState: started.state,
      });

    beforeAll(async () => {
      const { BusClient, busTlsFilesFor, connectBus, serviceCredentialsOverBus } = await import('@strongroom/platform');
      operatorConnection = await connectBus({
        servers: stack.natsUrl,
        tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'strongroom-admin'),
        name: 'e2e-users',
      });
      const anonymous = new BusClient(operatorConnection, { defaultTimeoutMs: 10_000 });
      operatorBus = new BusClient(operatorConnection, {
        defaultTimeoutMs: 10_000,
        actingAs: serviceCredentialsOverBus(anonymous),
      });
      const { access_token: token } = await oidc.clientCredentialsGrant(config);
      const response = await api(`${tenantPath()}/clients`, token, {
        method: 'POST',
        body: JSON.stringify({
          environment: 'sandbox',
          name: 'Loan officer app',
          grantTypes: ['authorization_code', 'refresh_token'],
          redirectUris: [redirectUri],
          permissions: ['tenants.tenants.read'],
        }),
      });
      const web = (await response.json()) as { clientId: string; clientSecret: string };
      webConfig = await discover(web.clientId, web.clientSecret);
    });

    afterAll(async () => {
      await operatorConnection?.close();
    });

    it('signs a user in (code + PKCE S256), issues tokens for the user, rotates refresh tokens, and revokes the family on reuse', async () => {
      const email = await createUser(['partner_user']);
      const started = await signIn();
      const wrong = await submitSignIn(started, { email, password: `${password}!` });
      expect(wrong.response.status).toBe(401);
      expect(wrong.callback).toBeUndefined();
      const { callback } = await submitSignIn(started, { email, password });
      expect(callback?.searchParams.get('code')).toEqual(expect.any(String));
      const tokens = await exchange(started, callback!);
      const claims = decodeJwt(tokens.access_token);
      expect(claims).toMatchObject({ tenant_id: stack.demo.tenantId, permissions: ['tenants.tenants.read'] });
      expect(claims.sub).toMatch(/^[0-9a-f-]{36}$/);
      expect(tokens.claims()?.sub).toBe(claims.sub);
      expect((await api(tenantPath(), tokens.access_token)).status).toBe(200);

      const first = tokens.refresh_token!;
      const rotated = await oidc.refreshTokenGrant(webConfig, first);
      expect(rotated.refresh_token).toEqual(expect.any(String));
      expect(rotated.refresh_token).not.toBe(first);
      expect((await api(tenantPath(), rotated.access_token)).status).toBe(200);

      // The rotated-out token comes back (stolen): refused, and the whole family is revoked.
      await expect(oidc.refreshTokenGrant(webConfig, first)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(oidc.refreshTokenGrant(webConfig, rotated.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      const deadline = Date.now() + 1_000;
      let status = 200;
      while (status === 200 && Date.now() < deadline) status = (await api(tenantPath(), rotated.access_token)).status;
      expect(status).toBe(401);
    });

    it('revokes every token of a user (access tokens everywhere within 1 s, refresh tokens at once)', async () => {
      const email = await createUser(['partner_user']);
      const started = await signIn();
      const { callback } = await submitSignIn(started, { email, password });
      const tokens = await exchange(started, callback!);
      const { access_token: admin } = await oidc.clientCredentialsGrant(config);
      const response = await api(`${tenantPath()}/token-revocations`, admin, {
        method: 'POST',
        body: JSON.stringify({ targets: [{ scope: 'user', userId: decodeJwt(tokens.access_token).sub }] }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ grantsRevoked: expect.any(Number) });
      await expect(oidc.refreshTokenGrant(webConfig, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      await expectRefusedWithin(1_000, () => api(tenantPath(), tokens.access_token));
    });

    it('takes a pushed authorization request (RFC 9126) and continues the flow from its request_uri', async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = await oidc.buildAuthorizationUrlWithPAR(webConfig, {
        redirect_uri: redirectUri,
        scope: 'openid tenants.tenants.read',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      expect(url.searchParams.get('redirect_uri')).toBeNull();
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toMatch(/^\/oauth\/interaction\//);
    });

    it('invites a user with a one-time link where the user picks a password, then signs in; never beyond the inviter', async () => {
      const { access_token: admin } = await oidc.clientCredentialsGrant(config);
      const invite = (roles: string[], email: string) =>
        api(`${tenantPath()}/invitations`, admin, { method: 'POST', body: JSON.stringify({ email, roles }) });
      const escalation = await invite(['super_admin'], 'boss@demo.test');
      expect(escalation.status).toBe(403);
      expect(await escalation.json()).toMatchObject({
        permissions: expect.arrayContaining(['tenants.tenants.create']),
      });

      const email = `invited-${randomBytes(4).toString('hex')}@demo.test`;
      const response = await invite(['viewer'], email);
      expect(response.status).toBe(201);
      const { acceptUrl } = (await response.json()) as { acceptUrl: string };
      expect(acceptUrl).toMatch(new RegExp(`^${stack.gatewayUrl}/oauth/invitations/sr_inv_`));
      const page = await fetch(acceptUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain(email);
      const choose = (candidate: string) =>
        fetch(acceptUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ password: candidate }).toString(),
        });
      expect((await choose('password1234')).status).toBe(400);
      expect((await choose(password)).status).toBe(201);
      expect((await choose(password)).status).toBe(404);

      const started = await signIn();
      const { callback } = await submitSignIn(started, { email, password });
      const tokens = await exchange(started, callback!);
      expect(decodeJwt(tokens.access_token).permissions).toEqual(['tenants.tenants.read']);
    });

    it('never lets a user’s token carry more than the user’s roles, whatever the client may do or the scope asks', async () => {
      const { access_token: admin } = await oidc.clientCredentialsGrant(config);
      const registered = await api(`${tenantPath()}/clients`, admin, {
        method: 'POST',
        body: JSON.stringify({
          environment: 'sandbox',
          name: 'Powerful app',
          grantTypes: ['authorization_code'],
          redirectUris: [redirectUri],
          permissions: ['tenants.tenants.read', 'auth.clients.create'],
        }),
      });
      const powerful = (await registered.json()) as { clientId: string; clientSecret: string };
      const powerfulConfig = await discover(powerful.clientId, powerful.clientSecret);
      const email = await createUser(['viewer']);
      const started = await startSignIn(
        powerfulConfig,
        stack.gatewayUrl,
        redirectUri,
        'openid tenants.tenants.read auth.clients.create',
        nextAddress(),
      );
      const { callback } = await submitSignIn(started, { email, password });
      const tokens = await oidc.authorizationCodeGrant(powerfulConfig, callback!, {
        pkceCodeVerifier: started.verifier,
        expectedState: started.state,
      });
      const claims = decodeJwt(tokens.access_token);
      expect(claims.permissions).toEqual(['tenants.tenants.read']);
      expect(claims.scope).toBe('tenants.tenants.read');
      const escalation = await api(`${tenantPath()}/clients`, tokens.access_token, {
        method: 'POST',
        body: JSON.stringify({
          environment: 'sandbox',
          name: 'x',
          grantTypes: ['client_credentials'],
          permissions: [],
        }),
      });
      expect(escalation.status).toBe(403);
    });

    it('refuses an authorization request without PKCE', async () => {
      const url = oidc.buildAuthorizationUrl(webConfig, { redirect_uri: redirectUri, scope: 'openid' });
      const response = await fetch(url, { redirect: 'manual' });
      const location = new URL(response.headers.get('location') ?? 'http://none/');
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
    });

    it('answers the 6th sign-in attempt on an account within a minute with 429 and Retry-After, from any address', async () => {
      const email = await createUser(['viewer']);
      // Five wrong passwords, each from another address: the account's own budget (auth's throttle).
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        const { response } = await submitSignIn(await signIn(), { email, password: `wrong ${attempt} ${password}` });
        expect(response.status).toBe(401);
      }
      const { response } = await submitSignIn(await signIn(), { email, password });
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another account from another address is not affected.
      const other = await signIn();
      const ok = await submitSignIn(other, { email: await createUser(['viewer']), password });
      expect(ok.callback).toBeDefined();
    });

    it('answers the 6th sign-in post from one address within a minute with 429 at the gateway, whatever the account', async () => {
      const started = await signIn();
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        const email = await createUser(['viewer']);
        const { response } = await submitSignIn(started, { email, password: `wrong ${attempt} ${password}` });
        expect(response.status).toBe(401);
      }
      const { response } = await submitSignIn(started, { email: await createUser(['viewer']), password });
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(response.headers.get('ratelimit-limit')).toBe('5');
    });

    it('makes an administrator enrol TOTP before any token, then requires a fresh code every sign-in', async () => {
      const email = await createUser(['admin']);
      const started = await signIn();
      const enrolment = await submitSignIn(started, { email, password });
      expect(enrolment.response.status).toBe(403);
      expect(enrolment.callback).toBeUndefined();
      const enrolmentPage = await enrolment.response.text();
      expect(enrolmentPage).toMatch(/<svg[^>]*>.*<path/s);
      const secret = totpSecretOf(enrolmentPage);
      // The step after the enrolment's own, whatever boundary the clock crosses meanwhile (±1 step is accepted).
      const enrolledAtMs = Date.now();
      const { codes, callback } = await submitEnrolment(started, {
        email,
        password,
        totp: totpAt(secret, enrolledAtMs),
      });
      expect(codes).toHaveLength(10);
      const tokens = await exchange(started, callback);
      expect(decodeJwt(tokens.access_token).permissions).toEqual(['tenants.tenants.read']);

      const again = await signIn();
      expect((await submitSignIn(again, { email, password })).response.status).toBe(401);
      expect((await submitSignIn(again, { email, password, totp: '000000' })).response.status).toBe(401);
      // The code just used is spent; the next step's code (within the ±1 window) works.
      const next = totpAt(secret, enrolledAtMs + 30_000);
      expect((await submitSignIn(again, { email, password, totp: next })).callback).toBeDefined();
    });

    it('audits every sign-in attempt and MFA enrolment through the outbox, without emails or passwords', async () => {
      {
        const wanted = ['succeeded', 'failed', 'throttled', 'mfa_enrolment_required', 'evt.auth.v1.mfa.enrolled'];
        const outcomesOf = (events: readonly StreamEvent[]) =>
          new Set(events.map((event) => (event.payload as { outcome?: string }).outcome ?? event.subject));
        const rows = (
          await authEvents('evt.auth.v1.>', (events) => {
            const seen = outcomesOf(events);
            return wanted.every((outcome) => seen.has(outcome));
          })
        )
          .filter((event) => ['evt.auth.v1.logins.attempted', 'evt.auth.v1.mfa.enrolled'].includes(event.subject))
          .map((event) => ({ subject: event.subject, payload: JSON.stringify(event.payload) }));
        const outcomes = new Set(rows.map((row) => JSON.parse(row.payload).outcome ?? row.subject));
        expect([...outcomes]).toEqual(
          expect.arrayContaining([
            'succeeded',
            'failed',
            'throttled',
            'mfa_enrolment_required',
            'evt.auth.v1.mfa.enrolled',
          ]),
        );
        const all = rows.map((row) => row.payload).join('\n');
        expect(all).not.toContain('@demo.test');
        expect(all).not.toContain(password);
      }
    });

    it('shows ten recovery codes once at enrolment; a lost phone is replaced by one of them, once', async () => {
      // A fresh account: the throttle allows five attempts a minute per account.
      const email = await createUser(['partner_admin']);
      const started = await signIn();
      const secret = totpSecretOf(await (await submitSignIn(started, { email, password })).response.text());
      const { codes } = await submitEnrolment(started, { email, password, totp: totpAt(secret, Date.now()) });
      const recovery = await signIn();
      const { callback } = await submitSignIn(recovery, { email, password, totp: codes[3]!.toLowerCase() });
      expect((await exchange(recovery, callback!)).access_token).toEqual(expect.any(String));
      const reused = await signIn();
      expect((await submitSignIn(reused, { email, password, totp: codes[3]! })).response.status).toBe(401);
    });

    it('refuses a sign-in page reached without the authorization request’s cookie', async () => {
      const started = await signIn();
      const stranger = await fetch(started.interaction, { redirect: 'manual' });
      expect(stranger.status).toBe(400);
      expect(await stranger.text()).not.toContain('<form');
    });
  });

  describe('API keys and signed requests through the gateway', () => {
    let issued: { apiKey: string; signingSecret: string; key: { keyId: string } };

    const signed = (method: string, path: string, body: string | undefined, overrides: Record<string, string> = {}) => {
      const headers: Record<string, string> = {
        'x-api-key': issued.apiKey,
        ...signRequest({ method, url: path, body, keyId: issued.key.keyId, signingSecret: issued.signingSecret }),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...overrides,
      };
      return { method, headers, ...(body !== undefined ? { body } : {}) };
    };
    const expectRefused = async (response: Response, status: number, reason: string) => {
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(await response.json()).toMatchObject({ reason });
    };

    beforeAll(async () => {
      const { access_token: token } = await oidc.clientCredentialsGrant(config);
      const response = await api(`${tenantPath()}/api-keys`, token, {
        method: 'POST',
        body: JSON.stringify({
          environment: 'sandbox',
          name: 'Back-office batch',
          permissions: ['tenants.tenants.read', 'auth.clients.create'],
        }),
      });
      expect(response.status).toBe(201);
      issued = (await response.json()) as typeof issued;
      secretsHandedOut.push(issued.apiKey, issued.signingSecret);
      expect(issued.apiKey).toMatch(/^sr_test_/);
    });

    it('accepts a validly signed request, and refuses the same request replayed (nonce)', async () => {
      const request = signed('GET', tenantPath(), undefined);
      const first = await fetch(`${stack.gatewayUrl}${tenantPath()}`, request);
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({ id: stack.demo.tenantId });
      await expectRefused(await fetch(`${stack.gatewayUrl}${tenantPath()}`, request), 401, 'REPLAYED_NONCE');
    });

    it('refuses a stale timestamp, an altered body and a forged signature', async () => {
      const stale = signed('GET', tenantPath(), undefined);
      const old = signRequest({
        method: 'GET',
        url: tenantPath(),
        keyId: issued.key.keyId,
        signingSecret: issued.signingSecret,
        now: new Date(Date.now() - 400_000),
      });
      await expectRefused(
        await fetch(`${stack.gatewayUrl}${tenantPath()}`, { ...stale, headers: { ...stale.headers, ...old } }),
        401,
        'STALE_TIMESTAMP',
      );
      const body = JSON.stringify({
        environment: 'sandbox',
        name: 'x',
        grantTypes: ['client_credentials'],
        permissions: [],
      });
      const altered = signed('POST', `${tenantPath()}/clients`, body);
      await expectRefused(
        await fetch(`${stack.gatewayUrl}${tenantPath()}/clients`, { ...altered, body: body.replace('"x"', '"y"') }),
        401,
        'BODY_DIGEST_MISMATCH',
      );
      const forged = signed('GET', tenantPath(), undefined, { 'x-strongroom-signature': 'a'.repeat(64) });
      await expectRefused(await fetch(`${stack.gatewayUrl}${tenantPath()}`, forged), 401, 'BAD_SIGNATURE');
    });

    it('never lets a sandbox key or token act on production resources', async () => {
      const body = JSON.stringify({
        environment: 'production',
        name: 'Crossing over',
        grantTypes: ['client_credentials'],
        permissions: ['tenants.tenants.read'],
      });
      await expectRefused(
        await fetch(`${stack.gatewayUrl}${tenantPath()}/clients`, signed('POST', `${tenantPath()}/clients`, body)),
        401,
        'WRONG_ENVIRONMENT',
      );
      const { access_token: token } = await oidc.clientCredentialsGrant(config);
      await expectRefused(
        await api(`${tenantPath()}/clients`, token, { method: 'POST', body }),
        403,
        'WRONG_ENVIRONMENT',
      );
    });

    it('signs a request with a body that creates something, then stops working once revoked', async () => {
      const body = JSON.stringify({
        environment: 'sandbox',
        name: 'Created with a key',
        grantTypes: ['client_credentials'],
        permissions: ['tenants.tenants.read'],
      });
      const created = await fetch(
        `${stack.gatewayUrl}${tenantPath()}/clients`,
        signed('POST', `${tenantPath()}/clients`, body),
      );
      expect(created.status).toBe(201);

      const { access_token: token } = await oidc.clientCredentialsGrant(config);
      const revoked = await api(`${tenantPath()}/api-keys/${issued.key.keyId}`, token, { method: 'DELETE' });
      expect(revoked.status).toBe(200);
      await expectRefused(
        await fetch(`${stack.gatewayUrl}${tenantPath()}`, signed('GET', tenantPath(), undefined)),
        401,
        'INVALID_API_KEY',
      );
    });
  });

  it('locks a card after 3 wrong PINs (even the right PIN is then refused) until an admin unlocks it', async () => {
    const { access_token: token } = await oidc.clientCredentialsGrant(config);
    const registered = await api(`${tenantPath()}/cards`, token, {
      method: 'POST',
      body: JSON.stringify({ cardNumber: '4242 4242 4242 4242', pin: '4826' }),
    });
    expect(registered.status).toBe(201);
    const card = (await registered.json()) as { cardId: string; last4: string };
    expect(card.last4).toBe('4242');
    const verify = (pin: string) =>
      api(`${tenantPath()}/cards/${card.cardId}/pin-verifications`, token, {
        method: 'POST',
        body: JSON.stringify({ pin }),
      });

    expect((await verify('4826')).status).toBe(200);
    for (const remaining of [2, 1]) {
      const wrong = await verify('1357');
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBeNull();
      expect(await wrong.json()).toMatchObject({ reason: 'wrong_pin', attemptsRemaining: remaining });
    }
    const third = await verify('1357');
    expect(third.status).toBe(403);
    expect(await third.json()).toMatchObject({ reason: 'card_locked' });
    expect((await verify('4826')).status).toBe(403);

    expect((await api(`${tenantPath()}/cards/${card.cardId}/unlock`, token, { method: 'POST' })).status).toBe(200);
    expect((await verify('4826')).status).toBe(200);
  });

  it('applies tenant settings to token lifetimes, and a suspension stops every token and key of the tenant within 1 s', async () => {
    const { BusClient, busTlsFilesFor, connectBus, serviceCredentialsOverBus } = await import('@strongroom/platform');
    const { createClient, createTenant, reactivateTenant, suspendTenant } = await import('@strongroom/contracts');
    const connection = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'strongroom-admin'),
      name: 'e2e-suspension',
    });
    try {
      const anonymous = new BusClient(connection, { defaultTimeoutMs: 10_000 });
      const operator = new BusClient(connection, {
        defaultTimeoutMs: 10_000,
        actingAs: serviceCredentialsOverBus(anonymous),
      });
      const tenant = await operator.request(createTenant, {
        slug: `mfi-${randomBytes(3).toString('hex')}`,
        name: 'Suspended MFI',
        region: 'ke',
        settings: { accessTokenTtlSeconds: 3_600, refreshTokenTtlSeconds: 86_400 },
      });
      const registered = await operator.request(createClient, {
        tenantId: tenant.id,
        environment: 'sandbox',
        name: 'Back office',
        grantTypes: ['client_credentials'],
        tokenEndpointAuthMethod: 'client_secret_basic',
        redirectUris: [],
        permissions: ['tenants.tenants.read', 'auth.api-keys.create'],
      });
      const mfi = await discover(registered.clientId, registered.clientSecret!);
      const { access_token: token } = await oidc.clientCredentialsGrant(mfi);
      const claims = decodeJwt(token);
      expect(claims.exp! - claims.iat!).toBe(3_600);
      const path = `/v1/tenants/${tenant.id}`;
      expect((await api(path, token)).status).toBe(200);
      const created = await api(`${path}/api-keys`, token, {
        method: 'POST',
        body: JSON.stringify({ environment: 'sandbox', name: 'batch', permissions: ['tenants.tenants.read'] }),
      });
      const key = (await created.json()) as { apiKey: string; signingSecret: string; key: { keyId: string } };
      const signedGet = () =>
        fetch(`${stack.gatewayUrl}${path}`, {
          headers: {
            'x-api-key': key.apiKey,
            ...signRequest({ method: 'GET', url: path, keyId: key.key.keyId, signingSecret: key.signingSecret }),
          },
        });
      expect((await signedGet()).status).toBe(200);

      await operator.request(suspendTenant, { tenantId: tenant.id });
      await expectRefusedWithin(1_000, () => api(path, token));
      await expect(oidc.clientCredentialsGrant(mfi)).rejects.toMatchObject({ error: 'unauthorized_client' });
      const refusedKey = await signedGet();
      expect(refusedKey.status).toBe(403);
      expect(await refusedKey.json()).toMatchObject({ reason: 'TENANT_SUSPENDED' });

      await operator.request(reactivateTenant, { tenantId: tenant.id });
      // The revocation reaches 1 s past its making, and token times are whole seconds.
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const { access_token: fresh } = await oidc.clientCredentialsGrant(mfi);
      expect((await api(path, fresh)).status).toBe(200);
      expect((await api(path, token)).status).toBe(401);
    } finally {
      await connection.close();
    }
  });

  it('answers malformed input of every kind on every route with 4xx problem+json, never a 5xx (fast-check)', async () => {
    const { access_token: token } = await oidc.clientCredentialsGrant(config);
    const { API_ROUTES } = await import('../../apps/gateway/src/api/api-route-table');
    const weird = fc.oneof(
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom('00000000-0000-0000-0000-000000000000', '%00', '..%2F..', 'İ', '\u202e', 'a'.repeat(5_000)),
      fc.uuid(),
    );
    const body = fc.oneof(
      fc.json(),
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc.string(),
      fc.constantFrom('{', '[1,', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{}}}', 'null'),
      fc.dictionary(fc.string(), fc.jsonValue()).map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      // The first path parameter is often the demo tenant itself, so bodies reach the handlers.
      fc.asyncProperty(
        fc.constantFrom(...API_ROUTES),
        fc.oneof(fc.constant(stack.demo.tenantId), weird),
        weird,
        body,
        async (route, first, second, payload) => {
          let index = 0;
          const url = route.url.replace(/:[A-Za-z]+/g, () => encodeURIComponent(index++ === 0 ? first : second));
          const response = await api(url, token, {
            method: route.method,
            ...(route.method === 'GET' ? {} : { body: payload }),
          });
          const text = await response.text();
          if (
            response.status >= 500 ||
            (response.status >= 400 && !response.headers.get('content-type')?.includes('problem+json'))
          )
            throw new Error(`${route.method} ${url} answered ${response.status}: ${text.slice(0, 300)}`);
        },
      ),
      { numRuns: 400 },
    );
  }, 120_000);

  it('never writes a client secret or an access token to a log', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { access_token: token } = await oidc.clientCredentialsGrant(config);
    await api(tenantPath(), token);
    const logDir = join(testStack.stateDir, 'logs');
    for (const file of readdirSync(logDir)) {
      const log = readFileSync(join(logDir, file), 'utf8');
      expect(log).not.toContain(stack.demo.clientSecret);
      expect(log).not.toContain(stack.demo.adminPassword);
      expect(log).not.toContain(password);
      for (const secret of secretsHandedOut) expect(log).not.toContain(secret);
      expect(log).not.toMatch(/4242[ -]?4242[ -]?4242[ -]?4242/);
      expect(log).not.toContain(token.split('.')[2]);
    }
  });
});

/** The code an authenticator app shows at a moment: RFC 6238 (HMAC-SHA1, 30 s, 6 digits), written independently of the service. */
function totpAt(base32Secret: string, atMs: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bits = [...base32Secret.replace(/=+$/, '')]
    .map((c) => alphabet.indexOf(c).toString(2).padStart(5, '0'))
    .join('');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((byte) => Number.parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** Polls until the call is refused with 401; fails when that takes longer than `withinMs`. */
async function expectRefusedWithin(withinMs: number, call: () => Promise<Response>): Promise<void> {
  const startedAt = Date.now();
  let status = (await call()).status;
  while (status !== 401 && Date.now() - startedAt < withinMs + 4_000) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    status = (await call()).status;
  }
  expect(status).toBe(401);
  expect(Date.now() - startedAt).toBeLessThan(withinMs);
}
