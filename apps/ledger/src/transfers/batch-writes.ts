import type { OutboxRow } from '@strongroom/platform';
import type { AccountState, AppliedTransfer, Leg, OpenPending } from './ledger-state';
import type { BatchOutcome } from './transfer-engine';

/** A leg as stored in jsonb (`ledger_transfers.legs`) and sent in events: the amount as a decimal string. */
export interface StoredLeg {
  accountId: string;
  direction: 'debit' | 'credit';
  amount: string;
  currency: string;
}

export const storedLegs = (legs: readonly Leg[]): StoredLeg[] =>
  legs.map((leg) => ({
    accountId: leg.accountId,
    direction: leg.direction,
    amount: leg.amount.toString(),
    currency: leg.currency,
  }));

/** Numbered parameters of one statement ($1, $2, …), added as the SQL is written. */
class Parameters {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export interface BatchWriteContext {
  tenantId: string;
  environment: string;
  /** The batch's time (ISO 8601): every transfer and entry it writes carries it. */
  at: string;
  actorOf(transferId: string): string;
  /** The batch's outbox rows (its `transfers.applied` events and its audit events), written by the same statement. */
  events: readonly OutboxRow[];
}

/**
 * Every row a batch writes — transfers, entries, balances, opened and resolved pending
 * transfers, its audit events — as ONE statement of data-modifying CTEs over unnest arrays: one round trip while
 * the accounts are locked, however many transfers the batch holds. The parts touch different
 * rows, so running them in one statement (one snapshot) changes nothing but the round trips.
 */
export function batchWriteOf(
  context: BatchWriteContext,
  outcome: BatchOutcome,
): { sql: string; parameters: unknown[] } {
  const parameters = new Parameters();
  const tenant = parameters.add(context.tenantId);
  const at = parameters.add(context.at);
  const parts = [
    insertTransfers(parameters, context, tenant, at, outcome.applied),
    insertEntries(parameters, tenant, at, outcome.applied),
    updateBalances(parameters, tenant, at, outcome.changedAccounts),
    ...(outcome.openedPendings.length > 0 ? [openPendings(parameters, context, tenant, outcome.openedPendings)] : []),
    ...(context.events.length > 0 ? [insertEvents(parameters, context.events)] : []),
    ...(outcome.resolvedPendings.length > 0
      ? [
          `DELETE FROM ledger_open_pendings WHERE tenant_id = ${tenant}
             AND transfer_id = ANY(${parameters.add(outcome.resolvedPendings.map((pending) => pending.id))}::uuid[])`,
        ]
      : []),
  ];
  const sql = `WITH ${parts.map((part, index) => `w${index} AS (${part})`).join(',\n')}\nSELECT 1`;
  return { sql, parameters: parameters.values };
}

function insertTransfers(
  parameters: Parameters,
  context: BatchWriteContext,
  tenant: string,
  at: string,
  applied: readonly AppliedTransfer[],
): string {
  const column = <T>(pick: (transfer: AppliedTransfer) => T, type: string) =>
    `${parameters.add(applied.map(pick))}::${type}[]`;
  return `INSERT INTO ledger_transfers
       (tenant_id, environment, id, type, category, reference, metadata, legs, pending_id, reverses_id,
        timeout_seconds, expires_at, fingerprint, actor, created_at)
     SELECT ${tenant}, ${parameters.add(context.environment)}, id, type, category, reference, metadata, legs,
            pending_id, reverses_id, timeout_seconds, expires_at, decode(fingerprint, 'hex'), actor, ${at}
       FROM unnest(${[
         column((t) => t.id, 'uuid'),
         column((t) => t.type, 'text'),
         column((t) => t.category, 'text'),
         column((t) => t.reference, 'text'),
         column((t) => JSON.stringify(t.metadata), 'jsonb'),
         column((t) => JSON.stringify(storedLegs(t.legs)), 'jsonb'),
         column((t) => t.pendingId, 'uuid'),
         column((t) => t.reversesId, 'uuid'),
         column((t) => t.timeoutSeconds, 'integer'),
         column((t) => (t.expiresAtMs === null ? null : new Date(t.expiresAtMs).toISOString()), 'timestamptz'),
         column((t) => t.fingerprint, 'text'),
         column((t) => context.actorOf(t.id), 'text'),
       ].join(', ')})
         AS t (id, type, category, reference, metadata, legs, pending_id, reverses_id,
               timeout_seconds, expires_at, fingerprint, actor)
     RETURNING 1`;
}

function insertEntries(
  parameters: Parameters,
  tenant: string,
  at: string,
  applied: readonly AppliedTransfer[],
): string {
  const entries = applied.flatMap((transfer) =>
    transfer.entries.map((entry) => ({ transferId: transfer.id, ...entry })),
  );
  const column = <T>(pick: (entry: (typeof entries)[number]) => T, type: string) =>
    `${parameters.add(entries.map(pick))}::${type}[]`;
  // WITH ORDINALITY … ORDER BY n: entries take their seq in the order the engine applied them.
  return `INSERT INTO ledger_entries
       (tenant_id, transfer_id, account_id, direction, posted_amount, pending_change,
        debits_posted_after, credits_posted_after, debits_pending_after, credits_pending_after, created_at)
     SELECT ${tenant}, transfer_id, account_id, direction, posted_amount, pending_change, dpa, cpa, dpe, cpe, ${at}
       FROM unnest(${[
         column((e) => e.transferId, 'uuid'),
         column((e) => e.accountId, 'uuid'),
         column((e) => e.direction, 'text'),
         column((e) => e.postedAmount.toString(), 'bigint'),
         column((e) => e.pendingChange.toString(), 'bigint'),
         column((e) => e.debitsPostedAfter.toString(), 'bigint'),
         column((e) => e.creditsPostedAfter.toString(), 'bigint'),
         column((e) => e.debitsPendingAfter.toString(), 'bigint'),
         column((e) => e.creditsPendingAfter.toString(), 'bigint'),
       ].join(', ')})
         WITH ORDINALITY AS e (transfer_id, account_id, direction, posted_amount, pending_change, dpa, cpa, dpe, cpe, n)
      ORDER BY n
     RETURNING 1`;
}

function updateBalances(parameters: Parameters, tenant: string, at: string, accounts: readonly AccountState[]): string {
  const column = (pick: (account: AccountState) => string, type: string) =>
    `${parameters.add(accounts.map(pick))}::${type}[]`;
  return `UPDATE ledger_accounts a
        SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dpe, credits_pending = v.cpe,
            last_entry_at = ${at}
       FROM unnest(${[
         column((a) => a.id, 'uuid'),
         column((a) => a.debitsPosted.toString(), 'bigint'),
         column((a) => a.creditsPosted.toString(), 'bigint'),
         column((a) => a.debitsPending.toString(), 'bigint'),
         column((a) => a.creditsPending.toString(), 'bigint'),
       ].join(', ')}) AS v (id, dp, cp, dpe, cpe)
      WHERE a.tenant_id = ${tenant} AND a.id = v.id
     RETURNING 1`;
}

function openPendings(
  parameters: Parameters,
  context: BatchWriteContext,
  tenant: string,
  pendings: readonly OpenPending[],
): string {
  const expiries = pendings.map((p) => (p.expiresAtMs === null ? null : new Date(p.expiresAtMs).toISOString()));
  return `INSERT INTO ledger_open_pendings (tenant_id, environment, transfer_id, expires_at)
     SELECT ${tenant}, ${parameters.add(context.environment)}, id, expires_at
       FROM unnest(${parameters.add(pendings.map((p) => p.id))}::uuid[], ${parameters.add(expiries)}::timestamptz[])
         AS p (id, expires_at)
     RETURNING 1`;
}

/** Outbox rows alone, in one statement: the audit events of a batch that applied nothing. */
export function outboxInsertOf(events: readonly OutboxRow[]): { sql: string; parameters: unknown[] } {
  const parameters = new Parameters();
  return { sql: insertEvents(parameters, events), parameters: parameters.values };
}

function insertEvents(parameters: Parameters, events: readonly OutboxRow[]): string {
  const column = (pick: (row: OutboxRow) => string | null, type: string) =>
    `${parameters.add(events.map(pick))}::${type}[]`;
  return `INSERT INTO outbox (id, subject, payload, headers, tenant_id)
     SELECT id, subject, payload, headers, tenant_id
       FROM unnest(${[
         column((e) => e.id, 'uuid'),
         column((e) => e.subject, 'text'),
         column((e) => e.payload, 'jsonb'),
         column((e) => e.headers, 'jsonb'),
         column((e) => e.tenantId, 'uuid'),
       ].join(', ')}) WITH ORDINALITY AS o (id, subject, payload, headers, tenant_id, n)
      ORDER BY n
     RETURNING 1`;
}
