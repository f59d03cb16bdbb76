import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createLedgerAccount, type LedgerBalances } from '@strongroom/contracts';
import {
  createLogger,
  createServiceDataSource,
  RegionalDatabases,
  type ServiceResources,
  type TenantRegionResolver,
  withDatabase,
} from '@strongroom/platform';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import { AccountsRepository } from '../../src/accounts/accounts.repository';
import type { AuditTrail } from '../../src/ledger-audit';
import type { LedgerScope } from '../../src/ledger-scope';
import { PendingExpiry } from '../../src/transfers/pending-expiry';
import { TransfersRepository } from '../../src/transfers/transfers.repository';
import type { ModelAccount } from './ledger-model';

// A repository-level test needs no tenants service: every tenant lives in the default region's
// database, which is what the tenants service would answer for a tenant created without a region.
const everyTenantInDefault: TenantRegionResolver = { regionOf: async () => 'default' };

const LOCK_WAIT_POLLS_MAX = 200;
const LOCK_WAIT_POLL_MS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Who the repository tests act as, in the audit events their changes write. */
export const TEST_TRAIL: AuditTrail = {
  actor: { type: 'user', id: 'ledger-test' },
  origin: { requestId: 'ledger-test-request' },
};

/**
 * The ledger's real repositories and expiry sweep over a migrated test database, used as the
 * service uses them (runtime role, row-level security), plus a superuser connection for what
 * only a test does: move deadlines, hold locks, count rows.
 */
export class LedgerTestDatabase {
  private constructor(
    private readonly database: TestDatabase,
    private readonly dataSource: DataSource,
    private readonly databases: RegionalDatabases,
    private readonly superuser: Client,
    readonly transfers: TransfersRepository,
    readonly accounts: AccountsRepository,
    readonly expirySweep: PendingExpiry,
  ) {}

  static async open(label: string): Promise<LedgerTestDatabase> {
    const database = await createTestDatabase(label, migrations);
    const dataSource = createServiceDataSource({
      url: database.runtimeUrl,
      applicationName: 'ledger-test',
      poolSize: 8,
    });
    await dataSource.initialize();
    const databases = await RegionalDatabases.open({
      service: 'ledger',
      defaultDataSource: dataSource,
      regions: {},
      migrations: [],
      migrateOnStart: false,
      resolver: everyTenantInDefault,
    });
    const superuser = new Client({ connectionString: withDatabase(database.adminUrl, database.databaseName) });
    await superuser.connect();
    const transfers = new TransfersRepository(databases);
    // The sweep logs only from its timer, which tests never start.
    const resources = { logger: createLogger({ service: 'ledger', level: 'silent' }) } as unknown as ServiceResources;
    const expirySweep = new PendingExpiry(databases, transfers, resources);
    const accounts = new AccountsRepository(databases);
    return new LedgerTestDatabase(database, dataSource, databases, superuser, transfers, accounts, expirySweep);
  }

  async close(): Promise<void> {
    await this.databases.close();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.superuser.end();
    await this.database.drop();
  }

  /** A new tenant's production ledger with these accounts opened (and closed, for the closed ones). */
  async ledgerWith(opened: readonly ModelAccount[]): Promise<LedgerScope> {
    const scope: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
    for (const [index, account] of opened.entries()) {
      const request = createLedgerAccount.request.parse({
        tenantId: scope.tenantId,
        id: account.id,
        code: `acct-${index}`,
        name: `Account ${index}`,
        currency: account.currency,
        type: 'asset',
        flags: {
          debitsMustNotExceedCredits: account.debitsMustNotExceedCredits,
          creditsMustNotExceedDebits: account.creditsMustNotExceedDebits,
        },
      });
      await this.accounts.create(scope, request, TEST_TRAIL);
      if (account.closed) await this.accounts.close(scope, account.id, TEST_TRAIL);
    }
    return scope;
  }

  /**
   * Postgres' clock cannot be moved forward, so the deadlines are moved back instead: for the rule
   * "expired when expiresAt ≤ now", shifting every open deadline of the tenant back by Δ is the
   * clock advancing by Δ. Timeouts and steps are whole minutes and a sequence runs in seconds,
   * so the real time that passes never decides an expiry.
   */
  async moveClock(tenantId: string, seconds: number): Promise<void> {
    await this.superuser.query(
      `UPDATE ledger_open_pendings SET expires_at = expires_at - make_interval(secs => $2)
        WHERE tenant_id = $1 AND expires_at IS NOT NULL`,
      [tenantId, seconds],
    );
  }

  /** A statement as the superuser (past RLS): to read what a transaction wrote, or to plant a fault. */
  async superuserQuery<R extends object>(sql: string, parameters: unknown[] = []): Promise<R[]> {
    return (await this.superuser.query(sql, parameters)).rows as R[];
  }

  /** An instant after everything written so far and before anything written next. */
  async instantBetweenBatches(): Promise<Date> {
    const { rows } = await this.superuser.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    // Entry times are whole milliseconds: the next batch is written at a later one.
    await sleep(2);
    return (rows[0] as { now: Date }).now;
  }

  async storedBalances(scope: LedgerScope): Promise<Record<string, LedgerBalances>> {
    const page = await this.accounts.list(scope, { limit: 100 });
    return Object.fromEntries(page.accounts.map((account) => [account.id, account.balances]));
  }

  async expiriesWritten(tenantId: string): Promise<number> {
    const { rows } = await this.superuser.query<{ count: string }>(
      "SELECT count(*) FROM ledger_transfers WHERE tenant_id = $1 AND type = 'expiry'",
      [tenantId],
    );
    return Number(rows[0]?.count);
  }

  /** The ids of the expiries written so far, by the pending transfer each expired (the sweep draws them at random). */
  async expiryIdsByPending(tenantId: string): Promise<Map<string, string>> {
    const { rows } = await this.superuser.query<{ id: string; pending_id: string }>(
      "SELECT id, pending_id FROM ledger_transfers WHERE tenant_id = $1 AND type = 'expiry'",
      [tenantId],
    );
    return new Map(rows.map((row) => [row.pending_id, row.id]));
  }

  /** Starts `race` while the tenant's accounts are locked, and releases them once `waiters` transactions wait for them. */
  async whileAccountsLocked<T>(tenantId: string, waiters: number, race: () => Array<Promise<T>>): Promise<T[]> {
    await this.superuser.query('BEGIN');
    let racing: Array<Promise<T>> = [];
    try {
      await this.superuser.query('SELECT 1 FROM ledger_accounts WHERE tenant_id = $1 FOR UPDATE', [tenantId]);
      racing = race();
      await this.waitForLockWaiters(waiters);
    } finally {
      await this.superuser.query('COMMIT');
    }
    return Promise.all(racing);
  }

  private async waitForLockWaiters(count: number): Promise<void> {
    for (let poll = 0; poll < LOCK_WAIT_POLLS_MAX; poll += 1) {
      const { rows } = await this.superuser.query<{ waiting: string }>(
        "SELECT count(*) AS waiting FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        [this.database.databaseName],
      );
      if (Number(rows[0]?.waiting) >= count) return;
      await sleep(LOCK_WAIT_POLL_MS);
    }
    throw new Error(`fewer than ${count} transactions waited for the accounts' locks`);
  }
}
