import { auditEventSchema, HEADERS, PLATFORM_AUDIT_TENANT_ID } from '@strongroom/contracts';
import {
  AUDIT_DROP_WARNING_INTERVAL_MS,
  type AuditDropCause,
  auditDropCounter,
  clientHeadersOf,
  createMetricsRegistry,
  PlatformError,
  type Principal,
  RefusalAudit,
} from '@strongroom/platform';
import Fastify from 'fastify';
import { gatewayRefusalEventOf, type RefusedRequest } from '../src/audit/gateway-refusals';
import { clientOf } from '../src/http/client-origin';

const TENANT = '7b0f3c2e-8d1a-4c7e-9f00-0a1b2c3d4e5f';
const principal: Principal = {
  subject: 'client-42',
  tenantId: TENANT,
  environment: 'sandbox',
  clientId: 'client-42',
  tokenId: 'jti-1',
  issuedAt: new Date(),
  expiresAt: new Date(Date.now() + 60_000),
  permissions: new Set(['ledger.accounts.read']),
};
const route = { method: 'GET', url: '/v1/tenants/:tenantId/ledger/accounts' };
const refused = (extra: Partial<RefusedRequest>): RefusedRequest => ({
  route,
  requestId: 'req-1',
  client: { ip: '203.0.113.9', userAgent: 'curl/8.5' },
  credential: 'bearer',
  error: PlatformError.unauthenticated(),
  ...extra,
});

describe('the audit event of a request the gateway refuses', () => {
  it('records a refused credential as gateway.request.authenticate by an anonymous actor on the platform chain', () => {
    const event = gatewayRefusalEventOf(refused({}));
    expect(event).toMatchObject({
      tenantId: PLATFORM_AUDIT_TENANT_ID,
      actor: { type: 'anonymous', id: 'anonymous' },
      action: 'gateway.request.authenticate',
      resource: { type: 'route', id: 'GET:/v1/tenants/:tenantId/ledger/accounts' },
      outcome: 'denied',
      reason: 'UNAUTHENTICATED',
      requestId: 'req-1',
      sourceIp: '203.0.113.9',
      userAgent: 'curl/8.5',
      details: { credential: 'bearer' },
    });
    expect(event).not.toHaveProperty('environment');
    // What publishAudit will check: a refusal event that breaks the schema would never be stored.
    expect(auditEventSchema.safeParse(event).success).toBe(true);
  });

  it("records a refused permission as gateway.request.authorize by the verified caller, on its tenant's chain", () => {
    const error = PlatformError.forbidden('lacks it', { permission: 'ledger.accounts.create' });
    const event = gatewayRefusalEventOf(refused({ principal, error, route: { method: 'POST', url: route.url } }));
    expect(event).toMatchObject({
      tenantId: TENANT,
      environment: 'sandbox',
      actor: { type: 'client', id: 'client-42' },
      action: 'gateway.request.authorize',
      resource: { type: 'route', id: 'POST:/v1/tenants/:tenantId/ledger/accounts' },
      reason: 'FORBIDDEN',
      details: { credential: 'bearer', permission: 'ledger.accounts.create' },
    });
    expect(auditEventSchema.safeParse(event).success).toBe(true);
  });

  it("keeps the allowlist's or environment's reason as a detail", () => {
    const error = PlatformError.forbidden('not from here', { reason: 'IP_NOT_ALLOWED' });
    const event = gatewayRefusalEventOf(refused({ principal, error, credential: 'api_key' }));
    expect(event).toMatchObject({ reason: 'FORBIDDEN', details: { credential: 'api_key', refusal: 'IP_NOT_ALLOWED' } });
  });

  it.each([
    ['a bad request', PlatformError.validation('Send either an API key or a bearer token, not both')],
    ['a rate limit', new PlatformError('RATE_LIMITED', 'slow down')],
    ['a service down', PlatformError.unavailable('auth is down')],
    ['a bug', new Error('boom')],
  ])('records nothing for %s (no refusal of the credential)', (_name, error) => {
    expect(gatewayRefusalEventOf(refused({ error }))).toBeUndefined();
  });

  it('states the address and user agent in a form the audit schema accepts, whatever the client sent', () => {
    const event = gatewayRefusalEventOf(
      refused({ client: { ip: '::ffff:127.0.0.1', userAgent: `evil\r\n${'x'.repeat(400)}\u0000é` } }),
    );
    expect(event?.sourceIp).toBe('::ffff:127.0.0.1');
    expect(event?.userAgent).toHaveLength(256);
    expect(event?.userAgent).toMatch(/^[\x20-\x7e]+$/);
    expect(auditEventSchema.safeParse(event).success).toBe(true);
  });
});

describe('the client a bus call states', () => {
  it("is the peer Fastify saw, never the client's own x-strongroom-client-ip or x-strongroom-user-agent", async () => {
    const fastify = Fastify();
    fastify.get('/probe', (request, reply) => reply.send(clientHeadersOf(clientOf(request))));
    try {
      const response = await fastify.inject({
        method: 'GET',
        url: '/probe',
        remoteAddress: '198.51.100.7',
        headers: {
          [HEADERS.clientIp]: '6.6.6.6',
          [HEADERS.userAgent]: 'forged-agent',
          'x-forwarded-for': '6.6.6.6',
          'user-agent': 'real-agent/1.0',
        },
      });
      expect(response.json()).toEqual({ [HEADERS.clientIp]: '198.51.100.7', [HEADERS.userAgent]: 'real-agent/1.0' });
    } finally {
      await fastify.close();
    }
  });
});

describe('bounded refusal auditing', () => {
  /** A publisher whose publishes stay pending until released (JetStream slow or away). */
  function stalledPublisher() {
    const releases: Array<(stored: boolean) => void> = [];
    return {
      send: () => new Promise<boolean>((resolve) => releases.push(resolve)),
      releaseAll: (stored: boolean) => {
        for (const release of releases.splice(0)) release(stored);
      },
      get pending() {
        return releases.length;
      },
    };
  }
  const event = gatewayRefusalEventOf(refused({}))!;

  it('keeps at most the bound in flight, drops and counts the rest, and warns once per interval', async () => {
    const publisher = stalledPublisher();
    const warnings: Array<Record<string, unknown>> = [];
    const registry = createMetricsRegistry({ service: 'gateway', defaultMetrics: false });
    let nowMs = 0;
    const audit = new RefusalAudit({
      emitter: 'gateway',
      send: publisher.send,
      logger: { warn: (details) => warnings.push(details) },
      inFlightMax: 5,
      dropped: auditDropCounter(registry),
      now: () => nowMs,
    });
    for (let i = 0; i < 1_000; i += 1) audit.record(event);
    expect(publisher.pending).toBe(5);
    expect(audit.inFlight).toBe(5);
    expect(audit.dropped).toEqual({ overflow: 995, failed: 0 });
    // One warning for the whole flood, not one per drop.
    expect(warnings).toEqual([expect.objectContaining({ emitter: 'gateway', dropped: { overflow: 1, failed: 0 } })]);
    const metric = await registry.getSingleMetricAsString('strongroom_audit_refusals_dropped_total');
    expect(metric).toMatch(/strongroom_audit_refusals_dropped_total\{[^}]*cause="overflow"[^}]*\} 995/);

    // Room again once JetStream answers; a refused publish counts as failed, and the next interval warns again.
    publisher.releaseAll(false);
    await audit.settled();
    expect(audit.inFlight).toBe(0);
    expect(audit.dropped).toEqual({ overflow: 995, failed: 5 });
    nowMs += AUDIT_DROP_WARNING_INTERVAL_MS;
    audit.record(event);
    publisher.releaseAll(false);
    await audit.settled();
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatchObject({
      dropped: { overflow: 994, failed: 6 } satisfies Record<AuditDropCause, number>,
    });
    expect(audit.dropped).toEqual({ overflow: 995, failed: 6 });
  });

  it('never throws and never waits: a publisher that throws counts as a failed publish', async () => {
    const audit = new RefusalAudit({
      emitter: 'gateway',
      send: () => Promise.reject(new Error('connection closed')),
      logger: { warn: () => {} },
    });
    expect(() => audit.record(event)).not.toThrow();
    await audit.settled();
    expect(audit.dropped).toEqual({ overflow: 0, failed: 1 });
  });
});
