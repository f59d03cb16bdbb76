import { createHash, randomUUID } from 'node:crypto';
import { TRANSFERS_PER_EVENT_MAX, transfersApplied } from '@strongroom/contracts';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Pool, type PoolClient } from 'pg';
import { migrations as ledgerMigrations } from '../apps/ledger/migrations';
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
 * order, insert transfers and entries (unnest), update balances (unnest), insert outbox rows.
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
      await this.insertTransfers(client, transfers, at);
      await this.insertEntries(client, entries, at);
      await this.updateBalances(client, balances, at);
      await this.insertOutboxRows(client, transfers, at);
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

  private async insertTransfers(client: PoolClient, transfers: readonly BenchTransfer[], at: string): Promise<void> {
    await client.query(
      `INSERT INTO ledger_transfers
         (tenant_id, environment, id, type, category, reference, metadata, legs, pending_id, reverses_id,
          timeout_seconds, expires_at, fingerprint, actor, created_at)
       SELECT $1, $2, id, 'immediate', 'other', NULL, '{}'::jsonb, legs, NULL, NULL, NULL, NULL,
              decode(fingerprint, 'hex'), $3, $4
         FROM unnest($5::uuid[], $6::jsonb[], $7::text[]) AS t (id, legs, fingerprint)`,
      [
        this.tenantId,
        ENVIRONMENT,
        ACTOR,
        at,
        transfers.map((transfer) => transfer.id),
        transfers.map((transfer) => JSON.stringify(postingsOf(transfer))),
        transfers.map((transfer) =>
          createHash('sha256')
            .update(JSON.stringify(postingsOf(transfer)))
            .digest('hex'),
        ),
      ],
    );
  }

  private async insertEntries(client: PoolClient, entries: readonly EntryRow[], at: string): Promise<void> {
    await client.query(
      `INSERT INTO ledger_entries
         (tenant_id, transfer_id, account_id, direction, posted_amount, pending_change,
          debits_posted_after, credits_posted_after, debits_pending_after, credits_pending_after, created_at)
       SELECT $1, transfer_id, account_id, direction, amount, 0, dpa, cpa, 0, 0, $2
         FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])
           WITH ORDINALITY AS e (transfer_id, account_id, direction, amount, dpa, cpa, n)
        ORDER BY n`,
      [
        this.tenantId,
        at,
        entries.map((entry) => entry.transferId),
        entries.map((entry) => entry.accountId),
        entries.map((entry) => entry.direction),
        entries.map((entry) => entry.amount.toString()),
        entries.map((entry) => entry.debitsAfter.toString()),
        entries.map((entry) => entry.creditsAfter.toString()),
      ],
    );
  }

  private async updateBalances(client: PoolClient, balances: ReadonlyMap<string, Balances>, at: string): Promise<void> {
    const changed = [...balances];
    await client.query(
      `UPDATE ledger_accounts a
          SET debits_posted = v.dp, credits_posted = v.cp, last_entry_at = $2
         FROM unnest($3::uuid[], $4::bigint[], $5::bigint[]) AS v (id, dp, cp)
        WHERE a.tenant_id = $1 AND a.id = v.id`,
      [
        this.tenantId,
        at,
        changed.map(([id]) => id),
        changed.map(([, b]) => b.debitsPosted.toString()),
        changed.map(([, b]) => b.creditsPosted.toString()),
      ],
    );
  }

  /** The ledger's events, written as the service writes them: one outbox row per 1,000 transfers. */
  private async insertOutboxRows(client: PoolClient, transfers: readonly BenchTransfer[], at: string): Promise<void> {
    const rows: unknown[] = [];
    for (let start = 0; start < transfers.length; start += TRANSFERS_PER_EVENT_MAX) {
      const chunk = transfers.slice(start, start + TRANSFERS_PER_EVENT_MAX);
      rows.push(
        randomUUID(),
        transfersApplied.subject,
        JSON.stringify({
          tenantId: this.tenantId,
          environment: 'sandbox',
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
        '{}',
        this.tenantId,
      );
    }
    const values = Array.from(
      { length: rows.length / 5 },
      (_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}::jsonb, $${i * 5 + 4}::jsonb, $${i * 5 + 5})`,
    );
    await client.query(
      `INSERT INTO outbox (id, subject, payload, headers, tenant_id) VALUES ${values.join(', ')}`,
      rows,
    );
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
