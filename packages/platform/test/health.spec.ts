import { type OpsServer, type ReadinessCheck, startOpsServer } from '../src/health';
import { createBusMetrics, createMetricsRegistry } from '../src/metrics';

describe('startOpsServer', () => {
  const servers: OpsServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function start(checks: Record<string, ReadinessCheck>, checkTimeoutMs = 200) {
    const registry = createMetricsRegistry({ service: 'ledger', defaultMetrics: false });
    createBusMetrics(registry).observe('ledger.v1.balances.get', 'server', 'ok', 0.004);
    const server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      service: 'ledger',
      checks,
      registry,
      checkTimeoutMs,
    });
    servers.push(server);
    const get = async (path: string, method = 'GET') => {
      const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { method });
      return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
    };
    return { server, get };
  }

  const up: ReadinessCheck = async () => true;

  it('answers liveness 200 whatever the dependencies say', async () => {
    const { get } = await start({ db: async () => false });
    const live = await get('/health/live');
    expect(live.status).toBe(200);
    expect(JSON.parse(live.body)).toEqual({ service: 'ledger', status: 'up' });
  });

  it('answers readiness 200 with every check up', async () => {
    const { get } = await start({ db: up, bus: up });
    const ready = await get('/health/ready');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ service: 'ledger', status: 'up', checks: { db: 'up', bus: 'up' } });
  });

  it.each<[string, ReadinessCheck]>([
    ['answers false', async () => false],
    ['rejects', async () => Promise.reject(new Error('ECONNREFUSED'))],
    [
      'throws synchronously',
      () => {
        throw new Error('not connected');
      },
    ],
    ['outlives the timeout', () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 2_000).unref())],
  ])('answers readiness 503 naming the dependency when its check %s', async (_, failing) => {
    const { get } = await start({ db: up, bus: failing });
    const startedMs = Date.now();
    const ready = await get('/health/ready');
    expect(Date.now() - startedMs).toBeLessThan(1_500);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ service: 'ledger', status: 'down', checks: { db: 'up', bus: 'down' } });
  });

  it('serves Prometheus text on /metrics', async () => {
    const { get } = await start({});
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain; version=0.0.4/);
    expect(metrics.body).toContain('strongroom_bus_request_duration_seconds_bucket');
  });

  it('answers 404 JSON for anything else, and 405 for other methods on its paths', async () => {
    const { get } = await start({});
    const missing = await get('/admin');
    expect(missing.status).toBe(404);
    expect(missing.type).toMatch(/^application\/json/);
    expect(JSON.parse(missing.body)).toEqual({ error: 'not_found', path: '/admin' });
    expect((await get('/health/live', 'POST')).status).toBe(405);
  });

  it('ignores the query string', async () => {
    const { get } = await start({});
    expect((await get('/health/live?verbose=1')).status).toBe(200);
  });

  it('closes even while a client holds a keep-alive connection', async () => {
    const { server, get } = await start({});
    await get('/health/live');
    await server.close();
    servers.pop();
    await expect(fetch(`http://127.0.0.1:${server.port}/health/live`)).rejects.toThrow();
  });

  it('fails to start with the listen error when the port is taken', async () => {
    const { server } = await start({});
    const registry = createMetricsRegistry({ service: 'ledger', defaultMetrics: false });
    await expect(
      startOpsServer({ host: '127.0.0.1', port: server.port, service: 'ledger', checks: {}, registry }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
