import { RATE_PLANS } from '@strongroom/contracts';
import type { Principal } from '@strongroom/platform';
import type { CallerCredential } from '../src/api/api-credentials';
import {
  apiRateLimitOf,
  edgeRateLimitOf,
  oauthClientIdOf,
  rateLimitHeaders,
  ratePlanOf,
} from '../src/rate-limits/rate-limit-policy';

const tenantId = '8d0f6d0e-3c1a-4a4e-9a51-7f6c1d2e3b4a';
const principal = (overrides: Partial<Principal> = {}): Principal => ({
  subject: 'user-1',
  tenantId,
  environment: 'sandbox',
  clientId: undefined,
  tokenId: 'jti',
  issuedAt: new Date(),
  expiresAt: new Date(),
  permissions: new Set(),
  ...overrides,
});
const caller = (overrides: Partial<CallerCredential> = {}): CallerCredential => ({
  authorization: 'Bearer x',
  principal: principal(),
  ...overrides,
});
const budgets = { publicPerSecond: 100 };
const edge = (method: string, url: string, extra: { authorization?: string; body?: unknown } = {}) =>
  edgeRateLimitOf({ method, url, ip: '203.0.113.7', authorization: extra.authorization, body: extra.body }, budgets);

describe('the plan of an API caller', () => {
  it('is its environment’s plan, lowered (never raised) by its API key’s tier, else the default (standard)', () => {
    // A key cannot buy a basic tenant the premium budget.
    expect(
      ratePlanOf(caller({ apiKey: { keyId: 'k1', rateLimitTier: 'premium' }, environmentRatePlan: 'basic' })),
    ).toBe('basic');
    expect(
      ratePlanOf(caller({ apiKey: { keyId: 'k1', rateLimitTier: 'basic' }, environmentRatePlan: 'premium' })),
    ).toBe('basic');
    expect(ratePlanOf(caller({ environmentRatePlan: 'basic' }))).toBe('basic');
    expect(ratePlanOf(caller())).toBe('standard');
  });

  it('counts per API key, else per OAuth client, else per subject, always within the tenant', () => {
    const byKey = apiRateLimitOf(
      caller({ apiKey: { keyId: 'k1', rateLimitTier: 'basic' }, principal: principal({ clientId: 'c1' }) }),
    );
    expect(byKey).toEqual({
      budget: { name: 'api-basic', points: RATE_PLANS.basic.requestsPerSecond, durationSeconds: 1 },
      key: `${tenantId}:key:k1`,
    });
    expect(apiRateLimitOf(caller({ principal: principal({ clientId: 'c1' }) })).key).toBe(`${tenantId}:client:c1`);
    expect(apiRateLimitOf(caller()).key).toBe(`${tenantId}:sub:user-1`);
  });

  it('hashes a key too long for the store instead of cutting it (two long keys never merge)', () => {
    const long = (suffix: string) =>
      apiRateLimitOf(caller({ principal: principal({ subject: `${'s'.repeat(300)}${suffix}` }) }));
    expect(long('a').key).toMatch(/^sha256:/);
    expect(long('a').key).not.toBe(long('b').key);
  });
});

describe('the edge budget of a request that is not an API route', () => {
  it('limits sign-in and invitation form posts to 5 a minute per address', () => {
    for (const url of ['/oauth/interaction/abc123', '/oauth/invitations/sr_inv_x?lang=en']) {
      expect(edge('POST', url)).toEqual({
        budget: { name: 'sign-in', points: 5, durationSeconds: 60 },
        key: '203.0.113.7',
      });
    }
    // Showing the page is a public GET.
    expect(edge('GET', '/oauth/interaction/abc123').budget.name).toBe('public');
  });

  it('limits the token, introspection, revocation and PAR endpoints per client named in the request', () => {
    const basic = `Basic ${Buffer.from('sr_client_a%3Ab:secret').toString('base64')}`;
    expect(edge('POST', '/oauth/token', { authorization: basic })).toEqual({
      budget: { name: 'oauth-client-standard', points: RATE_PLANS.standard.requestsPerSecond, durationSeconds: 1 },
      key: 'client:sr_client_a:b',
      refundableOnUnauthenticated: true,
    });
    expect(edge('POST', '/oauth/introspect', { body: 'token=t&client_id=sr_client_c' }).key).toBe('client:sr_client_c');
    expect(edge('POST', '/oauth/revoke', { body: 'client_id=sr_client_d&token=t' }).key).toBe('client:sr_client_d');
  });

  it('falls back to the address when no plausible client is named', () => {
    for (const request of [
      { body: 'grant_type=client_credentials' },
      { authorization: 'Basic !!!notbase64' },
      { body: `client_id=${'x'.repeat(129)}` },
      { body: 'client_id=has%20space' },
    ]) {
      expect(edge('POST', '/oauth/token', request)).toEqual({
        budget: expect.objectContaining({ name: 'public' }),
        key: '203.0.113.7',
      });
    }
  });

  it('counts discovery, JWKS, OpenAPI, docs, OAuth GETs and unknown paths per address', () => {
    for (const url of [
      '/.well-known/openid-configuration',
      '/jwks',
      '/openapi.json',
      '/docs',
      '/oauth/authorize?x=1',
      '/nope',
    ]) {
      expect(edge('GET', url)).toEqual({
        budget: { name: 'public', points: 100, durationSeconds: 1 },
        key: '203.0.113.7',
      });
    }
  });
});

describe('oauthClientIdOf', () => {
  it('reads HTTP Basic before the form, decoding the form-urlencoded id (RFC 6749 §2.3.1)', () => {
    const basic = `basic ${Buffer.from('my%2Bclient:s').toString('base64')}`;
    expect(oauthClientIdOf(basic, 'client_id=other')).toBe('my+client');
  });
  it('ignores a Basic value without a colon or with an undecodable id', () => {
    expect(oauthClientIdOf(`Basic ${Buffer.from('noColon').toString('base64')}`, undefined)).toBeUndefined();
    expect(oauthClientIdOf(`Basic ${Buffer.from('%E0%A4%A:s').toString('base64')}`, undefined)).toBeUndefined();
  });
});

describe('RateLimit fields (draft-ietf-httpapi-ratelimit-headers-06)', () => {
  it('states limit, remaining, reset in seconds and the policy window', () => {
    expect(rateLimitHeaders({ limit: 500, remaining: 12, resetSeconds: 1, windowSeconds: 1 })).toEqual({
      'ratelimit-limit': '500',
      'ratelimit-remaining': '12',
      'ratelimit-reset': '1',
      'ratelimit-policy': '500;w=1',
    });
  });
});
