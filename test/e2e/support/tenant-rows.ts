import { databaseRoles, quoteIdentifier } from '@strongroom/platform';
import { Client } from 'pg';

/**
 * A service database as someone with the disk sees it (superuser), and as the service's own
 * runtime role sees it (SET ROLE, app.tenant_id set as `withTenant` sets it): which tables hold
 * tenant rows, what a tenant's rows look like, and what the runtime role can do to another
 * tenant's rows. For tenant-isolation tests.
 */

/** A table holding tenant rows: `tenant_id`, or `id` for the tenants table itself. */
export interface TenantTable {
  table: string;
  tenantColumn: string;
  rowLevelSecurity: boolean;
  forceRowLevelSecurity: boolean;
  /** Columns the runtime role may UPDATE (none: UPDATE is refused outright). */
  updatableColumns: string[];
  /**
   * Columns an INSERT may name: all but those Postgres fills itself (GENERATED ALWAYS identity or
   * expression), which refuse any value (428C9) before row-level security could.
   */
  insertableColumns: string[];
}

export interface DatabaseTables {
  database: string;
  runtimeRole: string;
  tenantTables: TenantTable[];
  /** Tables with no tenant column (the caller decides whether each is a known global table). */
  otherTables: string[];
  /** Tables outside the public schema (none expected). */
  outsidePublic: string[];
}

/** What a statement did as the runtime role: rows seen or affected, or the SQLSTATE it was refused with. */
export type Outcome = { rows: number } | { refused: string; message: string };

/** One tenant table tried as the runtime role, in the actor's tenant context, against the victim's rows. */
export interface RuntimeProbe {
  table: string;
  /** The victim's rows, counted as superuser. */
  victimRows: number;
  /** SELECT of the victim's rows with no tenant context at all. */
  selectWithoutTenant: Outcome;
  /** SELECT, UPDATE, DELETE of the victim's rows with app.tenant_id = actor. */
  select: Outcome;
  update: Outcome;
  delete: Outcome;
  /** INSERT of a copy of one of the victim's rows (it names the victim's tenant). */
  insert: Outcome;
  /** UPDATE of the actor's own rows to name the victim's tenant (undefined: the tenant column is not updatable). */
  moveIntoVictim: Outcome | undefined;
  /** Control: SELECT of the victim's rows in the victim's own context (the zero above is the policy, not a grant). */
  selectAsVictim: Outcome;
}

const TENANT_COLUMN = 'tenant_id';

export async function withSuperuser<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The database's tables, split by whether they hold tenant rows; the runtime role named as provision.ts names it. */
export async function describeTables(client: Client): Promise<DatabaseTables> {
  const database = (await client.query<{ name: string }>('SELECT current_database() AS name')).rows[0]!.name;
  const runtimeRole = databaseRoles(database).runtime;
  const { rows } = await client.query<{
    schema: string;
    table: string;
    rls: boolean;
    forced: boolean;
    columns: string[];
    generated: string[];
  }>(
    `SELECT n.nspname AS schema, c.relname AS table, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
            array_agg(a.attname::text ORDER BY a.attnum) AS columns,
            coalesce(array_agg(a.attname::text ORDER BY a.attnum)
              FILTER (WHERE a.attidentity = 'a' OR a.attgenerated <> ''), '{}') AS generated
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
      GROUP BY n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity
      ORDER BY c.relname`,
  );
  const tenantTables: TenantTable[] = [];
  const otherTables: string[] = [];
  const outsidePublic: string[] = [];
  for (const row of rows) {
    if (row.schema !== 'public') {
      outsidePublic.push(`${row.schema}.${row.table}`);
      continue;
    }
    const tenantColumn =
      row.table === 'tenants' ? 'id' : row.columns.includes(TENANT_COLUMN) ? TENANT_COLUMN : undefined;
    if (tenantColumn === undefined) {
      otherTables.push(row.table);
      continue;
    }
    const updatable = await client.query<{ column: string }>(
      `SELECT a.attname AS column FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
          AND has_column_privilege($2, a.attrelid, a.attnum, 'UPDATE')
        ORDER BY a.attnum`,
      [`public.${quoteIdentifier(row.table)}`, runtimeRole],
    );
    tenantTables.push({
      table: row.table,
      tenantColumn,
      rowLevelSecurity: row.rls,
      forceRowLevelSecurity: row.forced,
      updatableColumns: updatable.rows.map((column) => column.column),
      insertableColumns: row.columns.filter((column) => !row.generated.includes(column)),
    });
  }
  return { database, runtimeRole, tenantTables, otherTables, outsidePublic };
}

/**
 * The tenant's rows of a table, as superuser (which bypasses row-level security): how many, and an
 * md5 over them in a stable order, minus `ignoredColumns` (those a background job changes, e.g.
 * the outbox's `published_at`). `where` selects the tenant's rows with `$1` as the tenant id.
 */
export async function fingerprintRows(
  client: Client,
  table: string,
  where: string,
  tenantId: string,
  ignoredColumns: readonly string[] = [],
): Promise<{ rows: number; md5: string }> {
  const { rows } = await client.query<{ rows: number; md5: string }>(
    `SELECT count(*)::int AS rows, md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) AS md5
       FROM (SELECT to_jsonb(t) - $2::text[] AS r FROM public.${quoteIdentifier(table)} t WHERE ${where}) s`,
    [tenantId, ignoredColumns],
  );
  return rows[0]!;
}

/**
 * Tries, as the runtime role, to read and change the victim's rows of one table from the actor's
 * tenant context (and from none), each statement under its own savepoint; everything is rolled back.
 */
export async function probeAsRuntimeRole(
  client: Client,
  runtimeRole: string,
  table: TenantTable,
  tenants: { actor: string; victim: string },
  /** Run as superuser first, inside the rolled-back transaction, with $1 = the victim: a row to try (an outbox's pending event). */
  seedVictimRow?: string,
): Promise<RuntimeProbe> {
  const name = `public.${quoteIdentifier(table.table)}`;
  const column = quoteIdentifier(table.tenantColumn);
  const ofVictim = `${column} = $1::uuid`;
  // A column the role may update (other than the tenant's), so the policy is what stops the UPDATE.
  const updated = table.updatableColumns.find((candidate) => candidate !== table.tenantColumn) ?? table.tenantColumn;
  const insertable = table.insertableColumns.map(quoteIdentifier).join(', ');
  const setTenant = (tenantId: string) => client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);

  await client.query('BEGIN');
  try {
    if (seedVictimRow !== undefined) await client.query(seedVictimRow, [tenants.victim]);
    const counted = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name} WHERE ${ofVictim}`, [
      tenants.victim,
    ]);
    const sample = await client.query<{ row: unknown }>(
      `SELECT to_jsonb(t) AS row FROM ${name} t WHERE ${ofVictim} LIMIT 1`,
      [tenants.victim],
    );
    await client.query(`SET LOCAL ROLE ${quoteIdentifier(runtimeRole)}`);
    const count = (sql: string, values: unknown[]) =>
      attempt(client, async () => ({ rows: (await client.query<{ n: number }>(sql, values)).rows[0]!.n }));
    const change = (sql: string, values: unknown[]) =>
      attempt(client, async () => ({ rows: (await client.query(sql, values)).rowCount ?? 0 }));
    const selectVictim = () => count(`SELECT count(*)::int AS n FROM ${name} WHERE ${ofVictim}`, [tenants.victim]);

    const selectWithoutTenant = await selectVictim();
    await setTenant(tenants.actor);
    const probe: RuntimeProbe = {
      table: table.table,
      victimRows: counted.rows[0]!.n,
      selectWithoutTenant,
      select: await selectVictim(),
      update: await change(
        `UPDATE ${name} SET ${quoteIdentifier(updated)} = ${quoteIdentifier(updated)} WHERE ${ofVictim}`,
        [tenants.victim],
      ),
      delete: await change(`DELETE FROM ${name} WHERE ${ofVictim}`, [tenants.victim]),
      // A copy of a real row of the victim: a row the table's constraints accept, naming the victim's tenant.
      insert:
        sample.rows[0] === undefined
          ? { refused: 'no-sample', message: 'the victim has no row to copy' }
          : await change(
              `INSERT INTO ${name} (${insertable}) SELECT ${insertable} FROM jsonb_populate_record(NULL::${name}, $1::jsonb)`,
              [sample.rows[0].row],
            ),
      moveIntoVictim: table.updatableColumns.includes(table.tenantColumn)
        ? await change(`UPDATE ${name} SET ${column} = $1::uuid WHERE ${column} = $2::uuid`, [
            tenants.victim,
            tenants.actor,
          ])
        : undefined,
      selectAsVictim: { rows: 0 },
    };
    await setTenant(tenants.victim);
    probe.selectAsVictim = await selectVictim();
    return probe;
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Runs one statement under a savepoint: its outcome, or the SQLSTATE that refused it (the transaction goes on). */
async function attempt(client: Client, statement: () => Promise<{ rows: number }>): Promise<Outcome> {
  await client.query('SAVEPOINT probe');
  try {
    const outcome = await statement();
    await client.query('RELEASE SAVEPOINT probe');
    return outcome;
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT probe');
    const { code, message } = error as { code?: string; message?: string };
    return { refused: code ?? 'unknown', message: message ?? String(error) };
  }
}
