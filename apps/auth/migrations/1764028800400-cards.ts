import { grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cards and their PINs (seed 001, issue 4). The number itself is never stored: `card_ref` is its
 * keyed token (HMAC under the tokenization key in the secrets provider, scoped to the tenant),
 * unique per tenant, and `last4` is kept for display; the PIN is a bcrypt hash (cost >= 12).
 * `consecutive_failures` and `locked_at` are the pin-lock state, written only by conditional
 * UPDATEs on the state they read (pin-lock.ts), so the counter never passes 3.
 */
export class Cards1764028800400 implements MigrationInterface {
  readonly name = 'Cards1764028800400';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE TABLE cards (
         id uuid PRIMARY KEY,
         tenant_id uuid NOT NULL,
         owner_user_id text CHECK (length(owner_user_id) BETWEEN 1 AND 200),
         card_ref text NOT NULL CHECK (card_ref ~ '^tk1\\.card_number\\.[1-9][0-9]{0,8}\\.[A-Za-z0-9_-]{43}$'),
         last4 text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
         pin_hash text NOT NULL CHECK (pin_hash ~ '^\\$2[aby]\\$[0-9]{2}\\$[./A-Za-z0-9]{53}$'),
         consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures BETWEEN 0 AND 3),
         locked_at timestamptz,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now(),
         UNIQUE (tenant_id, card_ref)
       )`,
      ...tenantIsolationSql('cards'),
      // No DELETE: a card's lock history is audit evidence; the number and PIN are not in it anyway.
      ...grantRuntimeSql('cards', [
        'SELECT',
        'INSERT',
        'UPDATE (pin_hash, consecutive_failures, locked_at, updated_at)',
      ]),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE cards');
  }
}
