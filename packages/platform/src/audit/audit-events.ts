import { createHash, randomUUID } from 'node:crypto';
import {
  AUDIT_EVENTS_PER_MESSAGE_MAX,
  type AuditActor,
  type AuditEmitter,
  type AuditEventInput,
  auditMessageSchema,
  auditSubjectOf,
  HEADERS,
  REQUEST_ID_PATTERN,
} from '@strongroom/contracts';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import type { BusRequestContext } from '../bus/request-context';
import { recordToHeaders } from '../bus/wire';
import type { Principal } from '../credentials/principal';
import { PlatformError } from '../errors/platform-error';
import { validationIssuesOf } from '../errors/zod-issues';
import { injectTraceHeaders, traceIdOf } from '../telemetry/bus-tracing';

/**
 * Emitting audit events (issue 7, docs/audit.md). A change and its audit event commit together:
 * enqueueAudit writes them to the outbox in the caller's transaction, and the relay publishes
 * them to the AUDIT stream with the row id as Nats-Msg-Id. A refusal or a failure that writes
 * nothing has no transaction: publishAudit sends it straight to JetStream, deduplicated by the
 * first event's id.
 */

/** The correlation of a record with the request that caused it (seed 003). */
export interface AuditOrigin {
  requestId?: string;
  traceId?: string;
  sourceIp?: string;
  userAgent?: string;
}

const IP_PATTERN = /^[0-9A-Fa-f.:]{2,45}$/;

/**
 * The request id, trace, client address and user agent of a bus call. The last two only when the
 * gateway made the call (its reply goes to the gateway's own inbox, which only the gateway can
 * read): another identity could put any address in those headers.
 */
export function auditOriginOf(
  context:
    | (Pick<BusRequestContext, 'requestId' | 'headers'> & Partial<Pick<BusRequestContext, 'replyIdentity'>>)
    | undefined,
): AuditOrigin {
  const origin: AuditOrigin = {};
  const traceId = traceIdOf();
  if (traceId !== undefined && /^[0-9a-f]{32}$/.test(traceId) && !/^0+$/.test(traceId)) origin.traceId = traceId;
  if (context === undefined) return origin;
  if (REQUEST_ID_PATTERN.test(context.requestId)) origin.requestId = context.requestId;
  if (context.replyIdentity !== 'gateway') return origin;
  const ip = context.headers[HEADERS.clientIp];
  if (ip !== undefined && IP_PATTERN.test(ip)) origin.sourceIp = ip;
  const userAgent = context.headers[HEADERS.userAgent];
  if (userAgent !== undefined && userAgent !== '') origin.userAgent = userAgent.slice(0, 256);
  return origin;
}

const ACTOR_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Who a verified credential is: a service, an API key, an OAuth client (client credentials) or a user. */
export function auditActorOf(principal: Pick<Principal, 'subject' | 'clientId'> | undefined): AuditActor {
  if (principal === undefined || !ACTOR_ID.test(principal.subject)) return { type: 'anonymous', id: 'anonymous' };
  const { subject, clientId } = principal;
  if (subject.startsWith('service:')) return { type: 'service', id: subject.slice('service:'.length) || subject };
  if (subject.startsWith('api_key:')) return { type: 'api_key', id: subject.slice('api_key:'.length) || subject };
  if (clientId !== undefined && subject === clientId) return { type: 'client', id: subject };
  return { type: 'user', id: subject };
}

/** An event with its id and time filled in (now, milliseconds): what emitters build. */
export function auditEventOf(
  event: Omit<AuditEventInput, 'id' | 'occurredAt'> & Partial<Pick<AuditEventInput, 'id' | 'occurredAt'>>,
): AuditEventInput {
  return { ...event, id: event.id ?? randomUUID(), occurredAt: event.occurredAt ?? new Date().toISOString() };
}

/** An outbox row (the relay's input) holding one AUDIT message; the events are checked first. */
export interface AuditOutboxRow {
  id: string;
  subject: string;
  payload: string;
  headers: string;
  tenantId: string | null;
}

/**
 * The outbox rows of a list of events, in messages of at most AUDIT_EVENTS_PER_MESSAGE_MAX; each
 * event is validated (one invalid event: VALIDATION, nothing to write). For services that write
 * the rows in a statement of their own (the ledger's one-statement batch); enqueueAudit writes them.
 */
export function auditOutboxRowsOf(emitter: AuditEmitter, events: readonly AuditEventInput[]): AuditOutboxRow[] {
  const headers: Record<string, string> = {};
  injectTraceHeaders(headers);
  const headersJson = JSON.stringify(headers);
  const rows: AuditOutboxRow[] = [];
  for (let start = 0; start < events.length; start += AUDIT_EVENTS_PER_MESSAGE_MAX) {
    const message = validatedMessage(emitter, events.slice(start, start + AUDIT_EVENTS_PER_MESSAGE_MAX));
    const tenants = new Set(message.events.map((event) => event.tenantId));
    rows.push({
      id: randomUUID(),
      subject: auditSubjectOf(emitter),
      payload: JSON.stringify(message),
      headers: headersJson,
      // Scoped to its tenant when it has one (the outbox's row-level security), else platform-wide.
      tenantId: tenants.size === 1 ? ([...tenants][0] as string) : null,
    });
  }
  return rows;
}

function validatedMessage(emitter: AuditEmitter, events: readonly AuditEventInput[]) {
  const parsed = auditMessageSchema.safeParse({ events });
  if (!parsed.success) {
    throw PlatformError.validation(`Invalid audit event from ${emitter}`, { issues: validationIssuesOf(parsed.error) });
  }
  return parsed.data;
}

/** Writes audit events to the outbox in the caller's transaction: recorded if and only if the change commits. */
export async function enqueueAudit(
  manager: EntityManager,
  emitter: AuditEmitter,
  events: readonly AuditEventInput[],
): Promise<void> {
  if (events.length === 0) return;
  const rows = auditOutboxRowsOf(emitter, events);
  const values = rows.map(
    (_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}::jsonb, $${i * 5 + 4}::jsonb, $${i * 5 + 5})`,
  );
  await manager.query(
    `INSERT INTO outbox (id, subject, payload, headers, tenant_id) VALUES ${values.join(', ')}`,
    rows.flatMap((row) => [row.id, row.subject, row.payload, row.headers, row.tenantId]),
  );
}

const PUBLISH_ATTEMPTS = 3;
const PUBLISH_TIMEOUT_MS = 2_000;
const encoder = new TextEncoder();

/**
 * Sends audit events of something that wrote nothing (a refused request, a failed attempt)
 * straight to the AUDIT stream. The message id is derived from the event ids, so a retry, or a
 * second send of the same events, is stored once. Tries a few times; a failure is logged (never
 * with the events' content) and reported, not thrown: the refusal itself stands.
 */
export async function publishAudit(
  connection: NatsConnection,
  emitter: AuditEmitter,
  events: readonly AuditEventInput[],
  logger?: Logger,
): Promise<boolean> {
  if (events.length === 0) return true;
  const message = validatedMessage(emitter, events);
  const messageId =
    message.events.length === 1
      ? (message.events[0]?.id as string)
      : createHash('sha256')
          .update(message.events.map((event) => event.id).join(','))
          .digest('hex');
  const headers: Record<string, string> = {};
  injectTraceHeaders(headers);
  const data = encoder.encode(JSON.stringify(message));
  for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt += 1) {
    try {
      await connection.jetstream().publish(auditSubjectOf(emitter), data, {
        msgID: messageId,
        headers: recordToHeaders(headers),
        timeout: PUBLISH_TIMEOUT_MS,
      });
      return true;
    } catch (error) {
      if (attempt === PUBLISH_ATTEMPTS) {
        logger?.error({ err: error, events: message.events.length, emitter }, 'audit events could not be published');
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
  return false;
}
