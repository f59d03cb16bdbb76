import {
  API_KEY_RATE_LIMIT_TIERS,
  type AuditEventInput,
  type Environment,
  type Permission,
} from '@strongroom/contracts';
import { type EnvelopeEncryption, type PepperedHasher, PlatformError } from '@strongroom/platform';

/** The gateway maps a tier to its limits; the key only names it (declared in the contract). */
export { API_KEY_RATE_LIMIT_TIERS };
export type ApiKeyRateLimitTier = (typeof API_KEY_RATE_LIMIT_TIERS)[number];

export type ApiKeyStatus = 'active' | 'rotating' | 'revoked';

/** What is stored per key: hashes and ciphertexts only, never the key or the signing secret. */
export interface ApiKeyRecord {
  keyId: string;
  tenantId: string;
  environment: Environment;
  name: string;
  /** PepperedHasher output (`h1.<pepper version>.<mac>`) of the key's prefix, keyId and secret. */
  secretHash: string;
  /** EnvelopeEncryption output: HMAC needs the secret itself, so it is encrypted, not hashed. */
  signingSecretCiphertext: string;
  permissions: readonly Permission[];
  expiresAt: Date | null;
  rateLimitTier: ApiKeyRateLimitTier;
  /** Reference to a tenant's IP allowlist (CIDR ranges), enforced at the gateway. */
  ipAllowlistId: string | null;
  status: ApiKeyStatus;
  /** Set with status `rotating`: the key keeps working strictly before this instant. */
  overlapEndsAt: Date | null;
  replacedByKeyId: string | null;
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** A record as the API shows it: no hash, no ciphertext. */
export type ApiKeyView = Omit<ApiKeyRecord, 'secretHash' | 'signingSecretCiphertext'>;

export function apiKeyView(record: ApiKeyRecord): ApiKeyView {
  const { secretHash: _hash, signingSecretCiphertext: _ciphertext, ...view } = record;
  return view;
}

/** The platform's hasher and envelope encryption, narrowed to what this domain calls. */
export type ApiKeySecretHasher = Pick<PepperedHasher, 'hash' | 'verify' | 'needsRehash'>;
export type SigningSecretEncryption = Pick<EnvelopeEncryption, 'encrypt' | 'decrypt'>;

export interface ApiKeyListPage {
  environment?: Environment;
  limit: number;
  afterKeyId?: string;
}

/**
 * The only access to stored keys; the Postgres repository implements it with one statement each.
 * A change's `audit` events are written with it (the outbox, same transaction), and only if it happens.
 */
export interface ApiKeyRepository {
  insert(record: ApiKeyRecord, audit: readonly AuditEventInput[]): Promise<void>;
  findByKeyId(keyId: string): Promise<ApiKeyRecord | null>;
  /**
   * In one transaction: insert `next`, and mark `keyId` rotating (overlap end, replacement), only
   * if it is still active. False when it was not: two concurrent rotations make one new key.
   */
  rotate(
    keyId: string,
    change: { overlapEndsAt: Date; replacedByKeyId: string },
    next: ApiKeyRecord,
    audit: readonly AuditEventInput[],
  ): Promise<boolean>;
  /** Only if not yet revoked; `revokedBy` names the actor in the revocation event, it is not stored. */
  revoke(keyId: string, revokedAt: Date, revokedBy: string, audit: readonly AuditEventInput[]): Promise<void>;
  /** A tenant's keys ordered by keyId, at most `limit`, after `afterKeyId` when given. */
  list(tenantId: string, page: ApiKeyListPage): Promise<ApiKeyRecord[]>;
  touchLastUsed(keyId: string, at: Date): Promise<void>;
  /** After a pepper rotation: the same secret, hashed under the current pepper. */
  replaceSecretHash(keyId: string, secretHash: string): Promise<void>;
}

/** For tests and one-off tools; copies on the way in and out, as a database would. */
export class InMemoryApiKeyRepository implements ApiKeyRepository {
  private readonly records = new Map<string, ApiKeyRecord>();
  /** The audit events of the changes made, as the outbox would hold them. */
  readonly audit: AuditEventInput[] = [];

  async insert(record: ApiKeyRecord, audit: readonly AuditEventInput[]): Promise<void> {
    if (this.records.has(record.keyId))
      throw PlatformError.conflict('An API key with this keyId exists', { keyId: record.keyId });
    this.records.set(record.keyId, { ...record });
    this.audit.push(...audit);
  }

  async findByKeyId(keyId: string): Promise<ApiKeyRecord | null> {
    const record = this.records.get(keyId);
    return record === undefined ? null : { ...record };
  }

  async rotate(
    keyId: string,
    change: { overlapEndsAt: Date; replacedByKeyId: string },
    next: ApiKeyRecord,
    audit: readonly AuditEventInput[],
  ): Promise<boolean> {
    // Check and both writes without an await between them: atomic, like the one transaction it stands for.
    const record = this.records.get(keyId);
    if (record?.status !== 'active' || this.records.has(next.keyId)) return false;
    this.records.set(next.keyId, { ...next });
    this.records.set(keyId, { ...record, status: 'rotating', ...change });
    this.audit.push(...audit);
    return true;
  }

  async revoke(keyId: string, revokedAt: Date, _revokedBy: string, audit: readonly AuditEventInput[]): Promise<void> {
    const record = this.records.get(keyId);
    if (record !== undefined && record.status !== 'revoked') {
      this.records.set(keyId, { ...record, status: 'revoked', revokedAt });
      this.audit.push(...audit);
    }
  }

  async list(tenantId: string, page: ApiKeyListPage): Promise<ApiKeyRecord[]> {
    return [...this.records.values()]
      .filter((record) => record.tenantId === tenantId)
      .filter((record) => page.environment === undefined || record.environment === page.environment)
      .filter((record) => page.afterKeyId === undefined || record.keyId > page.afterKeyId)
      .sort((a, b) => (a.keyId < b.keyId ? -1 : 1))
      .slice(0, page.limit)
      .map((record) => ({ ...record }));
  }

  async touchLastUsed(keyId: string, at: Date): Promise<void> {
    const record = this.records.get(keyId);
    if (record !== undefined) this.records.set(keyId, { ...record, lastUsedAt: at });
  }

  async replaceSecretHash(keyId: string, secretHash: string): Promise<void> {
    const record = this.records.get(keyId);
    if (record !== undefined) this.records.set(keyId, { ...record, secretHash });
  }
}
