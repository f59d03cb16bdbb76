import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { BusIdentity } from '@strongroom/contracts';
import { busTlsFilesFor, connectBus } from '@strongroom/platform';
import { AckPolicy, DeliverPolicy } from 'nats';

/**
 * Reads an event stream of a running stack from its start, as a bus identity allowed to consume
 * it (every service consumes EVT_AUTH; `audit` the AUDIT stream): a fresh pull consumer, filtered to one subject, fetched
 * until the caller has what it waits for or the deadline passes. For e2e tests.
 */

export interface StreamEvent {
  subject: string;
  /** `Nats-Msg-Id`: the outbox event id. */
  eventId: string | undefined;
  payload: unknown;
}

export interface ReadStreamOptions {
  natsUrl: string;
  /** The stack's state directory (its PKI holds every identity's certificate). */
  stateDir: string;
  identity: BusIdentity;
  stream: string;
  subject: string;
  /** True once everything awaited has been read. */
  done(events: readonly StreamEvent[]): boolean;
  timeoutMs: number;
}

const FETCH_BATCH_MAX = 1_000;
const FETCH_EXPIRES_MS = 1_000;
/** Consumers may not be deleted on our bus; the server drops an idle one after this. */
const INACTIVE_THRESHOLD_NS = 10_000_000_000;

/** Every event read (in stream order) when `done` held, or when the deadline passed. */
export async function readStream(options: ReadStreamOptions): Promise<StreamEvent[]> {
  const connection = await connectBus({
    servers: options.natsUrl,
    tls: busTlsFilesFor(join(options.stateDir, 'pki'), options.identity),
    name: `e2e-${options.identity}-reader`,
  });
  try {
    const name = `e2e-${randomUUID()}`;
    await (await connection.jetstreamManager()).consumers.add(options.stream, {
      durable_name: name,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      filter_subject: options.subject,
      inactive_threshold: INACTIVE_THRESHOLD_NS,
    });
    const consumer = await connection.jetstream().consumers.get(options.stream, name);
    const events: StreamEvent[] = [];
    const deadline = Date.now() + options.timeoutMs;
    while (!options.done(events) && Date.now() < deadline) {
      const messages = await consumer.fetch({ max_messages: FETCH_BATCH_MAX, expires: FETCH_EXPIRES_MS });
      for await (const message of messages) {
        events.push({
          subject: message.subject,
          eventId: message.headers?.get('Nats-Msg-Id'),
          payload: message.json(),
        });
      }
    }
    return events;
  } finally {
    await connection.close();
  }
}
