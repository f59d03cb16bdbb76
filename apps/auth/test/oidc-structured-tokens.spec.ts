import { randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { StructuredTokens } from '../src/oidc/structured-tokens';

const issuer = 'https://api.strongroom.test';
const audience = 'urn:strongroom:api';
const tenantId = '5b1d8a0e-2f43-4c6a-9d1e-0a1b2c3d4e5f';

describe('introspection and revocation of our JWT access tokens', () => {
  let sign: (claims: Record<string, unknown>, key?: CryptoKey) => Promise<string>;
  let tokens: StructuredTokens;
  const revoked = new Set<string>();
  let jwksFetches = 0;

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    sign = (claims, key = privateKey) =>
      new SignJWT({ tenant_id: tenantId, env: 'sandbox', client_id: 'sr_client_a', jti: randomUUID(), ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject('sr_client_a')
        .setIssuedAt()
        .setExpirationTime('15m')
        .sign(key);
    tokens = new StructuredTokens({
      issuer,
      audience,
      publicJwks: async () => {
        jwksFetches += 1;
        return { keys: [publicJwk] };
      },
      isRevoked: (claims) => revoked.has(claims.jti),
    });
  });

  const caller = { tenantId, environment: 'sandbox' };

  it('answers an active token of the caller’s tenant with its claims (RFC 7662 §2.2)', async () => {
    await expect(tokens.introspect(await sign({}), caller)).resolves.toMatchObject({
      active: true,
      token_type: 'Bearer',
      tenant_id: tenantId,
      client_id: 'sr_client_a',
    });
  });

  it('answers only `active: false` for another tenant’s or environment’s token, a revoked one, a forged one', async () => {
    const otherTenant = await sign({ tenant_id: '6c2e9b1f-3054-4d7b-8e2f-1b2c3d4e5f60' });
    const production = await sign({ env: 'production' });
    const revokedToken = await sign({ jti: 'revoked-1' });
    revoked.add('revoked-1');
    const { privateKey: stranger } = await generateKeyPair('ES256');
    const forged = await sign({}, stranger);
    for (const token of [otherTenant, production, revokedToken, forged, 'not.a.jwt'])
      await expect(tokens.introspect(token, caller)).resolves.toEqual({ active: false });
  });

  it('lets only the client a token was issued to revoke it (RFC 7009 §2.1)', async () => {
    const token = await sign({});
    await expect(tokens.revocable(token, 'sr_client_a')).resolves.toMatchObject({ client_id: 'sr_client_a' });
    await expect(tokens.revocable(token, 'sr_client_b')).resolves.toBeUndefined();
  });

  it('reads the public keys once a minute, not once a token', async () => {
    const before = jwksFetches;
    for (let i = 0; i < 5; i += 1) await tokens.introspect(await sign({}), caller);
    expect(jwksFetches - before).toBeLessThanOrEqual(1);
  });
});
