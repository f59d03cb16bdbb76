import { grantRuntimeSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Login: users' TOTP secrets (envelope-encrypted with the tenant's data key, never in clear),
 * the last redeemed TOTP step (a code works once), and the attempts the login throttle counts
 * (shared by every auth replica). Attempt keys hold an HMAC of the account and address, never
 * an email or an IP.
 */
export class Login1764028800300 implements MigrationInterface {
  readonly name = 'Login1764028800300';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `ALTER TABLE users
         ADD COLUMN totp_secret_ciphertext text CHECK (length(totp_secret_ciphertext) <= 1024),
         ADD COLUMN totp_pending_ciphertext text CHECK (length(totp_pending_ciphertext) <= 1024),
         ADD COLUMN totp_enrolled_at timestamptz,
         ADD COLUMN totp_last_step bigint`,
      `CREATE TABLE login_attempts (
         key text NOT NULL CHECK (length(key) <= 128),
         at timestamptz NOT NULL
       )`,
      'CREATE INDEX login_attempts_key_at ON login_attempts (key, at)',
      'CREATE INDEX login_attempts_at ON login_attempts (at)',
      ...grantRuntimeSql('login_attempts', ['SELECT', 'INSERT', 'DELETE']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE login_attempts');
    await queryRunner.query(
      'ALTER TABLE users DROP COLUMN totp_secret_ciphertext, DROP COLUMN totp_pending_ciphertext, DROP COLUMN totp_enrolled_at, DROP COLUMN totp_last_step',
    );
  }
}
