import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { API_REFERENCE_HTML, registerApiReference } from '../src/docs/api-reference';
import { registerSecurityHeaders } from '../src/http/security-headers';

/** The CSP directives of an answer, as a map. */
function cspOf(header: unknown): Record<string, string> {
  return Object.fromEntries(
    String(header)
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter((parts) => parts[0] !== '')
      .map(([name, ...values]) => [name, values.join(' ')]),
  );
}

describe('the API reference at /docs', () => {
  let fastify: FastifyInstance;
  beforeAll(async () => {
    fastify = Fastify();
    registerApiReference(fastify);
    registerSecurityHeaders(fastify);
    fastify.get('/openapi.json', (_request, reply) => reply.send({}));
    await fastify.ready();
  });
  afterAll(() => fastify.close());

  it('is an HTML page loading only files of this origin, no inline script or style', async () => {
    const answer = await fastify.inject({ url: '/docs' });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.body).toBe(API_REFERENCE_HTML);
    const sources = [...answer.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(source).toMatch(/^\/docs\/[a-z0-9.-]+$/);
    expect(answer.body).not.toMatch(/<script>|<script [^>]*>[^<\s]|<style|style=|\son[a-z]+=/);
  });

  it('has the narrowest CSP that lets it run: its own scripts, styles and API calls, data: images', async () => {
    const csp = cspOf((await fastify.inject({ url: '/docs' })).headers['content-security-policy']);
    expect(csp).toEqual({
      'default-src': "'none'",
      'script-src': "'self'",
      'style-src': "'self'",
      'img-src': "'self' data:",
      'connect-src': "'self'",
      'base-uri': "'none'",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
    });
  });

  it("leaves every other answer at default-src 'none', its assets included", async () => {
    for (const url of ['/openapi.json', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']) {
      const csp = cspOf((await fastify.inject({ url })).headers['content-security-policy']);
      expect(csp).toEqual({ 'default-src': "'none'", 'frame-ancestors': "'none'" });
    }
  });

  it.each([
    ['/docs/swagger-ui-bundle.js', 'text/javascript; charset=utf-8', 'SwaggerUIBundle'],
    ['/docs/api-reference.js', 'text/javascript; charset=utf-8', "url: '/openapi.json'"],
    ['/docs/swagger-ui.css', 'text/css; charset=utf-8', '.swagger-ui'],
    ['/docs/index.css', 'text/css; charset=utf-8', 'box-sizing'],
    ['/docs/oauth2-redirect.js', 'text/javascript; charset=utf-8', 'swaggerUIRedirectOauth2'],
  ])('serves %s from node_modules or the gateway itself', async (url, contentType, content) => {
    const answer = await fastify.inject({ url });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe(contentType);
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.body).toContain(content);
  });

  it('points Swagger UI at /openapi.json and at no other host (no validator badge)', async () => {
    const script = (await fastify.inject({ url: '/docs/api-reference.js' })).body;
    expect(script).toContain('validatorUrl: null');
    expect(script).not.toMatch(/https?:\/\//);
  });

  it('gzips the bundle for a browser that accepts it', async () => {
    const plain = await fastify.inject({ url: '/docs/swagger-ui-bundle.js' });
    const answer = await fastify.inject({
      url: '/docs/swagger-ui-bundle.js',
      headers: { 'accept-encoding': 'gzip, br' },
    });
    expect(answer.headers['content-encoding']).toBe('gzip');
    expect(answer.rawPayload.length).toBeLessThan(plain.rawPayload.length / 2);
    expect(gunzipSync(answer.rawPayload).equals(plain.rawPayload)).toBe(true);
  });

  it('answers an unknown file with 404 problem+json, and never reads outside its list', async () => {
    for (const url of ['/docs/package.json', '/docs/..%2f..%2fpackage.json', '/docs/swagger-ui-bundle.js.map']) {
      const answer = await fastify.inject({ url });
      expect(answer.statusCode).toBe(404);
    }
    const answer = await fastify.inject({ url: '/docs/nope.js' });
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('gives the OAuth2 redirect page the same CSP as /docs', async () => {
    const answer = await fastify.inject({ url: '/docs/oauth2-redirect.html' });
    expect(answer.statusCode).toBe(200);
    expect(cspOf(answer.headers['content-security-policy'])['script-src']).toBe("'self'");
  });
});
