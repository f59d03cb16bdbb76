import {
  type AuditEmitter,
  type AuditEvent,
  type AuditRecord,
  auditEmitterOfSubject,
  auditMessageSchema,
  chainAuditEvents,
} from '@strongroom/contracts';

/**
 * The pure part of storing audit events (issue 7): reading a message of the AUDIT stream, grouping
 * a batch's events by tenant, dropping duplicates, and chaining what is new onto a tenant's head.
 * The store (audit-store.ts) runs the plan in one Postgres transaction.
 */

/** An event and the service that sent it (from the message's subject, never from its payload). */
export interface EmittedEvent {
  event: AuditEvent;
  emitter: AuditEmitter;
}

/** Why a message is refused; never its content (it may be anything an emitter sent). */
export type AuditMessageRefusal = 'unknown_subject' | 'not_json' | 'contract_broken';

export type DecodedAuditMessage =
  | { ok: true; emitter: AuditEmitter; events: AuditEvent[] }
  | { ok: false; refusal: AuditMessageRefusal };

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A message of the AUDIT stream: its emitter from the subject, its events checked against the contract. */
export function decodeAuditMessage(subject: string, data: Uint8Array): DecodedAuditMessage {
  const emitter = auditEmitterOfSubject(subject);
  if (emitter === undefined) return { ok: false, refusal: 'unknown_subject' };
  let payload: unknown;
  try {
    payload = JSON.parse(decoder.decode(data));
  } catch {
    return { ok: false, refusal: 'not_json' };
  }
  const parsed = auditMessageSchema.safeParse(payload);
  if (!parsed.success) return { ok: false, refusal: 'contract_broken' };
  return { ok: true, emitter, events: parsed.data.events };
}

/**
 * A batch's events by tenant (its id in lower case), each tenant's in arrival order, an event id seen before in the
 * batch dropped (a redelivered message beside its first delivery, or one event sent twice).
 * Tenants come sorted: transactions that lock several heads lock them in one order, never deadlock.
 */
export function groupByTenant(events: Iterable<EmittedEvent>): Array<{ tenantId: string; events: EmittedEvent[] }> {
  const byTenant = new Map<string, { ids: Set<string>; events: EmittedEvent[] }>();
  for (const emitted of events) {
    const tenantId = emitted.event.tenantId.toLowerCase();
    let group = byTenant.get(tenantId);
    if (group === undefined) {
      group = { ids: new Set(), events: [] };
      byTenant.set(tenantId, group);
    }
    const id = emitted.event.id.toLowerCase();
    if (group.ids.has(id)) continue;
    group.ids.add(id);
    // One spelling of the tenant in every document: verifiers compare it as text.
    const event = emitted.event.tenantId === tenantId ? emitted.event : { ...emitted.event, tenantId };
    group.events.push({ event, emitter: emitted.emitter });
  }
  return [...byTenant.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([tenantId, group]) => ({ tenantId, events: group.events }));
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/** The rows one tenant's insert writes, as parallel arrays (one `unnest` statement), and its new head. */
export interface TenantChainPlan {
  seqs: string[];
  documents: string[];
  hashes: string[];
  head: ChainHead;
  /** Events of the batch already stored (a redelivery after a crash between commit and ack). */
  duplicates: number;
}

/**
 * Chains a tenant's new events onto its head: those already stored are dropped (idempotent on
 * event id), the rest get the next seqs, each linked to the one before.
 */
export function planTenantChain(
  head: ChainHead,
  events: readonly EmittedEvent[],
  storedIds: ReadonlySet<string>,
  recordedAt: string,
): TenantChainPlan {
  const fresh = events.filter(({ event }) => !storedIds.has(event.id.toLowerCase()));
  const chained = chainAuditEvents(head, fresh, recordedAt);
  const last = chained.at(-1);
  return {
    seqs: chained.map(({ record }) => String(record.seq)),
    documents: chained.map(({ document }) => document),
    hashes: chained.map(({ hash }) => hash),
    head: last === undefined ? head : { seq: last.record.seq, hash: last.hash },
    duplicates: events.length - fresh.length,
  };
}

/**
 * When a batch is recorded: now, but never before the tenant's last record, so recordedAt never
 * goes back along a chain (replicas' clocks differ a little) and a period's records are one
 * contiguous run of seqs (exports and purges rely on it).
 */
export function recordedAtOf(nowMs: number, lastRecordedAt: string | null): AuditRecord['recordedAt'] {
  const now = new Date(nowMs).toISOString();
  return lastRecordedAt !== null && lastRecordedAt > now ? lastRecordedAt : now;
}
