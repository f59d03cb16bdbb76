import { EVENT_STREAMS } from '@strongroom/contracts';
import { DiscardPolicy, type NatsConnection, RetentionPolicy, StorageType, type StreamConfig } from 'nats';

const NANOS_PER_SECOND = 1_000_000_000;
/** Longer than any relay restart, so a republish after a crash is recognised as a duplicate. */
export const EVENT_DEDUPLICATION_WINDOW_SECONDS = 10 * 60;
/** Events are kept for consumers that were down (DESIGN: as long as the longest token lives). */
export const EVENT_RETENTION_SECONDS = 90 * 24 * 60 * 60;
export const EVENT_STREAM_BYTES_MAX = 1_073_741_824;

/**
 * One file-backed JetStream stream per emitting service (`EVT_<SERVICE>` holding
 * `evt.<service>.>`), every option stated. Run by the operator identity (`strongroom-admin`):
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
    try {
      await manager.streams.info(declaration.name);
      await manager.streams.update(declaration.name, config);
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      await manager.streams.add(config);
    }
  }
}

function isStreamNotFound(error: unknown): boolean {
  const apiError = (error as { api_error?: { err_code?: number } } | null)?.api_error;
  return apiError?.err_code === 10059 || (error instanceof Error && /stream not found/i.test(error.message));
}
