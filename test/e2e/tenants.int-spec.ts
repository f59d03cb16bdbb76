import { type RunningStack } from '@strongroom/cli';
import { signRequest } from '@strongroom/contracts';
import { clientCredentialsToken, startTestStack, type TestStack } from './test-stack';

/** Tenants and their environments through the gateway, as a tenant's back office sees them. */
describe('tenants, environments and IP allowlists through the gateway', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let token: string;

  const tenantPath = () => `/v1/tenants/${stack.demo.tenantId}`;
  const call = (path: string, init: RequestInit & { from?: string } = {}) => {
    const { from, ...rest } = init;
    return fetch(`${stack.gatewayUrl}${path}`, {
      ...rest,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(from !== undefined ? { 'x-forwarded-for': from } : {}),
        ...rest.headers,
      },
    });
  };
  /** Sets an allowlist, asking from `from` (an address the current list allows). */
  const allow = async (environment: string, ipAllowlist: string[], from = '203.0.113.10') => {
    const response = await call(`${tenantPath()}/environments/${environment}`, {
      method: 'PATCH',
      body: JSON.stringify({ ipAllowlist }),
      from,
    });
    expect(response.status).toBe(200);
    return response.json() as Promise<{ ipAllowlist: string[] }>;
  };
  /** Polls until `path` from `from` answers `status` (the gateway believes a policy for ≤ 1 s). */
  const expectWithin = async (withinMs: number, from: string | undefined, status: number) => {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const response = await call(tenantPath(), from === undefined ? {} : { from });
      if (response.status === status) return response;
      if (Date.now() > deadline) throw new Error(`still ${response.status} from ${from} after ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  beforeAll(async () => {
    // The test stands in for a proxy on 127.0.0.1, so X-Forwarded-For names the client.
    testStack = await startTestStack({ TRUSTED_PROXIES: '127.0.0.1' });
    stack = testStack.stack;
    token = await clientCredentialsToken(stack.gatewayUrl, stack.demo);
  }, 120_000);

  afterAll(async () => {
    await testStack?.dispose();
  }, 60_000);

  it("lists the tenant's two environments, open to every address", async () => {
    const response = await call(`${tenantPath()}/environments`);
    expect(response.status).toBe(200);
    const { environments } = (await response.json()) as { environments: Array<Record<string, unknown>> };
    expect(environments).toEqual([
      expect.objectContaining({ environment: 'sandbox', ipAllowlist: [], effectiveRatePlan: 'standard' }),
      expect.objectContaining({ environment: 'production', ipAllowlist: [], effectiveRatePlan: 'standard' }),
    ]);
  });

  it('refuses a request from outside the allowlist (403), within a second of the change; IPv4 and IPv6 ranges', async () => {
    const updated = await allow('sandbox', ['203.0.113.0/24', '2001:DB8:ABCD::/48']);
    expect(updated.ipAllowlist).toEqual(['203.0.113.0/24', '2001:db8:abcd::/48']);
    const refused = await expectWithin(1_500, '198.51.100.1', 403);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(await refused.json()).toMatchObject({ status: 403, code: 'FORBIDDEN', reason: 'IP_NOT_ALLOWED' });
    for (const [from, status] of [
      ['203.0.113.77', 200],
      ['2001:db8:abcd:1::5', 200],
      ['2001:db8:abce::5', 403],
      ['::ffff:203.0.113.8', 200],
      ['198.51.100.1, 203.0.113.9', 200], // the proxy chain's last hop before ours is the client
      [undefined, 403], // the proxy itself (127.0.0.1) is not in the list either
    ] as const) {
      const response = await call(tenantPath(), from === undefined ? {} : { from });
      expect([from, response.status]).toEqual([from, status]);
    }
    // Production is another environment with its own (empty) list: the sandbox's does not reach it.
    await allow('sandbox', []);
    await expectWithin(1_500, '198.51.100.1', 200);
  });

  it('issues no token to a client outside its environment allowlist', async () => {
    const tokenFrom = (from: string) =>
      fetch(`${stack.gatewayUrl}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${stack.demo.clientId}:${stack.demo.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': from,
        },
        body: 'grant_type=client_credentials',
      });
    await allow('sandbox', ['203.0.113.0/24']);
    const deadline = Date.now() + 1_500;
    let refused = await tokenFrom('198.51.100.1');
    while (refused.status === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      refused = await tokenFrom('198.51.100.1');
    }
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'unauthorized_client' });
    expect((await tokenFrom('203.0.113.20')).status).toBe(200);
    await allow('sandbox', []);
    await expectWithin(1_500, undefined, 200);
  });

  it('holds API keys to the allowlist of their environment too', async () => {
    const created = await call(`${tenantPath()}/api-keys`, {
      method: 'POST',
      body: JSON.stringify({
        environment: 'sandbox',
        name: 'Allowlisted batch',
        permissions: ['tenants.tenants.read'],
      }),
    });
    expect(created.status).toBe(201);
    const issued = (await created.json()) as { apiKey: string; signingSecret: string; key: { keyId: string } };
    const signedFrom = (from: string) =>
      fetch(`${stack.gatewayUrl}${tenantPath()}`, {
        headers: {
          'x-api-key': issued.apiKey,
          'x-forwarded-for': from,
          ...signRequest({
            method: 'GET',
            url: tenantPath(),
            keyId: issued.key.keyId,
            signingSecret: issued.signingSecret,
          }),
        },
      });
    expect((await signedFrom('198.51.100.1')).status).toBe(200);
    await allow('sandbox', ['2001:db8::/32']);
    const deadline = Date.now() + 1_500;
    let status = 0;
    while (Date.now() < deadline && status !== 403) {
      status = (await signedFrom('198.51.100.1')).status;
      if (status !== 403) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(403);
    expect((await signedFrom('2001:db8:1::1')).status).toBe(200);
    // The administrator's own address is outside the list now: only an allowed one can lift it.
    expect((await call(tenantPath(), { from: '203.0.113.10' })).status).toBe(403);
    await allow('sandbox', [], '2001:db8:1::1');
    await expectWithin(1_500, undefined, 200);
  });

  it('refuses malformed allowlists as 400 problem+json and a sandbox credential on production settings as 403', async () => {
    for (const ipAllowlist of [['203.0.113.9/24'], ['300.0.0.0/8'], ['2001:db8::/129'], 'not-a-list', [42]]) {
      const response = await call(`${tenantPath()}/environments/sandbox`, {
        method: 'PATCH',
        body: JSON.stringify({ ipAllowlist }),
      });
      expect([ipAllowlist, response.status]).toEqual([ipAllowlist, 400]);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    }
    const production = await call(`${tenantPath()}/environments/production`, {
      method: 'PATCH',
      body: JSON.stringify({ ipAllowlist: ['0.0.0.0/0'] }),
    });
    expect(production.status).toBe(403);
    expect(await production.json()).toMatchObject({ reason: 'WRONG_ENVIRONMENT' });
  });

  it('keeps platform routes (list, create, suspend, settings) from a tenant credential: 403', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/tenants', undefined],
      ['POST', '/v1/tenants', { slug: 'intruder', name: 'Intruder' }],
      ['POST', `${tenantPath()}/suspension`, undefined],
      ['PATCH', `${tenantPath()}/settings`, { ratePlan: 'premium' }],
    ] as const) {
      const response = await call(path, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      expect([method, path, response.status]).toEqual([method, path, 403]);
    }
    const tenant = await call(tenantPath());
    expect(await tenant.json()).toMatchObject({ status: 'active', settings: { ratePlan: 'standard' } });
  });
  it('lets the platform console create, list, read, reconfigure, suspend and reactivate a tenant through the gateway', async () => {
    const platform = await clientCredentialsToken(stack.gatewayUrl, {
      clientId: stack.demo.platformClientId,
      clientSecret: stack.demo.platformClientSecret,
    });
    const asPlatform = (path: string, init: RequestInit = {}) =>
      fetch(`${stack.gatewayUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${platform}`, 'content-type': 'application/json', ...init.headers },
      });
    const created = await asPlatform('/v1/tenants', {
      method: 'POST',
      headers: { 'idempotency-key': 'create-harare-mfi' },
      body: JSON.stringify({ slug: 'harare-mfi', name: 'Harare MFI', region: 'zw', settings: { ratePlan: 'basic' } }),
    });
    expect(created.status).toBe(201);
    const tenant = (await created.json()) as { id: string; region: string; settings: Record<string, unknown> };
    expect(tenant).toMatchObject({ region: 'zw', settings: { ratePlan: 'basic', auditRetentionDays: 2557 } });
    // The same request again (a retry after a lost answer) creates nothing: the first answer, replayed.
    const replayed = await asPlatform('/v1/tenants', {
      method: 'POST',
      headers: { 'idempotency-key': 'create-harare-mfi' },
      body: JSON.stringify({ slug: 'harare-mfi', name: 'Harare MFI', region: 'zw', settings: { ratePlan: 'basic' } }),
    });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(await replayed.json()).toEqual(tenant);

    const listed = await asPlatform('/v1/tenants?limit=100&region=zw');
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { tenants: Array<{ id: string }> }).tenants.map((t) => t.id)).toContain(tenant.id);
    const settings = await asPlatform(`/v1/tenants/${tenant.id}/settings`, {
      method: 'PATCH',
      body: JSON.stringify({ accessTokenTtlSeconds: 1800, kycRetentionDays: 3650 }),
    });
    expect(await settings.json()).toMatchObject({
      settings: { accessTokenTtlSeconds: 1800, kycRetentionDays: 3650, ratePlan: 'basic' },
    });
    const suspended = await asPlatform(`/v1/tenants/${tenant.id}/suspension`, { method: 'POST' });
    expect(await suspended.json()).toMatchObject({ status: 'suspended' });
    const reactivated = await asPlatform(`/v1/tenants/${tenant.id}/suspension`, { method: 'DELETE' });
    expect(await reactivated.json()).toMatchObject({ status: 'active' });
    // The platform's token names no tenant environment: it configures both.
    for (const environment of ['sandbox', 'production']) {
      const allowlisted = await asPlatform(`/v1/tenants/${tenant.id}/environments/${environment}`, {
        method: 'PATCH',
        body: JSON.stringify({ ipAllowlist: ['203.0.113.0/24'] }),
      });
      expect(await allowlisted.json()).toMatchObject({ environment, ipAllowlist: ['203.0.113.0/24'] });
    }
    const environments = await asPlatform(`/v1/tenants/${tenant.id}/environments`);
    expect(await environments.json()).toMatchObject({
      environments: [{ effectiveRatePlan: 'basic' }, { effectiveRatePlan: 'basic' }],
    });
    // Bad input is a 400 problem, never a 5xx: out-of-bounds settings, unknown fields, a bad slug.
    for (const [path, method, body] of [
      [`/v1/tenants/${tenant.id}/settings`, 'PATCH', { auditRetentionDays: 365 }],
      [`/v1/tenants/${tenant.id}/settings`, 'PATCH', { ratePlan: 'unlimited' }],
      [`/v1/tenants/${tenant.id}/settings`, 'PATCH', { surprise: true }],
      ['/v1/tenants', 'POST', { slug: 'Not A Slug', name: 'x' }],
      ['/v1/tenants', 'POST', { slug: 'ok-slug', name: 'x', region: 'mars' }],
    ] as const) {
      const response = await asPlatform(path, { method, body: JSON.stringify(body) });
      expect([path, body, response.status]).toEqual([path, body, 400]);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    }
  });
});
