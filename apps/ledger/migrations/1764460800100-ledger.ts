import { appendOnlySql, grantRuntimeSequenceSql, grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const BIGINT_NOT_NEGATIVE = (column: string) => `${column} bigint NOT NULL DEFAULT 0 CHECK (${column} >= 0)`;

/**
 * The ledger: accounts with their balances (the only rows that change), transfers and entries
 * (append-only: grants and trigger, DESIGN "Data"), and the open pending transfers (a small
 * working set of ids and expiry times, deleted when posted, voided or expired). Money is bigint minor units. A tenant's
 * sandbox and production ledgers share the tables and never each other's accounts.
 */
export class Ledger1764460800100 implements MigrationInterface {
  readonly name = 'Ledger1764460800100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE TABLE ledger_accounts (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         environment text NOT NULL CHECK (environment IN ('sandbox', 'production')),
         code text NOT NULL CHECK (code ~ '^[A-Za-z0-9_.:-]{1,64}$'),
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
         currency char(3) NOT NULL,
         currency_exponent smallint NOT NULL CHECK (currency_exponent BETWEEN 0 AND 4),
         type text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
         debits_must_not_exceed_credits boolean NOT NULL,
         credits_must_not_exceed_debits boolean NOT NULL,
         metadata jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
         closed_at timestamptz,
         ${BIGINT_NOT_NEGATIVE('debits_posted')},
         ${BIGINT_NOT_NEGATIVE('credits_posted')},
         ${BIGINT_NOT_NEGATIVE('debits_pending')},
         ${BIGINT_NOT_NEGATIVE('credits_pending')},
         last_entry_at timestamptz,
         created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
         PRIMARY KEY (tenant_id, id),
         UNIQUE (tenant_id, environment, code),
         CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
         -- The engine refuses these transfers; the database refuses them too if the engine is wrong.
         CHECK (NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted),
         CHECK (NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted)
       )`,
      ...tenantIsolationSql('ledger_accounts'),
      ...grantRuntimeSql('ledger_accounts', [
        'SELECT',
        'INSERT',
        'UPDATE (debits_posted, credits_posted, debits_pending, credits_pending, last_entry_at, closed_at)',
      ]),

      `CREATE TABLE ledger_transfers (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         environment text NOT NULL CHECK (environment IN ('sandbox', 'production')),
         type text NOT NULL CHECK (type IN ('immediate', 'pending', 'post_pending', 'void_pending', 'reversal', 'expiry')),
         category text NOT NULL,
         reference text CHECK (length(reference) BETWEEN 1 AND 128),
         metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
         legs jsonb NOT NULL CHECK (jsonb_typeof(legs) = 'array'),
         pending_id uuid,
         reverses_id uuid,
         timeout_seconds integer,
         expires_at timestamptz,
         fingerprint bytea NOT NULL CHECK (length(fingerprint) = 32),
         actor text NOT NULL,
         created_at timestamptz NOT NULL,
         PRIMARY KEY (tenant_id, id),
         CHECK ((pending_id IS NOT NULL) = (type IN ('post_pending', 'void_pending', 'expiry'))),
         CHECK ((reverses_id IS NOT NULL) = (type = 'reversal'))
       )`,
      // A pending transfer is resolved once, a transfer reversed once: the engine checks, these guarantee.
      'CREATE UNIQUE INDEX ledger_transfers_resolve_once ON ledger_transfers (tenant_id, pending_id) WHERE pending_id IS NOT NULL',
      'CREATE UNIQUE INDEX ledger_transfers_reverse_once ON ledger_transfers (tenant_id, reverses_id) WHERE reverses_id IS NOT NULL',
      'CREATE INDEX ledger_transfers_by_reference ON ledger_transfers (tenant_id, reference) WHERE reference IS NOT NULL',
      ...tenantIsolationSql('ledger_transfers'),
      ...grantRuntimeSql('ledger_transfers', ['SELECT', 'INSERT']),
      ...appendOnlySql('ledger_transfers'),

      `CREATE TABLE ledger_entries (
         seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         tenant_id uuid NOT NULL,
         transfer_id uuid NOT NULL,
         account_id uuid NOT NULL,
         direction text NOT NULL CHECK (direction IN ('debit', 'credit')),
         posted_amount bigint NOT NULL CHECK (posted_amount >= 0),
         pending_change bigint NOT NULL,
         debits_posted_after bigint NOT NULL CHECK (debits_posted_after >= 0),
         credits_posted_after bigint NOT NULL CHECK (credits_posted_after >= 0),
         debits_pending_after bigint NOT NULL CHECK (debits_pending_after >= 0),
         credits_pending_after bigint NOT NULL CHECK (credits_pending_after >= 0),
         created_at timestamptz NOT NULL,
         CHECK (posted_amount > 0 OR pending_change <> 0)
       )`,
      // History, point-in-time balances and exports read an account's entries in time order
      // (entry times never go back on one account: the repository's clock guard).
      'CREATE INDEX ledger_entries_by_account ON ledger_entries (tenant_id, account_id, created_at, seq)',
      ...tenantIsolationSql('ledger_entries'),
      ...grantRuntimeSql('ledger_entries', ['SELECT', 'INSERT']),
      ...grantRuntimeSequenceSql('ledger_entries_seq_seq'),
      ...appendOnlySql('ledger_entries'),

      `CREATE TABLE ledger_open_pendings (
         tenant_id uuid NOT NULL,
         transfer_id uuid NOT NULL,
         environment text NOT NULL,
         expires_at timestamptz,
         PRIMARY KEY (tenant_id, transfer_id)
       )`,
      'CREATE INDEX ledger_open_pendings_expiring ON ledger_open_pendings (expires_at) WHERE expires_at IS NOT NULL',
      ...tenantIsolationSql('ledger_open_pendings'),
      // The expiry sweep finds due pending transfers of every tenant (no tenant context, read
      // only), then expires each in its tenant's own transaction. The table holds ids and times
      // only (the amounts are in ledger_transfers), so that is all the sweep can see.
      `CREATE POLICY ledger_open_pendings_expiry_sweep ON ledger_open_pendings FOR SELECT
         USING (nullif(current_setting('app.tenant_id', true), '') IS NULL AND expires_at IS NOT NULL)`,
      ...grantRuntimeSql('ledger_open_pendings', ['SELECT', 'INSERT', 'DELETE']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['ledger_open_pendings', 'ledger_entries', 'ledger_transfers', 'ledger_accounts']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
