import {
  API_KEY_ACCESS_TOKEN_TTL_SECONDS,
  type ApiKey,
  type AuditEventInput,
  apiKeyCreated,
  apiKeyRevoked,
  apiKeyRotated,
  apiKeySubjectOf,
  type Environment,
  type Permission,
  tokensRevoked,
} from '@strongroom/contracts';
import { enqueueAudit, enqueueEvent, withoutTenant, withTenant } from '@strongroom/platform';
import type { DataSource, EntityManager } from 'typeorm';
import { AUTH_AUDIT_EMITTER } from '../auth-audit';
import type {
  ApiKeyListPage,
  ApiKeyRateLimitTier,
  ApiKeyRecord,
  ApiKeyRepository,
  ApiKeyStatus,
  ApiKeyView,
} from './api-key-record';

interface ApiKeyRow {
  key_id: string;
  tenant_id: string;
  environment: Environment;
  name: string;
  secret_hash: string;
  signing_secret_ciphertext: string;
  permissions: Permission[];
  expires_at: Date | null;
  rate_limit_tier: ApiKeyRateLimitTier;
  ip_allowlist_id: string | null;
  status: ApiKeyStatus;
  overlap_ends_at: Date | null;
  replaced_by_key_id: string | null;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = `key_id, tenant_id, environment, name, secret_hash, signing_secret_ciphertext, permissions,
  expires_at, rate_limit_tier, ip_allowlist_id, status, overlap_ends_at, replaced_by_key_id, created_by,
  created_at, last_used_at, revoked_at`;

// UPDATE … RETURNING is wrapped in `WITH … SELECT`: TypeORM answers a bare UPDATE with [rows, count].

/** Raised inside a rotation transaction to roll it back; never leaves this file. */
class RotationLost extends Error {}

/**
 * `api_keys` in Postgres. Scoped to a tenant (key management: every statement in that tenant's
 * RLS context, so another tenant's key is simply not there), or unscoped for authentication,
 * where only the keyId is known: the transaction names the key in `app.api_key_id` (the lookup
 * policy shows that one row), then takes the tenant from it, so writes stay under tenant RLS.
 * Events go to the outbox in the transaction of the change they describe.
 */
export class PgApiKeyRepository implements ApiKeyRepository {
  private constructor(
    private readonly dataSource: DataSource,
    private readonly tenantId: string | null,
  ) {}

  static forTenant(dataSource: DataSource, tenantId: string): PgApiKeyRepository {
    return new PgApiKeyRepository(dataSource, tenantId);
  }

  static forAuthentication(dataSource: DataSource): PgApiKeyRepository {
    return new PgApiKeyRepository(dataSource, null);
  }

  async insert(record: ApiKeyRecord, audit: readonly AuditEventInput[]): Promise<void> {
    await withTenant(this.dataSource, this.tenantId ?? record.tenantId, async (manager) => {
      await insertRow(manager, record);
      await enqueueEvent(
        manager,
        apiKeyCreated,
        { key: apiKeyWire(record), actor: record.createdBy },
        { tenantId: record.tenantId },
      );
      await enqueueAudit(manager, AUTH_AUDIT_EMITTER, audit);
    });
  }

  async findByKeyId(keyId: string): Promise<ApiKeyRecord | null> {
    return this.inKeyTransaction(keyId, async (manager) => {
      const rows: ApiKeyRow[] = await manager.query(`SELECT ${COLUMNS} FROM api_keys WHERE key_id = $1`, [keyId]);
      return rows[0] === undefined ? null : recordOf(rows[0]);
    });
  }

  async rotate(
    keyId: string,
    change: { overlapEndsAt: Date; replacedByKeyId: string },
    next: ApiKeyRecord,
    audit: readonly AuditEventInput[],
  ): Promise<boolean> {
    try {
      return await this.inKeyTransaction(keyId, async (manager) => {
        const rows: ApiKeyRow[] = await manager.query(
          `WITH updated AS (
             UPDATE api_keys SET status = 'rotating', overlap_ends_at = $2, replaced_by_key_id = $3
              WHERE key_id = $1 AND status = 'active' RETURNING ${COLUMNS}
           ) SELECT * FROM updated`,
          [keyId, change.overlapEndsAt, change.replacedByKeyId],
        );
        // Another rotation or a revocation was first: nothing changes.
        if (rows[0] === undefined) return false;
        if (!(await insertRow(manager, next))) throw new RotationLost();
        const previous = apiKeyWire(recordOf(rows[0]));
        await enqueueEvent(
          manager,
          apiKeyRotated,
          { previous, next: apiKeyWire(next), actor: next.createdBy },
          { tenantId: next.tenantId },
        );
        await enqueueAudit(manager, AUTH_AUDIT_EMITTER, audit);
        return true;
      });
    } catch (error) {
      if (error instanceof RotationLost) return false;
      throw error;
    }
  }

  async revoke(keyId: string, revokedAt: Date, revokedBy: string, audit: readonly AuditEventInput[]): Promise<void> {
    await this.inKeyTransaction(keyId, async (manager) => {
      const rows: ApiKeyRow[] = await manager.query(
        `WITH updated AS (
           UPDATE api_keys SET status = 'revoked', revoked_at = $2
            WHERE key_id = $1 AND status <> 'revoked' RETURNING ${COLUMNS}
         ) SELECT * FROM updated`,
        [keyId, revokedAt],
      );
      const row = rows[0];
      if (row === undefined) return;
      const key = apiKeyWire(recordOf(row));
      await enqueueEvent(manager, apiKeyRevoked, { key, actor: revokedBy }, { tenantId: row.tenant_id });
      // The access tokens this key was exchanged for die with it, in every service within a second.
      await enqueueEvent(
        manager,
        tokensRevoked,
        {
          scope: 'subject',
          subject: apiKeySubjectOf(keyId),
          revokedAt: revokedAt.toISOString(),
          expiresAt: new Date(revokedAt.getTime() + API_KEY_ACCESS_TOKEN_TTL_SECONDS * 1000).toISOString(),
        },
        { tenantId: row.tenant_id },
      );
      await enqueueAudit(manager, AUTH_AUDIT_EMITTER, audit);
    });
  }

  async list(tenantId: string, page: ApiKeyListPage): Promise<ApiKeyRecord[]> {
    return withTenant(this.dataSource, this.tenantId ?? tenantId, async (manager) => {
      const rows: ApiKeyRow[] = await manager.query(
        `SELECT ${COLUMNS} FROM api_keys
          WHERE tenant_id = $1 AND ($2::text IS NULL OR environment = $2) AND ($3::text IS NULL OR key_id > $3)
          ORDER BY key_id LIMIT $4`,
        [tenantId, page.environment ?? null, page.afterKeyId ?? null, page.limit],
      );
      return rows.map(recordOf);
    });
  }

  async touchLastUsed(keyId: string, at: Date): Promise<void> {
    await this.inKeyTransaction(keyId, (manager) =>
      manager.query('UPDATE api_keys SET last_used_at = $2 WHERE key_id = $1', [keyId, at]),
    );
  }

  async replaceSecretHash(keyId: string, secretHash: string): Promise<void> {
    await this.inKeyTransaction(keyId, (manager) =>
      manager.query('UPDATE api_keys SET secret_hash = $2 WHERE key_id = $1', [keyId, secretHash]),
    );
  }

  /** A transaction seeing `keyId` and, when it exists, acting in its tenant (see the class comment). */
  private inKeyTransaction<T>(keyId: string, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.tenantId !== null) return withTenant(this.dataSource, this.tenantId, work);
    return withoutTenant(this.dataSource, async (manager) => {
      await manager.query("SELECT set_config('app.api_key_id', $1, true)", [keyId]);
      const rows: Array<{ tenant_id: string }> = await manager.query(
        'SELECT tenant_id FROM api_keys WHERE key_id = $1',
        [keyId],
      );
      if (rows[0] !== undefined) {
        await manager.query("SELECT set_config('app.tenant_id', $1, true)", [rows[0].tenant_id]);
      }
      return work(manager);
    });
  }
}

/** False when the keyId is taken (a 71-bit collision: practically never, but never an overwrite). */
async function insertRow(manager: EntityManager, record: ApiKeyRecord): Promise<boolean> {
  const rows: unknown[] = await manager.query(
    `INSERT INTO api_keys (${COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
     ON CONFLICT (key_id) DO NOTHING RETURNING key_id`,
    [
      record.keyId,
      record.tenantId,
      record.environment,
      record.name,
      record.secretHash,
      record.signingSecretCiphertext,
      record.permissions,
      record.expiresAt,
      record.rateLimitTier,
      record.ipAllowlistId,
      record.status,
      record.overlapEndsAt,
      record.replacedByKeyId,
      record.createdBy,
      record.createdAt,
      record.lastUsedAt,
      record.revokedAt,
    ],
  );
  return rows.length === 1;
}

function recordOf(row: ApiKeyRow): ApiKeyRecord {
  return {
    keyId: row.key_id,
    tenantId: row.tenant_id,
    environment: row.environment,
    name: row.name,
    secretHash: row.secret_hash,
    signingSecretCiphertext: row.signing_secret_ciphertext,
    permissions: row.permissions,
    expiresAt: row.expires_at,
    rateLimitTier: row.rate_limit_tier,
    ipAllowlistId: row.ip_allowlist_id,
    status: row.status,
    overlapEndsAt: row.overlap_ends_at,
    replacedByKeyId: row.replaced_by_key_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** A key as the contract shows it: the view, instants as ISO strings, never a hash or a ciphertext. */
export function apiKeyWire(key: ApiKeyView | ApiKeyRecord): ApiKey {
  const iso = (date: Date | null) => (date === null ? null : date.toISOString());
  return {
    keyId: key.keyId,
    tenantId: key.tenantId,
    environment: key.environment,
    name: key.name,
    permissions: [...key.permissions],
    expiresAt: iso(key.expiresAt),
    rateLimitTier: key.rateLimitTier,
    ipAllowlistId: key.ipAllowlistId,
    status: key.status,
    overlapEndsAt: iso(key.overlapEndsAt),
    replacedByKeyId: key.replacedByKeyId,
    createdBy: key.createdBy,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: iso(key.lastUsedAt),
    revokedAt: iso(key.revokedAt),
  };
}
