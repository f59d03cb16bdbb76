import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { RunningStack } from '@strongroom/cli';
import type { Permission } from '@strongroom/contracts';
import type { BusClient } from '@strongroom/platform';
import { decodeJwt } from 'jose';
import type { NatsConnection } from 'nats';
import * as oidc from 'openid-client';
import { type StartedSignIn, startSignIn, submitSignIn } from './browser-sign-in';
import { startTestStack, type TestStack } from './test-stack';

const password = 'a long and unusual passphrase';
const redirectUri = 'http://127.0.0.1:9/callback';
/** What the sign-in client may do: wider than any user below, so the users' roles decide. */
const WEB_CLIENT_PERMISSIONS: Permission[] = [
  'tenants.tenants.read',
  'auth.api-keys.read',
  'auth.roles.read',
  'auth.users.read',
];
const ADMIN_PERMISSIONS: Permission[] = [
  'tenants.tenants.read',
  'auth.roles.read',
  'auth.roles.manage',
  'auth.users.read',
  'auth.users.create',
  'auth.memberships.update',
  ...WEB_CLIENT_PERMISSIONS,
].filter((permission, index, all) => all.indexOf(permission) === index) as Permission[];

/**
 * Roles, custom roles and memberships as an API client sees them: through the gateway, with
 * real tokens from the OIDC provider, revocations through JetStream to the gateway's denylist.
 */
describe('access control through the gateway', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let operatorConnection: NatsConnection;
  let operator: BusClient;
  let webConfig: oidc.Configuration;
  let adminA: string;
  let adminB: string;
  let tenantB: string;
  let address = 0;

  const api = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${stack.gatewayUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    });
  const json = (body: unknown): RequestInit => ({ body: JSON.stringify(body) });
  const tenantA = () => stack.demo.tenantId;

  async function adminClientToken(tenantId: string): Promise<string> {
    const { createClient } = await import('@strongroom/contracts');
    const client = await operator.request(createClient, {
      tenantId,
      environment: 'sandbox',
      name: 'Access administration',
      grantTypes: ['client_credentials'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: [],
      permissions: ADMIN_PERMISSIONS,
    });
    const config = await discover(client.clientId, client.clientSecret!);
    return (await oidc.clientCredentialsGrant(config)).access_token;
  }

  const discover = (clientId: string, clientSecret: string) =>
    oidc.discovery(new URL(stack.gatewayUrl), clientId, clientSecret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });

  async function createUser(roles: string[], tenantId = tenantA()): Promise<string> {
    const { createUser: contract } = await import('@strongroom/contracts');
    const email = `user-${randomBytes(4).toString('hex')}@access.test`;
    const user = await operator.request(contract, { tenantId, email, password, roles });
    return `${user.id} ${email}`;
  }

  /** Signs the user in (authorization code + PKCE) through the web client of tenant A. */
  async function signIn(email: string) {
    const started: StartedSignIn = await startSignIn(
      webConfig,
      stack.gatewayUrl,
      redirectUri,
      `openid ${WEB_CLIENT_PERMISSIONS.join(' ')}`,
      `198.51.100.${++address}`,
    );
    const { callback } = await submitSignIn(started, { email, password });
    return oidc.authorizationCodeGrant(webConfig, callback!, {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
    });
  }

  const permissionsOf = (token: string) => [...((decodeJwt(token).permissions as string[]) ?? [])].sort();

  /** Polls every 10 ms until the token is refused (401); the milliseconds since `sinceMs`. */
  async function msUntilRefused(token: string, sinceMs: number): Promise<number> {
    for (;;) {
      const status = (await api(`/v1/tenants/${tenantA()}`, token)).status;
      if (status === 401) return Date.now() - sinceMs;
      expect(status).toBe(200);
      if (Date.now() - sinceMs > 5_000) throw new Error('the token still works after 5 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  beforeAll(async () => {
    testStack = await startTestStack({ TRUSTED_PROXIES: '127.0.0.1' });
    stack = testStack.stack;
    const { BusClient, busTlsFilesFor, connectBus, serviceCredentialsOverBus } = await import('@strongroom/platform');
    operatorConnection = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'strongroom-admin'),
      name: 'e2e-access-control',
    });
    const anonymous = new BusClient(operatorConnection, { defaultTimeoutMs: 10_000 });
    operator = new BusClient(operatorConnection, {
      defaultTimeoutMs: 10_000,
      actingAs: serviceCredentialsOverBus(anonymous),
    });
    const { createClient, createTenant } = await import('@strongroom/contracts');
    tenantB = (
      await operator.request(createTenant, {
        slug: `b-${randomBytes(3).toString('hex')}`,
        name: 'Other MFI',
        region: 'default',
      })
    ).id;
    adminA = await adminClientToken(tenantA());
    adminB = await adminClientToken(tenantB);
    const web = await operator.request(createClient, {
      tenantId: tenantA(),
      environment: 'sandbox',
      name: 'Back office (users)',
      grantTypes: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: [redirectUri],
      permissions: WEB_CLIENT_PERMISSIONS,
    });
    webConfig = await discover(web.clientId, web.clientSecret!);
    const created = await api(`/v1/tenants/${tenantA()}/roles`, adminA, {
      method: 'POST',
      ...json({
        name: 'role_reader',
        description: 'Reads roles',
        permissions: ['tenants.tenants.read', 'auth.roles.read'],
      }),
    });
    expect(created.status).toBe(201);
  }, 180_000);

  afterAll(async () => {
    await operatorConnection?.close();
    await testStack?.dispose();
  }, 60_000);

  it('answers 403 naming the permission when the user’s roles lack it', async () => {
    const [, email] = (await createUser(['viewer'])).split(' ');
    const tokens = await signIn(email!);
    expect(permissionsOf(tokens.access_token)).toEqual(['auth.api-keys.read', 'tenants.tenants.read']);
    const users = await api(`/v1/tenants/${tenantA()}/users`, tokens.access_token);
    expect(users.status).toBe(403);
    expect(await users.json()).toMatchObject({ code: 'FORBIDDEN', permission: 'auth.users.read' });
    const roles = await api(`/v1/tenants/${tenantA()}/roles`, tokens.access_token);
    expect(roles.status).toBe(403);
  });

  it('grants exactly a custom role’s permissions: in the token, and route by route', async () => {
    const [, email] = (await createUser(['role_reader'])).split(' ');
    const { access_token: token } = await signIn(email!);
    expect(permissionsOf(token)).toEqual(['auth.roles.read', 'tenants.tenants.read']);
    expect((await api(`/v1/tenants/${tenantA()}`, token)).status).toBe(200);
    const roles = await api(`/v1/tenants/${tenantA()}/roles`, token);
    expect(roles.status).toBe(200);
    const { roles: listed } = (await roles.json()) as { roles: Array<{ name: string; kind: string }> };
    expect(listed).toContainEqual(expect.objectContaining({ name: 'role_reader', kind: 'custom' }));
    expect(listed).toContainEqual(expect.objectContaining({ name: 'farmer', kind: 'predefined' }));
    // The client may read API keys and users; this user's only role may not.
    expect((await api(`/v1/tenants/${tenantA()}/api-keys`, token)).status).toBe(403);
    expect((await api(`/v1/tenants/${tenantA()}/users`, token)).status).toBe(403);
    const create = await api(`/v1/tenants/${tenantA()}/roles`, token, {
      method: 'POST',
      ...json({ name: 'sneaky', permissions: ['auth.roles.read'] }),
    });
    expect(create.status).toBe(403);
  });

  it('ends the user’s existing token within 1 s when a role is removed, then a refresh carries the new permissions', async () => {
    const [userId, email] = (await createUser(['viewer', 'role_reader'])).split(' ');
    const tokens = await signIn(email!);
    expect(permissionsOf(tokens.access_token)).toEqual([
      'auth.api-keys.read',
      'auth.roles.read',
      'tenants.tenants.read',
    ]);

    const startedAt = Date.now();
    const changed = await api(`/v1/tenants/${tenantA()}/users/${userId}/roles`, adminA, {
      method: 'PUT',
      ...json({ roles: ['viewer'] }),
    });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ roles: ['viewer'], usersAffected: 1 });
    const latencyMs = await msUntilRefused(tokens.access_token, startedAt);
    process.stdout.write(`role removed → user's token refused at the gateway in ${latencyMs} ms\n`);
    expect(latencyMs).toBeLessThan(1_000);

    // Right away, in the very second of the change: the new token is not born revoked.
    const refreshed = await oidc.refreshTokenGrant(webConfig, tokens.refresh_token!);
    expect(permissionsOf(refreshed.access_token)).toEqual(['auth.api-keys.read', 'tenants.tenants.read']);
    expect((await api(`/v1/tenants/${tenantA()}`, refreshed.access_token)).status).toBe(200);
    expect((await api(`/v1/tenants/${tenantA()}/roles`, refreshed.access_token)).status).toBe(403);

    // A custom role shrinking ends its holders' tokens the same way.
    const given = await api(`/v1/tenants/${tenantA()}/users/${userId}/roles`, adminA, {
      method: 'PUT',
      ...json({ roles: ['viewer', 'role_reader'] }),
    });
    expect(await given.json()).toMatchObject({ usersAffected: 0, tokensRevokedAt: null });
    const widened = await oidc.refreshTokenGrant(webConfig, refreshed.refresh_token!);
    expect(permissionsOf(widened.access_token)).toContain('auth.roles.read');
    const shrinkAt = Date.now();
    const shrunk = await api(`/v1/tenants/${tenantA()}/roles/role_reader`, adminA, {
      method: 'PUT',
      ...json({ permissions: ['tenants.tenants.read'] }),
    });
    expect(shrunk.status).toBe(200);
    // Its holders: this user and the role_reader user of the test before.
    expect(await shrunk.json()).toMatchObject({ permissions: ['tenants.tenants.read'], usersAffected: 2 });
    const shrinkLatencyMs = await msUntilRefused(widened.access_token, shrinkAt);
    process.stdout.write(`custom role shrunk → holder's token refused at the gateway in ${shrinkLatencyMs} ms\n`);
    expect(shrinkLatencyMs).toBeLessThan(1_000);
    const after = await oidc.refreshTokenGrant(webConfig, widened.refresh_token!);
    expect(permissionsOf(after.access_token)).toEqual(['auth.api-keys.read', 'tenants.tenants.read']);
    expect((await api(`/v1/tenants/${tenantA()}`, after.access_token)).status).toBe(200);

    // Deleting a held role is refused; once nobody holds it, it goes.
    const held = await api(`/v1/tenants/${tenantA()}/roles/role_reader`, adminA, { method: 'DELETE' });
    expect(held.status).toBe(409);
  });

  it('never lets tenant A’s admin see or change tenant B’s roles or users, nor B’s admin A’s', async () => {
    const [userOfB] = (await createUser(['viewer'], tenantB)).split(' ');
    const [userOfA] = (await createUser(['viewer'])).split(' ');
    const attempts: Array<[string, string, string, RequestInit]> = [
      [adminA, 'GET', `/v1/tenants/${tenantB}/roles`, {}],
      [adminA, 'POST', `/v1/tenants/${tenantB}/roles`, json({ name: 'intruder', permissions: ['auth.roles.read'] })],
      [adminA, 'PUT', `/v1/tenants/${tenantB}/roles/role_reader`, json({ permissions: ['auth.roles.read'] })],
      [adminA, 'DELETE', `/v1/tenants/${tenantB}/roles/role_reader`, {}],
      [adminA, 'GET', `/v1/tenants/${tenantB}/users`, {}],
      [adminA, 'PUT', `/v1/tenants/${tenantB}/users/${userOfB}/roles`, json({ roles: ['viewer'] })],
      [adminB, 'GET', `/v1/tenants/${tenantA()}/roles`, {}],
      [adminB, 'PUT', `/v1/tenants/${tenantA()}/users/${userOfA}/roles`, json({ roles: ['admin'] })],
      // B's admin naming its own tenant: A's user and A's custom role are simply not there.
      [adminB, 'PUT', `/v1/tenants/${tenantB}/users/${userOfA}/roles`, json({ roles: ['viewer'] })],
      [adminB, 'PUT', `/v1/tenants/${tenantB}/roles/role_reader`, json({ permissions: ['auth.roles.read'] })],
    ];
    for (const [token, method, path, init] of attempts) {
      const response = await api(path, token, { method, ...init });
      expect({ method, path, refused: [403, 404].includes(response.status) }).toEqual({ method, path, refused: true });
    }
    const listedByB = (await (await api(`/v1/tenants/${tenantB}/roles`, adminB)).json()) as {
      roles: Array<{ name: string }>;
    };
    expect(listedByB.roles.map((role) => role.name)).not.toContain('role_reader');
    const usersOfB = (await (await api(`/v1/tenants/${tenantB}/users`, adminB)).json()) as {
      users: Array<{ userId: string; tenantId: string }>;
    };
    expect(usersOfB.users.map((user) => user.userId)).toEqual([userOfB]);
    expect(usersOfB.users.every((user) => user.tenantId === tenantB)).toBe(true);
  });
});
