import { grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The tenant registry. A tenant's row is visible only in its own context (id = app.tenant_id). */
export class Tenants1763856000100 implements MigrationInterface {
  readonly name = 'Tenants1763856000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE TABLE tenants (
         id uuid PRIMARY KEY,
         slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$'),
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
         region text NOT NULL,
         status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
         created_at timestamptz NOT NULL DEFAULT now()
       )`,
      ...tenantIsolationSql('tenants', 'id'),
      ...grantRuntimeSql('tenants', ['SELECT', 'INSERT']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE tenants');
  }
}
