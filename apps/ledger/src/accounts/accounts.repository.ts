import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import {
  type createLedgerAccount,
  currencyExponentOf,
  type LedgerAccount,
  type LedgerAccountType,
  type LedgerBalance,
  type LedgerEntry,
  normalBalanceOf,
  type RequestOf,
} from '@strongroom/contracts';
import { enqueueAudit, PlatformError, RegionalDatabases } from '@strongroom/platform';
import type { EntityManager } from 'typeorm';
import { type AuditTrail, LEDGER_AUDIT_EMITTER, ledgerAuditEvent } from '../ledger-audit';
import type { LedgerScope } from '../ledger-scope';

interface AccountRow {
  id: string;
  environment: string;
  code: string;
  name: string;
  currency: string;
  currency_exponent: number;
  type: LedgerAccountType;
  debits_must_not_exceed_credits: boolean;
  credits_must_not_exceed_debits: boolean;
  metadata: Record<string, string>;
  closed_at: Date | null;
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
  created_at: Date;
}

const ACCOUNT_COLUMNS = `id, environment, code, name, currency, currency_exponent, type, debits_must_not_exceed_credits,
  credits_must_not_exceed_debits, metadata, closed_at, debits_posted, credits_posted, debits_pending,
  credits_pending, created_at`;

export type NewLedgerAccount = RequestOf<typeof createLedgerAccount>;

/** Accounts, their balances now and as of a past instant, and their history (entries). */
@Injectable()
export class AccountsRepository {
  constructor(private readonly databases: RegionalDatabases) {}

  /**
   * Opens an account, with its audit event; the same account sent again (same id and fields)
   * returns it and records nothing new, a different one under a taken id or code is a CONFLICT.
   */
  async create(scope: LedgerScope, account: NewLedgerAccount, trail: AuditTrail): Promise<LedgerAccount> {
    const id = account.id ?? randomUUID();
    return this.databases.withTenant(scope.tenantId, async (manager) => {
      const [inserted] = await manager.query(
        `INSERT INTO ledger_accounts (tenant_id, id, code, name, currency, currency_exponent, type,
           debits_must_not_exceed_credits, credits_must_not_exceed_debits, metadata, environment)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)
         ON CONFLICT DO NOTHING
         RETURNING ${ACCOUNT_COLUMNS}`,
        [
          account.tenantId,
          id,
          account.code,
          account.name,
          account.currency,
          currencyExponentOf(account.currency),
          account.type,
          account.flags.debitsMustNotExceedCredits,
          account.flags.creditsMustNotExceedDebits,
          JSON.stringify(account.metadata),
          scope.environment,
        ],
      );
      if (inserted) {
        const opened = accountOf(account.tenantId, inserted);
        await enqueueAudit(manager, LEDGER_AUDIT_EMITTER, [
          ledgerAuditEvent(trail, {
            ...scope,
            action: 'ledger.account.create',
            resource: { type: 'ledger_account', id: opened.id },
            // Not its code or name: a tenant may name an account after its customer.
            details: { currency: opened.currency, type: opened.type },
          }),
        ]);
        return opened;
      }
      const [existing] = await manager.query(
        `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts
          WHERE tenant_id = $1 AND (id = $2 OR (code = $3 AND environment = $4))`,
        [account.tenantId, id, account.code, scope.environment],
      );
      const stored = existing ? accountOf(account.tenantId, existing) : undefined;
      if (stored && existing.environment === scope.environment && sameAccount(stored, { ...account, id }))
        return stored;
      throw PlatformError.conflict('An account with this id or code already exists with other fields', {
        reason: 'ACCOUNT_EXISTS',
      });
    });
  }

  async find(scope: LedgerScope, accountId: string): Promise<LedgerAccount | undefined> {
    return this.databases.withTenant(scope.tenantId, async (manager) => {
      const row = await accountRow(manager, scope, accountId);
      return row ? accountOf(scope.tenantId, row) : undefined;
    });
  }

  async list(
    scope: LedgerScope,
    page: { limit: number; cursor?: string; currency?: string },
  ): Promise<{ accounts: LedgerAccount[]; nextCursor: string | null }> {
    return this.databases.withTenant(scope.tenantId, async (manager) => {
      const rows: AccountRow[] = await manager.query(
        `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts
          WHERE tenant_id = $1 AND environment = $2 AND ($3::uuid IS NULL OR id > $3)
            AND ($4::text IS NULL OR currency = $4)
          ORDER BY id LIMIT $5`,
        [scope.tenantId, scope.environment, page.cursor ?? null, page.currency ?? null, page.limit + 1],
      );
      const accounts = rows.slice(0, page.limit).map((row) => accountOf(scope.tenantId, row));
      return { accounts, nextCursor: rows.length > page.limit ? (accounts.at(-1)?.id ?? null) : null };
    });
  }

  /** Closes an account with nothing pending (CONFLICT otherwise), with its audit event; closing twice is a no-op. */
  async close(scope: LedgerScope, accountId: string, trail: AuditTrail): Promise<LedgerAccount | undefined> {
    const { tenantId } = scope;
    return this.databases.withTenant(tenantId, async (manager) => {
      // The same lock the transfer path takes: no transfer is half-way through this account.
      const [row] = await manager.query(
        `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE tenant_id = $1 AND environment = $2 AND id = $3 FOR UPDATE`,
        [tenantId, scope.environment, accountId],
      );
      if (!row) return undefined;
      const account = row as AccountRow;
      if (account.closed_at !== null) return accountOf(tenantId, account);
      if (account.debits_pending !== '0' || account.credits_pending !== '0') {
        throw PlatformError.conflict('The account has pending amounts; post or void them first', {
          reason: 'ACCOUNT_HAS_PENDING',
        });
      }
      const [closed] = await manager.query(
        `WITH closed AS (
           UPDATE ledger_accounts SET closed_at = date_trunc('milliseconds', now())
            WHERE tenant_id = $1 AND id = $2 RETURNING ${ACCOUNT_COLUMNS}
         ) SELECT * FROM closed`,
        [tenantId, accountId],
      );
      await enqueueAudit(manager, LEDGER_AUDIT_EMITTER, [
        ledgerAuditEvent(trail, {
          ...scope,
          action: 'ledger.account.close',
          resource: { type: 'ledger_account', id: accountId },
        }),
      ]);
      return accountOf(tenantId, closed);
    });
  }

  /** The balances after the account's last entry at or before `asOf` (all zero before its first). */
  async balanceAsOf(scope: LedgerScope, accountId: string, asOf: Date | undefined): Promise<LedgerBalance | undefined> {
    const { tenantId } = scope;
    // A later instant has no balance yet: answering today's would present it as final.
    if (asOf !== undefined && asOf.getTime() > Date.now()) {
      throw PlatformError.validation('asOf is in the future: a balance is known up to now', {
        reason: 'AS_OF_IN_FUTURE',
      });
    }
    return this.databases.withTenant(tenantId, async (manager) => {
      const account = await accountRow(manager, scope, accountId);
      if (!account) return undefined;
      if (asOf === undefined) {
        const [{ now }] = await manager.query("SELECT date_trunc('milliseconds', now()) AS now");
        return balanceOf(account, account, (now as Date).toISOString());
      }
      const [entry] = await manager.query(
        `SELECT debits_posted_after AS debits_posted, credits_posted_after AS credits_posted,
                debits_pending_after AS debits_pending, credits_pending_after AS credits_pending
           FROM ledger_entries
          WHERE tenant_id = $1 AND account_id = $2 AND created_at <= $3
          ORDER BY created_at DESC, seq DESC LIMIT 1`,
        [tenantId, accountId, asOf.toISOString()],
      );
      const zero = { debits_posted: '0', credits_posted: '0', debits_pending: '0', credits_pending: '0' };
      return balanceOf(account, entry ?? zero, asOf.toISOString());
    });
  }

  async entries(
    scope: LedgerScope,
    accountId: string,
    page: { limit: number; cursor?: string; from?: Date; to?: Date },
  ): Promise<{ entries: LedgerEntry[]; nextCursor: string | null } | undefined> {
    const { tenantId } = scope;
    return this.databases.withTenant(tenantId, async (manager) => {
      if (!(await accountRow(manager, scope, accountId))) return undefined;
      // (created_at, seq) is the index order; the cursor is an entry's seq, its time looked up by primary key.
      const rows: EntryRow[] = await manager.query(
        `SELECT seq, transfer_id, account_id, direction, posted_amount, pending_change, debits_posted_after,
                credits_posted_after, debits_pending_after, credits_pending_after, created_at
           FROM ledger_entries
          WHERE tenant_id = $1 AND account_id = $2
            AND ($3::bigint IS NULL OR (created_at, seq) >
                 ((SELECT c.created_at FROM ledger_entries c WHERE c.seq = $3::bigint), $3::bigint))
            AND ($4::timestamptz IS NULL OR created_at >= $4)
            AND ($5::timestamptz IS NULL OR created_at < $5)
          ORDER BY created_at, seq LIMIT $6`,
        [
          tenantId,
          accountId,
          page.cursor ?? null,
          page.from?.toISOString() ?? null,
          page.to?.toISOString() ?? null,
          page.limit + 1,
        ],
      );
      const entries = rows.slice(0, page.limit).map(entryOf);
      return { entries, nextCursor: rows.length > page.limit ? (entries.at(-1)?.seq ?? null) : null };
    });
  }
}

interface EntryRow {
  seq: string;
  transfer_id: string;
  account_id: string;
  direction: 'debit' | 'credit';
  posted_amount: string;
  pending_change: string;
  debits_posted_after: string;
  credits_posted_after: string;
  debits_pending_after: string;
  credits_pending_after: string;
  created_at: Date;
}

function entryOf(row: EntryRow): LedgerEntry {
  return {
    seq: row.seq,
    transferId: row.transfer_id,
    accountId: row.account_id,
    direction: row.direction,
    postedAmount: row.posted_amount,
    pendingChange: row.pending_change,
    balancesAfter: {
      debitsPosted: row.debits_posted_after,
      creditsPosted: row.credits_posted_after,
      debitsPending: row.debits_pending_after,
      creditsPending: row.credits_pending_after,
    },
    occurredAt: row.created_at.toISOString(),
  };
}

async function accountRow(
  manager: EntityManager,
  scope: LedgerScope,
  accountId: string,
): Promise<AccountRow | undefined> {
  const [row] = await manager.query(
    `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE tenant_id = $1 AND environment = $2 AND id = $3`,
    [scope.tenantId, scope.environment, accountId],
  );
  return row;
}

type BalanceColumns = Pick<AccountRow, 'debits_posted' | 'credits_posted' | 'debits_pending' | 'credits_pending'>;

function balanceOf(account: AccountRow, balances: BalanceColumns, asOf: string): LedgerBalance {
  const debits = BigInt(balances.debits_posted);
  const credits = BigInt(balances.credits_posted);
  return {
    accountId: account.id,
    currency: account.currency,
    currencyExponent: account.currency_exponent,
    asOf,
    debitsPosted: balances.debits_posted,
    creditsPosted: balances.credits_posted,
    debitsPending: balances.debits_pending,
    creditsPending: balances.credits_pending,
    postedNet: (normalBalanceOf(account.type) === 'debit' ? debits - credits : credits - debits).toString(),
  };
}

function accountOf(tenantId: string, row: AccountRow): LedgerAccount {
  return {
    tenantId,
    id: row.id,
    code: row.code,
    name: row.name,
    currency: row.currency,
    currencyExponent: row.currency_exponent,
    type: row.type,
    normalBalance: normalBalanceOf(row.type),
    flags: {
      debitsMustNotExceedCredits: row.debits_must_not_exceed_credits,
      creditsMustNotExceedDebits: row.credits_must_not_exceed_debits,
    },
    metadata: row.metadata,
    closed: row.closed_at !== null,
    balances: {
      debitsPosted: row.debits_posted,
      creditsPosted: row.credits_posted,
      debitsPending: row.debits_pending,
      creditsPending: row.credits_pending,
    },
    createdAt: row.created_at.toISOString(),
  };
}

function sameAccount(stored: LedgerAccount, requested: NewLedgerAccount & { id: string }): boolean {
  return (
    stored.id === requested.id &&
    stored.code === requested.code &&
    stored.name === requested.name &&
    stored.currency === requested.currency &&
    stored.type === requested.type &&
    stored.flags.debitsMustNotExceedCredits === requested.flags.debitsMustNotExceedCredits &&
    stored.flags.creditsMustNotExceedDebits === requested.flags.creditsMustNotExceedDebits &&
    JSON.stringify(Object.entries(stored.metadata).sort()) === JSON.stringify(Object.entries(requested.metadata).sort())
  );
}
