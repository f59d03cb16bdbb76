import { PlatformError } from '../errors/platform-error';
import { quoteIdentifier } from './identifiers';

/**
 * SQL for migrations (run as the owner by `runMigrations`). Grants name the runtime role through
 * the session setting `strongroom.runtime_role`, which `runMigrations` sets on every migration
 * connection: one migration works for every database and role name (per region, per test), and
 * a migration run any other way fails on the missing setting instead of granting to a guess.
 */
export const RUNTIME_ROLE_SETTING = 'strongroom.runtime_role';

function runtimeRoleStatement(statement: string): string {
  return `DO $runtime$ BEGIN EXECUTE format('${statement.replaceAll("'", "''")}', current_setting('${RUNTIME_ROLE_SETTING}')); END $runtime$`;
}

/** A table privilege; `UPDATE (col, …)` limits UPDATE to those columns (e.g. the outbox's `published_at`). */
export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | `UPDATE (${string})`;

const COLUMN_UPDATE = /^UPDATE \((.+)\)$/;

function privilegeSql(privilege: TablePrivilege): string {
  const columns = COLUMN_UPDATE.exec(privilege)?.[1];
  if (columns === undefined) {
    if (!['SELECT', 'INSERT', 'UPDATE', 'DELETE'].includes(privilege)) {
      throw PlatformError.validation(`"${privilege}" is not a table privilege`);
    }
    return privilege;
  }
  const quoted = columns.split(',').map((column) => quoteIdentifier(column.trim()));
  return `UPDATE (${quoted.join(', ')})`;
}

/** Grants the runtime role exactly these privileges on a table, nothing more. */
export function grantRuntimeSql(table: string, privileges: readonly TablePrivilege[]): string[] {
  if (privileges.length === 0) throw PlatformError.validation(`no privileges to grant on ${table}`);
  const list = privileges.map(privilegeSql).join(', ');
  return [runtimeRoleStatement(`GRANT ${list} ON ${quoteIdentifier(table)} TO %I`)];
}

/** USAGE on a sequence: what a `bigserial` default needs from the inserting role. */
export function grantRuntimeSequenceSql(sequence: string): string[] {
  return [runtimeRoleStatement(`GRANT USAGE ON SEQUENCE ${quoteIdentifier(sequence)} TO %I`)];
}

/**
 * Row-level security on a tenant-owned table: ENABLE + FORCE (the owner is filtered too), and
 * one policy on `app.tenant_id`. Without a tenant context the setting is empty, the comparison
 * is NULL, and the table shows no rows and accepts no writes (DESIGN "Data").
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
 * DELETE or TRUNCATE, and a trigger refuses them for every role that has not disabled it
 * (only the owner can: DESIGN "Data", grant AND trigger).
 */
export function appendOnlySql(table: string): string[] {
  const name = quoteIdentifier(table);
  return [
    REFUSE_CHANGE_FUNCTION,
    `CREATE TRIGGER ${quoteIdentifier(`${table}_append_only`)} BEFORE UPDATE OR DELETE ON ${name}
       FOR EACH ROW EXECUTE FUNCTION strongroom_refuse_change()`,
    `CREATE TRIGGER ${quoteIdentifier(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${name}
       FOR EACH STATEMENT EXECUTE FUNCTION strongroom_refuse_change()`,
    runtimeRoleStatement(`REVOKE UPDATE, DELETE, TRUNCATE ON ${name} FROM %I`),
  ];
}
