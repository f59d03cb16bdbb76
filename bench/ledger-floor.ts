import { createHash, randomUUID } from 'node:crypto';
import { auditSubjectOf, TRANSFERS_PER_EVENT_MAX, transfersApplied } from '@strongroom/contracts';
import type { OutboxRow } from '@strongroom/platform';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Pool, type PoolClient } from 'pg';
import { migrations as ledgerMigrations } from '../apps/ledger/migrations';
import { batchWriteOf } from '../apps/ledger/src/transfers/batch-writes';
import type { AccountState, AppliedTransfer } from '../apps/ledger/src/transfers/ledger-state';
import type { BatchOutcome } from '../apps/ledger/src/transfers/transfer-engine';
import type { BenchTransfer } from './ledger-transfers';

interface Balances {
  debitsPosted: bigint;
  creditsPosted: bigint;
}

interface EntryRow {
  transferId: string;
  accountId: string;
  direction: 'debit' | 'credit';
  amount: bigint;
  debitsAfter: bigint;
  creditsAfter: bigint;
}

const ENVIRONMENT = 'production';
const CURRENCY = 'USD';
const ACTOR = 'bench-floor';

/**
 * The Postgres floor of the ledger's write path: the statements the ledger runs for a batch, sent
 * with the `pg` driver from this process, no bus, no service. Its own database, provisioned and
 * migrated with the ledger's migrations (same tables, indexes, checks, row-level security, runtime
 * role), so no outbox relay publishes its rows and the service's tables are not grown by it.
 * Per batch, one transaction: tenant context, look for existing ids, lock the accounts in id
 * order, write transfers, entries, balances and the outbox row(s) with the service's own statement
 * (batch-writes.ts: data-modifying CTEs over unnest arrays).
 */
export class PostgresLedgerFloor {
  readonly tenantId = randomUUID();

  private constructor(
    private readonly database: TestDatabase,
    private readonly pool: Pool,
  ) {}

  /** `connections`: the pool's size (the callers' concurrency is the caller's business). */
  static async open(connections: number): Promise<PostgresLedgerFloor> {
    const database = await createTestDatabase('ledger_floor', ledgerMigrations);
    const pool = new Pool({ connectionString: database.runtimeUrl, max: connections, application_name: 'bench-floor' });
    return new PostgresLedgerFloor(database, pool);
  }

  /** Opens `count` USD asset accounts without balance limits in one statement; returns their ids. */
  async openAccounts(count: number, codePrefix: string): Promise<string[]> {
    const ids = Array.from({ length: count }, () => randomUUID());
    await this.inTenant(async (client) => {
      await client.query(
        `INSERT INTO ledger_accounts (tenant_id, id, environment, code, name, currency, currency_exponent, type,
                                      debits_must_not_exceed_credits, credits_must_not_exceed_debits)
         SELECT $1, id, $2, $3 || n, $3 || n, 'USD', 2, 'asset', false, false
           FROM unnest($4::uuid[]) WITH ORDINALITY AS a (id, n)`,
        [this.tenantId, ENVIRONMENT, codePrefix, ids],
      );
    });
    return ids;
  }

  /** Applies `transfers` in one transaction; throws unless every one of them was new and applied. */
  async applyBatch(transfers: readonly BenchTransfer[]): Promise<void> {
    await this.inTenant(async (client) => {
      const ids = transfers.map((transfer) => transfer.id);
      const existing = await client.query(
        'SELECT id FROM ledger_transfers WHERE tenant_id = $1 AND id = ANY($2::uuid[])',
        [this.tenantId, ids],
      );
      if (existing.rowCount !== 0) throw new Error(`the floor found ${existing.rowCount} of its transfer ids taken`);
      const accountIds = new Set<string>();
      for (const transfer of transfers) accountIds.add(transfer.debitAccountId).add(transfer.creditAccountId);
      const locked = await client.query<{ id: string; debits_posted: string; credits_posted: string; clock: Date }>(
        `SELECT id, debits_posted, credits_posted, date_trunc('milliseconds', clock_timestamp()) AS clock
           FROM ledger_accounts
          WHERE tenant_id = $1 AND environment = $2 AND id = ANY($3::uuid[])
          ORDER BY id
            FOR UPDATE`,
        [this.tenantId, ENVIRONMENT, [...accountIds].sort()],
      );
      if (locked.rowCount !== accountIds.size) throw new Error('the floor did not find every account of its batch');
      const balances = new Map<string, Balances>(
        locked.rows.map((row) => [
          row.id,
          { debitsPosted: BigInt(row.debits_posted), creditsPosted: BigInt(row.credits_posted) },
        ]),
      );
      const at = (locked.rows[0]?.clock ?? new Date()).toISOString();
      const entries = entriesOf(transfers, balances);
      // The very statement the service sends (batch-writes.ts), built from what the floor computed.
      const write = batchWriteOf(
        {
          tenantId: this.tenantId,
          environment: ENVIRONMENT,
          at,
          actorOf: () => ACTOR,
          events: this.outboxRowsOf(transfers, at),
        },
        floorOutcomeOf(transfers, entries, balances),
      );
      await client.query(write.sql, write.parameters);
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
    await this.database.drop();
  }

  private async inTenant(work: (client: PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [this.tenantId]);
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** The ledger's events as the service writes them (one outbox row per 1,000 transfers), not validated: the floor trusts itself. */
  private outboxRowsOf(transfers: readonly BenchTransfer[], at: string): OutboxRow[] {
    const rows: OutboxRow[] = [];
    for (let start = 0; start < transfers.length; start += TRANSFERS_PER_EVENT_MAX) {
      const chunk = transfers.slice(start, start + TRANSFERS_PER_EVENT_MAX);
      rows.push({
        id: randomUUID(),
        subject: transfersApplied.subject,
        payload: JSON.stringify({
          tenantId: this.tenantId,
          environment: ENVIRONMENT,
          occurredAt: at,
          transfers: chunk.map((transfer) => ({
            transferId: transfer.id,
            type: 'immediate',
            category: 'other',
            reference: null,
            postings: postingsOf(transfer),
            pendingId: null,
            reversesId: null,
            actor: ACTOR,
          })),
        }),
        headers: '{}',
        tenantId: this.tenantId,
      });
      // And the audit trail's row: one event per transfer (issue 7), as the service writes it.
      rows.push({
        id: randomUUID(),
        subject: auditSubjectOf('ledger'),
        payload: JSON.stringify({
          events: chunk.map((transfer) => ({
            id: randomUUID(),
            tenantId: this.tenantId,
            environment: ENVIRONMENT,
            occurredAt: at,
            actor: { type: 'client', id: ACTOR },
            action: 'ledger.transfer.other',
            resource: { type: 'transfer', id: transfer.id },
            outcome: 'success',
            details: { type: 'immediate', amountsMinor: { [CURRENCY]: transfer.amountMinor.toString() } },
          })),
        }),
        headers: '{}',
        tenantId: this.tenantId,
      });
    }
    return rows;
  }
}

function postingsOf(transfer: BenchTransfer) {
  const amount = transfer.amountMinor.toString();
  return [
    { accountId: transfer.debitAccountId, direction: 'debit', amount, currency: CURRENCY },
    { accountId: transfer.creditAccountId, direction: 'credit', amount, currency: CURRENCY },
  ];
}

/** The entries of the batch in order, each with its account's balances after it; `balances` end as the final ones. */
function entriesOf(transfers: readonly BenchTransfer[], balances: Map<string, Balances>): EntryRow[] {
  const entries: EntryRow[] = [];
  for (const transfer of transfers) {
    for (const [accountId, direction] of [
      [transfer.debitAccountId, 'debit'],
      [transfer.creditAccountId, 'credit'],
    ] as const) {
      const before = balances.get(accountId) as Balances;
      const after = {
        debitsPosted: before.debitsPosted + (direction === 'debit' ? transfer.amountMinor : 0n),
        creditsPosted: before.creditsPosted + (direction === 'credit' ? transfer.amountMinor : 0n),
      };
      balances.set(accountId, after);
      entries.push({
        transferId: transfer.id,
        accountId,
        direction,
        amount: transfer.amountMinor,
        debitsAfter: after.debitsPosted,
        creditsAfter: after.creditsPosted,
      });
    }
  }
  return entries;
}

/** What the engine would have returned for these transfers: the rows batchWriteOf writes. */
function floorOutcomeOf(
  transfers: readonly BenchTransfer[],
  entries: readonly EntryRow[],
  balances: ReadonlyMap<string, Balances>,
): BatchOutcome {
  const entriesOf = new Map<string, EntryRow[]>();
  for (const entry of entries) entriesOf.set(entry.transferId, [...(entriesOf.get(entry.transferId) ?? []), entry]);
  const applied: AppliedTransfer[] = transfers.map((transfer) => ({
    id: transfer.id,
    type: 'immediate',
    category: 'other',
    reference: null,
    metadata: {},
    legs: [
      { accountId: transfer.debitAccountId, direction: 'debit', amount: transfer.amountMinor, currency: CURRENCY },
      { accountId: transfer.creditAccountId, direction: 'credit', amount: transfer.amountMinor, currency: CURRENCY },
    ],
    pendingId: null,
    reversesId: null,
    timeoutSeconds: null,
    expiresAtMs: null,
    fingerprint: createHash('sha256').update(transfer.id).digest('hex'),
    entries: (entriesOf.get(transfer.id) ?? []).map((entry) => ({
      accountId: entry.accountId,
      direction: entry.direction,
      postedAmount: entry.amount,
      pendingChange: 0n,
      debitsPostedAfter: entry.debitsAfter,
      creditsPostedAfter: entry.creditsAfter,
      debitsPendingAfter: 0n,
      creditsPendingAfter: 0n,
    })),
  }));
  const changedAccounts: AccountState[] = [...balances].map(([id, balance]) => ({
    id,
    currency: CURRENCY,
    closed: false,
    debitsMustNotExceedCredits: false,
    creditsMustNotExceedDebits: false,
    debitsPosted: balance.debitsPosted,
    creditsPosted: balance.creditsPosted,
    debitsPending: 0n,
    creditsPending: 0n,
  }));
  return { results: [], applied, changedAccounts, openedPendings: [], resolvedPendings: [], reversedIds: [] };
}
