import type { LedgerAccountType, LedgerExportBalance, LedgerExportEntry } from '@strongroom/contracts';

/**
 * The SQL an export reads with, and the rows it maps. Each account and each entry comes back as
 * ONE json column of text values: node-postgres then parses one value per row instead of a dozen
 * (measured: 2.5× faster on a quarter's worth of entries), and bigints stay exact strings.
 *
 * Parameters shared by every query: $1 tenant, $2 environment, $3 from, $4 to.
 */

/** An instant as the export writes it (ISO 8601, UTC, milliseconds; entry times are milliseconds). */
const isoInstant = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The balances after an account's last entry before `before` (absent, so zero, before its first entry). */
export const balancesBefore = (alias: string, before: string) => `
  LEFT JOIN LATERAL (
    SELECT x.debits_posted_after AS dp, x.credits_posted_after AS cp,
           x.debits_pending_after AS dpe, x.credits_pending_after AS cpe
      FROM ledger_entries x
     WHERE x.tenant_id = a.tenant_id AND x.account_id = a.id AND x.created_at < ${before}
     ORDER BY x.created_at DESC, x.seq DESC LIMIT 1) ${alias} ON true`;

/** Needs `a` joined with balancesBefore('o', '$3') and balancesBefore('c', '$4'). */
export const ACCOUNT_JSON = `json_build_array(a.id, a.code, a.type, a.currency, a.currency_exponent,
  coalesce(o.dp, 0)::text, coalesce(o.cp, 0)::text, coalesce(o.dpe, 0)::text, coalesce(o.cpe, 0)::text,
  coalesce(c.dp, 0)::text, coalesce(c.cp, 0)::text, coalesce(c.dpe, 0)::text, coalesce(c.cpe, 0)::text)`;

/** An entry `x` of the account `a`. */
export const ENTRY_JSON = `json_build_array(a.id, a.code, a.currency, x.seq::text, ${isoInstant('x.created_at')},
  x.transfer_id, x.direction, x.posted_amount::text, x.pending_change::text, x.debits_posted_after::text,
  x.credits_posted_after::text, x.debits_pending_after::text, x.credits_pending_after::text)`;

/** The entries of the period of account `a` (created_at, seq and the entry's json), in time order. */
export const periodEntriesOf = (limit = '') => `
  SELECT x.created_at, x.seq, ${ENTRY_JSON} AS entry
    FROM ledger_entries x
   WHERE x.tenant_id = a.tenant_id AND x.account_id = a.id AND x.created_at >= $3 AND x.created_at < $4
   ORDER BY x.created_at, x.seq ${limit}`;

/** The accounts a period shows: those of the tenant's ledger in the environment opened before its end. */
export const ACCOUNTS_OF_PERIOD = 'a.tenant_id = $1 AND a.environment = $2 AND a.created_at < $4';

export type AccountTuple = [
  accountId: string,
  code: string,
  type: LedgerAccountType,
  currency: string,
  currencyExponent: number,
  ...balances: string[],
];

export type EntryTuple = [
  accountId: string,
  accountCode: string,
  currency: string,
  seq: string,
  occurredAt: string,
  transferId: string,
  direction: 'debit' | 'credit',
  postedAmount: string,
  pendingChange: string,
  debitsPostedAfter: string,
  creditsPostedAfter: string,
  debitsPendingAfter: string,
  creditsPendingAfter: string,
];

export function balanceOf([
  accountId,
  code,
  type,
  currency,
  currencyExponent,
  ...sides
]: AccountTuple): LedgerExportBalance {
  const balances = (offset: number) => ({
    debitsPosted: sides[offset] as string,
    creditsPosted: sides[offset + 1] as string,
    debitsPending: sides[offset + 2] as string,
    creditsPending: sides[offset + 3] as string,
  });
  return { accountId, code, type, currency, currencyExponent, opening: balances(0), closing: balances(4) };
}

export function entryOf(tuple: EntryTuple): LedgerExportEntry {
  const [accountId, accountCode, currency, seq, occurredAt, transferId, direction, postedAmount, pendingChange] = tuple;
  return {
    seq,
    occurredAt,
    transferId,
    accountId,
    accountCode,
    currency,
    direction,
    postedAmount,
    pendingChange,
    debitsPostedAfter: tuple[9],
    creditsPostedAfter: tuple[10],
    debitsPendingAfter: tuple[11],
    creditsPendingAfter: tuple[12],
  };
}
