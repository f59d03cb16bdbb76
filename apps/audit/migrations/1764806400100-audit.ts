import { AUDIT_GENESIS_HASH, AUDIT_RETENTION_DAYS_RANGE } from '@strongroom/contracts';
import { appendOnlySql, grantRuntimeSql, RUNTIME_ROLE_SETTING, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The transaction-local setting audit_purge sets around its DELETE; the records' trigger lets a DELETE through only with it. */
export const AUDIT_PURGE_SETTING = 'strongroom.audit_purge';
/** At most this many records per purge call (one transaction): the purge job moves its boundary in steps. */
export const AUDIT_PURGE_RECORDS_MAX = 50_000;

const HASH = "CHECK (%s ~ '^[0-9a-f]{64}$')";
const hashCheck = (column: string) => HASH.replace('%s', column);
// Instants in records are ISO-8601 UTC with milliseconds (auditInstantSchema): text order is time order.
const UTC_MILLIS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** Runs one statement naming the runtime role (set by runMigrations), as grantRuntimeSql does. */
function forRuntimeRole(statement: string): string {
  return `DO $runtime$ BEGIN EXECUTE format('${statement.replaceAll("'", "''")}', current_setting('${RUNTIME_ROLE_SETTING}')); END $runtime$`;
}

/**
 * The audit trail (issue 7, docs/audit.md): per tenant, a hash chain of records (append-only),
 * its head, signed checkpoints (append-only), purges (the chain's new start after records past
 * their retention were removed, append-only) and legal holds.
 *
 * The query fields (one composite column, `fields`) and the event id are generated from the hashed
 * document, so they can never disagree with what is hashed. Only `audit_purge`, owned by the owner, deletes records, and only records that a signed
 * checkpoint anchors, past retention, under no legal hold.
 */
export class Audit1764806400100 implements MigrationInterface {
  readonly name = 'Audit1764806400100';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of [...recordsSql(), ...headsSql(), ...checkpointsSql(), ...purgesSql(), ...holdsSql()]) {
      await queryRunner.query(statement);
    }
    for (const statement of purgeFunctionSql()) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP FUNCTION audit_purge(uuid, bigint, integer)');
    for (const table of [
      'audit_legal_holds',
      'audit_purges',
      'audit_checkpoints',
      'audit_chain_heads',
      'audit_records',
    ]) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
    await queryRunner.query('DROP FUNCTION audit_records_refuse_change()');
    await queryRunner.query('DROP FUNCTION audit_record_fields_of(text)');
    await queryRunner.query('DROP TYPE audit_record_fields');
  }
}

function recordsSql(): string[] {
  return [
    // The query fields of a record, read from its document in one parse (a generated column per
    // field would parse the document once per field: four times the insert's cost).
    `CREATE TYPE audit_record_fields AS (
       tenant_id uuid, seq bigint, occurred_at text, recorded_at text, actor_type text, actor_id text,
       action text, resource_type text, resource_id text, outcome text, request_id text)`,
    `CREATE FUNCTION audit_record_fields_of(document text) RETURNS audit_record_fields
     LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $body$
     DECLARE
       j jsonb := document::jsonb;
     BEGIN
       RETURN ROW((j ->> 'tenantId')::uuid, (j ->> 'seq')::bigint, j ->> 'occurredAt', j ->> 'recordedAt',
                  j -> 'actor' ->> 'type', j -> 'actor' ->> 'id', j ->> 'action', j -> 'resource' ->> 'type',
                  j -> 'resource' ->> 'id', j ->> 'outcome', j ->> 'requestId')::public.audit_record_fields;
     END
     $body$`,
    `CREATE TABLE audit_records (
       tenant_id uuid NOT NULL,
       seq bigint NOT NULL CHECK (seq >= 1),
       document text NOT NULL,
       hash text NOT NULL ${hashCheck('hash')},
       event_id uuid NOT NULL GENERATED ALWAYS AS (((document::jsonb) ->> 'id')::uuid) STORED,
       fields audit_record_fields NOT NULL GENERATED ALWAYS AS (audit_record_fields_of(document)) STORED,
       PRIMARY KEY (tenant_id, seq),
       UNIQUE (tenant_id, event_id),
       -- A record is stored where its document says it belongs: the service's bugs cannot misfile one.
       CONSTRAINT audit_records_in_place CHECK ((fields).tenant_id = tenant_id AND (fields).seq = seq)
     )`,
    // listAuditRecords: every filter led by the tenant and read newest first by seq (the cursor).
    'CREATE INDEX audit_records_by_actor ON audit_records (tenant_id, ((fields).actor_id), seq)',
    'CREATE INDEX audit_records_by_action ON audit_records (tenant_id, ((fields).action), seq)',
    'CREATE INDEX audit_records_by_resource ON audit_records (tenant_id, ((fields).resource_id), seq)',
    `CREATE INDEX audit_records_by_request ON audit_records (tenant_id, ((fields).request_id), seq)
       WHERE (fields).request_id IS NOT NULL`,
    // Most records succeed: a success filter reads the primary key; failures and denials are the rare ones.
    `CREATE INDEX audit_records_by_outcome ON audit_records (tenant_id, ((fields).outcome), seq)
       WHERE (fields).outcome <> 'success'`,
    'CREATE INDEX audit_records_by_occurrence ON audit_records (tenant_id, ((fields).occurred_at))',
    // Exports (a period's seqs) and purges (records past retention) find records by when they were recorded.
    'CREATE INDEX audit_records_by_recording ON audit_records (tenant_id, ((fields).recorded_at), seq)',
    ...tenantIsolationSql('audit_records'),
    ...grantRuntimeSql('audit_records', ['SELECT', 'INSERT']),
    ...appendOnlySql('audit_records'),
    // appendOnlySql's row trigger refuses every DELETE; audit_purge's are let through by this one instead.
    'DROP TRIGGER audit_records_append_only ON audit_records',
    `CREATE FUNCTION audit_records_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $body$
     BEGIN
       IF TG_OP = 'DELETE' AND current_setting('${AUDIT_PURGE_SETTING}', true) = 'on'
          AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
         RETURN OLD;
       END IF;
       RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
         USING ERRCODE = 'insufficient_privilege';
     END
     $body$`,
    `CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
       FOR EACH ROW EXECUTE FUNCTION audit_records_refuse_change()`,
  ];
}

function headsSql(): string[] {
  return [
    `CREATE TABLE audit_chain_heads (
       tenant_id uuid PRIMARY KEY,
       seq bigint NOT NULL CHECK (seq >= 0),
       hash text NOT NULL ${hashCheck('hash')},
       CHECK (seq > 0 OR hash = '${AUDIT_GENESIS_HASH}')
     )`,
    ...tenantIsolationSql('audit_chain_heads'),
    // The checkpoint and purge jobs list the tenants that have a chain (no tenant context, read only).
    `CREATE POLICY audit_chain_heads_sweep ON audit_chain_heads FOR SELECT
       USING (nullif(current_setting('app.tenant_id', true), '') IS NULL)`,
    ...grantRuntimeSql('audit_chain_heads', ['SELECT', 'INSERT', 'UPDATE (seq, hash)']),
  ];
}

function checkpointsSql(): string[] {
  return [
    // One checkpoint per seq: a head already signed is not signed again (exports and purges reuse it).
    `CREATE TABLE audit_checkpoints (
       tenant_id uuid NOT NULL,
       seq bigint NOT NULL CHECK (seq >= 0),
       head_hash text NOT NULL ${hashCheck('head_hash')},
       created_at timestamptz NOT NULL,
       statement text NOT NULL,
       signature text NOT NULL,
       key_version integer NOT NULL CHECK (key_version >= 1),
       PRIMARY KEY (tenant_id, seq)
     )`,
    ...tenantIsolationSql('audit_checkpoints'),
    // The checkpoint job finds tenants whose head moved past their last checkpoint (read only).
    `CREATE POLICY audit_checkpoints_sweep ON audit_checkpoints FOR SELECT
       USING (nullif(current_setting('app.tenant_id', true), '') IS NULL)`,
    ...grantRuntimeSql('audit_checkpoints', ['SELECT', 'INSERT']),
    ...appendOnlySql('audit_checkpoints'),
  ];
}

function purgesSql(): string[] {
  return [
    `CREATE TABLE audit_purges (
       tenant_id uuid NOT NULL,
       through_seq bigint NOT NULL CHECK (through_seq >= 1),
       through_hash text NOT NULL ${hashCheck('through_hash')},
       purged_at timestamptz NOT NULL,
       records bigint NOT NULL CHECK (records >= 0),
       PRIMARY KEY (tenant_id, through_seq)
     )`,
    ...tenantIsolationSql('audit_purges'),
    // SELECT only: a purge row moves where verification starts, so only audit_purge writes one.
    ...grantRuntimeSql('audit_purges', ['SELECT']),
    ...appendOnlySql('audit_purges'),
  ];
}

function holdsSql(): string[] {
  return [
    `CREATE TABLE audit_legal_holds (
       tenant_id uuid PRIMARY KEY,
       reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
       placed_by text NOT NULL,
       placed_at timestamptz NOT NULL
     )`,
    ...tenantIsolationSql('audit_legal_holds'),
    ...grantRuntimeSql('audit_legal_holds', ['SELECT', 'INSERT', 'DELETE']),
  ];
}

/**
 * audit_purge(tenant, through_seq, retention_days): deletes the tenant's records up to
 * through_seq and records the purge, refusing unless every condition holds (SQLSTATE 42501 for a
 * wrong tenant, 55000 for a refused purge). SECURITY DEFINER, owned by the owner: the runtime role
 * may call it and nothing else may delete a record. Runs in the caller's transaction, whose
 * tenant must be the one named. The retention floor is the contracts' AUDIT_RETENTION_DAYS_RANGE.min
 * as of this migration (a later floor needs a migration).
 */
function purgeFunctionSql(): string[] {
  const refuse = (message: string) => `RAISE EXCEPTION '${message}' USING ERRCODE = 'object_not_in_prerequisite_state'`;
  return [
    `CREATE FUNCTION audit_purge(p_tenant uuid, p_through_seq bigint, p_retention_days integer) RETURNS bigint
     LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
     DECLARE
       v_start bigint;
       v_hash text;
       v_cutoff text;
       v_deleted bigint;
     BEGIN
       IF p_tenant IS NULL OR p_tenant IS DISTINCT FROM nullif(current_setting('app.tenant_id', true), '')::uuid THEN
         RAISE EXCEPTION 'audit_purge: the tenant must be the transaction''s tenant' USING ERRCODE = 'insufficient_privilege';
       END IF;
       IF p_retention_days IS NULL OR p_retention_days < ${AUDIT_RETENTION_DAYS_RANGE.min} THEN
         ${refuse(`audit_purge: retention is at least ${AUDIT_RETENTION_DAYS_RANGE.min} days`)};
       END IF;
       IF EXISTS (SELECT 1 FROM public.audit_legal_holds WHERE tenant_id = p_tenant) THEN
         ${refuse('audit_purge: the tenant is under a legal hold')};
       END IF;
       SELECT coalesce(max(through_seq), 0) INTO v_start FROM public.audit_purges WHERE tenant_id = p_tenant;
       IF p_through_seq IS NULL OR p_through_seq <= v_start THEN
         ${refuse('audit_purge: the records up to this seq are already purged')};
       END IF;
       IF p_through_seq - v_start > ${AUDIT_PURGE_RECORDS_MAX} THEN
         ${refuse(`audit_purge: at most ${AUDIT_PURGE_RECORDS_MAX} records per call`)};
       END IF;
       SELECT hash INTO v_hash FROM public.audit_records WHERE tenant_id = p_tenant AND seq = p_through_seq;
       IF v_hash IS NULL THEN
         ${refuse('audit_purge: no record at this seq')};
       END IF;
       IF NOT EXISTS (
         SELECT 1 FROM public.audit_checkpoints c
          WHERE c.tenant_id = p_tenant AND c.seq = p_through_seq AND c.head_hash = v_hash
            AND (c.statement::jsonb ->> 'tenantId')::uuid = p_tenant
            AND (c.statement::jsonb ->> 'seq')::bigint = p_through_seq
            AND c.statement::jsonb ->> 'headHash' = v_hash) THEN
         ${refuse('audit_purge: no checkpoint anchors this seq')};
       END IF;
       v_cutoff := to_char((now() - make_interval(days => p_retention_days)) AT TIME ZONE 'UTC', ${UTC_MILLIS});
       IF EXISTS (
         SELECT 1 FROM public.audit_records
          WHERE tenant_id = p_tenant AND seq > v_start AND seq <= p_through_seq AND (fields).recorded_at >= v_cutoff) THEN
         ${refuse('audit_purge: records up to this seq are within their retention')};
       END IF;
       PERFORM set_config('${AUDIT_PURGE_SETTING}', 'on', true);
       DELETE FROM public.audit_records WHERE tenant_id = p_tenant AND seq > v_start AND seq <= p_through_seq;
       GET DIAGNOSTICS v_deleted = ROW_COUNT;
       PERFORM set_config('${AUDIT_PURGE_SETTING}', 'off', true);
       INSERT INTO public.audit_purges (tenant_id, through_seq, through_hash, purged_at, records)
       VALUES (p_tenant, p_through_seq, v_hash, now(), v_deleted);
       RETURN v_deleted;
     END
     $body$`,
    'REVOKE ALL ON FUNCTION audit_purge(uuid, bigint, integer) FROM PUBLIC',
    forRuntimeRole(`GRANT EXECUTE ON FUNCTION audit_purge(uuid, bigint, integer) TO %I`),
  ];
}
