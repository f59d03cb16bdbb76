import { currencyExponentOf, type LedgerExportBalance } from '@strongroom/contracts';
import { ACCOUNTS_OF_PERIOD } from './export-rows';

/**
 * The cross-checks an export makes before it signs: a superuser can rewrite entries so that every
 * balance chain still adds up (both legs and every later balance, or an entry moved in time), and
 * the files alone cannot tell. Against what the ledger wrote in the same transaction:
 *  - each entry of the period, and the entries just outside it (where a moved entry lands without
 *    breaking a chain), against its transfer: the transfer's legs, in order, with the posted amount
 *    and pending change its type makes, at the transfer's time, on an account of the leg's currency;
 *  - each account's stored balances against the balances after its last entry;
 *  - each account's currency exponent against ISO 4217's.
 * (An account's type has no second record to check it against.)
 */

/** Findings carried in the refusal: enough to start an investigation, never a whole ledger. */
export const LEDGER_FINDINGS_MAX = 20;

/** What an inconsistency names (as many of these as it knows) and what is wrong. */
export interface LedgerFinding {
  transferId?: string;
  accountId?: string;
  seq?: string;
  problem: string;
}

const ENTRY_COLUMNS =
  'x.seq, x.transfer_id, x.account_id, x.direction, x.posted_amount, x.pending_change, x.created_at';
const UUID_TEXT = `'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'`;
/** A leg's field as stored in jsonb; a malformed value becomes NULL (a mismatch), never a failed cast. */
const legAccount = (leg: string) =>
  `CASE WHEN ${leg} ->> 'accountId' ~ ${UUID_TEXT} THEN (${leg} ->> 'accountId')::uuid END`;
const legAmount = (leg: string) =>
  `CASE WHEN ${leg} ->> 'amount' ~ '^[0-9]{1,19}$' THEN (${leg} ->> 'amount')::numeric END`;
const ofAccount = (alias: string, condition: string, order: string) => `(
  SELECT ${ENTRY_COLUMNS} FROM ledger_entries x
   WHERE x.tenant_id = ${alias}.tenant_id AND x.account_id = ${alias}.id AND ${condition} ${order})`;

/**
 * One json array of up to LEDGER_FINDINGS_MAX findings, NULL when the books agree. Uncorrelated,
 * so Postgres evaluates it once (an InitPlan) in the snapshot of the statement that holds it.
 * Parameters as export-rows: $1 tenant, $2 environment, $3 from, $4 to. Every lookup is by key or
 * by the (tenant, account, time) index: a few index probes per entry, in one statement.
 */
export const LEDGER_FINDINGS_JSON = `(
  WITH accounts AS MATERIALIZED (SELECT a.* FROM ledger_accounts a WHERE ${ACCOUNTS_OF_PERIOD}),
  checked_entries AS MATERIALIZED (
    SELECT x.* FROM accounts a CROSS JOIN LATERAL (
      ${ofAccount('a', 'x.created_at >= $3 AND x.created_at < $4', '')}
      UNION ALL ${ofAccount('a', 'x.created_at < $3', 'ORDER BY x.created_at DESC, x.seq DESC LIMIT 1')}
      UNION ALL ${ofAccount('a', 'x.created_at >= $4', 'ORDER BY x.created_at, x.seq LIMIT 1')}) x),
  transfers AS MATERIALIZED (
    SELECT t.id, t.type, t.environment, t.legs, t.created_at, p.legs AS pending_legs
      FROM (SELECT DISTINCT transfer_id FROM checked_entries) c
      JOIN ledger_transfers t ON t.tenant_id = $1 AND t.id = c.transfer_id
      LEFT JOIN ledger_transfers p ON p.tenant_id = $1 AND p.id = t.pending_id),
  -- The entries each transfer writes, in the engine's order (transfer-engine.ts): a post_pending
  -- one per leg of its pending transfer, posting its own leg's amount on that account.
  expected AS MATERIALIZED (
    SELECT t.id AS transfer_id, t.environment, t.created_at, l.n, ${legAccount('l.leg')} AS account_id,
           l.leg ->> 'direction' AS direction, l.leg ->> 'currency' AS currency,
           CASE t.type WHEN 'immediate' THEN l.amount WHEN 'reversal' THEN l.amount
             WHEN 'post_pending' THEN coalesce((
               SELECT ${legAmount('q.leg')} FROM jsonb_array_elements(t.legs) WITH ORDINALITY AS q (leg, m)
                WHERE q.leg ->> 'accountId' = l.leg ->> 'accountId' ORDER BY q.m DESC LIMIT 1), 0)
             ELSE 0 END AS posted_amount,
           CASE t.type WHEN 'pending' THEN l.amount WHEN 'immediate' THEN 0 WHEN 'reversal' THEN 0
             ELSE -l.amount END AS pending_change
      FROM transfers t CROSS JOIN LATERAL (
        SELECT j.leg, j.n, ${legAmount('j.leg')} AS amount
          FROM jsonb_array_elements(CASE WHEN t.type = 'post_pending' THEN t.pending_legs ELSE t.legs END)
               WITH ORDINALITY AS j (leg, n)) l),
  actual AS (
    SELECT y.*, row_number() OVER (PARTITION BY y.transfer_id ORDER BY y.seq) AS n FROM (
      SELECT * FROM checked_entries
      UNION
      SELECT ${ENTRY_COLUMNS} FROM expected e JOIN ledger_entries x
          ON x.tenant_id = $1 AND x.account_id = e.account_id AND x.created_at = e.created_at
         AND x.transfer_id = e.transfer_id) y),
  findings AS (
    SELECT 1 AS rank, coalesce(x.transfer_id, e.transfer_id) AS transfer_id, x.seq,
           coalesce(x.account_id, e.account_id) AS account_id,
           CASE
             WHEN e.transfer_id IS NULL AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.id = x.transfer_id)
               THEN 'the entry names a transfer that does not exist'
             WHEN e.transfer_id IS NULL THEN 'the entry is not a leg of its transfer'
             WHEN x.seq IS NULL THEN format('leg %s of the transfer has no entry at the transfer''s time', e.n)
             WHEN x.created_at <> e.created_at THEN format('the entry is dated %s, its transfer %s', x.created_at, e.created_at)
             ELSE format('the entry differs from leg %s of its transfer (account, direction or amounts)', e.n)
           END AS problem
      FROM expected e FULL JOIN actual x ON x.transfer_id = e.transfer_id AND x.n = e.n
     WHERE e.transfer_id IS NULL OR x.seq IS NULL OR x.created_at <> e.created_at
        OR (x.account_id, x.direction, x.posted_amount::numeric, x.pending_change::numeric)
           IS DISTINCT FROM (e.account_id, e.direction, e.posted_amount, e.pending_change)
    UNION ALL
    SELECT 2, e.transfer_id, NULL, e.account_id,
           format('leg %s of the transfer is in %s; its account is not an account of its ledger in that currency', e.n, e.currency)
      FROM expected e LEFT JOIN ledger_accounts la ON la.tenant_id = $1 AND la.id = e.account_id
     WHERE la.id IS NULL OR la.currency::text IS DISTINCT FROM e.currency OR la.environment <> e.environment
    UNION ALL
    SELECT 3, NULL, l.seq, a.id, 'the account''s stored balances differ from the balances after its last entry'
      FROM accounts a LEFT JOIN LATERAL (
        SELECT x.seq, x.debits_posted_after AS dp, x.credits_posted_after AS cp,
               x.debits_pending_after AS dpe, x.credits_pending_after AS cpe
          FROM ledger_entries x WHERE x.tenant_id = a.tenant_id AND x.account_id = a.id
         ORDER BY x.created_at DESC, x.seq DESC LIMIT 1) l ON true
     WHERE (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
           IS DISTINCT FROM (coalesce(l.dp, 0), coalesce(l.cp, 0), coalesce(l.dpe, 0), coalesce(l.cpe, 0)))
  SELECT json_agg(json_strip_nulls(json_build_object(
           'transferId', f.transfer_id, 'accountId', f.account_id, 'seq', f.seq::text, 'problem', f.problem)))
    FROM (SELECT * FROM findings ORDER BY rank, transfer_id, seq LIMIT ${LEDGER_FINDINGS_MAX}) f)`;

/** An account whose currency exponent is not ISO 4217's: amounts would be read at the wrong scale. */
export function currencyExponentFinding(account: LedgerExportBalance): LedgerFinding | undefined {
  const exponent = currencyExponentOf(account.currency);
  if (exponent === account.currencyExponent) return undefined;
  return {
    accountId: account.accountId,
    problem: `the account's currency exponent is ${account.currencyExponent}, ISO 4217's for ${account.currency} is ${exponent ?? 'none'}`,
  };
}
