import { grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Users of a tenant; the password only as an argon2id hash. */
export class Users1763856000100 implements MigrationInterface {
  readonly name = 'Users1763856000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE TABLE users (
         id uuid PRIMARY KEY,
         tenant_id uuid NOT NULL,
         email text NOT NULL CHECK (length(email) <= 320),
         password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
         roles text[] NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         UNIQUE (tenant_id, email)
       )`,
      ...tenantIsolationSql('users'),
      ...grantRuntimeSql('users', ['SELECT', 'INSERT', 'UPDATE']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE users');
  }
}
