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
