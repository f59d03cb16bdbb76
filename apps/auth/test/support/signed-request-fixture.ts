import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EnvelopeEncryption,
  InMemoryDataKeyRepository,
  LocalSecretsProvider,
  PepperedHasher,
} from '@strongroom/platform';
import pino from 'pino';
import { InMemoryApiKeyRepository } from '../../src/api-keys/api-key-record';
import { type ApiKeyActor, ApiKeyService, type IssuedApiKey } from '../../src/api-keys/api-key-service';
import { InMemoryNonceStore } from '../../src/api-keys/nonce-store';
import { SignedRequestVerifier } from '../../src/api-keys/signed-request-verification';

export const FIXTURE_TENANT_ID = '0b7c6f1e-2f0a-4d8e-9a51-3c2d1e0f9a8b';
export const FIXTURE_ADMIN: ApiKeyActor = {
  tenantId: FIXTURE_TENANT_ID,
  userId: 'user-admin',
  permissions: ['tenants.tenants.read'],
  // Keys of both environments are made: as a platform principal would.
  environment: null,
  trail: { actor: { type: 'user', id: 'user-admin' }, origin: { requestId: 'fixture-request' } },
};
export const FIXTURE_START = new Date('2030-01-01T00:00:00Z');

/** An API-key service and a signed-request verifier in memory, a production key issued, on a clock tests move. */
export interface SignedRequestFixture {
  /** The time the service and the verifier see; assign `clock.now` to move it. */
  clock: { now: Date };
  service: ApiKeyService;
  verifier: SignedRequestVerifier;
  key: IssuedApiKey;
  dispose(): Promise<void>;
}

export async function startSignedRequestFixture(): Promise<SignedRequestFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sr-signed-'));
  const secrets = new LocalSecretsProvider({ stateDir: dir, logger: pino({ level: 'silent' }), nodeEnv: 'test' });
  const clock = { now: FIXTURE_START };
  const service = new ApiKeyService({
    repository: new InMemoryApiKeyRepository(),
    hasher: new PepperedHasher(secrets, { domain: 'api-key' }),
    encryption: new EnvelopeEncryption({ transit: secrets, repository: new InMemoryDataKeyRepository() }),
    now: () => clock.now,
  });
  const verifier = new SignedRequestVerifier({
    keys: service,
    nonces: new InMemoryNonceStore({ entriesMax: 1_000, now: () => clock.now }),
    now: () => clock.now,
  });
  const key = await service.create(FIXTURE_ADMIN, {
    environment: 'production',
    name: 'payouts',
    permissions: ['tenants.tenants.read'],
  });
  return { clock, service, verifier, key, dispose: () => rm(dir, { recursive: true, force: true }) };
}
