import { DATA_KEYS_TABLE_SQL, grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys (tenant-owned, RLS), their signed requests' nonces, and the envelope-encryption data
 * keys that seal the signing secrets. A key is authenticated before any tenant is known, from
 * the keyId its value embeds: as for OAuth clients, a second SELECT-only policy shows exactly the
 * row whose keyId the lookup transaction names in `app.api_key_id`, so no listing crosses tenants
 * and every write still runs in the key's tenant context. Nothing here verifies without the
 * pepper (key hashes) or the KEK in Vault Transit (signing secrets, data keys).
 */
export class ApiKeys1764028800200 implements MigrationInterface {
  readonly name = 'ApiKeys1764028800200';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE TABLE api_keys (
         key_id text PRIMARY KEY CHECK (key_id ~ '^[0-9A-Za-z]{12}$'),
         tenant_id uuid NOT NULL,
         environment text NOT NULL CHECK (environment IN ('sandbox', 'production')),
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
         secret_hash text NOT NULL CHECK (secret_hash ~ '^h1\\.[1-9][0-9]{0,8}\\.[A-Za-z0-9_-]{43}$'),
         signing_secret_ciphertext text NOT NULL CHECK (length(signing_secret_ciphertext) BETWEEN 1 AND 1024),
         permissions text[] NOT NULL CHECK (cardinality(permissions) BETWEEN 1 AND 64),
         expires_at timestamptz,
         rate_limit_tier text NOT NULL CHECK (rate_limit_tier IN ('basic', 'standard', 'premium')),
         ip_allowlist_id text CHECK (ip_allowlist_id ~ '^[A-Za-z0-9_-]{1,64}$'),
         status text NOT NULL CHECK (status IN ('active', 'rotating', 'revoked')),
         overlap_ends_at timestamptz,
         replaced_by_key_id text CHECK (replaced_by_key_id ~ '^[0-9A-Za-z]{12}$'),
         created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
         created_at timestamptz NOT NULL,
         last_used_at timestamptz,
         revoked_at timestamptz,
         CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
         CHECK (status <> 'rotating' OR (overlap_ends_at IS NOT NULL AND replaced_by_key_id IS NOT NULL))
       )`,
      'CREATE INDEX api_keys_tenant ON api_keys (tenant_id, environment, key_id)',
      ...tenantIsolationSql('api_keys'),
      `CREATE POLICY api_keys_lookup_by_id ON api_keys FOR SELECT
         USING (key_id = nullif(current_setting('app.api_key_id', true), ''))`,
      // No DELETE: a revoked key stays as the record of what it could do, and when.
      ...grantRuntimeSql('api_keys', [
        'SELECT',
        'INSERT',
        'UPDATE (status, overlap_ends_at, replaced_by_key_id, revoked_at, last_used_at, secret_hash)',
      ]),
      // Not tenant-scoped: looked up by keyId alone, holds no secret, lives at most 2 × 300 s.
      `CREATE TABLE api_key_nonces (
         key_id text NOT NULL CHECK (key_id ~ '^[0-9A-Za-z]{12}$'),
         nonce text NOT NULL CHECK (nonce ~ '^[A-Za-z0-9_-]{22,128}$'),
         expires_at timestamptz NOT NULL,
         PRIMARY KEY (key_id, nonce)
       )`,
      'CREATE INDEX api_key_nonces_expiry ON api_key_nonces (expires_at)',
      ...grantRuntimeSql('api_key_nonces', ['SELECT', 'INSERT', 'UPDATE (expires_at)', 'DELETE']),
      DATA_KEYS_TABLE_SQL,
      // Data keys are never deleted (old ciphertexts must keep decrypting); they are wrapped by the KEK.
      ...grantRuntimeSql('data_keys', ['SELECT', 'INSERT', 'UPDATE (wrapped_key, kek_version, retired_at)']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE api_key_nonces');
    await queryRunner.query('DROP TABLE api_keys');
    await queryRunner.query('DROP TABLE IF EXISTS data_keys');
  }
}
