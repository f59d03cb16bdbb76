import { randomUUID } from 'node:crypto';
import {
  AUDIT_STREAM,
  type AuditEmitter,
  type AuditEvent,
  type AuditEventInput,
  auditMessageSchema,
  auditSubjectOf,
} from '@strongroom/contracts';
import { AckPolicy, DeliverPolicy, type NatsConnection } from 'nats';
import type { Client } from 'pg';

const FETCH_BATCH_MAX = 1_000;
const FETCH_EXPIRES_MS = 1_000;
/** Consumers may not be deleted on our bus; the server drops an idle one after this. */
const INACTIVE_THRESHOLD_NS = 10_000_000_000;

export interface ReadStreamOptions<T> {
  stream: string;
  subject: string;
  /** What a message holds (parsed and checked here); its subject beside it. */
  parse(message: unknown, subject: string): T[];
  /** True once everything awaited has been read. */
  done(items: readonly T[]): boolean;
  /** After `done`, one more fetch: whatever else arrived (a duplicate) is returned too. */
  thenOneMoreFetch?: boolean;
  timeoutMs?: number;
}

/**
 * What a JetStream stream holds under `subject`, read from the start by a fresh pull consumer
 * (as an identity that may consume it: `audit` reads every stream), until `done` holds or the
 * deadline passes. What a relay published: whether or not it kept its outbox rows.
 */
export async function readStream<T>(connection: NatsConnection, options: ReadStreamOptions<T>): Promise<T[]> {
  const name = `test-${randomUUID()}`;
  await (await connection.jetstreamManager()).consumers.add(options.stream, {
    durable_name: name,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    filter_subject: options.subject,
    inactive_threshold: INACTIVE_THRESHOLD_NS,
  });
  const consumer = await connection.jetstream().consumers.get(options.stream, name);
  const items: T[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const fetchMore = async () => {
    const messages = await consumer.fetch({ max_messages: FETCH_BATCH_MAX, expires: FETCH_EXPIRES_MS });
    for await (const message of messages) items.push(...options.parse(message.json(), message.subject));
  };
  while (!options.done(items) && Date.now() < deadline) await fetchMore();
  if (options.thenOneMoreFetch) await fetchMore();
  return items;
}

export interface ReadAuditOptions {
  emitter: AuditEmitter;
  /** True once everything awaited has been read. */
  done(events: readonly AuditEvent[]): boolean;
  /** After `done`, one more fetch (to see that nothing more came). */
  thenOneMoreFetch?: boolean;
  timeoutMs?: number;
}

/**
 * The audit events one emitter sent to the AUDIT stream (published directly, or relayed from its
 * outbox), read as the `audit` identity, the only service that reads the stream. Every message
 * is checked against the contract on the way.
 */
export function readAuditStream(audit: NatsConnection, options: ReadAuditOptions): Promise<AuditEvent[]> {
  return readStream(audit, {
    stream: AUDIT_STREAM.name,
    subject: auditSubjectOf(options.emitter),
    parse: (message) => auditMessageSchema.parse(message).events,
    done: options.done,
    thenOneMoreFetch: options.thenOneMoreFetch ?? false,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
}

/** The audit events an emitter's transactions wrote to its outbox, in order (as the superuser, past RLS). */
export async function auditOutbox(superuser: Client, emitter: AuditEmitter): Promise<AuditEvent[]> {
  const { rows } = await superuser.query<{ payload: unknown }>(
    'SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq',
    [auditSubjectOf(emitter)],
  );
  return rows.flatMap((row) => auditMessageSchema.parse(row.payload).events);
}

/** Events about `resourceId` (its resource id), for picking one test's events out of a shared stream. */
export function about(resourceId: string) {
  return (event: AuditEventInput | AuditEvent) => event.resource.id === resourceId;
}
