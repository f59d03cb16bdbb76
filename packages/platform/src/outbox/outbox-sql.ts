import { grantRuntimeSequenceSql, grantRuntimeSql } from '../db/migration-sql';

/** Channel the insert trigger notifies, so the relay publishes without waiting for its poll. */
export const OUTBOX_NOTIFY_CHANNEL = 'strongroom_outbox';

/**
 * The outbox of a service database. Include in the first migration; outboxTenantScopeSql (a
 * later migration) scopes its rows to the tenant of the transaction that reads or writes them.
 */
export function outboxTableSql(): string[] {
  return [
    `CREATE TABLE outbox (
       id uuid PRIMARY KEY,
       seq bigserial NOT NULL UNIQUE,
       subject text NOT NULL CHECK (subject ~ '^evt\\.[a-z]+\\.v1\\.[a-z0-9-]+\\.[a-z0-9-]+$'),
       payload jsonb NOT NULL,
       headers jsonb NOT NULL DEFAULT '{}'::jsonb,
       tenant_id uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       published_at timestamptz
     )`,
    'CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL',
    'CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL',
    `CREATE OR REPLACE FUNCTION strongroom_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $body$
     BEGIN
       PERFORM pg_notify('${OUTBOX_NOTIFY_CHANNEL}', '');
       RETURN NULL;
     END
     $body$`,
    `CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
       FOR EACH STATEMENT EXECUTE FUNCTION strongroom_outbox_notify()`,
    // The runtime role enqueues (INSERT) and, as the relay, claims (SELECT … FOR UPDATE, which
    // needs an UPDATE grant: published_at only, so an event's content never changes) and deletes
    // the rows it published, in the transaction that published them (outbox-relay.ts). Relays
    // before claim-and-delete marked published_at and deleted the rows a day later: the column
    // and its index stay for rows such a relay left (the relay sweeps them).
    ...grantRuntimeSql('outbox', ['SELECT', 'INSERT', 'UPDATE (published_at)', 'DELETE']),
    ...grantRuntimeSequenceSql('outbox_seq_seq'),
  ];
}

/**
 * Audit events (issue 7) leave through the outbox too, on `audit.events.<emitter>` (the AUDIT
 * stream) beside the service's own `evt.…` events.
 */
export function outboxAuditSubjectsSql(): string[] {
  return [
    'ALTER TABLE outbox DROP CONSTRAINT outbox_subject_check',
    `ALTER TABLE outbox ADD CONSTRAINT outbox_subject_check
       CHECK (subject ~ '^(evt\\.[a-z]+\\.v1\\.[a-z0-9-]+\\.[a-z0-9-]+|audit\\.events\\.[a-z]+)$')`,
  ];
}

const CURRENT_TENANT = "nullif(current_setting('app.tenant_id', true), '')";

/**
 * Row-level security for the outbox: in a tenant's transaction (withTenant) the runtime role sees,
 * changes and writes that tenant's events only (and writes tenant-less platform events); without
 * a tenant context (the relay, the cleanup, platform-wide work) it sees every row, because the
 * relay publishes every tenant's events. A repository bug in tenant A's transaction can then
 * neither read nor alter tenant B's pending events, nor enqueue one in B's name.
 */
export function outboxTenantScopeSql(): string[] {
  return [
    'ALTER TABLE outbox ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE outbox FORCE ROW LEVEL SECURITY',
    `CREATE POLICY outbox_tenant_scope ON outbox
       USING (${CURRENT_TENANT} IS NULL OR tenant_id = ${CURRENT_TENANT}::uuid)
       WITH CHECK (${CURRENT_TENANT} IS NULL OR tenant_id IS NULL OR tenant_id = ${CURRENT_TENANT}::uuid)`,
  ];
}
