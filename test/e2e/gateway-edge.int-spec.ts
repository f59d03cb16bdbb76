import { randomBytes } from 'node:crypto';
import type { RunningStack } from '@strongroom/cli';
import { clientCredentialsToken, startTestStack, type TestStack } from './test-stack';

/**
 * The gateway edge as clients see it, with two gateway replicas sharing one database: rate limits
 * hold across replicas (429 problem+json, Retry-After, RateLimit fields), and Idempotency-Key
 * replays, refuses and serialises POSTs.
 */
describe('gateway edge: shared rate limits and Idempotency-Key', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let gateways: [string, string];
  let token: string;
  let address = 0;
  // Each scenario comes from its own client address (the test is the gateways' trusted proxy).
  const nextAddress = () => `198.51.100.${++address}`;

  const api = (
    gateway: string,
    path: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${gateway}${path}`, {
      method: init.method ?? 'GET',
      ...(init.body !== undefined ? { body: init.body } : {}),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    });
  const clientsPath = () => `/v1/tenants/${stack.demo.tenantId}/clients`;
  const newClient = (name: string) =>
    JSON.stringify({
      environment: 'sandbox',
      name,
      grantTypes: ['client_credentials'],
      permissions: ['tenants.tenants.read'],
    });

  beforeAll(async () => {
    testStack = await startTestStack({ TRUSTED_PROXIES: '127.0.0.1', RATE_LIMIT_PUBLIC_PER_SECOND: '20' });
    stack = testStack.stack;
    const replica = await testStack.startGatewayReplica();
    gateways = [stack.gatewayUrl, replica.url];
    token = await clientCredentialsToken(stack.gatewayUrl, stack.demo);
  }, 180_000);

  afterAll(async () => {
    await testStack?.dispose();
  }, 60_000);

  describe('rate limits', () => {
    it('holds the 5-a-minute sign-in budget of one address across both replicas, then answers 429 problem+json with Retry-After and RateLimit fields', async () => {
      const from = nextAddress();
      const post = (gateway: string) =>
        fetch(`${gateway}/oauth/interaction/${randomBytes(8).toString('hex')}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
          body: 'email=a%40b.test&password=wrong',
        });
      // Alternating: 3 on each replica. Counted per replica, neither would reach 5.
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const response = await post(gateways[attempt % 2]!);
        statuses.push(response.status);
        expect(response.headers.get('ratelimit-limit')).toBe('5');
        expect(response.headers.get('ratelimit-remaining')).toBe(String(4 - attempt));
        await response.arrayBuffer();
      }
      expect(statuses).not.toContain(429);
      const refused = await post(gateways[1]);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.headers.get('ratelimit-limit')).toBe('5');
      expect(refused.headers.get('ratelimit-remaining')).toBe('0');
      expect(refused.headers.get('ratelimit-reset')).toBe(String(retryAfter));
      expect(refused.headers.get('ratelimit-policy')).toBe('5;w=60');
      expect(await refused.json()).toMatchObject({
        type: 'https://strongroom.dev/problems/rate-limited',
        status: 429,
        code: 'RATE_LIMITED',
        retryAfterSeconds: retryAfter,
      });
      // Another address is not affected.
      const other = await fetch(`${gateways[0]}/oauth/interaction/x`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': nextAddress() },
        body: 'email=a%40b.test&password=wrong',
      });
      expect(other.status).not.toBe(429);
    });

    it('holds a per-second public budget (20/s here) across both replicas', async () => {
      const from = nextAddress();
      // One burst of 60 requests, 30 per replica, in well under a second: counted per replica
      // up to 40 would pass; shared, at most 20 per window (40 if the burst straddles two).
      const responses = await Promise.all(
        Array.from({ length: 60 }, (_, index) =>
          fetch(`${gateways[index % 2]}/.well-known/openid-configuration`, { headers: { 'x-forwarded-for': from } }),
        ),
      );
      const passed = responses.filter((response) => response.status === 200);
      const refused = responses.filter((response) => response.status === 429);
      expect(passed.length + refused.length).toBe(60);
      expect(refused.length).toBeGreaterThanOrEqual(20);
      for (const response of refused) expect(Number(response.headers.get('retry-after'))).toBe(1);
      for (const response of passed) expect(response.headers.get('ratelimit-policy')).toBe('20;w=1');
      // Both replicas refused some: the counter is one.
      expect(new Set(refused.map((response) => new URL(response.url).port)).size).toBe(2);
    });

    it('states the credential’s plan budget on API responses (standard: 500/s)', async () => {
      const response = await api(gateways[1], `/v1/tenants/${stack.demo.tenantId}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit-limit')).toBe('500');
      expect(response.headers.get('ratelimit-policy')).toBe('500;w=1');
      expect(Number(response.headers.get('ratelimit-remaining'))).toBeLessThan(500);
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the first answer to the same request, on either replica, saying so', async () => {
      const key = `create-${randomBytes(8).toString('hex')}`;
      const body = newClient('Idempotent app');
      const first = await api(gateways[0], clientsPath(), {
        method: 'POST',
        body,
        headers: { 'idempotency-key': key },
      });
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const created = await first.json();
      const again = await api(gateways[1], clientsPath(), {
        method: 'POST',
        body,
        headers: { 'idempotency-key': key },
      });
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      // The same client (and secret, shown once): nothing was created twice.
      expect(await again.json()).toEqual(created);
    });

    it('refuses the key for a different body or another route with 409', async () => {
      const key = `create-${randomBytes(8).toString('hex')}`;
      const first = await api(gateways[0], clientsPath(), {
        method: 'POST',
        body: newClient('First'),
        headers: { 'idempotency-key': key },
      });
      expect(first.status).toBe(201);
      const different = await api(gateways[1], clientsPath(), {
        method: 'POST',
        body: newClient('Second'),
        headers: { 'idempotency-key': key },
      });
      expect(different.status).toBe(409);
      expect(different.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await different.json()).toMatchObject({
        code: 'IDEMPOTENCY_KEY_REUSED',
        type: 'https://strongroom.dev/problems/idempotency-key-reused',
      });
    });

    it('runs concurrent requests with one key once: the others get 409 (in flight) or the replay', async () => {
      const key = `create-${randomBytes(8).toString('hex')}`;
      const body = newClient('Concurrent app');
      const responses = await Promise.all(
        Array.from({ length: 6 }, (_, index) =>
          api(gateways[index % 2]!, clientsPath(), { method: 'POST', body, headers: { 'idempotency-key': key } }),
        ),
      );
      const answers = await Promise.all(
        responses.map(async (response) => ({
          status: response.status,
          replayed: response.headers.get('idempotent-replayed') === 'true',
          body: (await response.json()) as { clientId?: string; code?: string },
        })),
      );
      const ran = answers.filter((answer) => answer.status === 201 && !answer.replayed);
      expect(ran).toHaveLength(1);
      for (const answer of answers.filter((candidate) => candidate !== ran[0])) {
        if (answer.status === 201) expect(answer.body.clientId).toBe(ran[0]!.body.clientId);
        else expect(answer).toMatchObject({ status: 409, body: { code: 'IDEMPOTENCY_KEY_IN_FLIGHT' } });
      }
    });

    it('scopes keys to the credential: another client’s same key is its own', async () => {
      const key = `shared-${randomBytes(8).toString('hex')}`;
      // A client that may itself register clients, so the second request below runs instead of being refused.
      const body = JSON.stringify({
        environment: 'sandbox',
        name: 'Scoped app',
        grantTypes: ['client_credentials'],
        permissions: ['auth.clients.create', 'tenants.tenants.read'],
      });
      const first = await api(gateways[0], clientsPath(), {
        method: 'POST',
        body,
        headers: { 'idempotency-key': key },
      });
      expect(first.status).toBe(201);
      const { clientId, clientSecret } = (await first.json()) as { clientId: string; clientSecret: string };
      const otherToken = await clientCredentialsToken(gateways[0]!, { clientId, clientSecret });
      // Same key, same body, another credential: its own request, run afresh, not a replay of the first.
      const response = await fetch(`${gateways[1]}${clientsPath()}`, {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${otherToken}`, 'content-type': 'application/json', 'idempotency-key': key },
      });
      expect(response.status).toBe(201);
      expect(response.headers.get('idempotent-replayed')).toBeNull();
      expect(((await response.json()) as { clientId: string }).clientId).not.toBe(clientId);
    });

    it('refuses a malformed key with 400 before anything runs', async () => {
      for (const key of ['k'.repeat(256), 'naïve']) {
        const response = await api(gateways[0], clientsPath(), {
          method: 'POST',
          body: newClient('Never'),
          headers: { 'idempotency-key': key },
        });
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({ code: 'VALIDATION' });
      }
    });

    it('keeps only a hash of the key and a sealed response in the gateway database', async () => {
      const key = `sealed-${randomBytes(8).toString('hex')}`;
      const response = await api(gateways[0], clientsPath(), {
        method: 'POST',
        body: newClient('Sealed app'),
        headers: { 'idempotency-key': key },
      });
      const { clientSecret } = (await response.json()) as { clientSecret: string };
      const { Client } = await import('pg');
      const admin = new Client({ connectionString: await testStack.adminUrlOf('gateway') });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ dump: string }>(
          `SELECT string_agg(key_hash::text || response_sealed::text || encode(response_sealed, 'escape'), ',') AS dump
             FROM idempotency_keys`,
        );
        expect(rows[0]!.dump).not.toContain(clientSecret);
        expect(rows[0]!.dump).not.toContain(key);
        const { rows: grants } = await admin.query<{ relpersistence: string }>(
          "SELECT relpersistence FROM pg_class WHERE relname = 'rate_limit_counters'",
        );
        expect(grants[0]!.relpersistence).toBe('u');
      } finally {
        await admin.end();
      }
    });
  });
});
