import { randomUUID } from 'node:crypto';
import type { EventContract, PayloadOf } from '@strongroom/contracts';
import type { EntityManager } from 'typeorm';
import { PlatformError } from '../errors/platform-error';
import { validationIssuesOf } from '../errors/zod-issues';
import { injectTraceHeaders } from '../telemetry/bus-tracing';

export interface EnqueueOptions {
  /** Stable event id (also the JetStream Nats-Msg-Id); generated when absent. */
  eventId?: string;
  tenantId?: string;
  headers?: Record<string, string>;
}

/**
 * Writes an event to the outbox in the caller's transaction: it is published if and only if
 * the state change it describes commits. The payload is checked against its contract first.
 */
export async function enqueueEvent<C extends EventContract>(
  manager: EntityManager,
  contract: C,
  payload: PayloadOf<C>,
  options: EnqueueOptions = {},
): Promise<string> {
  const parsed = contract.payload.safeParse(payload);
  if (!parsed.success) {
    throw PlatformError.validation(`Invalid ${contract.subject} event`, { issues: validationIssuesOf(parsed.error) });
  }
  const eventId = options.eventId ?? randomUUID();
  const headers = { ...options.headers };
  injectTraceHeaders(headers);
  await manager.query(
    'INSERT INTO outbox (id, subject, payload, headers, tenant_id) VALUES ($1, $2, $3::jsonb, $4::jsonb, $5)',
    [eventId, contract.subject, JSON.stringify(parsed.data), JSON.stringify(headers), options.tenantId ?? null],
  );
  return eventId;
}

/** A multi-row INSERT stays well under Postgres's 65,535 parameters (5 a row). */
export const ENQUEUE_BATCH_ROWS_MAX = 1_000;

/** An outbox row ready to insert: validated payload and trace headers as JSON text. */
export interface OutboxRow {
  id: string;
  subject: string;
  payload: string;
  headers: string;
  tenantId: string | null;
}

/**
 * The outbox rows of many events of one contract, each payload checked first (one invalid
 * payload: VALIDATION, nothing to write), with the current trace context. For a service that
 * writes them in a statement of its own (the ledger's one-statement batch); enqueueEvents writes them.
 */
export function outboxRowsOf<C extends EventContract>(
  contract: C,
  events: ReadonlyArray<{ payload: PayloadOf<C>; tenantId?: string }>,
): OutboxRow[] {
  const headers: Record<string, string> = {};
  injectTraceHeaders(headers);
  const headersJson = JSON.stringify(headers);
  return events.map((event) => {
    const parsed = contract.payload.safeParse(event.payload);
    if (!parsed.success) {
      throw PlatformError.validation(`Invalid ${contract.subject} event`, { issues: validationIssuesOf(parsed.error) });
    }
    return {
      id: randomUUID(),
      subject: contract.subject,
      payload: JSON.stringify(parsed.data),
      headers: headersJson,
      tenantId: event.tenantId ?? null,
    };
  });
}

/**
 * Writes many events of one contract to the outbox in one statement, in the caller's
 * transaction (high-rate records such as token issuance). Every payload is checked first; one
 * invalid payload writes nothing.
 */
export async function enqueueEvents<C extends EventContract>(
  manager: EntityManager,
  contract: C,
  events: ReadonlyArray<{ payload: PayloadOf<C>; tenantId?: string }>,
): Promise<string[]> {
  if (events.length === 0) return [];
  if (events.length > ENQUEUE_BATCH_ROWS_MAX)
    throw PlatformError.validation(`At most ${ENQUEUE_BATCH_ROWS_MAX} events in one batch`);
  const rows = outboxRowsOf(contract, events);
  const values = rows.map(
    (_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}::jsonb, $${i * 5 + 4}::jsonb, $${i * 5 + 5})`,
  );
  await manager.query(
    `INSERT INTO outbox (id, subject, payload, headers, tenant_id) VALUES ${values.join(', ')}`,
    rows.flatMap((row) => [row.id, row.subject, row.payload, row.headers, row.tenantId]),
  );
  return rows.map((row) => row.id);
}
