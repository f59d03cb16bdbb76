import { type JetStreamClient, type NatsConnection } from 'nats';
import { Client } from 'pg';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { recordToHeaders } from '../bus/wire';
import { withoutTenant } from '../db/tenant-context';
import { OUTBOX_NOTIFY_CHANNEL } from './outbox-sql';

export interface OutboxRelayOptions {
  dataSource: DataSource;
  connection: NatsConnection;
  logger: Logger;
  batchSize?: number;
  pollIntervalMs?: number;
  /** Published rows are deleted after this long (DESIGN: growth stays bounded). */
  publishedRetentionSeconds?: number;
}

interface OutboxRow {
  id: string;
  subject: string;
  payload: unknown;
  headers: Record<string, string>;
}

const BATCH_SIZE_DEFAULT = 256;
const POLL_INTERVAL_MS_DEFAULT = 1_000;
const PUBLISHED_RETENTION_SECONDS_DEFAULT = 24 * 60 * 60;
const CLEANUP_INTERVAL_MS = 60_000;
const CLEANUP_BATCH_ROWS = 1_000;
const PUBLISH_ACK_TIMEOUT_MS = 5_000;
const BACKOFF_MS_MAX = 10_000;
const encoder = new TextEncoder();

/**
 * Publishes committed outbox rows to JetStream in commit order, each with `Nats-Msg-Id` = event
 * id, and marks them published only after JetStream acknowledged them. A crash before the
 * mark republishes the row; the stream's duplicate window drops the copy, so consumers see it
 * once. Several relays (replicas) share the work through `FOR UPDATE SKIP LOCKED`.
 */
export class OutboxRelay {
  private readonly jetstream: JetStreamClient;
  private readonly batchSize: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private listener: Client | undefined;
  private lastCleanupMs = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.jetstream = options.connection.jetstream();
    this.batchSize = options.batchSize ?? BATCH_SIZE_DEFAULT;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.listener?.end().catch(() => {});
  }

  /** Publishes one batch; resolves to the number of events published. */
  async publishBatch(): Promise<number> {
    return withoutTenant(this.options.dataSource, async (manager) => {
      const rows: OutboxRow[] = await manager.query(
        `SELECT id, subject, payload, headers FROM outbox
          WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      // Published in order on one connection; acknowledgements are awaited together.
      await Promise.all(
        rows.map((row) =>
          this.jetstream.publish(row.subject, encoder.encode(JSON.stringify(row.payload)), {
            msgID: row.id,
            headers: recordToHeaders(row.headers),
            timeout: PUBLISH_ACK_TIMEOUT_MS,
          }),
        ),
      );
      await manager.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])', [
        rows.map((row) => row.id),
      ]);
      return rows.length;
    });
  }

  private async run(): Promise<void> {
    await this.listen();
    let failures = 0;
    while (this.running) {
      try {
        const published = await this.publishBatch();
        failures = 0;
        await this.cleanupWhenDue();
        if (published === this.batchSize) continue;
        await this.sleep(this.options.pollIntervalMs ?? POLL_INTERVAL_MS_DEFAULT);
      } catch (error) {
        failures += 1;
        if (failures === 1 || failures % 10 === 0) {
          this.options.logger.warn({ err: error, failures }, 'outbox relay could not publish; will retry');
        }
        await this.sleep(Math.min(BACKOFF_MS_MAX, 100 * 2 ** Math.min(failures, 10)));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** LISTEN for inserts so events leave within milliseconds; polling covers a lost connection. */
  private async listen(): Promise<void> {
    const url = (this.options.dataSource.options as { url?: string }).url;
    if (!url) return;
    const listener = new Client({ connectionString: url, application_name: 'strongroom-outbox-listener' });
    listener.on('notification', () => this.wake?.());
    listener.on('error', (error) => this.options.logger.warn({ err: error }, 'outbox listener lost; polling'));
    try {
      await listener.connect();
      await listener.query(`LISTEN ${OUTBOX_NOTIFY_CHANNEL}`);
      this.listener = listener;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'outbox listener unavailable; polling');
      await listener.end().catch(() => {});
    }
  }

  private async cleanupWhenDue(): Promise<void> {
    if (Date.now() - this.lastCleanupMs < CLEANUP_INTERVAL_MS) return;
    this.lastCleanupMs = Date.now();
    const retentionSeconds = this.options.publishedRetentionSeconds ?? PUBLISHED_RETENTION_SECONDS_DEFAULT;
    await this.options.dataSource.query(
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1)
          ORDER BY published_at LIMIT $2)`,
      [retentionSeconds, CLEANUP_BATCH_ROWS],
    );
  }
}
