import { REQUEST_SIGNING_HEADERS as H, RequestSigningError, sha256Hex, signRequest } from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';
import { ApiKeyError, apiKeyPlatformError } from '../src/api-keys/api-key-errors';
import { ApiKeyService, type IssuedApiKey } from '../src/api-keys/api-key-service';
import { InMemoryNonceStore } from '../src/api-keys/nonce-store';
import type { SignedRequest, SignedRequestVerifier } from '../src/api-keys/signed-request-verification';
import {
  FIXTURE_ADMIN,
  FIXTURE_START,
  FIXTURE_TENANT_ID,
  type SignedRequestFixture,
  startSignedRequestFixture,
} from './support/signed-request-fixture';

const tenantId = FIXTURE_TENANT_ID;
const admin = FIXTURE_ADMIN;
const start = FIXTURE_START;
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

/** Signs as the SDK does and returns the request as the gateway would see it. */
function signed(
  options: { method?: string; url?: string; payload?: Buffer; issued?: IssuedApiKey; at?: Date; nonce?: string } = {},
): SignedRequest {
  const issued = options.issued ?? key;
  const url = options.url ?? 'https://api.example.test/v1/transfers?b=2&a=1';
  const headers = signRequest({
    method: options.method ?? 'POST',
    url,
    body: options.payload ?? body,
    keyId: issued.key.keyId,
    signingSecret: issued.signingSecret,
    now: options.at ?? fixture.clock.now,
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
  });
  const parsed = new URL(url, 'http://x');
  return {
    method: (options.method ?? 'POST').toUpperCase(),
    target: `${parsed.pathname}${parsed.search}`,
    headers: { ...headers, [H.apiKey]: issued.apiKey },
    body: options.payload ?? body,
    environment: 'production',
  };
}

async function refusalCode(request: SignedRequest): Promise<string> {
  const error = await verifier.verify(request).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (error instanceof RequestSigningError || error instanceof ApiKeyError) return error.code;
  throw new Error(`expected a refusal, got ${String(error)}`);
}

describe('signed requests', () => {
  it('verifies what the SDK signs and returns the key’s principal', async () => {
    await expect(verifier.verify(signed())).resolves.toMatchObject({ keyId: key.key.keyId, tenantId });
  });

  it('refuses every tampering of a signed element', async () => {
    const request = signed();
    const tampered: SignedRequest[] = [
      { ...request, method: 'PUT' },
      { ...request, target: '/v1/transfers/?b=2&a=1' },
      { ...request, target: '/v1/Transfers?b=2&a=1' },
      { ...request, target: '/v1/transfers?b=3&a=1' },
      { ...request, target: '/v1/transfers?b=2&a=1&c=' },
      { ...request, target: '/v1/transfers?b=2' },
      { ...request, target: '/v1/transfers?b=2+&a=1' },
      { ...request, headers: { ...request.headers, [H.signature]: `${'0'.repeat(63)}1` } },
      { ...request, headers: { ...request.headers, [H.nonce]: 'BBBBBBBBBBBBBBBBBBBBBB' } },
      { ...request, headers: { ...request.headers, [H.timestamp]: String(start.getTime() / 1000 + 1) } },
    ];
    for (const candidate of tampered) expect(await refusalCode(candidate)).toBe('BAD_SIGNATURE');
  });

  it('refuses a flipped body byte, even with a digest header recomputed to match it', async () => {
    const request = signed();
    const altered = Buffer.from(body);
    altered[5] = (altered[5] ?? 0) ^ 1;
    expect(await refusalCode({ ...request, body: altered })).toBe('BODY_DIGEST_MISMATCH');
    const withDigest = {
      ...request,
      body: altered,
      headers: { ...request.headers, [H.contentSha256]: sha256Hex(altered) },
    };
    expect(await refusalCode(withDigest)).toBe('BAD_SIGNATURE');
  });

  it('refuses a signature moved to another key, even of the same tenant', async () => {
    const other = await service.create(admin, {
      environment: 'production',
      name: 'other',
      permissions: ['tenants.tenants.read'],
    });
    const request = signed();
    expect(await refusalCode({ ...request, headers: { ...request.headers, [H.apiKey]: other.apiKey } })).toBe(
      'BAD_SIGNATURE',
    );
  });

  it('treats reordered distinct query names as the same request, reordered repeated names as another', async () => {
    const url = 'https://api.example.test/v1/accounts?id=2&id=1&sort=asc';
    const request = signed({ url });
    await expect(verifier.verify({ ...request, target: '/v1/accounts?sort=asc&id=2&id=1' })).resolves.toBeDefined();
    expect(await refusalCode({ ...signed({ url }), target: '/v1/accounts?id=1&id=2&sort=asc' })).toBe('BAD_SIGNATURE');
  });

  it('verifies unicode and percent-encoding however the client spelled them', async () => {
    const url = 'https://api.example.test/v1/customers/Zoë Ñ/notes?q=a b&tag=café&x=%7e';
    const request = signed({ url });
    expect(request.target).toBe('/v1/customers/Zo%C3%AB%20%C3%91/notes?q=a%20b&tag=caf%C3%A9&x=%7e');
    const respelled = '/v1/customers/Zo%c3%ab%20%c3%91/notes?x=~&tag=caf%c3%a9&q=a+b';
    await expect(verifier.verify({ ...request, target: respelled })).resolves.toBeDefined();
    const plusLiteral = '/v1/customers/Zo%C3%AB%20%C3%91/notes?q=a%2Bb&tag=caf%C3%A9&x=~';
    expect(await refusalCode({ ...signed({ url }), target: plusLiteral })).toBe('BAD_SIGNATURE');
    const decomposed = '/v1/customers/Zoe%CC%88%20%C3%91/notes?q=a%20b&tag=caf%C3%A9&x=~';
    expect(await refusalCode({ ...signed({ url }), target: decomposed })).toBe('BAD_SIGNATURE');
    expect(await refusalCode({ ...signed({ url }), target: '/v1/customers/%zz' })).toBe('MALFORMED_TARGET');
  });

  it('refuses a replayed nonce, and a replay after the window as stale', async () => {
    const request = signed();
    await verifier.verify(request);
    expect(await refusalCode(request)).toBe('REPLAYED_NONCE');
    fixture.clock.now = new Date(start.getTime() + 301_000);
    expect(await refusalCode(request)).toBe('STALE_TIMESTAMP');
  });

  it('does not burn a nonce on a request whose signature fails', async () => {
    const nonce = 'CCCCCCCCCCCCCCCCCCCCCC';
    const request = signed({ nonce });
    expect(await refusalCode({ ...request, method: 'DELETE' })).toBe('BAD_SIGNATURE');
    await expect(verifier.verify(request)).resolves.toBeDefined();
  });

  it('accepts timestamps exactly 300 s either side of the server fixture.clock.now, and refuses 301 s', async () => {
    fixture.clock.now = new Date(start.getTime() + 999);
    for (const offsetSeconds of [-300, 300]) {
      await expect(
        verifier.verify(signed({ at: new Date(start.getTime() + offsetSeconds * 1000) })),
      ).resolves.toBeDefined();
    }
    for (const offsetSeconds of [-301, 301, -1_000_000_000]) {
      expect(await refusalCode(signed({ at: new Date(start.getTime() + offsetSeconds * 1000) }))).toBe(
        'STALE_TIMESTAMP',
      );
    }
  });

  it('names the missing or malformed header', async () => {
    const request = signed();
    for (const header of Object.values(H)) {
      const { [header]: _dropped, ...rest } = request.headers;
      await expect(verifier.verify({ ...request, headers: rest })).rejects.toMatchObject({
        code: 'MISSING_HEADER',
        details: { header },
      });
    }
    const malformed: Array<[string, string | string[]]> = [
      [H.signature, request.headers[H.signature]?.toString().toUpperCase() ?? ''],
      [H.timestamp, '1893456000.0'],
      [H.nonce, 'too-short'],
      [H.contentSha256, 'abc'],
      [H.signature, [String(request.headers[H.signature]), String(request.headers[H.signature])]],
    ];
    for (const [header, value] of malformed) {
      await expect(
        verifier.verify({ ...request, headers: { ...request.headers, [header]: value } }),
      ).rejects.toMatchObject({
        code: 'MALFORMED_HEADER',
        details: { header },
      });
    }
  });

  it('refuses a sandbox key on production and a production key on sandbox, with a clear problem', async () => {
    const sandbox = await service.create(admin, {
      environment: 'sandbox',
      name: 'sb',
      permissions: ['tenants.tenants.read'],
    });
    const error = await verifier.verify(signed({ issued: sandbox })).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'WRONG_ENVIRONMENT' });
    expect(apiKeyPlatformError(error as ApiKeyError).toBody()).toEqual({
      code: 'UNAUTHENTICATED',
      message: 'The API key belongs to another environment',
      details: { reason: 'WRONG_ENVIRONMENT', keyEnvironment: 'sandbox', resourceEnvironment: 'production' },
    });
    expect(await refusalCode({ ...signed(), environment: 'sandbox' })).toBe('WRONG_ENVIRONMENT');
  });

  it('refuses a correctly signed request from a revoked key', async () => {
    await service.revoke(admin, key.key.keyId);
    expect(await refusalCode(signed())).toBe('INVALID_API_KEY');
  });

  it('maps every signing refusal to a problem that names its reason and never a secret', async () => {
    const request = signed();
    const error = (await verifier
      .verify({ ...request, method: 'PUT' })
      .catch((caught: unknown) => caught)) as RequestSigningError;
    const body = apiKeyPlatformError(error).toBody();
    expect(body).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'BAD_SIGNATURE' } });
    const shown = JSON.stringify(body);
    for (const secret of [key.signingSecret, key.apiKey, String(request.headers[H.signature])]) {
      expect(shown).not.toContain(secret);
    }
    expect(apiKeyPlatformError(new RequestSigningError('MALFORMED_TARGET')).code).toBe('VALIDATION');
  });
});

describe('InMemoryNonceStore', () => {
  it('remembers a nonce per key until it expires', async () => {
    let now = start;
    const store = new InMemoryNonceStore({ entriesMax: 10, now: () => now });
    const expiresAt = new Date(start.getTime() + 300_000);
    expect(await store.rememberOnce('AbCdEf123456', 'n', expiresAt)).toBe(true);
    expect(await store.rememberOnce('AbCdEf123456', 'n', expiresAt)).toBe(false);
    expect(await store.rememberOnce('AbCdEf123457', 'n', expiresAt)).toBe(true);
    now = expiresAt;
    expect(await store.rememberOnce('AbCdEf123456', 'n', new Date(now.getTime() + 300_000))).toBe(true);
  });

  it('refuses (503) rather than forgets when full of live nonces, and sweeps expired ones', async () => {
    let now = start;
    const store = new InMemoryNonceStore({ entriesMax: 2, now: () => now });
    const soon = new Date(start.getTime() + 1000);
    await store.rememberOnce('k', 'a', soon);
    await store.rememberOnce('k', 'b', soon);
    await expect(store.rememberOnce('k', 'c', soon)).rejects.toBeInstanceOf(PlatformError);
    await expect(store.rememberOnce('k', 'c', soon)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await store.rememberOnce('k', 'a', soon)).toBe(false);
    now = soon;
    expect(await store.rememberOnce('k', 'c', new Date(now.getTime() + 1000))).toBe(true);
    expect(store.size).toBe(1);
  });
});
