import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type RunningStack, startStack } from '@strongroom/cli';
import { freePort, testAdminUrl } from '@strongroom/testing';
import { Client } from 'pg';
import { startOtlpReceiver } from './otlp-receiver';

const ROOT = resolve(__dirname, '../..');

/** The whole platform as `npm start` runs it (built apps, one process each), against a test database server. */
describe('the running stack', () => {
  let stack: RunningStack;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  const stateDir = mkdtempSync(join(tmpdir(), 'strongroom-stack-'));
  const databasePrefix = `sr_e2e_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({
      rootDir: ROOT,
      stateDir,
      env: {
        ...process.env,
        DATABASE_URL: await testAdminUrl(),
        STRONGROOM_DB_PREFIX: databasePrefix,
        NATS_PORT: String(await freePort()),
        PORT: String(await freePort()),
        STRONGROOM_OPS_PORTS: 'random',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        LOG_LEVEL: 'warn',
      },
      log: () => {},
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await receiver?.close();
    const admin = new Client({ connectionString: await testAdminUrl() });
    await admin.connect();
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${databasePrefix}_%`,
    ]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await admin.end();
    rmSync(stateDir, { recursive: true, force: true });
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

  it('answers an unknown route with 404 problem+json and echoes the request id', async () => {
    const response = await fetch(`${stack.gatewayUrl}/no/such/route`, { headers: { 'x-request-id': 'req-e2e-1' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.headers.get('x-request-id')).toBe('req-e2e-1');
    expect(await response.json()).toMatchObject({ status: 404, code: 'NOT_FOUND', requestId: 'req-e2e-1' });
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
});
