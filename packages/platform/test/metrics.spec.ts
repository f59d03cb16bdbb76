import { createBusMetrics, createHttpMetrics, createMetricsRegistry } from '../src/metrics';

describe('metrics', () => {
  it('exposes strongroom_ bus histograms and counters labelled by subject, side and outcome', async () => {
    const registry = createMetricsRegistry({ service: 'ledger', defaultMetrics: false });
    const bus = createBusMetrics(registry);
    bus.observe('ledger.v1.transfers.post', 'server', 'ok', 0.012);
    bus.observe('ledger.v1.transfers.post', 'server', 'timeout', 10);

    const text = await registry.metrics();
    expect(text).toContain('# TYPE strongroom_bus_request_duration_seconds histogram');
    const subject = 'ledger.v1.transfers.post';
    expect(
      sample(text, 'strongroom_bus_request_duration_seconds_bucket', {
        le: '0.025',
        subject,
        side: 'server',
        outcome: 'ok',
        service: 'ledger',
      }),
    ).toBe(1);
    expect(
      sample(text, 'strongroom_bus_requests_total', { subject, side: 'server', outcome: 'timeout', service: 'ledger' }),
    ).toBe(1);
  });

  it('exposes strongroom_ http histograms labelled by route template and status', async () => {
    const registry = createMetricsRegistry({ service: 'gateway', defaultMetrics: false });
    const http = createHttpMetrics(registry);
    http.observe('GET', '/v1/accounts/:id', 404, 0.003);

    const text = await registry.metrics();
    expect(text).toContain('# TYPE strongroom_http_request_duration_seconds histogram');
    expect(
      sample(text, 'strongroom_http_requests_total', {
        method: 'GET',
        route: '/v1/accounts/:id',
        status: '404',
        service: 'gateway',
      }),
    ).toBe(1);
  });

  it('includes process and Node.js runtime metrics by default', async () => {
    const registry = createMetricsRegistry({ service: 'audit' });
    const text = await registry.metrics();
    expect(sample(text, 'process_cpu_user_seconds_total', { service: 'audit' })).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_heap_size_used_bytes', { service: 'audit' })).toBeGreaterThan(0);
  });

  it('keeps registries apart, so two services in one process never collide on names', () => {
    const a = createMetricsRegistry({ service: 'auth', defaultMetrics: false });
    const b = createMetricsRegistry({ service: 'kyc', defaultMetrics: false });
    createBusMetrics(a);
    expect(() => createBusMetrics(b)).not.toThrow();
    // The same registry twice is a programming error prom-client reports at start, not at scrape.
    expect(() => createBusMetrics(a)).toThrow(/already been registered/);
  });
});

/** The value of the sample `name` whose labels are exactly `labels` (in any order), from exposition text. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (JSON.stringify(Object.entries(found).sort()) === JSON.stringify(Object.entries(labels).sort())) {
      return Number(match[3]);
    }
  }
  return undefined;
}
