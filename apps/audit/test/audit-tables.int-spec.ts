import { randomUUID } from 'node:crypto';
import { AUDIT_GENESIS_HASH, chainAuditEvents } from '@strongroom/contracts';
import { Client } from 'pg';
import { AuditTestDatabase, eventFor } from './support/audit-database';

/** 42501 insufficient_privilege: a missing grant, a row-level-security refusal, the append-only trigger. */
const INSUFFICIENT_PRIVILEGE = '42501';
const APPEND_ONLY_TABLES = ['audit_records', 'audit_checkpoints', 'audit_purges'] as const;

/**
 * The audit tables as the database enforces them (DESIGN "Data": grant AND trigger): the runtime
 * role appends records and checkpoints and nothing more, the owner is stopped by the triggers,
 * and each tenant sees and writes only its own rows.
 */
describe('audit tables: least privilege, append-only, tenant isolation (real Postgres)', () => {
  let db: AuditTestDatabase;
  let runtime: Client;
  let owner: Client;
  const tenantA = randomUUID();
  const tenantB = randomUUID();

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

  beforeAll(async () => {
    db = await AuditTestDatabase.open('audit_tables');
    runtime = new Client({ connectionString: db.database.runtimeUrl });
    owner = new Client({ connectionString: db.database.ownerUrl });
    await Promise.all([runtime.connect(), owner.connect()]);
    await db.storeEvents(tenantA, 3);
    await db.storeEvents(tenantB, 2);
    await db.checkpoints.ofHead(tenantA);
    // A purge row to refuse changes of (only audit_purge writes one; here the superuser does).
    await db.superuser.query(
      'INSERT INTO audit_purges (tenant_id, through_seq, through_hash, purged_at, records) VALUES ($1, 1, $2, now(), 0)',
      [tenantA, AUDIT_GENESIS_HASH],
    );
  });

  afterAll(async () => {
    await runtime?.end();
    await owner?.end();
    await db?.close();
  });

  describe('grants of the runtime role', () => {
    it('holds exactly SELECT, INSERT on records and checkpoints, SELECT on purges, and what heads and holds need', async () => {
      const { rows } = await runtime.query<{ table_name: string; privileges: string[] }>(
        `SELECT table_name, array_agg(privilege_type::text ORDER BY privilege_type) AS privileges
           FROM information_schema.role_table_grants
          WHERE grantee = current_user AND table_name LIKE 'audit\\_%'
          GROUP BY table_name ORDER BY table_name`,
      );
      expect(Object.fromEntries(rows.map((row) => [row.table_name, row.privileges]))).toEqual({
        audit_chain_heads: ['INSERT', 'SELECT'],
        audit_checkpoints: ['INSERT', 'SELECT'],
        audit_legal_holds: ['DELETE', 'INSERT', 'SELECT'],
        audit_purges: ['SELECT'],
        audit_records: ['INSERT', 'SELECT'],
      });
      const owned = await runtime.query('SELECT tablename FROM pg_tables WHERE tableowner = current_user');
      expect(owned.rows).toEqual([]);
    });

    it('may UPDATE only the seq and hash of a chain head', async () => {
      const { rows } = await runtime.query<{ table_name: string; column_name: string }>(
        `SELECT table_name, column_name FROM information_schema.column_privileges
          WHERE grantee = current_user AND privilege_type = 'UPDATE' AND table_name LIKE 'audit\\_%'
          ORDER BY table_name, column_name`,
      );
      expect(rows).toEqual([
        { table_name: 'audit_chain_heads', column_name: 'hash' },
        { table_name: 'audit_chain_heads', column_name: 'seq' },
      ]);
    });

    it('may execute audit_purge, which runs as the owner', async () => {
      const { rows } = await runtime.query(
        `SELECT has_function_privilege(current_user, 'audit_purge(uuid, bigint, integer)', 'EXECUTE') AS may,
                p.prosecdef AS definer, pg_get_userbyid(p.proowner) = current_user AS own
           FROM pg_proc p WHERE p.proname = 'audit_purge'`,
      );
      expect(rows).toEqual([{ may: true, definer: true, own: false }]);
    });
  });

  describe('append-only', () => {
    it.each(APPEND_ONLY_TABLES)('refuses the runtime role UPDATE, DELETE and TRUNCATE of %s', async (table) => {
      for (const sql of [`UPDATE ${table} SET tenant_id = tenant_id`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
        await expect(asTenant(runtime, tenantA, sql)).rejects.toMatchObject({
          code: INSUFFICIENT_PRIVILEGE,
          message: `permission denied for table ${table}`,
        });
      }
    });

    it.each(APPEND_ONLY_TABLES)(
      'refuses even the owner UPDATE, DELETE and TRUNCATE of %s (the trigger)',
      async (table) => {
        // The owner is filtered by row-level security too (FORCE): in tenant A's context it reaches A's rows.
        for (const sql of [`UPDATE ${table} SET tenant_id = tenant_id`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
          await expect(asTenant(owner, tenantA, sql)).rejects.toMatchObject({
            code: INSUFFICIENT_PRIVILEGE,
            message: `table ${table} is append-only: ${sql.split(' ')[0]} refused`,
          });
        }
        expect(await db.countRecords(tenantA)).toBe(3);
      },
    );

    it('opens no DELETE to the runtime role with the purge setting on, nor audit_purge for another tenant', async () => {
      // The trigger lets a DELETE through for the owner with the setting on, which only audit_purge sets;
      // the runtime role has no DELETE grant at all, and audit_purge acts on the transaction's tenant only.
      await expect(
        asTenant(
          runtime,
          tenantA,
          "WITH s AS (SELECT set_config('strongroom.audit_purge', 'on', true)) DELETE FROM audit_records WHERE tenant_id = (SELECT $1::uuid FROM s)",
          [tenantA],
        ),
      ).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE, message: 'permission denied for table audit_records' });
      await expect(asTenant(runtime, tenantA, 'SELECT audit_purge($1, 3, 2557)', [tenantB])).rejects.toMatchObject({
        code: INSUFFICIENT_PRIVILEGE,
      });
      expect(await db.countRecords(tenantA)).toBe(3);
    });

    it('cannot switch the triggers off as the runtime role', async () => {
      await expect(
        runtime.query('ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only'),
      ).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE, message: 'must be owner of table audit_records' });
      await expect(runtime.query("SET session_replication_role = 'replica'")).rejects.toMatchObject({
        code: INSUFFICIENT_PRIVILEGE,
      });
    });
  });

  describe("row-level security: with tenant A's context", () => {
    it("sees none of tenant B's records, head, checkpoints or holds", async () => {
      for (const table of [
        'audit_records',
        'audit_chain_heads',
        'audit_checkpoints',
        'audit_purges',
        'audit_legal_holds',
      ]) {
        const { rows } = await asTenant(
          runtime,
          tenantA,
          `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`,
          [tenantB],
        );
        expect({ table, n: rows[0].n }).toEqual({ table, n: 0 });
      }
      const mine = await asTenant(runtime, tenantA, 'SELECT count(*)::int AS n FROM audit_records');
      expect(mine.rows[0].n).toBe(3);
    });

    it("cannot insert a record, a head or a checkpoint in tenant B's name", async () => {
      const [row] = chainAuditEvents(
        { seq: 2, hash: AUDIT_GENESIS_HASH },
        [{ event: eventFor(tenantB), emitter: 'ledger' }],
        new Date().toISOString(),
      );
      const attempts: Array<[string, unknown[]]> = [
        [
          'INSERT INTO audit_records (tenant_id, seq, document, hash) VALUES ($1, $2, $3, $4)',
          [tenantB, 3, row?.document, row?.hash],
        ],
        ['INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES ($1, 0, $2)', [randomUUID(), AUDIT_GENESIS_HASH]],
        [
          `INSERT INTO audit_checkpoints (tenant_id, seq, head_hash, created_at, statement, signature, key_version)
           VALUES ($1, 1, $2, now(), '{}', 'vault:v1:AA==', 1)`,
          [tenantB, AUDIT_GENESIS_HASH],
        ],
      ];
      for (const [sql, parameters] of attempts) {
        await expect(asTenant(runtime, tenantA, sql, parameters)).rejects.toMatchObject({
          code: INSUFFICIENT_PRIVILEGE,
          message: expect.stringContaining('row-level security'),
        });
      }
      expect(await db.countRecords(tenantB)).toBe(2);
    });

    it("cannot file tenant B's record under tenant A (the document names its tenant and seq)", async () => {
      const [row] = chainAuditEvents(
        { seq: 3, hash: AUDIT_GENESIS_HASH },
        [{ event: eventFor(tenantB), emitter: 'ledger' }],
        new Date().toISOString(),
      );
      await expect(
        asTenant(
          runtime,
          tenantA,
          'INSERT INTO audit_records (tenant_id, seq, document, hash) VALUES ($1, 4, $2, $3)',
          [tenantA, row?.document, row?.hash],
        ),
      ).rejects.toMatchObject({ code: '23514', constraint: 'audit_records_in_place' });
    });

    it('sees no record at all without a tenant context, only the heads and checkpoints the jobs sweep', async () => {
      const records = await asTenant(runtime, undefined, 'SELECT count(*)::int AS n FROM audit_records');
      expect(records.rows[0].n).toBe(0);
      const heads = await asTenant(
        runtime,
        undefined,
        'SELECT count(*)::int AS n FROM audit_chain_heads WHERE tenant_id = ANY($1)',
        [[tenantA, tenantB]],
      );
      expect(heads.rows[0].n).toBe(2);
      await expect(
        asTenant(runtime, undefined, 'UPDATE audit_chain_heads SET seq = seq WHERE tenant_id = $1', [tenantA]),
      ).resolves.toMatchObject({ rowCount: 0 });
    });
  });
});
