import { grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * OAuth2 clients (tenant-owned, RLS) and oidc-provider's protocol store. The provider looks a
 * client up by id before any tenant is known: a second SELECT-only policy shows exactly the row
 * whose id the lookup transaction names in `app.oauth_client_id`, so no listing ever crosses
 * tenants. The protocol store holds grants, codes, refresh tokens and sessions keyed by an HMAC
 * of their id (a stolen table yields no usable token); it is not tenant-scoped because its
 * lookups come from bearer values alone.
 */
export class OAuth1764028800000 implements MigrationInterface {
  readonly name = 'OAuth1764028800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE TABLE oauth_clients (
         client_id text PRIMARY KEY CHECK (client_id ~ '^sr_client_[A-Za-z0-9_-]{22}$'),
         tenant_id uuid NOT NULL,
         environment text NOT NULL CHECK (environment IN ('sandbox', 'production')),
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
         metadata jsonb NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         revoked_at timestamptz
       )`,
      'CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id, environment)',
      ...tenantIsolationSql('oauth_clients'),
      `CREATE POLICY oauth_clients_lookup_by_id ON oauth_clients FOR SELECT
         USING (client_id = nullif(current_setting('app.oauth_client_id', true), ''))`,
      ...grantRuntimeSql('oauth_clients', ['SELECT', 'INSERT', 'UPDATE (revoked_at)']),
      `CREATE TABLE oidc_payloads (
         model text NOT NULL CHECK (length(model) <= 64),
         id_digest text NOT NULL,
         payload jsonb NOT NULL,
         grant_id text,
         uid text,
         user_code text,
         expires_at timestamptz NOT NULL,
         consumed_at timestamptz,
         PRIMARY KEY (model, id_digest)
       )`,
      'CREATE INDEX oidc_payloads_grant ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL',
      'CREATE INDEX oidc_payloads_uid ON oidc_payloads (uid) WHERE uid IS NOT NULL',
      'CREATE INDEX oidc_payloads_expiry ON oidc_payloads (expires_at)',
      ...grantRuntimeSql('oidc_payloads', ['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE oidc_payloads');
    await queryRunner.query('DROP TABLE oauth_clients');
  }
}
