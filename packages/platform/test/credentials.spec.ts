import { createHmac, randomUUID } from 'node:crypto';
import type { PublicJwks } from '@strongroom/contracts';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { AccessTokenVerifier, JwksCache, RevocationList } from '../src';

const ISSUER = 'https://api.strongroom.test';
const AUDIENCE = 'strongroom-api';
const tenantId = randomUUID();

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

function claims(overrides: Record<string, unknown> = {}) {
  return { tenant_id: tenantId, env: 'sandbox', scope: 'ledger.transfers.create', jti: randomUUID(), ...overrides };
}

async function token(key: SigningKey, overrides: Record<string, unknown> = {}, expiresIn = '15m', issuer = ISSUER) {
  return new SignJWT(claims(overrides))
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(AUDIENCE)
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key.privateKey);
}

function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

describe('access token verification in every service', () => {
  let current: SigningKey;
  let published: PublicJwks;
  let fetches: number;
  let revocations: RevocationList;
  let verifier: AccessTokenVerifier;

  beforeEach(async () => {
    current = await signingKey('k1');
    published = { keys: [current.publicJwk as PublicJwks['keys'][number]] };
    fetches = 0;
    revocations = new RevocationList();
    const jwks = new JwksCache({
      fetchJwks: async () => {
        fetches += 1;
        return published;
      },
      refreshCooldownSeconds: 0,
    });
    verifier = new AccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks, revocations });
  });

  it('accepts a valid token and exposes who is calling', async () => {
    const principal = await verifier.verify(`Bearer ${await token(current)}`);
    expect(principal).toMatchObject({ subject: 'user-1', tenantId, environment: 'sandbox' });
    expect(principal.permissions.has('ledger.transfers.create')).toBe(true);
  });

  const refused = async (authorization: string | undefined) =>
    expect(verifier.verify(authorization)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

  it('refuses a missing or malformed Authorization header', async () => {
    await refused(undefined);
    await refused('Basic dXNlcjpwYXNz');
    await refused('Bearer not-a-jwt');
    await refused(`Bearer ${'a'.repeat(9_000)}.b.c`);
  });

  it('refuses alg none', async () => {
    const header = base64url({ alg: 'none', kid: 'k1', typ: 'at+jwt' });
    const payload = base64url({ ...claims(), iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: 1, exp: 4_102_444_800 });
    await refused(`Bearer ${header}.${payload}.`);
    await refused(`Bearer ${header}.${payload}.x`);
  });

  it('refuses HS256 signed with the public key as the secret (algorithm confusion)', async () => {
    const header = base64url({ alg: 'HS256', kid: 'k1', typ: 'at+jwt' });
    const payload = base64url({ ...claims(), iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: 1, exp: 4_102_444_800 });
    const secret = JSON.stringify(current.publicJwk);
    const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    await refused(`Bearer ${header}.${payload}.${signature}`);
  });

  it('refuses a token signed by a key that is not published (unknown kid), after one refresh', async () => {
    const stranger = await signingKey('k-unknown');
    await refused(`Bearer ${await token(stranger)}`);
    expect(fetches).toBe(2);
  });

  it('uses a published key only for its own algorithm (an RS256 token naming an ES256 key is refused)', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const confused = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', kid: current.kid, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('15m')
      .sign(privateKey);
    await expect(verifier.verify(`Bearer ${confused}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('answers UNAVAILABLE, not 401, when the keys cannot be fetched', async () => {
    const { PlatformError } = await import('../src');
    const unreachable = new AccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: new JwksCache({
        fetchJwks: async () => {
          throw PlatformError.unavailable('auth is down');
        },
      }),
      revocations,
    });
    await expect(unreachable.verify(`Bearer ${await token(current)}`)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('refuses an expired token, a token for another audience and one from another issuer', async () => {
    await refused(`Bearer ${await token(current, {}, '-1m')}`);
    const otherAudience = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience('another-api')
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('15m')
      .sign(current.privateKey);
    await refused(`Bearer ${otherAudience}`);
    await refused(`Bearer ${await token(current, {}, '15m', 'https://evil.test')}`);
  });

  it('refuses a token whose signature was altered by one character', async () => {
    const valid = await token(current);
    const last = valid.at(-2) === 'A' ? 'B' : 'A';
    await refused(`Bearer ${valid.slice(0, -2)}${last}${valid.at(-1)}`);
  });

  it('refuses a token without our claims (tenant, environment)', async () => {
    await refused(`Bearer ${await token(current, { tenant_id: undefined })}`);
    await refused(`Bearer ${await token(current, { env: 'staging' })}`);
  });

  it('follows a key rotation: a token signed with a newly published key is accepted', async () => {
    await verifier.verify(`Bearer ${await token(current)}`);
    const next = await signingKey('k2');
    published = { keys: [...published.keys, next.publicJwk as PublicJwks['keys'][number]] };
    await expect(verifier.verify(`Bearer ${await token(next)}`)).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('refuses revoked tokens: by id, and every token of a subject, client or tenant issued before the revocation', async () => {
    const now = new Date();
    const later = new Date(now.getTime() + 3_600_000).toISOString();
    const byId = await token(current);
    const principal = await verifier.verify(`Bearer ${byId}`);
    revocations.apply({ scope: 'token', tokenId: principal.tokenId, revokedAt: now.toISOString(), expiresAt: later });
    await refused(`Bearer ${byId}`);

    const forClient = await token(current, { client_id: 'client-9' });
    revocations.apply({
      scope: 'client',
      clientId: 'client-9',
      revokedAt: new Date(Date.now() + 1_000).toISOString(),
      expiresAt: later,
    });
    await refused(`Bearer ${forClient}`);

    revocations.apply({
      scope: 'tenant',
      tenantId,
      revokedAt: new Date(Date.now() + 1_000).toISOString(),
      expiresAt: later,
    });
    await refused(`Bearer ${await token(current)}`);
  });

  it('accepts a token issued after its subject was revoked, and forgets revocations once they expire', () => {
    const list = new RevocationList();
    const revokedAt = new Date('2026-01-01T00:00:00Z');
    list.apply({
      scope: 'subject',
      subject: 'user-1',
      revokedAt: revokedAt.toISOString(),
      expiresAt: '2026-01-01T01:00:00Z',
    });
    const principal = {
      subject: 'user-1',
      tenantId,
      environment: 'sandbox' as const,
      clientId: undefined,
      tokenId: 't',
      issuedAt: new Date(revokedAt.getTime() + 1_000),
      expiresAt: new Date(revokedAt.getTime() + 900_000),
      permissions: new Set<string>(),
    };
    expect(list.isRevoked(principal)).toBe(false);
    expect(list.isRevoked({ ...principal, issuedAt: revokedAt })).toBe(true);
    list.prune(Date.parse('2026-01-01T01:00:00Z'));
    expect(list.size).toBe(0);
  });
});

describe('the verified-token cache', () => {
  it('never lets a cached token outlive its expiry or its revocation', async () => {
    const key = await signingKey('k1');
    const revocations = new RevocationList();
    const verifier = new AccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: new JwksCache({ fetchJwks: async () => ({ keys: [key.publicJwk as PublicJwks['keys'][number]] }) }),
      revocations,
      clockToleranceSeconds: 0,
    });
    const shortLived = await token(key, {}, '2s');
    const principal = await verifier.verify(`Bearer ${shortLived}`);
    await expect(verifier.verify(`Bearer ${shortLived}`)).resolves.toEqual(principal);
    revocations.apply({
      scope: 'token',
      tokenId: principal.tokenId,
      revokedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    await expect(verifier.verify(`Bearer ${shortLived}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

    const expiring = await token(key, {}, '1s');
    await verifier.verify(`Bearer ${expiring}`);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await expect(verifier.verify(`Bearer ${expiring}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('the signing-key cache while auth cannot answer', () => {
  it('keeps verifying with the last keys for up to an hour, retrying after the cool-down, then gives up', async () => {
    const key = await signingKey('k1');
    let nowMs = 1_000_000;
    let auth: 'up' | 'down' = 'up';
    let fetches = 0;
    const jwks = new JwksCache({
      fetchJwks: async () => {
        fetches += 1;
        if (auth === 'down') throw new Error('no responder');
        return { keys: [key.publicJwk as PublicJwks['keys'][number]] };
      },
      ttlSeconds: 300,
      refreshCooldownSeconds: 30,
      now: () => nowMs,
    });
    const header = { kid: 'k1', alg: 'ES256' };
    await expect(jwks.keyFor(header)).resolves.toBeDefined();
    auth = 'down';
    nowMs += 301_000;
    await expect(jwks.keyFor(header)).resolves.toBeDefined();
    expect(fetches).toBe(2);
    // Within the cool-down no new attempt is made; after it, one is.
    await jwks.keyFor(header);
    expect(fetches).toBe(2);
    nowMs += 31_000;
    await jwks.keyFor(header);
    expect(fetches).toBe(3);
    // Past an hour without a successful fetch the stale keys are no longer trusted.
    nowMs += 3_600_000;
    await expect(jwks.keyFor(header)).rejects.toThrow('no responder');
  });
});
