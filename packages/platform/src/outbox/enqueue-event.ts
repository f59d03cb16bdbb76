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
  const headers: Record<string, string> = {};
  injectTraceHeaders(headers);
  const rows = events.map((event) => {
    const parsed = contract.payload.safeParse(event.payload);
    if (!parsed.success) {
      throw PlatformError.validation(`Invalid ${contract.subject} event`, { issues: validationIssuesOf(parsed.error) });
    }
    return [
      randomUUID(),
      contract.subject,
      JSON.stringify(parsed.data),
      JSON.stringify(headers),
      event.tenantId ?? null,
    ];
  });
  const values = rows.map(
    (_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}::jsonb, $${i * 5 + 4}::jsonb, $${i * 5 + 5})`,
  );
  await manager.query(
    `INSERT INTO outbox (id, subject, payload, headers, tenant_id) VALUES ${values.join(', ')}`,
    rows.flat(),
  );
  return rows.map((row) => row[0] as string);
}
