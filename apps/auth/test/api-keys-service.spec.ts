import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditEventSchema } from '@strongroom/contracts';
import {
  EnvelopeEncryption,
  InMemoryDataKeyRepository,
  LocalSecretsProvider,
  PepperedHasher,
} from '@strongroom/platform';
import pino from 'pino';
import { ApiKeyError, apiKeyPlatformError } from '../src/api-keys/api-key-errors';
import { formatApiKey, parseApiKey } from '../src/api-keys/api-key-format';
import { type ApiKeySecretHasher, InMemoryApiKeyRepository } from '../src/api-keys/api-key-record';
import { type ApiKeyActor, ApiKeyService, SIGNING_SECRET_PURPOSE } from '../src/api-keys/api-key-service';

const tenantId = '0b7c6f1e-2f0a-4d8e-9a51-3c2d1e0f9a8b';
const otherTenantId = '5e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b';
const admin: ApiKeyActor = {
  tenantId,
  userId: 'user-admin',
  permissions: ['tenants.tenants.read', 'auth.users.create', 'platform.health.read'],
  // Keys of both environments are made below: as a platform principal would.
  environment: null,
  trail: {
    actor: { type: 'user', id: 'user-admin' },
    origin: { requestId: 'req-admin', sourceIp: '192.0.2.10', userAgent: 'admin-console/3' },
  },
};
const reader: ApiKeyActor = {
  tenantId,
  userId: 'user-reader',
  permissions: ['tenants.tenants.read'],
  environment: null,
  trail: { actor: { type: 'user', id: 'user-reader' }, origin: { requestId: 'req-reader' } },
};
const start = new Date('2030-01-01T00:00:00Z');

let dir: string;
let secrets: LocalSecretsProvider;
let clock: Date;
let repository: InMemoryApiKeyRepository;
let hasher: PepperedHasher;
let encryption: EnvelopeEncryption;
let verifyCalls: number;
let service: ApiKeyService;

function countingHasher(inner: PepperedHasher): ApiKeySecretHasher {
  return {
    hash: (value) => inner.hash(value),
    verify: (value, hashed) => {
      verifyCalls += 1;
      return inner.verify(value, hashed);
    },
    needsRehash: (hashed) => inner.needsRehash(hashed),
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sr-api-keys-'));
  secrets = new LocalSecretsProvider({ stateDir: dir, logger: pino({ level: 'silent' }), nodeEnv: 'test' });
  clock = start;
  verifyCalls = 0;
  repository = new InMemoryApiKeyRepository();
  hasher = new PepperedHasher(secrets, { domain: 'api-key' });
  encryption = new EnvelopeEncryption({ transit: secrets, repository: new InMemoryDataKeyRepository() });
  service = new ApiKeyService({ repository, hasher: countingHasher(hasher), encryption, now: () => clock });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const advance = (seconds: number) => {
  clock = new Date(clock.getTime() + seconds * 1000);
};
const createKey = (overrides: Partial<Parameters<ApiKeyService['create']>[1]> = {}) =>
  service.create(admin, {
    environment: 'production',
    name: 'payouts',
    permissions: ['tenants.tenants.read'],
    ...overrides,
  });

async function refusal(promise: Promise<unknown>): Promise<ApiKeyError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof ApiKeyError)) throw new Error(`expected an ApiKeyError, got ${String(error)}`);
  return error;
}

describe('creating a key', () => {
  it('shows the key and signing secret once and stores neither', async () => {
    const issued = await createKey({ rateLimitTier: 'premium', ipAllowlistId: 'office-ranges' });
    const { keyId, hashedMaterial } = parseApiKey(issued.apiKey, 'production');
    const stored = await repository.findByKeyId(keyId);
    expect(stored).toMatchObject({ tenantId, environment: 'production', status: 'active', rateLimitTier: 'premium' });
    const storedText = JSON.stringify(stored);
    expect(storedText).not.toContain(hashedMaterial.slice(-43));
    expect(storedText).not.toContain(issued.signingSecret);
    expect(JSON.stringify(issued.key)).not.toMatch(/secretHash|signingSecretCiphertext|h1\./);
    expect(await hasher.verify(hashedMaterial, stored?.secretHash ?? '')).toBe(true);
    const decrypted = await encryption.decrypt(
      { tenantId, purpose: SIGNING_SECRET_PURPOSE },
      stored?.signingSecretCiphertext ?? '',
    );
    expect(decrypted.toString()).toBe(issued.signingSecret);
  });

  it('binds the signing secret ciphertext to its tenant', async () => {
    const issued = await createKey();
    const stored = await repository.findByKeyId(issued.key.keyId);
    await expect(
      encryption.decrypt(
        { tenantId: otherTenantId, purpose: SIGNING_SECRET_PURPOSE },
        stored?.signingSecretCiphertext ?? '',
      ),
    ).rejects.toMatchObject({ code: expect.stringMatching(/DECRYPTION_FAILED|DATA_KEY_NOT_FOUND/) });
  });

  it('keeps a sandbox credential from the production keys: no create, no list, no rotate, no revoke', async () => {
    const production = await service.create(admin, {
      environment: 'production',
      name: 'payouts',
      permissions: ['tenants.tenants.read'],
    });
    const sandboxDeveloper: ApiKeyActor = { ...admin, userId: 'user-dev', environment: 'sandbox' };
    expect(
      (
        await refusal(
          service.create(sandboxDeveloper, {
            environment: 'production',
            name: 'x',
            permissions: ['tenants.tenants.read'],
          }),
        )
      ).code,
    ).toBe('OTHER_ENVIRONMENT');
    expect((await refusal(service.list(sandboxDeveloper, { limit: 10, environment: 'production' }))).code).toBe(
      'OTHER_ENVIRONMENT',
    );
    expect(await service.list(sandboxDeveloper, { limit: 10 })).toEqual([]);
    expect((await refusal(service.rotate(sandboxDeveloper, production.key.keyId))).code).toBe('NOT_FOUND');
    expect((await refusal(service.revoke(sandboxDeveloper, production.key.keyId))).code).toBe('NOT_FOUND');
    expect((await service.list(admin, { limit: 10 })).map((key) => key.status)).toEqual(['active']);
  });

  it('refuses permissions the creator does not hold and stores nothing', async () => {
    const error = await refusal(
      service.create(reader, { environment: 'sandbox', name: 'x', permissions: ['auth.users.create'] }),
    );
    expect(error).toMatchObject({ code: 'PERMISSION_NOT_HELD', details: { notHeld: ['auth.users.create'] } });
  });

  it('refuses bad names, tiers and allowlist references', async () => {
    expect((await refusal(createKey({ name: '  ' }))).code).toBe('INVALID_INPUT');
    expect((await refusal(createKey({ name: 'n'.repeat(101) }))).code).toBe('INVALID_INPUT');
    const tier = 'gold' as unknown as 'basic';
    expect((await refusal(createKey({ rateLimitTier: tier }))).code).toBe('INVALID_INPUT');
    expect((await refusal(createKey({ ipAllowlistId: '../../etc' }))).code).toBe('INVALID_INPUT');
    expect((await refusal(createKey({ expiresAt: start }))).code).toBe('INVALID_EXPIRY');
  });
});

describe('authenticating a key', () => {
  it('returns the principal for a valid key and records when it was last used, at most once a minute', async () => {
    const issued = await createKey();
    expect(await service.authenticate(issued.apiKey, 'production')).toEqual({
      keyId: issued.key.keyId,
      tenantId,
      environment: 'production',
      permissions: ['tenants.tenants.read'],
      rateLimitTier: 'standard',
      ipAllowlistId: null,
    });
    expect((await repository.findByKeyId(issued.key.keyId))?.lastUsedAt).toEqual(start);
    advance(30);
    await service.authenticate(issued.apiKey, 'production');
    expect((await repository.findByKeyId(issued.key.keyId))?.lastUsedAt).toEqual(start);
    advance(30);
    await service.authenticate(issued.apiKey, 'production');
    expect((await repository.findByKeyId(issued.key.keyId))?.lastUsedAt).toEqual(clock);
  });

  it('answers unknown key, wrong secret and revoked key identically, after one hash verification each', async () => {
    const issued = await createKey();
    const { keyId } = parseApiKey(issued.apiKey);
    const wrongSecret = formatApiKey('production', keyId, 'W'.repeat(43));
    const unknownKey = formatApiKey('production', 'ZZZZZZZZZZZZ', 'W'.repeat(43));
    const revoked = (await createKey()).apiKey;
    await service.revoke(admin, parseApiKey(revoked).keyId);

    const answers = [];
    for (const presented of [unknownKey, wrongSecret, revoked]) {
      verifyCalls = 0;
      const error = await refusal(service.authenticate(presented, 'production'));
      expect(verifyCalls).toBe(1);
      answers.push({
        code: error.code,
        message: error.message,
        details: error.details,
        body: apiKeyPlatformError(error).toBody(),
      });
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[1]).toEqual(answers[2]);
    expect(answers[0]).toMatchObject({ code: 'INVALID_API_KEY', body: { code: 'UNAUTHENTICATED' } });
  });

  it('refuses a sandbox key on production resources and a production key on sandbox ones', async () => {
    const production = await createKey();
    const sandbox = await createKey({ environment: 'sandbox' });
    expect((await refusal(service.authenticate(sandbox.apiKey, 'production'))).code).toBe('WRONG_ENVIRONMENT');
    expect((await refusal(service.authenticate(production.apiKey, 'sandbox'))).code).toBe('WRONG_ENVIRONMENT');
    expect(verifyCalls).toBe(0);
  });

  it('refuses a sandbox key relabelled sr_live_ with a recomputed checksum: the hash binds the environment', async () => {
    const sandbox = await createKey({ environment: 'sandbox' });
    const { keyId, hashedMaterial } = parseApiKey(sandbox.apiKey);
    const relabelled = formatApiKey('production', keyId, hashedMaterial.slice(-43));
    expect((await refusal(service.authenticate(relabelled, 'production'))).code).toBe('INVALID_API_KEY');
  });

  it('refuses an expired key from its expiry on, telling only the holder it expired', async () => {
    const issued = await createKey({ expiresAt: new Date(start.getTime() + 3_600_000) });
    advance(3599);
    await expect(service.authenticate(issued.apiKey, 'production')).resolves.toBeDefined();
    advance(1);
    expect((await refusal(service.authenticate(issued.apiKey, 'production'))).code).toBe('EXPIRED');
    const { keyId } = parseApiKey(issued.apiKey);
    const guess = formatApiKey('production', keyId, 'W'.repeat(43));
    expect((await refusal(service.authenticate(guess, 'production'))).code).toBe('INVALID_API_KEY');
  });

  it('re-hashes under the current pepper after a pepper rotation, and keeps working', async () => {
    const issued = await createKey();
    await hasher.rotatePepper();
    const fresh = new PepperedHasher(secrets, { domain: 'api-key' });
    service = new ApiKeyService({ repository, hasher: fresh, encryption, now: () => clock });
    await service.authenticate(issued.apiKey, 'production');
    const stored = await repository.findByKeyId(issued.key.keyId);
    expect(stored?.secretHash).toMatch(/^h1\.2\./);
    await expect(service.authenticate(issued.apiKey, 'production')).resolves.toBeDefined();
  });

  it('puts neither the key nor its secret in any refusal', async () => {
    const issued = await createKey({ expiresAt: new Date(start.getTime() + 1000) });
    const secret = parseApiKey(issued.apiKey).hashedMaterial.slice(-43);
    advance(5);
    const attempts = [issued.apiKey, `${issued.apiKey.slice(0, -1)}x`, issued.apiKey.replace('sr_live_', 'sr_test_')];
    for (const presented of attempts) {
      const error = await refusal(service.authenticate(presented, 'production'));
      const shown = JSON.stringify({ message: error.message, body: apiKeyPlatformError(error).toBody() });
      expect(shown).not.toContain(secret);
      expect(shown).not.toContain(issued.signingSecret);
    }
  });
});

describe('rotating a key', () => {
  it('keeps the old key working until the overlap ends, then only the new one', async () => {
    const original = await createKey();
    advance(100);
    const { issued, previous } = await service.rotate(admin, original.key.keyId, { overlapSeconds: 3600 });
    expect(previous).toMatchObject({ status: 'rotating', replacedByKeyId: issued.key.keyId });
    expect(previous.overlapEndsAt).toEqual(new Date(clock.getTime() + 3_600_000));
    expect(issued.key).toMatchObject({ permissions: original.key.permissions, environment: 'production' });
    expect(issued.signingSecret).not.toBe(original.signingSecret);

    advance(3599);
    await expect(service.authenticate(original.apiKey, 'production')).resolves.toBeDefined();
    await expect(service.authenticate(issued.apiKey, 'production')).resolves.toBeDefined();
    advance(1);
    expect((await refusal(service.authenticate(original.apiKey, 'production'))).code).toBe('INVALID_API_KEY');
    await expect(service.authenticate(issued.apiKey, 'production')).resolves.toBeDefined();
  });

  it('uses a 24-hour overlap by default and refuses more than 7 days', async () => {
    const original = await createKey();
    expect((await refusal(service.rotate(admin, original.key.keyId, { overlapSeconds: 604_801 }))).code).toBe(
      'INVALID_OVERLAP',
    );
    const { previous } = await service.rotate(admin, original.key.keyId);
    expect(previous.overlapEndsAt).toEqual(new Date(start.getTime() + 86_400_000));
  });

  it('ends the overlap at once when the old key is revoked', async () => {
    const original = await createKey();
    const { issued } = await service.rotate(admin, original.key.keyId);
    await service.revoke(admin, original.key.keyId);
    expect((await refusal(service.authenticate(original.apiKey, 'production'))).code).toBe('INVALID_API_KEY');
    await expect(service.authenticate(issued.apiKey, 'production')).resolves.toBeDefined();
  });

  it('rotates only active, unexpired keys, once', async () => {
    const original = await createKey({ expiresAt: new Date(start.getTime() + 10_000) });
    await service.rotate(admin, original.key.keyId);
    expect((await refusal(service.rotate(admin, original.key.keyId))).code).toBe('NOT_ROTATABLE');
    const revoked = await createKey();
    await service.revoke(admin, revoked.key.keyId);
    expect((await refusal(service.rotate(admin, revoked.key.keyId))).code).toBe('NOT_ROTATABLE');
    const expiring = await createKey({ expiresAt: new Date(start.getTime() + 10_000) });
    advance(10);
    expect((await refusal(service.rotate(admin, expiring.key.keyId))).code).toBe('NOT_ROTATABLE');
  });

  it('lets only one of two concurrent rotations win', async () => {
    const original = await createKey();
    const outcomes = await Promise.allSettled([
      service.rotate(admin, original.key.keyId),
      service.rotate(admin, original.key.keyId),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.find((outcome) => outcome.status === 'rejected')).toMatchObject({
      reason: { code: 'NOT_ROTATABLE' },
    });
  });

  it('refuses a rotator who lacks the key’s permissions: rotation would hand them a fresh copy', async () => {
    const original = await createKey({ permissions: ['auth.users.create'] });
    expect((await refusal(service.rotate(reader, original.key.keyId))).code).toBe('PERMISSION_NOT_HELD');
    await expect(service.authenticate(original.apiKey, 'production')).resolves.toBeDefined();
  });
});

describe('revoking a key', () => {
  it('takes effect immediately and is idempotent', async () => {
    const issued = await createKey();
    await service.authenticate(issued.apiKey, 'production');
    const revoked = await service.revoke(admin, issued.key.keyId);
    expect(revoked).toMatchObject({ status: 'revoked', revokedAt: start });
    expect((await refusal(service.authenticate(issued.apiKey, 'production'))).code).toBe('INVALID_API_KEY');
    advance(10);
    expect(await service.revoke(admin, issued.key.keyId)).toMatchObject({ revokedAt: start });
  });

  it('answers "not found" for another tenant’s key, for revoke and rotate alike', async () => {
    const issued = await createKey();
    const outsider: ApiKeyActor = { ...admin, tenantId: otherTenantId };
    expect((await refusal(service.revoke(outsider, issued.key.keyId))).code).toBe('NOT_FOUND');
    expect((await refusal(service.rotate(outsider, issued.key.keyId))).code).toBe('NOT_FOUND');
    expect((await refusal(service.revoke(admin, 'ZZZZZZZZZZZZ'))).code).toBe('NOT_FOUND');
    expect(apiKeyPlatformError(new ApiKeyError('NOT_FOUND')).code).toBe('NOT_FOUND');
    await expect(service.authenticate(issued.apiKey, 'production')).resolves.toBeDefined();
  });
});

describe('the audit trail of key management', () => {
  it('records a creation, a rotation and a revocation with the change, each once, without any key material', async () => {
    const issued = await createKey({ rateLimitTier: 'premium' });
    const { keyId } = issued.key;
    const { issued: next } = await service.rotate(admin, keyId, { overlapSeconds: 3_600 });
    await service.revoke(admin, keyId);
    await service.revoke(admin, keyId);

    expect(repository.audit.map((event) => [event.action, event.resource, event.outcome])).toEqual([
      ['auth.api-key.create', { type: 'api_key', id: keyId }, 'success'],
      ['auth.api-key.rotate', { type: 'api_key', id: keyId }, 'success'],
      ['auth.api-key.revoke', { type: 'api_key', id: keyId }, 'success'],
    ]);
    for (const event of repository.audit) {
      expect(auditEventSchema.safeParse(event).success).toBe(true);
      expect(event).toMatchObject({
        tenantId,
        environment: 'production',
        actor: { type: 'user', id: 'user-admin' },
        requestId: 'req-admin',
        sourceIp: '192.0.2.10',
        userAgent: 'admin-console/3',
      });
    }
    expect(repository.audit[0]?.details).toEqual({
      permissions: ['tenants.tenants.read'],
      expiresAt: null,
      rateLimitTier: 'premium',
      ipAllowlistId: null,
    });
    expect(repository.audit[1]?.details).toMatchObject({
      replacedByKeyId: next.key.keyId,
      overlapEndsAt: new Date(start.getTime() + 3_600_000).toISOString(),
    });
    const trail = JSON.stringify(repository.audit);
    for (const key of [issued, next]) {
      expect(trail).not.toContain(key.signingSecret);
      // The key's 43-character secret (before its 6-character checksum).
      expect(trail).not.toContain(key.apiKey.slice(-49, -6));
    }
  });

  it('records nothing for a refused change (the handler publishes the refusal)', async () => {
    await refusal(service.create(reader, { environment: 'sandbox', name: 'x', permissions: ['auth.users.create'] }));
    await refusal(service.rotate(admin, 'ZZZZZZZZZZZZ'));
    expect(repository.audit).toEqual([]);
  });
});
