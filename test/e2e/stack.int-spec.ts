import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RunningStack } from '@strongroom/cli';
import { Client } from 'pg';
import { startOtlpReceiver } from './otlp-receiver';
import { startTestStack, type TestStack } from './test-stack';

/** The whole platform as `npm start` runs it (built apps, one process each), against a test database server. */
describe('the running stack', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let stateDir: string;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let stopped = false;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    testStack = await startTestStack({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
    ({ stack, stateDir } = testStack);
  }, 120_000);

  afterAll(async () => {
    await testStack?.dispose({ stopped });
    await receiver?.close();
  }, 60_000);

  it('reports every service up through GET /health', async () => {
    const response = await fetch(`${stack.gatewayUrl}/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; services: Record<string, { status: string }> };
    expect(body.status).toBe('up');
    expect(Object.keys(body.services).sort()).toEqual(['audit', 'auth', 'consent', 'kyc', 'ledger', 'tenants']);
    for (const service of Object.values(body.services)) expect(service).toMatchObject({ status: 'up' });
  });

  it('puts the gateway span and the called services spans in one trace', async () => {
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
    const response = await fetch(`${stack.gatewayUrl}/health`, { headers: { traceparent } });
    expect(response.status).toBe(200);
    // Spans leave each process in batches (every 2 s).
    const deadline = Date.now() + 15_000;
    const inTrace = () => receiver.spans.filter((span) => span.traceId === traceId);
    while (Date.now() < deadline && new Set(inTrace().map((s) => s.service)).size < 7) {
      await new Promise((r) => setTimeout(r, 250));
    }
    const services = new Set(inTrace().map((span) => span.service));
    expect([...services].sort()).toEqual(['audit', 'auth', 'consent', 'gateway', 'kyc', 'ledger', 'tenants']);
    const handled = inTrace().find(
      (span) => span.service === 'ledger' && span.name === 'process ledger.v1.health.check',
    );
    const sent = inTrace().find((span) => span.service === 'gateway' && span.name === 'send ledger.v1.health.check');
    expect(sent).toBeDefined();
    expect(handled?.parentSpanId).toBe(sent?.spanId);
  });

  it('sends security headers on every response (HSTS one year, no framing, no sniffing)', async () => {
    for (const path of ['/health', '/no/such/route']) {
      const response = await fetch(`${stack.gatewayUrl}${path}`);
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
  });

  it.each([
    ['a malformed URL', '/health/%ff%fe', { method: 'GET' }, 400],
    ['invalid JSON', '/health', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{bad' }, 400],
    [
      'a body over the limit',
      '/health',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: `"${'a'.repeat(2_000_000)}"` },
      413,
    ],
  ])('answers %s with problem+json, not a 500', async (_case, path, init, status) => {
    const response = await fetch(`${stack.gatewayUrl}${path}`, init as RequestInit);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({ status, requestId: expect.any(String) });
  });

  it('answers an unknown route with 404 problem+json and echoes the request id', async () => {
    const response = await fetch(`${stack.gatewayUrl}/no/such/route`, { headers: { 'x-request-id': 'req-e2e-1' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.headers.get('x-request-id')).toBe('req-e2e-1');
    expect(await response.json()).toMatchObject({ status: 404, code: 'NOT_FOUND', requestId: 'req-e2e-1' });
  });

  describe('tenants and users over the bus', () => {
    let operator: import('nats').NatsConnection;
    let bus: import('@strongroom/platform').BusClient;
    let anonymous: import('@strongroom/platform').BusClient;

    beforeAll(async () => {
      const { BusClient, busTlsFilesFor, connectBus, serviceCredentialsOverBus } = await import('@strongroom/platform');
      operator = await connectBus({
        servers: stack.natsUrl,
        tls: busTlsFilesFor(join(stateDir, 'pki'), 'strongroom-admin'),
        name: 'e2e-operator',
      });
      anonymous = new BusClient(operator, { defaultTimeoutMs: 10_000 });
      // Every call needs a token now: the operator's own, from auth, as the seed uses it.
      bus = new BusClient(operator, { defaultTimeoutMs: 10_000, actingAs: serviceCredentialsOverBus(anonymous) });
    });

    afterAll(async () => {
      await operator?.close();
    });

    it('seeded the demo tenant and its admin', async () => {
      const { getTenant } = await import('@strongroom/contracts');
      await expect(bus.request(getTenant, { tenantId: stack.demo.tenantId })).resolves.toMatchObject({
        slug: stack.demo.tenantSlug,
        status: 'active',
      });
    });

    it('refuses a call without a token in every service (deny by default)', async () => {
      const { createTenant, createUser, getTenant } = await import('@strongroom/contracts');
      await expect(anonymous.request(getTenant, { tenantId: stack.demo.tenantId })).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
      });
      await expect(
        anonymous.request(createTenant, { slug: 'anonymous', name: 'x', region: 'ke' }),
      ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      await expect(
        anonymous.request(createUser, {
          tenantId: stack.demo.tenantId,
          email: 'anonymous@example.test',
          password: 'a long enough password',
          roles: ['viewer'],
        }),
      ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    });

    it('refuses a second tenant with the same slug, and a malformed slug', async () => {
      const { createTenant } = await import('@strongroom/contracts');
      await expect(
        bus.request(createTenant, { slug: stack.demo.tenantSlug, name: 'Again', region: 'ke' }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(bus.forward(createTenant, { slug: 'Bad Slug!', name: 'x' })).rejects.toMatchObject({
        code: 'VALIDATION',
      });
    });

    it('creates a user only in an existing tenant, and stores the password as argon2id', async () => {
      const { createTenant, createUser } = await import('@strongroom/contracts');
      await expect(
        bus.request(createUser, {
          tenantId: randomUUID(),
          email: 'ghost@example.test',
          password: 'a long enough password',
          roles: ['viewer'],
        }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(
        bus.request(createUser, {
          tenantId: stack.demo.tenantId,
          email: 'weak@example.test',
          password: 'password1234',
          roles: ['viewer'],
        }),
      ).rejects.toMatchObject({ code: 'VALIDATION', details: { violations: ['common_password'] } });

      const tenant = await bus.request(createTenant, {
        slug: `t-${randomBytes(3).toString('hex')}`,
        name: 'MFI',
        region: 'ke',
      });
      const password = 'another long password';
      const user = await bus.request(createUser, {
        tenantId: tenant.id,
        email: 'Officer@Example.test',
        password,
        roles: ['partner_user'],
      });
      expect(user).toMatchObject({ tenantId: tenant.id, email: 'officer@example.test', roles: ['partner_user'] });

      const admin = new Client({
        connectionString: await testStack.adminUrlOf('auth'),
      });
      await admin.connect();
      try {
        const { rows } = await admin.query('SELECT password_hash FROM users WHERE id = $1', [user.id]);
        expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
        expect(rows[0].password_hash).not.toContain(password);
      } finally {
        await admin.end();
      }
    });
  });

  it('refuses a bus client without a certificate', async () => {
    const { dialBus } = await import('@strongroom/platform');
    await expect(
      dialBus({
        servers: stack.natsUrl,
        tls: { caFile: join(stateDir, 'pki', 'ca.crt') },
        name: 'intruder',
        timeoutMs: 2_000,
      }),
    ).rejects.toMatchObject({ name: 'BusConnectionError' });
  });

  it('answers /health with 503 naming the service that is down', async () => {
    const kycPid = stack.pidOf('kyc')!;
    process.kill(kycPid, 'SIGKILL');
    await expect(stack.failed).resolves.toBe('kyc');
    const response = await fetch(`${stack.gatewayUrl}/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      status: 'down',
      services: { kyc: { status: 'down', error: 'UNAVAILABLE' }, ledger: { status: 'up' } },
    });
  });

  it('stops every other process cleanly (exit code 0) on SIGTERM', async () => {
    stopped = true;
    const outcomes = await stack.stop();
    const { kyc, ...others } = outcomes;
    expect(kyc).toBe('SIGKILL');
    expect(others).toEqual({
      'nats-server': 0,
      auth: 0,
      tenants: 0,
      ledger: 0,
      consent: 0,
      audit: 0,
      gateway: 0,
    });
  });
});
