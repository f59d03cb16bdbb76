import { grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Invitations: an administrator invites a user by email; the one-time link carries a 256-bit
 * token stored only as an HMAC. Accepting happens before any tenant is known, so, as for OAuth
 * clients, a SELECT-only policy shows exactly the row whose digest the transaction names.
 */
export class Invitations1764028800500 implements MigrationInterface {
  readonly name = 'Invitations1764028800500';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE TABLE invitations (
         id uuid PRIMARY KEY,
         tenant_id uuid NOT NULL,
         email text NOT NULL CHECK (length(email) <= 320),
         roles text[] NOT NULL CHECK (cardinality(roles) BETWEEN 1 AND 16),
         token_digest text NOT NULL UNIQUE CHECK (token_digest ~ '^[A-Za-z0-9_-]{43}$'),
         invited_by text NOT NULL CHECK (length(invited_by) <= 200),
         created_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL,
         accepted_at timestamptz
       )`,
      'CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at)',
      ...tenantIsolationSql('invitations'),
      `CREATE POLICY invitations_lookup_by_digest ON invitations FOR SELECT
         USING (token_digest = nullif(current_setting('app.invitation_digest', true), ''))`,
      ...grantRuntimeSql('invitations', ['SELECT', 'INSERT', 'UPDATE (accepted_at)']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE invitations');
  }
}
