import { AUDIT_STREAM, EVENT_STREAMS } from '@strongroom/contracts';
import { DiscardPolicy, type NatsConnection, RetentionPolicy, StorageType, type StreamConfig } from 'nats';

const NANOS_PER_SECOND = 1_000_000_000;
/** Longer than any relay restart, so a republish after a crash is recognised as a duplicate. */
export const EVENT_DEDUPLICATION_WINDOW_SECONDS = 10 * 60;
/** Events are kept for consumers that were down (DESIGN: as long as the longest token lives). */
export const EVENT_RETENTION_SECONDS = 90 * 24 * 60 * 60;
export const EVENT_STREAM_BYTES_MAX = 1_073_741_824;
/**
 * The AUDIT stream keeps events for SIEM consumers and for an audit service that was down; the
 * store, not the stream, is the record (7 years). When full it refuses new events (discard new):
 * the outboxes keep them and retry, so an event is never dropped unread (docs/audit.md "Sizing":
 * 8 GiB is about 14 M events of 600 bytes, days of a busy platform; size it to peak rate × window).
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
    discard: DiscardPolicy.New,
    max_age: AUDIT_STREAM_RETENTION_SECONDS * NANOS_PER_SECOND,
    max_bytes: AUDIT_STREAM_BYTES_MAX,
    duplicate_window: EVENT_DEDUPLICATION_WINDOW_SECONDS * NANOS_PER_SECOND,
    num_replicas: replicas,
  });
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
