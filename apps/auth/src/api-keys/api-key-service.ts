import type { Environment, Permission } from '@strongroom/contracts';
import type { AuditTrail } from '../auth-audit';
import { apiKeyCreatedAuditEvent, apiKeyRevokedAuditEvent, apiKeyRotatedAuditEvent } from './api-key-audit';
import { ApiKeyError } from './api-key-errors';
import {
  API_KEY_SECRET_LENGTH,
  generateApiKey,
  generateSigningSecret,
  parseApiKey,
  randomBase62,
} from './api-key-format';
import {
  API_KEY_RATE_LIMIT_TIERS,
  type ApiKeyListPage,
  type ApiKeyRateLimitTier,
  type ApiKeyRecord,
  type ApiKeyRepository,
  type ApiKeySecretHasher,
  type ApiKeyView,
  apiKeyView,
  type SigningSecretEncryption,
} from './api-key-record';
import { apiKeyUsability, grantablePermissions, rotationOverlapEndsAt, validatedExpiry } from './api-key-rules';

/** Envelope purpose of signing secrets: a ciphertext made for anything else never decrypts as one. */
export const SIGNING_SECRET_PURPOSE = 'auth.api-key.signing-secret';
/** last_used_at is written at most once a minute per key, not on every request. */
export const LAST_USED_RESOLUTION_SECONDS = 60;
const NAME_LENGTH_MAX = 100;
const LIST_PAGE_SIZE_MAX = 100;
const IP_ALLOWLIST_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Who manages keys: a user already authenticated and authorised for key management by the handler. */
export interface ApiKeyActor {
  tenantId: string;
  userId: string;
  permissions: readonly string[];
  /** The environment of the actor's credential: it manages that environment's keys only. Null: a platform principal. */
  environment: Environment | null;
  /** Who it is and the request it came with, for the audit event each change writes. */
  trail: AuditTrail;
}

/** A credential never reaches the other environment's keys (a sandbox developer cannot mint or rotate production keys). */
function assertSameEnvironment(actor: ApiKeyActor, environment: Environment): void {
  if (actor.environment !== null && actor.environment !== environment)
    throw new ApiKeyError('OTHER_ENVIRONMENT', { environment: actor.environment });
}

export interface CreateApiKeyInput {
  environment: Environment;
  name: string;
  permissions: readonly string[];
  expiresAt?: Date | null;
  rateLimitTier?: ApiKeyRateLimitTier;
  ipAllowlistId?: string | null;
}

/** Returned once, at creation or rotation: the only time the key and signing secret exist in clear. */
export interface IssuedApiKey {
  apiKey: string;
  signingSecret: string;
  key: ApiKeyView;
}

/** What a verified key lets the gateway know about its caller. */
export interface ApiKeyPrincipal {
  keyId: string;
  tenantId: string;
  environment: Environment;
  permissions: readonly Permission[];
  rateLimitTier: ApiKeyRateLimitTier;
  ipAllowlistId: string | null;
}

export interface ApiKeyServiceOptions {
  repository: ApiKeyRepository;
  hasher: ApiKeySecretHasher;
  encryption: SigningSecretEncryption;
  now?: () => Date;
}

export class ApiKeyService {
  private readonly repository: ApiKeyRepository;
  private readonly hasher: ApiKeySecretHasher;
  private readonly encryption: SigningSecretEncryption;
  private readonly now: () => Date;
  private decoyHash: Promise<string> | undefined;

  constructor(options: ApiKeyServiceOptions) {
    this.repository = options.repository;
    this.hasher = options.hasher;
    this.encryption = options.encryption;
    this.now = options.now ?? (() => new Date());
  }

  async create(actor: ApiKeyActor, input: CreateApiKeyInput): Promise<IssuedApiKey> {
    assertSameEnvironment(actor, input.environment);
    const now = this.now();
    const permissions = grantablePermissions(input.permissions, actor.permissions);
    const expiresAt = validatedExpiry(input.expiresAt, now);
    const name = input.name.trim();
    if (name.length === 0 || name.length > NAME_LENGTH_MAX) throw new ApiKeyError('INVALID_INPUT', { field: 'name' });
    const rateLimitTier = input.rateLimitTier ?? 'standard';
    if (!API_KEY_RATE_LIMIT_TIERS.includes(rateLimitTier)) {
      throw new ApiKeyError('INVALID_INPUT', { field: 'rateLimitTier' });
    }
    const ipAllowlistId = input.ipAllowlistId ?? null;
    if (ipAllowlistId !== null && !IP_ALLOWLIST_ID.test(ipAllowlistId)) {
      throw new ApiKeyError('INVALID_INPUT', { field: 'ipAllowlistId' });
    }
    const { issued, record } = await this.issue(
      { tenantId: actor.tenantId, environment: input.environment, name, permissions, expiresAt },
      { rateLimitTier, ipAllowlistId, createdBy: actor.userId, now },
    );
    await this.repository.insert(record, [apiKeyCreatedAuditEvent(actor.trail, record)]);
    return issued;
  }

  /**
   * A new key with the same grants; the old one keeps working until `overlapEndsAt` so clients
   * can roll over without downtime, then stops. The rotator must hold every permission of the key.
   */
  async rotate(
    actor: ApiKeyActor,
    keyId: string,
    options: { overlapSeconds?: number } = {},
  ): Promise<{ issued: IssuedApiKey; previous: ApiKeyView }> {
    const now = this.now();
    const record = await this.ownedRecord(actor, keyId);
    if (record.status !== 'active' || apiKeyUsability(record, now) !== 'usable') {
      throw new ApiKeyError('NOT_ROTATABLE', { keyId, status: record.status });
    }
    const permissions = grantablePermissions(record.permissions, actor.permissions);
    const overlapEndsAt = rotationOverlapEndsAt(record, now, options.overlapSeconds);
    const { issued, record: next } = await this.issue(
      { ...record, permissions },
      { rateLimitTier: record.rateLimitTier, ipAllowlistId: record.ipAllowlistId, createdBy: actor.userId, now },
    );
    const change = { overlapEndsAt, replacedByKeyId: next.keyId };
    const audit = [apiKeyRotatedAuditEvent(actor.trail, record, next, overlapEndsAt)];
    if (!(await this.repository.rotate(keyId, change, next, audit))) throw new ApiKeyError('NOT_ROTATABLE', { keyId });
    return { issued, previous: apiKeyView({ ...record, status: 'rotating', ...change }) };
  }

  /** Immediate, idempotent, and also ends a rotation's overlap. */
  async revoke(actor: ApiKeyActor, keyId: string): Promise<ApiKeyView> {
    const record = await this.ownedRecord(actor, keyId);
    if (record.status === 'revoked') return apiKeyView(record);
    const revokedAt = this.now();
    await this.repository.revoke(keyId, revokedAt, actor.userId, [
      apiKeyRevokedAuditEvent(actor.trail, record, revokedAt),
    ]);
    return apiKeyView({ ...record, status: 'revoked', revokedAt });
  }

  /** A page of the actor's tenant's keys, without hashes or ciphertexts. */
  async list(actor: ApiKeyActor, page: ApiKeyListPage): Promise<ApiKeyView[]> {
    if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > LIST_PAGE_SIZE_MAX) {
      throw new ApiKeyError('INVALID_INPUT', { field: 'limit', limitMax: LIST_PAGE_SIZE_MAX });
    }
    if (page.environment !== undefined) assertSameEnvironment(actor, page.environment);
    const scoped = actor.environment === null ? page : { ...page, environment: actor.environment };
    return (await this.repository.list(actor.tenantId, scoped)).map(apiKeyView);
  }

  /** Verifies a presented key for a resource in `environment`. */
  async authenticate(presentedKey: string, environment: Environment): Promise<ApiKeyPrincipal> {
    return principalOf(await this.verifiedRecord(presentedKey, environment));
  }

  /** As authenticate, plus the key's signing secret for verifying a signed request. */
  async authenticateForSigning(
    presentedKey: string,
    environment: Environment,
  ): Promise<{ principal: ApiKeyPrincipal; signingSecret: string }> {
    const record = await this.verifiedRecord(presentedKey, environment);
    const plaintext = await this.encryption.decrypt(
      { tenantId: record.tenantId, purpose: SIGNING_SECRET_PURPOSE },
      record.signingSecretCiphertext,
    );
    return { principal: principalOf(record), signingSecret: plaintext.toString('utf8') };
  }

  /**
   * Unknown key, wrong secret, revoked key and a rotated key past its overlap all answer
   * INVALID_API_KEY after the same work: one HMAC verify (against a decoy hash when there is no
   * record), so neither the code nor the time tells which keyIds exist or were revoked.
   */
  private async verifiedRecord(presentedKey: string, environment: Environment): Promise<ApiKeyRecord> {
    const parsed = parseApiKey(presentedKey, environment);
    const now = this.now();
    const record = await this.repository.findByKeyId(parsed.keyId);
    const secretMatches = await this.hasher.verify(parsed.hashedMaterial, record?.secretHash ?? (await this.decoy()));
    const usability = record === null ? 'revoked' : apiKeyUsability(record, now);
    if (
      record === null ||
      !secretMatches ||
      record.environment !== parsed.environment ||
      usability === 'revoked' ||
      usability === 'rotated_out'
    ) {
      throw new ApiKeyError('INVALID_API_KEY');
    }
    // The caller proved it holds the secret: telling it the key expired leaks nothing.
    if (usability === 'expired') throw new ApiKeyError('EXPIRED', { keyId: record.keyId });
    if (await this.hasher.needsRehash(record.secretHash)) {
      await this.repository.replaceSecretHash(record.keyId, await this.hasher.hash(parsed.hashedMaterial));
    }
    const lastUsedMs = record.lastUsedAt?.getTime() ?? Number.NEGATIVE_INFINITY;
    if (now.getTime() - lastUsedMs >= LAST_USED_RESOLUTION_SECONDS * 1000) {
      await this.repository.touchLastUsed(record.keyId, now);
    }
    return record;
  }

  private async ownedRecord(actor: ApiKeyActor, keyId: string): Promise<ApiKeyRecord> {
    const record = await this.repository.findByKeyId(keyId);
    // Another tenant's key, or the other environment's, is "not found": its existence is not ours to confirm.
    if (
      record === null ||
      record.tenantId !== actor.tenantId ||
      (actor.environment !== null && record.environment !== actor.environment)
    )
      throw new ApiKeyError('NOT_FOUND', { keyId });
    return record;
  }

  private async issue(
    grant: Pick<ApiKeyRecord, 'tenantId' | 'environment' | 'name' | 'permissions' | 'expiresAt'>,
    meta: Pick<ApiKeyRecord, 'rateLimitTier' | 'ipAllowlistId' | 'createdBy'> & { now: Date },
  ): Promise<{ issued: IssuedApiKey; record: ApiKeyRecord }> {
    const { apiKey, parsed } = generateApiKey(grant.environment);
    const signingSecret = generateSigningSecret();
    const record: ApiKeyRecord = {
      keyId: parsed.keyId,
      tenantId: grant.tenantId,
      environment: grant.environment,
      name: grant.name,
      secretHash: await this.hasher.hash(parsed.hashedMaterial),
      signingSecretCiphertext: await this.encryption.encrypt(
        { tenantId: grant.tenantId, purpose: SIGNING_SECRET_PURPOSE },
        signingSecret,
      ),
      permissions: grant.permissions,
      expiresAt: grant.expiresAt,
      rateLimitTier: meta.rateLimitTier,
      ipAllowlistId: meta.ipAllowlistId,
      status: 'active',
      overlapEndsAt: null,
      replacedByKeyId: null,
      createdBy: meta.createdBy,
      createdAt: meta.now,
      lastUsedAt: null,
      revokedAt: null,
    };
    return { issued: { apiKey, signingSecret, key: apiKeyView(record) }, record };
  }

  private decoy(): Promise<string> {
    // Hashed lazily (the pepper lives in the secrets provider) and forgotten on failure.
    this.decoyHash ??= this.hasher.hash(randomBase62(API_KEY_SECRET_LENGTH)).catch((error: unknown) => {
      this.decoyHash = undefined;
      throw error;
    });
    return this.decoyHash;
  }
}

function principalOf(record: ApiKeyRecord): ApiKeyPrincipal {
  return {
    keyId: record.keyId,
    tenantId: record.tenantId,
    environment: record.environment,
    permissions: record.permissions,
    rateLimitTier: record.rateLimitTier,
    ipAllowlistId: record.ipAllowlistId,
  };
}
