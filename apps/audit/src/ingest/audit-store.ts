import { AUDIT_GENESIS_HASH } from '@strongroom/contracts';
import { PlatformError, sqlStateOf } from '@strongroom/platform';
import type { DataSource, EntityManager } from 'typeorm';
import { type ChainHead, type EmittedEvent, groupByTenant, planTenantChain, recordedAtOf } from './ingest-plan';

export interface StoredBatch {
  /** Records written. */
  stored: number;
  /** Events already stored (or twice in the batch): written once, never again. */
  duplicates: number;
  tenants: number;
}

interface LockedHead {
  seq: string;
  hash: string;
  last_recorded_at: string | null;
  stored: string[];
}

// 23505: another replica stored one of these events between our read and our insert (a
// redelivery raced its first delivery); 40P01/40001: deadlock, serialization. The whole batch
// runs again and finds the events stored.
const RETRYABLE_SQLSTATES = new Set(['23505', '40P01', '40001']);
const ATTEMPTS_MAX = 3;

/**
 * Writes a batch of audit events in one transaction: per tenant (sorted), the tenant context,
 * the head locked (created at genesis for a new tenant) with the batch's event ids already
 * stored, then every new record in one INSERT that also moves the head. Three round trips per
 * tenant whatever the batch size. Committed or not at all: the consumer acks after it returns.
 */
export class AuditStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async store(events: readonly EmittedEvent[]): Promise<StoredBatch> {
    const groups = groupByTenant(events);
    if (groups.length === 0) return { stored: 0, duplicates: 0, tenants: 0 };
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.dataSource.transaction(async (manager) => {
          const batch: StoredBatch = { stored: 0, duplicates: events.length, tenants: groups.length };
          for (const group of groups) {
            const stored = await storeTenantEvents(manager, group.tenantId, group.events, this.nowMs());
            batch.stored += stored;
            batch.duplicates -= stored;
          }
          return batch;
        });
      } catch (error) {
        if (attempt >= ATTEMPTS_MAX || !RETRYABLE_SQLSTATES.has(sqlStateOf(error) ?? '')) throw error;
      }
    }
  }
}

async function storeTenantEvents(
  manager: EntityManager,
  tenantId: string,
  events: readonly EmittedEvent[],
  nowMs: number,
): Promise<number> {
  await manager.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
  // The upsert locks the head row (a concurrent batch of this tenant waits here).
  const [locked]: LockedHead[] = await manager.query(
    `WITH head AS (
       INSERT INTO audit_chain_heads AS h (tenant_id, seq, hash) VALUES ($1, 0, $2)
       ON CONFLICT (tenant_id) DO UPDATE SET seq = h.seq
       RETURNING h.seq, h.hash)
     SELECT head.seq, head.hash,
            (SELECT (r.fields).recorded_at FROM audit_records r WHERE r.tenant_id = $1 AND r.seq = head.seq) AS last_recorded_at,
            ARRAY(SELECT r.event_id::text FROM audit_records r
                   WHERE r.tenant_id = $1 AND r.event_id = ANY($3::uuid[])) AS stored
       FROM head`,
    [tenantId, AUDIT_GENESIS_HASH, events.map(({ event }) => event.id)],
  );
  if (locked === undefined) throw PlatformError.internal('The audit chain head could not be locked');
  const head: ChainHead = { seq: Number(locked.seq), hash: locked.hash };
  const plan = planTenantChain(head, events, new Set(locked.stored), recordedAtOf(nowMs, locked.last_recorded_at));
  if (plan.seqs.length === 0) return 0;
  // TypeORM answers an UPDATE with [rows, affected].
  const [, moved]: [unknown[], number] = await manager.query(
    `WITH inserted AS (
       INSERT INTO audit_records (tenant_id, seq, document, hash)
       SELECT $1, r.seq, r.document, r.hash FROM unnest($2::bigint[], $3::text[], $4::text[]) AS r(seq, document, hash)
       RETURNING 1)
     UPDATE audit_chain_heads SET seq = $5, hash = $6
      WHERE tenant_id = $1 AND seq = $7 AND (SELECT count(*) FROM inserted) = $8
     RETURNING seq`,
    [tenantId, plan.seqs, plan.documents, plan.hashes, plan.head.seq, plan.head.hash, head.seq, plan.seqs.length],
  );
  if (moved !== 1) throw PlatformError.internal('The audit chain head did not move with its records');
  return plan.seqs.length;
}

/**
 * Whether a batch failed because of what a message holds (a data exception, a constraint its
 * records break, a value too large): then storing each message alone keeps the others flowing.
 * Anything else (Postgres unreachable or restarting, a missing grant, a lock timeout) is about
 * the database, not the messages: the whole batch waits and is tried again.
 */
export function isContentError(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state !== undefined && /^(22|23|54)[0-9A-Z]{3}$/.test(state);
}
