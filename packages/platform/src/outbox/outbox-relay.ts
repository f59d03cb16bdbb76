import type { JetStreamClient, NatsConnection } from 'nats';
import { Client } from 'pg';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { recordToHeaders } from '../bus/wire';
import { withoutTenant } from '../db/tenant-context';
import { OUTBOX_NOTIFY_CHANNEL } from './outbox-sql';

export interface OutboxRelayOptions {
  /** The service's runtime DataSource (the runtime role holds the outbox grants the relay needs). */
  dataSource: DataSource;
  connection: NatsConnection;
  logger: Logger;
  /** Rows claimed, published and marked per transaction. */
  batchSize?: number;
  /** Fallback when no NOTIFY arrives (listener lost); NOTIFY wakes the relay at once. */
  pollIntervalMs?: number;
  /** Published rows are deleted after this long (DESIGN: growth stays bounded). */
  publishedRetentionSeconds?: number;
  cleanupIntervalMs?: number;
}

interface OutboxRow {
  id: string;
  subject: string;
  payload: unknown;
  headers: Record<string, string>;
}

const BATCH_SIZE_DEFAULT = 256;
const BATCH_SIZE_MAX = 1_000;
const POLL_INTERVAL_MS_DEFAULT = 1_000;
const PUBLISHED_RETENTION_SECONDS_DEFAULT = 24 * 60 * 60;
const CLEANUP_INTERVAL_MS_DEFAULT = 10_000;
// Small deletes keep locks and WAL bursts short; a round stops after a bounded number of them.
const CLEANUP_BATCH_ROWS = 1_000;
const CLEANUP_BATCHES_PER_ROUND_MAX = 50;
const PUBLISH_ACK_TIMEOUT_MS = 5_000;
const BACKOFF_MS_BASE = 100;
const BACKOFF_MS_MAX = 10_000;
const LISTEN_RETRY_MS = 5_000;
const encoder = new TextEncoder();

/**
 * Publishes committed outbox rows to JetStream in commit order, each with `Nats-Msg-Id` = event
 * id, and marks them published only after JetStream acknowledged them (DESIGN "The bus"). A
 * crash before the mark republishes the row; the stream's duplicate window drops the copy, so
 * consumers see it once. Replicas share the work through `FOR UPDATE SKIP LOCKED`.
 */
export class OutboxRelay {
  private readonly jetstream: JetStreamClient;
  private readonly batchSize: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeRequested = false;
  private interruptSleep: (() => void) | undefined;
  private listener: Client | undefined;
  private lastListenAttemptMs = 0;
  private lastCleanupMs = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.jetstream = options.connection.jetstream();
    this.batchSize = Math.min(options.batchSize ?? BATCH_SIZE_DEFAULT, BATCH_SIZE_MAX);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.interruptSleep?.();
    await this.loop;
    await this.listener?.end().catch(() => {});
    this.listener = undefined;
  }

  /** Claims, publishes and marks one batch; resolves to the number of events published. */
  async publishBatch(): Promise<number> {
    return withoutTenant(this.options.dataSource, async (manager) => {
      const rows: OutboxRow[] = await manager.query(
        `SELECT id, subject, payload, headers FROM outbox
          WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      // Sent in seq order on one connection, acknowledgements awaited together: one round trip
      // per batch. If any ack fails the whole batch stays unpublished and is sent again (deduplicated).
      const acks = await Promise.all(
        rows.map((row) =>
          this.jetstream.publish(row.subject, encoder.encode(JSON.stringify(row.payload)), {
            msgID: row.id,
            headers: recordToHeaders(row.headers),
            timeout: PUBLISH_ACK_TIMEOUT_MS,
          }),
        ),
      );
      const duplicates = acks.filter((ack) => ack.duplicate).length;
      if (duplicates > 0) {
        // Expected after a crash between publish and mark: JetStream dropped the copies (Nats-Msg-Id).
        this.options.logger.info({ duplicates }, 'outbox events were already in JetStream; duplicates dropped');
      }
      await manager.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])', [
        rows.map((row) => row.id),
      ]);
      return rows.length;
    });
  }

  /** Deletes published rows older than the retention, in small batches; resolves to the rows deleted. */
  async cleanupPublished(): Promise<number> {
    const retentionSeconds = this.options.publishedRetentionSeconds ?? PUBLISHED_RETENTION_SECONDS_DEFAULT;
    let deleted = 0;
    for (let batch = 0; batch < CLEANUP_BATCHES_PER_ROUND_MAX; batch += 1) {
      const [, count]: [unknown, number] = await this.options.dataSource.query(
        `DELETE FROM outbox WHERE id IN (
           SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1)
            ORDER BY published_at LIMIT $2)`,
        [retentionSeconds, CLEANUP_BATCH_ROWS],
      );
      deleted += count;
      if (count < CLEANUP_BATCH_ROWS) break;
    }
    return deleted;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      await this.listenWhenDue();
      this.wakeRequested = false;
      try {
        const published = await this.publishBatch();
        failures = 0;
        await this.cleanupWhenDue();
        if (published === this.batchSize || this.wakeRequested) continue;
        await this.sleep(this.options.pollIntervalMs ?? POLL_INTERVAL_MS_DEFAULT, true);
      } catch (error) {
        failures += 1;
        if (failures === 1 || failures % 10 === 0) {
          this.options.logger.warn({ err: error, failures }, 'outbox relay could not publish; will retry');
        }
        // NATS or Postgres is down: exponential back-off with jitter, capped; NOTIFY does not shorten it.
        const backoffMs = Math.min(BACKOFF_MS_MAX, BACKOFF_MS_BASE * 2 ** Math.min(failures, 10));
        await this.sleep(backoffMs * (0.5 + Math.random() / 2), false);
      }
    }
  }

  private sleep(ms: number, wakeOnNotify: boolean): Promise<void> {
    if (wakeOnNotify && this.wakeRequested) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.interruptSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.interruptSleep = wakeOnNotify ? done : () => (this.running ? undefined : done());
    });
  }

  private onNotify(): void {
    this.wakeRequested = true;
    this.interruptSleep?.();
  }

  /** LISTEN for inserts so events leave within milliseconds; polling covers a lost listener until it is back. */
  private async listenWhenDue(): Promise<void> {
    if (this.listener || Date.now() - this.lastListenAttemptMs < LISTEN_RETRY_MS) return;
    this.lastListenAttemptMs = Date.now();
    const url = (this.options.dataSource.options as { url?: string }).url;
    if (!url) return;
    const listener = new Client({
      connectionString: url,
      application_name: 'strongroom-outbox-listener',
      connectionTimeoutMillis: PUBLISH_ACK_TIMEOUT_MS,
    });
    const lost = (error?: Error) => {
      if (this.listener !== listener) return;
      this.listener = undefined;
      if (this.running) this.options.logger.warn({ err: error }, 'outbox listener lost; polling until it is back');
      listener.end().catch(() => {});
    };
    listener.on('notification', () => this.onNotify());
    listener.on('error', lost);
    listener.on('end', () => lost());
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
    const intervalMs = this.options.cleanupIntervalMs ?? CLEANUP_INTERVAL_MS_DEFAULT;
    if (Date.now() - this.lastCleanupMs < intervalMs) return;
    this.lastCleanupMs = Date.now();
    await this.cleanupPublished();
  }
}
