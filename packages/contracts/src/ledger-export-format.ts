import type { LedgerBalances } from './ledger-accounts';
import type { LedgerExportBalance, LedgerExportEntry } from './ledger-exports';

/**
 * The byte format of an export's files: the contract a verifier reproduces (the ledger hashes
 * these renderings, the verifier recomputes them from the files). RFC 4180 CSV with CRLF and a
 * header line; NDJSON with LF. Every field is drawn from [A-Za-z0-9_.:-] (codes, ids, digits,
 * ISO 8601 instants), so no field is ever quoted.
 */

export const LEDGER_EXPORT_ENTRY_COLUMNS = [
  'seq',
  'occurred_at',
  'transfer_id',
  'account_id',
  'account_code',
  'currency',
  'direction',
  'posted_amount',
  'pending_change',
  'debits_posted_after',
  'credits_posted_after',
  'debits_pending_after',
  'credits_pending_after',
] as const;

const BALANCE_SIDES = ['debits_posted', 'credits_posted', 'debits_pending', 'credits_pending'] as const;
export const LEDGER_EXPORT_BALANCE_COLUMNS = [
  'account_id',
  'account_code',
  'type',
  'currency',
  'currency_exponent',
  ...BALANCE_SIDES.map((side) => `opening_${side}` as const),
  ...BALANCE_SIDES.map((side) => `closing_${side}` as const),
] as const;

/** A trial balance line: the closing posted balances, and the balance on the side it falls (one of the two is 0). */
export const LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS = [
  'account_id',
  'account_code',
  'type',
  'currency',
  'debits_posted',
  'credits_posted',
  'debit_balance',
  'credit_balance',
] as const;

const CSV_SAFE_FIELD = /^[A-Za-z0-9_.:-]*$/;

function csvLineOf(fields: readonly (string | number)[]): string {
  const texts = fields.map(String);
  // A field needing quotes would mean the schema let something unexpected through: refuse, never mis-render.
  const unsafe = texts.find((text) => !CSV_SAFE_FIELD.test(text));
  if (unsafe !== undefined) throw new Error('a ledger export field holds a character CSV would need to quote');
  return `${texts.join(',')}\r\n`;
}

export function ledgerExportCsvHeader(columns: readonly string[]): string {
  return csvLineOf(columns);
}

export function ledgerExportEntryCsvLine(entry: LedgerExportEntry): string {
  return csvLineOf([
    entry.seq,
    entry.occurredAt,
    entry.transferId,
    entry.accountId,
    entry.accountCode,
    entry.currency,
    entry.direction,
    entry.postedAmount,
    entry.pendingChange,
    entry.debitsPostedAfter,
    entry.creditsPostedAfter,
    entry.debitsPendingAfter,
    entry.creditsPendingAfter,
  ]);
}

/**
 * canonicalJson(entry) + LF, written out: keys in sorted order, each value JSON-escaped. It runs
 * once per entry of a quarter, so no general canonicalJson (a test holds the two equal).
 */
export function ledgerExportEntryJsonLine(entry: LedgerExportEntry): string {
  const q = JSON.stringify;
  return (
    `{"accountCode":${q(entry.accountCode)},"accountId":${q(entry.accountId)},` +
    `"creditsPendingAfter":${q(entry.creditsPendingAfter)},"creditsPostedAfter":${q(entry.creditsPostedAfter)},` +
    `"currency":${q(entry.currency)},"debitsPendingAfter":${q(entry.debitsPendingAfter)},` +
    `"debitsPostedAfter":${q(entry.debitsPostedAfter)},"direction":${q(entry.direction)},` +
    `"occurredAt":${q(entry.occurredAt)},"pendingChange":${q(entry.pendingChange)},` +
    `"postedAmount":${q(entry.postedAmount)},"seq":${q(entry.seq)},"transferId":${q(entry.transferId)}}\n`
  );
}

const balanceFields = (balances: LedgerBalances) => [
  balances.debitsPosted,
  balances.creditsPosted,
  balances.debitsPending,
  balances.creditsPending,
];

export function ledgerExportBalanceCsvLine(account: LedgerExportBalance): string {
  return csvLineOf([
    account.accountId,
    account.code,
    account.type,
    account.currency,
    account.currencyExponent,
    ...balanceFields(account.opening),
    ...balanceFields(account.closing),
  ]);
}

export function ledgerExportTrialBalanceCsvLine(account: LedgerExportBalance): string {
  const net = BigInt(account.closing.debitsPosted) - BigInt(account.closing.creditsPosted);
  return csvLineOf([
    account.accountId,
    account.code,
    account.type,
    account.currency,
    account.closing.debitsPosted,
    account.closing.creditsPosted,
    (net > 0n ? net : 0n).toString(),
    (net < 0n ? -net : 0n).toString(),
  ]);
}
