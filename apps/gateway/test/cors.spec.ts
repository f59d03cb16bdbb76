import { REQUEST_SIGNING_HEADERS } from '@strongroom/contracts';
import Fastify, { type FastifyInstance } from 'fastify';
import { API_ROUTES } from '../src/api/api-route-table';
import { gatewayConfigSchema } from '../src/gateway-config';
import { corsAllowedOriginsSchema, registerCors } from '../src/http/cors';
import { registerSecurityHeaders } from '../src/http/security-headers';

const APP = 'https://app.lender.example';

/** A gateway-shaped Fastify: CORS first, security headers, and a route that demands a credential. */
async function edgeWith(allowedOrigins: string[], allowCredentials = false): Promise<FastifyInstance> {
  const fastify = Fastify();
  registerCors(fastify, { allowedOrigins, allowCredentials });
  registerSecurityHeaders(fastify);
  fastify.get('/v1/tenants/:tenantId', (request, reply) =>
    request.headers.authorization === undefined
      ? reply.status(401).send({ code: 'UNAUTHENTICATED' })
      : reply.header('x-request-id', 'r1').send({ ok: true }),
  );
  fastify.post('/v1/tenants/:tenantId/cards', (_request, reply) => reply.status(401).send({ code: 'UNAUTHENTICATED' }));
  await fastify.ready();
  return fastify;
}

const preflight = (fastify: FastifyInstance, origin: string, method = 'POST') =>
  fastify.inject({
    method: 'OPTIONS',
    url: '/v1/tenants/t1/cards',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization, content-type, idempotency-key',
    },
  });

const corsHeadersOf = (headers: Record<string, unknown>) =>
  Object.keys(headers).filter((name) => name.startsWith('access-control-'));

describe('CORS at the gateway (CORS_ALLOWED_ORIGINS)', () => {
  describe('with no origin configured (the default)', () => {
    let fastify: FastifyInstance;
    beforeAll(async () => {
      fastify = await edgeWith([]);
    });
    afterAll(() => fastify.close());

    it('sends no CORS header at all, even to a browser that asks', async () => {
      const answer = await fastify.inject({
        url: '/v1/tenants/t1',
        headers: { origin: APP, authorization: 'Bearer x' },
      });
      expect(answer.statusCode).toBe(200);
      expect(corsHeadersOf(answer.headers)).toEqual([]);
    });

    it('finds no route for a preflight: the browser refuses the cross-origin call', async () => {
      const answer = await preflight(fastify, APP);
      expect(answer.statusCode).toBe(404);
      expect(corsHeadersOf(answer.headers)).toEqual([]);
    });
  });

  describe('with an allowed origin', () => {
    let fastify: FastifyInstance;
    beforeAll(async () => {
      fastify = await edgeWith([APP, 'http://localhost:3000']);
    });
    afterAll(() => fastify.close());

    it('answers its preflight without any credential, before the route could ask for one', async () => {
      const answer = await preflight(fastify, APP);
      expect(answer.statusCode).toBe(204);
      expect(answer.headers['access-control-allow-origin']).toBe(APP);
      expect(answer.headers['access-control-allow-methods']).toBe('GET, POST, PUT, PATCH, DELETE');
      // Every method an API route uses is offered (PATCH of settings and environments included).
      const offered = String(answer.headers['access-control-allow-methods']).split(', ');
      for (const route of API_ROUTES) expect(offered).toContain(route.method);
      const allowed = String(answer.headers['access-control-allow-headers']).split(', ');
      expect(allowed).toEqual(
        expect.arrayContaining([
          'authorization',
          'content-type',
          'idempotency-key',
          ...Object.values(REQUEST_SIGNING_HEADERS),
        ]),
      );
      expect(answer.headers['access-control-max-age']).toBe('600');
      expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
      expect(answer.headers.vary).toContain('Origin');
    });

    it('lets the browser script read the request id, rate-limit, Retry-After and idempotency headers', async () => {
      const answer = await fastify.inject({
        url: '/v1/tenants/t1',
        headers: { origin: APP, authorization: 'Bearer x' },
      });
      expect(answer.headers['access-control-allow-origin']).toBe(APP);
      expect(String(answer.headers['access-control-expose-headers']).split(', ')).toEqual(
        expect.arrayContaining([
          'x-request-id',
          'ratelimit-remaining',
          'ratelimit-policy',
          'retry-after',
          'idempotent-replayed',
        ]),
      );
    });

    it('still authenticates the actual request: CORS opens the door to the browser, not to the API', async () => {
      const answer = await fastify.inject({ url: '/v1/tenants/t1', headers: { origin: APP } });
      expect(answer.statusCode).toBe(401);
      expect(answer.headers['access-control-allow-origin']).toBe(APP);
    });

    it('gives another origin nothing: no CORS header, and a preflight that finds no route', async () => {
      for (const origin of ['https://evil.example', `${APP}.evil.example`, 'null', 'http://app.lender.example']) {
        const actual = await fastify.inject({ url: '/v1/tenants/t1', headers: { origin, authorization: 'Bearer x' } });
        expect(corsHeadersOf(actual.headers)).toEqual([]);
        const refused = await preflight(fastify, origin);
        expect(refused.statusCode).toBe(404);
        expect(corsHeadersOf(refused.headers)).toEqual([]);
      }
    });

    it('sends no CORS header to a server-to-server call (no Origin)', async () => {
      const answer = await fastify.inject({ url: '/v1/tenants/t1', headers: { authorization: 'Bearer x' } });
      expect(corsHeadersOf(answer.headers)).toEqual([]);
    });

    it('refuses a malformed preflight (no Access-Control-Request-Method)', async () => {
      const answer = await fastify.inject({ method: 'OPTIONS', url: '/v1/tenants/t1', headers: { origin: APP } });
      expect(answer.statusCode).toBe(400);
    });
  });

  it('allows credentials only when configured', async () => {
    const fastify = await edgeWith([APP], true);
    const answer = await preflight(fastify, APP, 'GET');
    expect(answer.headers['access-control-allow-credentials']).toBe('true');
    await fastify.close();
  });
});

describe('CORS_ALLOWED_ORIGINS', () => {
  it('takes comma-separated exact origins, spaces and empty entries ignored', () => {
    expect(corsAllowedOriginsSchema.parse(` ${APP}, http://localhost:3000 ,`)).toEqual([APP, 'http://localhost:3000']);
    expect(corsAllowedOriginsSchema.parse(undefined)).toEqual([]);
  });

  it.each([
    ['a wildcard', '*'],
    ['a trailing slash', `${APP}/`],
    ['a path', `${APP}/app`],
    ['no scheme', 'app.lender.example'],
    ['another scheme', 'ftp://app.lender.example'],
    ['the opaque origin', 'null'],
    ['an upper-case host (browsers send it lower-case)', 'https://App.Lender.example'],
    ['a default port spelled out', 'https://app.lender.example:443'],
  ])('refuses %s', (_what, value) => {
    expect(corsAllowedOriginsSchema.safeParse(value).success).toBe(false);
  });

  it('is part of the gateway configuration, with credentials off by default', () => {
    const shape = gatewayConfigSchema.shape;
    expect(shape.CORS_ALLOWED_ORIGINS.parse(APP)).toEqual([APP]);
    expect(shape.CORS_ALLOW_CREDENTIALS.parse(undefined)).toBe(false);
    expect(shape.CORS_ALLOW_CREDENTIALS.parse('true')).toBe(true);
  });
});
