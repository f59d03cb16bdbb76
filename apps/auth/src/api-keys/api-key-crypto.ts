import {
  EnvelopeEncryption,
  type KvSecrets,
  PepperedHasher,
  PgDataKeyRepository,
  type TransitSecrets,
} from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import { AUTH_KEK_NAME, AUTH_PEPPER_PATH } from '../auth-secrets';
import type { ApiKeySecretHasher, SigningSecretEncryption } from './api-key-record';

/** Hash domain of API keys: a hash made for a client secret or refresh token never verifies as a key. */
export const API_KEY_HASH_DOMAIN = 'api-key';

/** HMAC-SHA256 under the platform pepper (DESIGN "Secrets and keys", seed 002). */
export function apiKeySecretHasher(secrets: KvSecrets): ApiKeySecretHasher {
  return new PepperedHasher(secrets, { domain: API_KEY_HASH_DOMAIN, path: AUTH_PEPPER_PATH });
}

/**
 * Envelope encryption of signing secrets: a data key per tenant in this database's `data_keys`,
 * wrapped by the KEK in Vault Transit (or the local provider in development).
 */
export function signingSecretEncryption(transit: TransitSecrets, dataSource: DataSource): SigningSecretEncryption {
  return new EnvelopeEncryption({ transit, repository: new PgDataKeyRepository(dataSource), kekName: AUTH_KEK_NAME });
}
