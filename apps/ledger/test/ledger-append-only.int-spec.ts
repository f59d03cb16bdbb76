import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Client } from 'pg';
import { migrations } from '../migrations';

/** 42501 insufficient_privilege: a missing grant, a row-level-security refusal, and the append-only trigger all use it. */
const INSUFFICIENT_PRIVILEGE = '42501';
const APPEND_ONLY_TABLES = ['ledger_transfers', 'ledger_entries'] as const;
/** The only columns of an account the service changes: its balances, the time of its last entry, its closing. */
const ACCOUNT_COLUMNS_UPDATABLE = [
  'closed_at',
  'credits_pending',
  'credits_posted',
  'debits_pending',
  'debits_posted',
  'last_entry_at',
];

interface SeededLedger {
  tenantId: string;
  accountId: string;
  transferId: string;
}

/**
 * The ledger's history cannot be rewritten by the service (DESIGN "Data": grant AND trigger):
 * its runtime role may only append transfers and entries and change an account's balances,
 * the owner is stopped by the trigger, and each tenant sees only its own rows.
 */
describe('ledger tables: append-only history, column grants, tenant isolation (real Postgres)', () => {
  let database: TestDatabase;
  let runtime: Client;
  let owner: Client;
  let mine: SeededLedger;
  let theirs: SeededLedger;

  /** Runs `sql` in a transaction of `tenantId` (as the service does: SET LOCAL app.tenant_id). */
  async function asTenant(client: Client, tenantId: string | undefined, sql: string, parameters: unknown[] = []) {
    await client.query('BEGIN');
    try {
      if (tenantId !== undefined) await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
      const result = await client.query(sql, parameters);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  }

  /** One account with one transfer and its entry, written by the runtime role as the service writes them. */
  async function seedLedger(): Promise<SeededLedger> {
    const ledger = { tenantId: randomUUID(), accountId: randomUUID(), transferId: randomUUID() };
    await asTenant(
      runtime,
      ledger.tenantId,
      `WITH account AS (
         INSERT INTO ledger_accounts (tenant_id, id, environment, code, name, currency, currency_exponent, type,
           debits_must_not_exceed_credits, credits_must_not_exceed_debits, debits_posted, last_entry_at)
         VALUES ($1, $2, 'production', 'cash', 'Cash', 'USD', 2, 'asset', false, false, 1050, now())
       ), transfer AS (
         INSERT INTO ledger_transfers (tenant_id, id, environment, type, category, legs, fingerprint, actor, created_at)
         VALUES ($1, $3, 'production', 'immediate', 'other', '[]'::jsonb, decode(repeat('ab', 32), 'hex'), 'test', now())
       )
       INSERT INTO ledger_entries (tenant_id, transfer_id, account_id, direction, posted_amount, pending_change,
         debits_posted_after, credits_posted_after, debits_pending_after, credits_pending_after, created_at)
       VALUES ($1, $3, $2, 'debit', 1050, 0, 1050, 0, 0, 0, now())`,
      [ledger.tenantId, ledger.accountId, ledger.transferId],
    );
    return ledger;
  }

  const countOf = async (client: Client, tenantId: string, table: string) =>
    Number((await asTenant(client, tenantId, `SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);

  beforeAll(async () => {
    database = await createTestDatabase('ledger_append_only', migrations);
    runtime = new Client({ connectionString: database.runtimeUrl });
    owner = new Client({ connectionString: database.ownerUrl });
    await Promise.all([runtime.connect(), owner.connect()]);
    mine = await seedLedger();
    theirs = await seedLedger();
  });

  afterAll(async () => {
    await runtime?.end();
    await owner?.end();
    await database?.drop();
  });

  describe('as the runtime role (the service)', () => {
    it('holds exactly SELECT and INSERT on transfers, entries and accounts, and SELECT, INSERT, DELETE on open pendings', async () => {
      const { rows } = await runtime.query<{ table_name: string; privileges: string[] }>(
        `SELECT table_name, array_agg(privilege_type::text ORDER BY privilege_type) AS privileges
           FROM information_schema.role_table_grants
          WHERE grantee = current_user AND table_name LIKE 'ledger\\_%'
          GROUP BY table_name ORDER BY table_name`,
      );
      expect(Object.fromEntries(rows.map((row) => [row.table_name, row.privileges]))).toEqual({
        ledger_accounts: ['INSERT', 'SELECT'],
        ledger_entries: ['INSERT', 'SELECT'],
        ledger_open_pendings: ['DELETE', 'INSERT', 'SELECT'],
        ledger_transfers: ['INSERT', 'SELECT'],
      });
      const owned = await runtime.query('SELECT tablename FROM pg_tables WHERE tableowner = current_user');
      expect(owned.rows).toEqual([]);
    });

    it('may UPDATE only the balance columns of an account, and no column of a transfer or an entry', async () => {
      const { rows } = await runtime.query<{ table_name: string; column_name: string }>(
        `SELECT table_name, column_name FROM information_schema.column_privileges
          WHERE grantee = current_user AND privilege_type = 'UPDATE' AND table_name LIKE 'ledger\\_%'
          ORDER BY table_name, column_name`,
      );
      expect(rows).toEqual(
        ACCOUNT_COLUMNS_UPDATABLE.map((column) => ({ table_name: 'ledger_accounts', column_name: column })),
      );
    });

    it.each(APPEND_ONLY_TABLES)('is refused UPDATE, DELETE and TRUNCATE of %s by the missing grant', async (table) => {
      for (const sql of [
        `UPDATE ${table} SET created_at = created_at - interval '1 day' WHERE tenant_id = $1`,
        `DELETE FROM ${table} WHERE tenant_id = $1`,
      ]) {
        await expect(asTenant(runtime, mine.tenantId, sql, [mine.tenantId])).rejects.toMatchObject({
          code: INSUFFICIENT_PRIVILEGE,
          message: `permission denied for table ${table}`,
        });
      }
      await expect(asTenant(runtime, mine.tenantId, `TRUNCATE ${table}`)).rejects.toMatchObject({
        code: INSUFFICIENT_PRIVILEGE,
        message: `permission denied for table ${table}`,
      });
      expect(await countOf(runtime, mine.tenantId, table)).toBe(1);
    });

    it('cannot switch the append-only trigger off', async () => {
      for (const table of APPEND_ONLY_TABLES) {
        await expect(runtime.query(`ALTER TABLE ${table} DISABLE TRIGGER ${table}_append_only`)).rejects.toMatchObject({
          code: INSUFFICIENT_PRIVILEGE,
          message: `must be owner of table ${table}`,
        });
      }
      // session_replication_role = replica would skip every ordinary trigger: superuser only.
      await expect(runtime.query("SET session_replication_role = 'replica'")).rejects.toMatchObject({
        code: INSUFFICIENT_PRIVILEGE,
      });
    });

    it.each([
      ['code', "'renamed'"],
      ['currency', "'EUR'"],
      ['currency_exponent', '3'],
      ['type', "'liability'"],
      ['debits_must_not_exceed_credits', 'true'],
      ['credits_must_not_exceed_debits', 'true'],
      ['metadata', `'{"rewritten":"yes"}'::jsonb`],
      ['environment', "'sandbox'"],
      ['tenant_id', 'gen_random_uuid()'],
      ['created_at', 'now()'],
    ])("is refused an UPDATE of an account's %s", async (column, value) => {
      await expect(
        asTenant(runtime, mine.tenantId, `UPDATE ledger_accounts SET ${column} = ${value} WHERE id = $1`, [
          mine.accountId,
        ]),
      ).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE, message: 'permission denied for table ledger_accounts' });
    });

    it('is refused DELETE and TRUNCATE of accounts, yet may change their balances', async () => {
      for (const sql of ['DELETE FROM ledger_accounts WHERE id = $1', 'TRUNCATE ledger_accounts']) {
        const parameters = sql.includes('$1') ? [mine.accountId] : [];
        await expect(asTenant(runtime, mine.tenantId, sql, parameters)).rejects.toMatchObject({
          code: INSUFFICIENT_PRIVILEGE,
          message: 'permission denied for table ledger_accounts',
        });
      }
      const changed = await asTenant(
        runtime,
        mine.tenantId,
        'UPDATE ledger_accounts SET debits_pending = debits_pending + 1, last_entry_at = now() WHERE id = $1 RETURNING debits_pending',
        [mine.accountId],
      );
      expect(changed.rows).toEqual([{ debits_pending: '1' }]);
      await asTenant(runtime, mine.tenantId, 'UPDATE ledger_accounts SET debits_pending = 0 WHERE id = $1', [
        mine.accountId,
      ]);
    });
  });

  describe('as the owner (migrations)', () => {
    it.each(APPEND_ONLY_TABLES)('is refused UPDATE, DELETE and TRUNCATE of %s by the trigger', async (table) => {
      const refusal = (operation: string) => ({
        code: INSUFFICIENT_PRIVILEGE,
        message: `table ${table} is append-only: ${operation} refused`,
      });
      await expect(
        asTenant(owner, mine.tenantId, `UPDATE ${table} SET created_at = created_at - interval '1 day'`),
      ).rejects.toMatchObject(refusal('UPDATE'));
      await expect(asTenant(owner, mine.tenantId, `DELETE FROM ${table}`)).rejects.toMatchObject(refusal('DELETE'));
      await expect(asTenant(owner, mine.tenantId, `TRUNCATE ${table}`)).rejects.toMatchObject(refusal('TRUNCATE'));
      expect(await countOf(owner, mine.tenantId, table)).toBe(1);
      expect(await countOf(owner, theirs.tenantId, table)).toBe(1);
    });
  });

  describe('between tenants (row-level security)', () => {
    it.each(['ledger_accounts', 'ledger_transfers', 'ledger_entries'])(
      'shows a tenant only its own rows of %s, and no rows without a tenant',
      async (table) => {
        for (const client of [runtime, owner]) {
          const visible = async (tenantId: string | undefined) =>
            (await asTenant(client, tenantId, `SELECT DISTINCT tenant_id FROM ${table}`)).rows.map(
              (row) => row.tenant_id,
            );
          expect(await visible(mine.tenantId)).toEqual([mine.tenantId]);
          expect(await visible(theirs.tenantId)).toEqual([theirs.tenantId]);
          expect(await visible(undefined)).toEqual([]);
        }
      },
    );

    it("neither changes another tenant's balances nor writes rows in its name", async () => {
      const moved = await asTenant(
        runtime,
        mine.tenantId,
        'UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = $1',
        [theirs.accountId],
      );
      expect(moved.rowCount).toBe(0);
      const balance = await asTenant(
        runtime,
        theirs.tenantId,
        'SELECT credits_posted FROM ledger_accounts WHERE id = $1',
        [theirs.accountId],
      );
      expect(balance.rows).toEqual([{ credits_posted: '0' }]);
      await expect(
        asTenant(
          runtime,
          mine.tenantId,
          `INSERT INTO ledger_entries (tenant_id, transfer_id, account_id, direction, posted_amount, pending_change,
             debits_posted_after, credits_posted_after, debits_pending_after, credits_pending_after, created_at)
           VALUES ($1, $2, $3, 'credit', 1, 0, 1050, 1, 0, 0, now())`,
          [theirs.tenantId, theirs.transferId, theirs.accountId],
        ),
      ).rejects.toMatchObject({
        code: INSUFFICIENT_PRIVILEGE,
        message: 'new row violates row-level security policy for table "ledger_entries"',
      });
      expect(await countOf(runtime, theirs.tenantId, 'ledger_entries')).toBe(1);
    });
  });
});
