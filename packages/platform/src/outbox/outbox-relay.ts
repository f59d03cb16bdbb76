import type { JetStreamClient, NatsConnection, PubAck } from 'nats';
import { Client, type ClientBase } from 'pg';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { recordToHeaders } from '../bus/wire';
import { OUTBOX_NOTIFY_CHANNEL } from './outbox-sql';

export interface OutboxRelayOptions {
  /** The service's runtime DataSource (the runtime role holds the outbox grants the relay needs). */
  dataSource: DataSource;
  connection: NatsConnection;
  logger: Logger;
  /** Rows claimed per transaction (at most BATCH_ROWS_MAX; BATCH_BYTES_MAX bounds them too). */
  batchSize?: number;
  /** Batches published at once, each in a transaction (and a pool connection) of its own. */
  batchesInFlight?: number;
  /** Fallback when no NOTIFY arrives (listener lost); NOTIFY wakes the relay at once. */
  pollIntervalMs?: number;
}

/** A claimed row, in seq order. */
interface OutboxRow {
  id: string;
  subject: string;
  /** The jsonb as Postgres prints it: published as is, never parsed here. */
  payload: string;
  headers: Record<string, string>;
}

/** One claimed batch: its transaction holds the deletion of its rows until JetStream acknowledged them all. */
interface InFlightBatch {
  session: PooledSession;
  rows: number;
  acks: Promise<PubAck[]>;
  /**
   * The byte bound cut the claim short: rows past it stay locked (not deleted) until this batch
   * commits, and a claim meanwhile would skip them and send later rows first.
   */
  truncated: boolean;
}

/** A connection of the DataSource's pool, held for one batch's transaction; released with an error it is closed. */
interface PooledSession {
  client: ClientBase;
  release(error?: Error): void;
}

const BATCH_ROWS_DEFAULT = 1_000;
const BATCH_ROWS_MAX = 1_000;
/**
 * A claim stops at this many stored payload bytes (the first row always goes): a ledger row holds
 * up to 1,000 events (~0.7 MB), and a batch of those must not take hundreds of MB in memory.
 */
const BATCH_BYTES_MAX = 4 * 1_048_576;
const BATCHES_IN_FLIGHT_DEFAULT = 2;
const BATCHES_IN_FLIGHT_MAX = 4;
const POLL_INTERVAL_MS_DEFAULT = 1_000;
/** Rows marked published by a relay of an earlier version (which kept them a day) are swept this often. */
const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_BATCH_ROWS = 1_000;
const SWEEP_BATCHES_PER_ROUND_MAX = 50;
const PUBLISH_ACK_TIMEOUT_MS = 5_000;
const BACKOFF_MS_BASE = 100;
const BACKOFF_MS_MAX = 10_000;
const LISTEN_RETRY_MS = 5_000;
const encoder = new TextEncoder();

/**
 * The claim: the oldest unpublished rows no other transaction holds, bounded by count and bytes,
 * deleted in the statement that reads them. The deletion commits only once JetStream acknowledged
 * every message (settle); a rollback (a refused publish, a crash, Postgres gone) leaves
 * the rows where they were. One statement per batch: no per-row mark, no later cleanup, and the
 * table holds only what is still to be published. FOR UPDATE SKIP LOCKED lets replicas (and this
 * relay's batches in flight) take disjoint rows.
 */
const CLAIM_SQL = `
  WITH claimed AS (
    SELECT id, seq, pg_column_size(payload) AS bytes FROM outbox
     WHERE published_at IS NULL
     ORDER BY seq LIMIT $1
       FOR UPDATE SKIP LOCKED
  ), bounded AS (
    SELECT id FROM (SELECT id, sum(bytes) OVER (ORDER BY seq) - bytes AS bytes_before FROM claimed) sized
     WHERE bytes_before < $2
  ), deleted AS (
    DELETE FROM outbox o USING bounded b WHERE o.id = b.id
    RETURNING o.seq, o.id, o.subject, o.payload::text AS payload, o.headers
  )
  SELECT id, subject, payload, headers, (SELECT count(*) FROM claimed)::int AS claimed FROM deleted ORDER BY seq`;

/**
 * The claim walks the seq index and stops after a batch. The planner, misled by the row-level
 * security filter (it guesses a few rows pass) and by stale statistics (the table is usually
 * empty), otherwise reads and sorts every pending row for each batch: ~80 ms a claim over a
 * backlog of 50,000 rows, against ~2 ms. Sent with BEGIN, in one round trip.
 */
const BEGIN_CLAIM_SQL = 'BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off';

/**
 * Publishes committed outbox rows to JetStream in seq order, each with `Nats-Msg-Id` = event id
 * (DESIGN "The bus"), and removes them in the transaction that claimed them, committed only after
 * JetStream acknowledged them. A crash or failure before the commit leaves the rows, which are
 * published again; the stream's duplicate window drops the copies, so consumers see each once.
 *
 * Up to `batchesInFlight` batches are out at once: while one batch waits for its acks, the next
 * is claimed and sent. Messages leave on one connection in claim order, so JetStream stores them
 * in seq order; batches commit in that order, and a failed batch rolls back with every batch
 * after it. As with one batch in flight (where one message of a batch can fail while the next is
 * stored), the rows of a failed batch can then land after later rows: order holds while nothing
 * fails, and nothing is lost or applied twice when something does. Replicas share the work (SKIP
 * LOCKED); order between replicas is not promised.
 */
export class OutboxRelay {
  private readonly jetstream: JetStreamClient;
  private readonly batchSize: number;
  private readonly batchesInFlight: number;
  private running = false;
  /** Set by stop(): a drain under way settles what it sent and claims nothing more. */
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wakeRequested = false;
  private interruptSleep: (() => void) | undefined;
  private listener: Client | undefined;
  private lastListenAttemptMs = 0;
  private lastSweepMs = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.jetstream = options.connection.jetstream();
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? BATCH_ROWS_DEFAULT, BATCH_ROWS_MAX));
    this.batchesInFlight = Math.max(
      1,
      Math.min(options.batchesInFlight ?? BATCHES_IN_FLIGHT_DEFAULT, BATCHES_IN_FLIGHT_MAX),
    );
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    this.interruptSleep?.();
    await this.loop;
    await this.listener?.end().catch(() => {});
    this.listener = undefined;
  }

  /** Claims, publishes and commits one batch; resolves to the number of rows published. */
  publishBatch(): Promise<number> {
    return this.drain(1);
  }

  /**
   * Publishes until a claim finds nothing (or `batchesMax` batches went), `batchesInFlight` at a
   * time, committing them in claim order; resolves to the rows published. On any failure every
   * batch still out is rolled back (its rows stay for the next attempt) and the error is thrown.
   */
  async drain(batchesMax = Number.POSITIVE_INFINITY): Promise<number> {
    const inFlight: InFlightBatch[] = [];
    let published = 0;
    let claims = 0;
    try {
      let more = true;
      while (inFlight.length > 0 || more) {
        // After a batch cut short by the byte bound, the next claim waits for its commit (seq order).
        const blocked = inFlight.at(-1)?.truncated === true;
        if (more && inFlight.length < this.batchesInFlight && !blocked) {
          const batch = await this.claimAndSend();
          claims += 1;
          if (batch !== undefined) inFlight.push(batch);
          more = batch !== undefined && claims < batchesMax && !this.stopping;
          continue;
        }
        // The oldest batch stays listed until it committed, so a failure rolls it back too.
        published += await this.settle(inFlight[0] as InFlightBatch);
        inFlight.shift();
      }
      return published;
    } finally {
      // After a failure only (settle emptied the list otherwise): nothing of theirs commits.
      await Promise.all(inFlight.map((batch) => this.rollBack(batch)));
    }
  }

  /**
   * Deletes rows a relay of an earlier version marked published (it kept them a day), in small
   * batches; resolves to the rows deleted. This relay never marks a row, so where it alone ever
   * ran there is nothing to delete.
   */
  async sweepMarkedPublished(): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < SWEEP_BATCHES_PER_ROUND_MAX; batch += 1) {
      const [, count]: [unknown, number] = await this.options.dataSource.query(
        `DELETE FROM outbox WHERE id IN (
           SELECT id FROM outbox WHERE published_at IS NOT NULL ORDER BY published_at LIMIT $1)`,
        [SWEEP_BATCH_ROWS],
      );
      deleted += count;
      if (count < SWEEP_BATCH_ROWS) break;
    }
    return deleted;
  }

  /** Claims a batch in a transaction of its own and sends its messages; undefined (and no transaction) when none. */
  private async claimAndSend(): Promise<InFlightBatch | undefined> {
    const session = await this.pooledSession();
    let rows: Array<OutboxRow & { claimed: number }>;
    let messages: Array<{ row: OutboxRow; headers: ReturnType<typeof recordToHeaders> }>;
    try {
      // No tenant context (as withoutTenant): the relay publishes every tenant's events.
      await session.client.query(BEGIN_CLAIM_SQL);
      ({ rows } = await session.client.query<OutboxRow & { claimed: number }>(CLAIM_SQL, [
        this.batchSize,
        BATCH_BYTES_MAX,
      ]));
      if (rows.length === 0) {
        await session.client.query('COMMIT');
        session.release();
        return undefined;
      }
      // A header a row cannot carry throws here, inside the transaction: rolled back, not leaked.
      messages = rows.map((row) => ({ row, headers: recordToHeaders(row.headers) }));
    } catch (error) {
      await session.client.query('ROLLBACK').catch(() => {});
      session.release(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    const acks = Promise.all(
      messages.map(({ row, headers }) =>
        this.jetstream.publish(row.subject, encoder.encode(row.payload), {
          msgID: row.id,
          headers,
          timeout: PUBLISH_ACK_TIMEOUT_MS,
        }),
      ),
    );
    // Awaited in settle() or rollBack(); until then a refusal is not an unhandled rejection.
    acks.catch(() => {});
    return { session, rows: rows.length, acks, truncated: rows.length < (rows[0]?.claimed ?? 0) };
  }

  /** Waits for a batch's acknowledgements, then commits the deletion of its rows; resolves to their number. */
  private async settle(batch: InFlightBatch): Promise<number> {
    const acks = await batch.acks;
    const duplicates = acks.filter((ack) => ack.duplicate).length;
    if (duplicates > 0) {
      // Expected after a crash or failure between publish and commit: JetStream dropped the copies (Nats-Msg-Id).
      this.options.logger.info({ duplicates }, 'outbox events were already in JetStream; duplicates dropped');
    }
    await batch.session.client.query('COMMIT');
    batch.session.release();
    return batch.rows;
  }

  /** Rolls a batch's claim back (its rows stay, to be published again) and frees its connection. */
  private async rollBack(batch: InFlightBatch): Promise<void> {
    // Its messages may still be acknowledged: none of ours is pending once its rows are claimable again.
    await batch.acks.catch(() => {});
    try {
      await batch.session.client.query('ROLLBACK');
      batch.session.release();
    } catch (error) {
      // The connection failed (and its transaction with it): closed, not returned to the pool.
      batch.session.release(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** A connection of the service's pool (the DataSource's own), as TypeORM's query runners take them. */
  private async pooledSession(): Promise<PooledSession> {
    const driver = this.options.dataSource.driver as PostgresDriver;
    const [client, release] = (await driver.obtainMasterConnection()) as [ClientBase, (error?: Error) => void];
    // A checked-out client has no pool listener: a connection lost mid-batch (a failover, a
    // terminated backend) must fail the batch, not crash the process with an unhandled 'error'.
    const onError = (error: Error) => this.options.logger.warn({ err: error }, 'outbox relay connection lost');
    client.on('error', onError);
    return {
      client,
      release: (error?: Error) => {
        client.off('error', onError);
        release(error);
      },
    };
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      await this.listenWhenDue();
      this.wakeRequested = false;
      try {
        await this.drain();
        failures = 0;
        await this.sweepWhenDue();
        if (this.wakeRequested) continue;
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

  private async sweepWhenDue(): Promise<void> {
    if (Date.now() - this.lastSweepMs < SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = Date.now();
    await this.sweepMarkedPublished();
  }
}
