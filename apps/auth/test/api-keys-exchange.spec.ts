import {
  API_KEY_ACCESS_TOKEN_TTL_SECONDS,
  accessTokenClaimsSchema,
  REQUEST_SIGNING_HEADERS as H,
  RequestSigningError,
  sha256Hex,
  signRequest,
} from '@strongroom/contracts';
import { ApiKeyError } from '../src/api-keys/api-key-errors';
import { type ApiKeyActor, ApiKeyService, type IssuedApiKey } from '../src/api-keys/api-key-service';
import { apiKeyTokenClaims } from '../src/api-keys/api-key-token-issuer';
import { apiKeyWire } from '../src/api-keys/api-keys.repository';
import type { DigestedSignedRequest, SignedRequestVerifier } from '../src/api-keys/signed-request-verification';
import {
  FIXTURE_ADMIN,
  FIXTURE_TENANT_ID,
  type SignedRequestFixture,
  startSignedRequestFixture,
} from './support/signed-request-fixture';

const tenantId = FIXTURE_TENANT_ID;
const admin = FIXTURE_ADMIN;
const otherTenantId = '5e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b';
const outsider: ApiKeyActor = { ...admin, tenantId: otherTenantId, userId: 'user-outsider' };
const body = Buffer.from('{"amountMinor":1000,"currency":"ZMW"}');

let fixture: SignedRequestFixture;
let service: ApiKeyService;
let verifier: SignedRequestVerifier;
let key: IssuedApiKey;

beforeEach(async () => {
  fixture = await startSignedRequestFixture();
  ({ service, verifier, key } = fixture);
});
afterEach(() => fixture.dispose());

/** What the gateway sends over the bus: headers and the digest of the body it received, never the body. */
function digested(received: Buffer, signedBody: Buffer = received): DigestedSignedRequest {
  const headers = signRequest({
    method: 'POST',
    url: '/v1/transfers?b=2&a=1',
    body: signedBody,
    keyId: key.key.keyId,
    signingSecret: key.signingSecret,
    now: fixture.clock.now,
  });
  return {
    method: 'POST',
    target: '/v1/transfers?b=2&a=1',
    headers: { ...headers, [H.apiKey]: key.apiKey },
    bodySha256: sha256Hex(received),
    environment: 'production',
  };
}

async function refusalCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (error instanceof RequestSigningError || error instanceof ApiKeyError) return error.code;
  throw new Error(`expected a refusal, got ${String(error)}`);
}

describe('verifying a signed request from its body digest (the gateway path)', () => {
  it('accepts the digest of the body that was signed', async () => {
    await expect(verifier.verifyDigested(digested(body))).resolves.toMatchObject({ keyId: key.key.keyId, tenantId });
  });

  it('refuses a body other than the one signed, even though the signed headers are intact', async () => {
    const altered = Buffer.from('{"amountMinor":9000,"currency":"ZMW"}');
    expect(await refusalCode(verifier.verifyDigested(digested(altered, body)))).toBe('BODY_DIGEST_MISMATCH');
  });

  it('refuses a digest that is not lower-case hex SHA-256, whatever the header says', async () => {
    const request = digested(body);
    const upper = { ...request, bodySha256: request.bodySha256.toUpperCase() };
    expect(await refusalCode(verifier.verifyDigested(upper))).toBe('BODY_DIGEST_MISMATCH');
    expect(await refusalCode(verifier.verifyDigested({ ...request, bodySha256: '' }))).toBe('BODY_DIGEST_MISMATCH');
  });
});

describe('the access token a key is exchanged for', () => {
  it('names the key, its tenant, environment and permissions, for five minutes', async () => {
    const principal = await service.authenticate(key.apiKey, 'production');
    const claims = apiKeyTokenClaims(principal, fixture.clock.now, {
      issuer: 'https://api.test',
      audience: 'strongroom-api',
    });
    expect(accessTokenClaimsSchema.parse(claims)).toEqual(claims);
    expect(claims).toMatchObject({
      iss: 'https://api.test',
      aud: 'strongroom-api',
      sub: `api_key:${key.key.keyId}`,
      client_id: `api_key:${key.key.keyId}`,
      tenant_id: tenantId,
      env: 'production',
      permissions: ['tenants.tenants.read'],
    });
    expect(claims.exp - claims.iat).toBe(API_KEY_ACCESS_TOKEN_TTL_SECONDS);
    expect(API_KEY_ACCESS_TOKEN_TTL_SECONDS).toBeLessThanOrEqual(300);
  });

  it('gets a fresh token id every time', async () => {
    const principal = await service.authenticate(key.apiKey, 'production');
    const audience = { issuer: 'https://api.test', audience: 'strongroom-api' };
    expect(apiKeyTokenClaims(principal, fixture.clock.now, audience).jti).not.toBe(
      apiKeyTokenClaims(principal, fixture.clock.now, audience).jti,
    );
  });
});

describe('listing keys', () => {
  it('shows a tenant its own keys only, by keyId, filtered by environment, a page at a time, never a secret', async () => {
    const sandbox = await service.create(admin, {
      environment: 'sandbox',
      name: 'tests',
      permissions: ['tenants.tenants.read'],
    });
    await service.create(outsider, {
      environment: 'production',
      name: 'theirs',
      permissions: ['tenants.tenants.read'],
    });

    const all = await service.list(admin, { limit: 10 });
    expect(all.map((view) => view.keyId)).toEqual([key.key.keyId, sandbox.key.keyId].sort());
    for (const view of all) {
      expect(view).not.toHaveProperty('secretHash');
      expect(view).not.toHaveProperty('signingSecretCiphertext');
      expect(JSON.stringify(apiKeyWire(view))).not.toContain(key.signingSecret);
    }
    expect((await service.list(admin, { limit: 10, environment: 'sandbox' })).map((view) => view.keyId)).toEqual([
      sandbox.key.keyId,
    ]);
    const [first] = await service.list(admin, { limit: 1 });
    const rest = await service.list(admin, { limit: 10, afterKeyId: first!.keyId });
    expect(rest.map((view) => view.keyId)).toEqual(all.slice(1).map((view) => view.keyId));
  });

  it('refuses a page size outside 1..100', async () => {
    expect(await refusalCode(service.list(admin, { limit: 0 }))).toBe('INVALID_INPUT');
    expect(await refusalCode(service.list(admin, { limit: 101 }))).toBe('INVALID_INPUT');
  });
});
