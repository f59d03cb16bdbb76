import { getLedgerAccount, type LedgerBalances, type Posting } from '@strongroom/contracts';
import { Client } from 'pg';
import type { BusCall } from './ledger-bus';

/**
 * A tenant's ledger books as Postgres stores them (transfers, entries, account balances), read as
 * a superuser, and the checks that they add up: to themselves and to the balances a test expects.
 * For e2e tests.
 */

/** An account's balances as numbers. */
export type Balances = Record<keyof LedgerBalances, bigint>;

export const zeroBalances = (): Balances => ({
  debitsPosted: 0n,
  creditsPosted: 0n,
  debitsPending: 0n,
  creditsPending: 0n,
});

/** Balances as the ledger's API writes them. */
export function stringsOf(balances: Balances): LedgerBalances {
  return {
    debitsPosted: balances.debitsPosted.toString(),
    creditsPosted: balances.creditsPosted.toString(),
    debitsPending: balances.debitsPending.toString(),
    creditsPending: balances.creditsPending.toString(),
  };
}

/** Adds (`sign` 1n) or takes away (-1n) each posting's amount on one side of its account's balances. */
export function applyPostings(
  balances: ReadonlyMap<string, Balances>,
  postings: readonly Posting[],
  side: 'Posted' | 'Pending',
  sign = 1n,
): void {
  for (const posting of postings)
    (balances.get(posting.accountId) as Balances)[`${posting.direction}s${side}`] += sign * BigInt(posting.amount);
}

export interface StoredTransfer {
  createdAt: string;
  entries: number;
  legs: number;
}

export interface StoredAccount {
  balances: Balances;
  sumOfEntries: Balances;
  /** Entries (seq) whose balances-after are not the previous entry's plus their own change. */
  chainBreaks: string[];
}

export interface StoredLedger {
  transfers: ReadonlyMap<string, StoredTransfer>;
  /** Entries of no stored transfer. */
  orphanEntries: number;
  /** The accounts read, by id. */
  accounts: ReadonlyMap<string, StoredAccount>;
  /** Entries (seq) of the tenant on accounts other than those read. */
  entriesOfOtherAccounts: string[];
  entryCount: number;
}

/** The tenant's ledger as stored, read as a superuser (past row-level security): what a disk would show. */
export async function readStoredLedger(
  adminUrl: string,
  tenantId: string,
  accountIds: readonly string[],
): Promise<StoredLedger> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // One snapshot for every query: a transaction committing meanwhile shows in all or none.
    await admin.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const transfers = await admin.query<{ id: string; created_at: Date; legs: unknown[]; entries: number }>(
      `SELECT t.id, t.created_at, t.legs,
              (SELECT count(*)::int FROM ledger_entries e WHERE e.tenant_id = t.tenant_id AND e.transfer_id = t.id) AS entries
         FROM ledger_transfers t WHERE t.tenant_id = $1`,
      [tenantId],
    );
    const orphans = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ledger_entries e WHERE e.tenant_id = $1
          AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.tenant_id = e.tenant_id AND t.id = e.transfer_id)`,
      [tenantId],
    );
    const accountRows = await admin.query(
      `SELECT id, debits_posted, credits_posted, debits_pending, credits_pending FROM ledger_accounts
        WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
      [tenantId, accountIds],
    );
    const entries = await admin.query(
      `SELECT seq, account_id, direction, posted_amount, pending_change, debits_posted_after, credits_posted_after,
              debits_pending_after, credits_pending_after
         FROM ledger_entries WHERE tenant_id = $1 ORDER BY seq`,
      [tenantId],
    );
    const accounts = new Map<string, StoredAccount>(
      accountRows.rows.map((row) => [
        row.id as string,
        { balances: balancesOf(row, ''), sumOfEntries: zeroBalances(), chainBreaks: [] },
      ]),
    );
    const entriesOfOtherAccounts: string[] = [];
    for (const entry of entries.rows) {
      const account = accounts.get(entry.account_id);
      if (account === undefined) {
        entriesOfOtherAccounts.push(entry.seq);
        continue;
      }
      const side = entry.direction === 'debit' ? 'debits' : 'credits';
      account.sumOfEntries[`${side}Posted`] += BigInt(entry.posted_amount);
      account.sumOfEntries[`${side}Pending`] += BigInt(entry.pending_change);
      if (JSON.stringify(stringsOf(balancesOf(entry, '_after'))) !== JSON.stringify(stringsOf(account.sumOfEntries)))
        account.chainBreaks.push(entry.seq);
    }
    return {
      transfers: new Map(
        transfers.rows.map((row) => [
          row.id,
          { createdAt: row.created_at.toISOString(), entries: row.entries, legs: row.legs.length },
        ]),
      ),
      orphanEntries: orphans.rows[0]?.n ?? -1,
      accounts,
      entriesOfOtherAccounts,
      entryCount: entries.rowCount ?? 0,
    };
  } finally {
    await admin.end();
  }
}

/**
 * The stored books hold together and hold what was expected: every transfer has all its entries
 * and every entry its transfer; replaying each account's entries in order gives every entry's
 * balances-after (no lost update) and the account's balances, which are the expected ones.
 */
export function expectConsistentBooks(ledger: StoredLedger, expected: ReadonlyMap<string, Balances>): void {
  expect([...ledger.transfers].filter(([, transfer]) => transfer.entries !== transfer.legs).map(([id]) => id)).toEqual(
    [],
  );
  expect(ledger.orphanEntries).toBe(0);
  expect(ledger.entriesOfOtherAccounts).toEqual([]);
  expect([...expected.keys()].filter((accountId) => !ledger.accounts.has(accountId))).toEqual([]);
  for (const [accountId, account] of ledger.accounts) {
    expect(account.chainBreaks).toEqual([]);
    expect(stringsOf(account.sumOfEntries)).toEqual(stringsOf(account.balances));
    expect(stringsOf(account.balances)).toEqual(stringsOf(expected.get(accountId) as Balances));
  }
}

/** The ledger's own answer (`getLedgerAccount`): each account's balances are exactly the expected ones. */
export async function expectBalancesAnswered(
  call: BusCall,
  tenantId: string,
  expected: ReadonlyMap<string, Balances>,
): Promise<void> {
  for (const [accountId, balances] of expected) {
    const account = await call(getLedgerAccount, { tenantId, accountId });
    expect(account.balances).toEqual(stringsOf(balances));
  }
}

function balancesOf(row: Record<string, string>, suffix: '' | '_after'): Balances {
  return {
    debitsPosted: BigInt(row[`debits_posted${suffix}`] as string),
    creditsPosted: BigInt(row[`credits_posted${suffix}`] as string),
    debitsPending: BigInt(row[`debits_pending${suffix}`] as string),
    creditsPending: BigInt(row[`credits_pending${suffix}`] as string),
  };
}
