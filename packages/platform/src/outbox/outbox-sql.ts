import { grantRuntimeSequenceSql, grantRuntimeSql } from '../db/migration-sql';

/** Channel the insert trigger notifies, so the relay publishes without waiting for its poll. */
export const OUTBOX_NOTIFY_CHANNEL = 'strongroom_outbox';

/**
 * The outbox of a service database (a platform table: the relay reads across tenants, so it
 * has no row-level security; `tenant_id` is kept for operators). Include in the first migration.
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
    // The runtime role enqueues (INSERT) and, as the relay, claims (SELECT … FOR UPDATE), marks
    // published (UPDATE of published_at only: a published event's content never changes) and
    // deletes old published rows (DESIGN "Growth stays bounded").
    ...grantRuntimeSql('outbox', ['SELECT', 'INSERT', 'UPDATE (published_at)', 'DELETE']),
    ...grantRuntimeSequenceSql('outbox_seq_seq'),
  ];
}
