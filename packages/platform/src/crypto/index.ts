export { BoundedTtlCache } from './bounded-ttl-cache';
export { isCardNumber, luhnValid, normaliseCardNumber } from './card-number';
export { constantTimeEqual } from './constant-time';
export { CryptoError, type CryptoErrorCode } from './crypto-error';
export { type DataKeyRepository, InMemoryDataKeyRepository, type StoredDataKey } from './data-key-repository';
export { DATA_KEY_ROTATION_PERIOD_DAYS, dueForRotation } from './data-key-rotation';
export { type DataKeyOwner, dataKeyScope, type EnvelopeContext } from './data-key-scope';
export {
  DATA_KEY_CACHE_ENTRIES_MAX_DEFAULT,
  DATA_KEY_CACHE_TTL_SECONDS_DEFAULT,
  EnvelopeEncryption,
  type EnvelopeEncryptionOptions,
  KEK_NAME_DEFAULT,
  PLAINTEXT_BYTES_MAX,
} from './envelope-encryption';
export { PEPPER_PATH_DEFAULT, PepperedHasher, type PepperedHasherOptions } from './peppered-hash';
export { DATA_KEYS_TABLE_SQL, PgDataKeyRepository, type SqlQueryable } from './pg-data-key-repository';
export {
  normaliseTokenValue,
  parseToken,
  TOKEN_KINDS,
  TOKENIZATION_KEY_PATH_DEFAULT,
  type TokenizedValue,
  type TokenizeInput,
  Tokenizer,
  type TokenKind,
} from './tokenization';
export { KEY_CACHE_TTL_SECONDS_DEFAULT, type VersionedKey, VersionedSecretKeys } from './versioned-secret-keys';
