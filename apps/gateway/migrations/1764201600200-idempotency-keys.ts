import { grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency-Key records of POST API calls: one per (tenant, credential, key), held 24 h.
 *
 * Nothing here can be read back without the key: `key_hash` is SHA-256 of the scope and the key,
 * and the stored response (which may hold a secret shown once, e.g. a new API key) is AES-256-GCM
 * under a key derived from the Idempotency-Key itself. Tenant isolation as everywhere (RLS on
 * `app.tenant_id`), plus one exception for cleanup: any expired row may be seen and deleted without
 * a tenant context, so a replica clears them in small batches (DESIGN "Growth stays bounded").
 */
const NO_TENANT_CONTEXT = "nullif(current_setting('app.tenant_id', true), '') IS NULL";

export class IdempotencyKeys1764201600200 implements MigrationInterface {
  readonly name = 'IdempotencyKeys1764201600200';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE TABLE idempotency_keys (
         tenant_id uuid NOT NULL,
         key_hash bytea NOT NULL CHECK (octet_length(key_hash) = 32),
         fingerprint bytea NOT NULL CHECK (octet_length(fingerprint) = 32),
         state text NOT NULL CHECK (state IN ('in_flight', 'completed')),
         lease_expires_at timestamptz NOT NULL,
         response_status smallint CHECK (response_status BETWEEN 100 AND 599),
         response_sealed bytea,
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         PRIMARY KEY (tenant_id, key_hash),
         CHECK ((state = 'completed') = (response_status IS NOT NULL AND response_sealed IS NOT NULL)),
         CHECK (expires_at > created_at)
       )`,
      'CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at)',
      ...tenantIsolationSql('idempotency_keys'),
      // Permissive policies OR together: expired rows (and only those) are visible and deletable
      // without a tenant context, for the cleanup — never from another tenant's transaction.
      // Their responses stay sealed under keys we do not hold.
      `CREATE POLICY idempotency_keys_expired_select ON idempotency_keys FOR SELECT
         USING (expires_at < now() AND ${NO_TENANT_CONTEXT})`,
      `CREATE POLICY idempotency_keys_expired_delete ON idempotency_keys FOR DELETE
         USING (expires_at < now() AND ${NO_TENANT_CONTEXT})`,
      ...grantRuntimeSql('idempotency_keys', ['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE idempotency_keys');
  }
}
