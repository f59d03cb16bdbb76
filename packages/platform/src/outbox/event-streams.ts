import { AUDIT_STREAM, EVENT_STREAMS, SIEM_CONSUMER } from '@strongroom/contracts';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from 'nats';

const NANOS_PER_SECOND = 1_000_000_000;
/** Longer than any relay restart, so a republish after a crash is recognised as a duplicate. */
export const EVENT_DEDUPLICATION_WINDOW_SECONDS = 10 * 60;
/** Events are kept for consumers that were down (DESIGN: as long as the longest token lives). */
export const EVENT_RETENTION_SECONDS = 90 * 24 * 60 * 60;
export const EVENT_STREAM_BYTES_MAX = 1_073_741_824;
/**
 * The AUDIT stream keeps events for SIEM consumers and for an audit service that was down; the
 * store, not the stream, is the record (7 years). Stored messages are not removed by the store's
 * acknowledgement (SIEMs read the same messages), so the stream holds 7 days or 8 GiB (about 14 M
 * events of 600 bytes) and then drops its OLDEST messages: refusing new ones instead would stop
 * every service's outbox once a busy week filled it. An audit service behind by more than that
 * loses the oldest unread events: alert on the audit-store consumer's pending count (docs/audit.md "Sizing").
 */
export const AUDIT_STREAM_RETENTION_SECONDS = 7 * 24 * 60 * 60;
export const AUDIT_STREAM_BYTES_MAX = 8 * 1_073_741_824;

/**
 * One file-backed JetStream stream per emitting service (`EVT_<SERVICE>` holding
 * `evt.<service>.>`), and the AUDIT stream (`audit.events.>`), every option stated. Run by the operator identity (`strongroom-admin`):
 * services may not create or alter streams.
 */
export async function ensureEventStreams(connection: NatsConnection, replicas = 1): Promise<void> {
  const manager = await connection.jetstreamManager();
  for (const declaration of EVENT_STREAMS) {
    const config: Partial<StreamConfig> & { name: string } = {
      name: declaration.name,
      subjects: [...declaration.subjects],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: EVENT_RETENTION_SECONDS * NANOS_PER_SECOND,
      max_bytes: EVENT_STREAM_BYTES_MAX,
      duplicate_window: EVENT_DEDUPLICATION_WINDOW_SECONDS * NANOS_PER_SECOND,
      num_replicas: replicas,
    };
    await ensureStream(manager, config);
  }
  await ensureStream(manager, {
    name: AUDIT_STREAM.name,
    subjects: [...AUDIT_STREAM.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: AUDIT_STREAM_RETENTION_SECONDS * NANOS_PER_SECOND,
    max_bytes: AUDIT_STREAM_BYTES_MAX,
    duplicate_window: EVENT_DEDUPLICATION_WINDOW_SECONDS * NANOS_PER_SECOND,
    num_replicas: replicas,
    deny_delete: true,
    deny_purge: true,
  });
  // The SIEM's one consumer, created here with a fixed configuration (pull, explicit acks): the
  // siem identity may read it but not create or change it (a push consumer could deliver the
  // trail to any subject, nats-server#8274).
  const siem = {
    durable_name: SIEM_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: SIEM_ACK_WAIT_SECONDS * NANOS_PER_SECOND,
    max_ack_pending: SIEM_ACK_PENDING_MAX,
  };
  try {
    await manager.consumers.info(AUDIT_STREAM.name, SIEM_CONSUMER);
  } catch (error) {
    if (!isConsumerNotFound(error)) throw error;
    await manager.consumers.add(AUDIT_STREAM.name, siem);
  }
}

const SIEM_ACK_WAIT_SECONDS = 60;
const SIEM_ACK_PENDING_MAX = 10_000;

function isConsumerNotFound(error: unknown): boolean {
  const apiError = (error as { api_error?: { err_code?: number } } | null)?.api_error;
  return apiError?.err_code === 10014 || (error instanceof Error && /consumer not found/i.test(error.message));
}

async function ensureStream(
  manager: Awaited<ReturnType<NatsConnection['jetstreamManager']>>,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    await manager.streams.info(config.name);
    await manager.streams.update(config.name, config);
  } catch (error) {
    if (!isStreamNotFound(error)) throw error;
    await manager.streams.add(config);
  }
}

function isStreamNotFound(error: unknown): boolean {
  const apiError = (error as { api_error?: { err_code?: number } } | null)?.api_error;
  return apiError?.err_code === 10059 || (error instanceof Error && /stream not found/i.test(error.message));
}
