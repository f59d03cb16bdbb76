import { quoteIdentifier } from './identifiers';

/**
 * SQL for migrations (run as the owner). The runtime role is named after the database
 * (`<db>_app`, see provision.ts), so grants name it with `current_database()` and one migration
 * works for every database name (per region, per test).
 */
function grantToRuntime(privileges: string, object: string): string {
  return `DO $grant$ BEGIN EXECUTE format('GRANT ${privileges} ON ${object} TO %I', current_database() || '_app'); END $grant$`;
}

function revokeFromRuntime(privileges: string, object: string): string {
  return `DO $revoke$ BEGIN EXECUTE format('REVOKE ${privileges} ON ${object} FROM %I', current_database() || '_app'); END $revoke$`;
}

export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/** Grants the runtime role exactly these privileges on a table (optionally UPDATE of some columns only). */
export function grantRuntimeSql(table: string, privileges: readonly TablePrivilege[]): string[] {
  return [grantToRuntime(privileges.join(', '), quoteIdentifier(table))];
}

export function grantRuntimeSequenceSql(sequence: string): string[] {
  return [grantToRuntime('USAGE, SELECT', `SEQUENCE ${quoteIdentifier(sequence)}`)];
}

/**
 * Row-level security on a tenant-owned table: ENABLE + FORCE (the owner is filtered too), and
 * one policy on `app.tenant_id`. Without a tenant context the setting is empty, the comparison
 * is NULL, and the table shows no rows and accepts no writes.
 */
export function tenantIsolationSql(table: string, tenantColumn = 'tenant_id'): string[] {
  const name = quoteIdentifier(table);
  const policy = quoteIdentifier(`${table}_tenant_isolation`);
  const tenantMatches = `${quoteIdentifier(tenantColumn)} = nullif(current_setting('app.tenant_id', true), '')::uuid`;
  return [
    `ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY`,
    `ALTER TABLE ${name} FORCE ROW LEVEL SECURITY`,
    `CREATE POLICY ${policy} ON ${name} USING (${tenantMatches}) WITH CHECK (${tenantMatches})`,
  ];
}

const REFUSE_CHANGE_FUNCTION = `CREATE OR REPLACE FUNCTION strongroom_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$body$`;

/**
 * An append-only table (ledger entries, audit records): the runtime role holds no UPDATE,
 * DELETE or TRUNCATE, and a trigger refuses them for every role that has not disabled it.
 */
export function appendOnlySql(table: string): string[] {
  const name = quoteIdentifier(table);
  return [
    REFUSE_CHANGE_FUNCTION,
    `CREATE TRIGGER ${quoteIdentifier(`${table}_append_only`)} BEFORE UPDATE OR DELETE ON ${name}
       FOR EACH ROW EXECUTE FUNCTION strongroom_refuse_change()`,
    `CREATE TRIGGER ${quoteIdentifier(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${name}
       FOR EACH STATEMENT EXECUTE FUNCTION strongroom_refuse_change()`,
    revokeFromRuntime('UPDATE, DELETE, TRUNCATE', name),
  ];
}
