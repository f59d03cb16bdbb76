import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate } from '@readme/openapi-parser';
import type { RunningStack } from '@strongroom/cli';
import { clientCredentialsToken, startTestStack, type TestStack } from './test-stack';

/** A browser app of the demo tenant: the one origin the stack is told to allow. */
const APP_ORIGIN = 'https://app.lender.example';
/** Debian's chromium (`apt-get install chromium`); the browser check is skipped where it is absent. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The gateway's edge as a browser meets it: the API reference at /docs (served by the gateway,
 * under its own CSP) and CORS for the configured origin only, against the running stack.
 */
describe('the gateway edge: /docs and CORS', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let accessToken: string;

  beforeAll(async () => {
    testStack = await startTestStack({ CORS_ALLOWED_ORIGINS: APP_ORIGIN });
    stack = testStack.stack;
    accessToken = await clientCredentialsToken(stack.gatewayUrl, stack.demo);
  }, 120_000);

  afterAll(async () => {
    await testStack?.dispose();
  }, 60_000);

  it('serves /docs with its own narrow CSP, and Swagger UI from the gateway itself', async () => {
    const page = await fetch(`${stack.gatewayUrl}/docs`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy');
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe');
    const html = await page.text();
    for (const [, asset] of html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)) {
      const answer = await fetch(`${stack.gatewayUrl}${asset}`);
      expect([asset, answer.status]).toEqual([asset, 200]);
    }
    const api = await fetch(`${stack.gatewayUrl}/v1/tenants/${stack.demo.tenantId}`);
    expect(api.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
  });

  it('serves an OpenAPI document that validates', async () => {
    const document = await (await fetch(`${stack.gatewayUrl}/openapi.json`)).json();
    const result = await validate(document as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
  });

  it('answers a preflight from the allowed origin without a credential, then the real call with its token', async () => {
    const url = `${stack.gatewayUrl}/v1/tenants/${stack.demo.tenantId}`;
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: APP_ORIGIN,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');

    const actual = await fetch(url, { headers: { origin: APP_ORIGIN, authorization: `Bearer ${accessToken}` } });
    expect(actual.status).toBe(200);
    expect(actual.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(actual.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('gives any other origin no CORS header', async () => {
    const url = `${stack.gatewayUrl}/v1/tenants/${stack.demo.tenantId}`;
    const actual = await fetch(url, {
      headers: { origin: 'https://evil.example', authorization: `Bearer ${accessToken}` },
    });
    expect(actual.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(404);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  (existsSync(CHROMIUM) ? it : it.skip)(
    'renders in a real browser: every operation listed, no CSP violation, no request off the origin',
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        const violations: string[] = [];
        const offOrigin: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
        });
        page.on('pageerror', (error) => violations.push(`page error: ${error.message}`));
        page.on('request', (request) => {
          if (!request.url().startsWith(stack.gatewayUrl) && !request.url().startsWith('data:'))
            offOrigin.push(request.url());
        });
        await page.goto(`${stack.gatewayUrl}/docs`, { waitUntil: 'networkidle' });
        await page.waitForSelector('.swagger-ui .opblock', { timeout: 30_000 });
        expect(await page.textContent('.swagger-ui .info .title')).toContain('Strongroom API');
        const document = (await (await fetch(`${stack.gatewayUrl}/openapi.json`)).json()) as {
          paths: Record<string, object>;
        };
        const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0);
        expect(await page.locator('.swagger-ui .opblock').count()).toBe(operations);
        await page.screenshot({ path: join(tmpdir(), 'strongroom-docs.png'), fullPage: false });
        expect(violations).toEqual([]);
        expect(offOrigin).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
