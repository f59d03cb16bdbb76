import type { MigrationInterface, QueryRunner } from 'typeorm';

/** TOTP recovery codes: ten single-use codes per user, each stored as a peppered HMAC with its use time. */
export class RecoveryCodes1764028800600 implements MigrationInterface {
  readonly name = 'RecoveryCodes1764028800600';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE users ADD COLUMN recovery_codes jsonb NOT NULL DEFAULT '[]'::jsonb
         CHECK (jsonb_typeof(recovery_codes) = 'array' AND jsonb_array_length(recovery_codes) <= 10)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE users DROP COLUMN recovery_codes');
  }
}
