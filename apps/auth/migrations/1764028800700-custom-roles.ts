import { grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Seed 003's custom roles: a tenant's own named sets of permissions, beside the predefined roles
 * (whose names, as of this migration, a custom role may not take). `users.access_changed_at` is
 * when a user's access last narrowed (a role removed, a held role shrunk or deleted): tokens
 * issued at or before it are revoked, and token issuance waits out that second (docs/identity.md).
 */
export class CustomRoles1764028800700 implements MigrationInterface {
  readonly name = 'CustomRoles1764028800700';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE TABLE custom_roles (
         id uuid PRIMARY KEY,
         tenant_id uuid NOT NULL,
         name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{2,39}$' AND name NOT IN (
           'super_admin', 'partner_admin', 'partner_user', 'farmer', 'dealer', 'admin', 'developer', 'viewer')),
         description text CHECK (length(description) <= 200),
         permissions text[] NOT NULL CHECK (cardinality(permissions) BETWEEN 1 AND 200),
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         UNIQUE (tenant_id, name)
       )`,
      ...tenantIsolationSql('custom_roles'),
      ...grantRuntimeSql('custom_roles', ['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
      'ALTER TABLE users ADD COLUMN access_changed_at timestamptz',
      // The holders of a role (`roles @> ARRAY[name]`), when it shrinks or is deleted.
      'CREATE INDEX users_roles ON users USING gin (roles)',
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX users_roles');
    await queryRunner.query('ALTER TABLE users DROP COLUMN access_changed_at');
    await queryRunner.query('DROP TABLE custom_roles');
  }
}
