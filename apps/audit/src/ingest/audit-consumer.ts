import { AUDIT_STREAM } from '@strongroom/contracts';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import type { Logger } from 'pino';
import type { AuditMetrics } from '../audit-metrics';
import { type AuditStore, isContentError } from './audit-store';
import { BatchQueue } from './batch-queue';
import { type DecodedAuditMessage, decodeAuditMessage, type EmittedEvent } from './ingest-plan';

/** The durable pull consumer the audit service stores the AUDIT stream through (replicas share it). */
export const AUDIT_STORE_CONSUMER = 'audit-store';

const NANOS_PER_MS = 1_000_000;
/** A message not acknowledged within this long is delivered again (a crashed replica's batch). */
const ACK_WAIT_MS = 30_000;
/** Messages delivered and not yet acknowledged, across replicas: bounds what a crash re-sends. */
const MAX_ACK_PENDING = 4_096;
/** Messages a pull asks for; the client pulls again when a quarter is left. */
const PULL_MESSAGES = 512;
/** Messages waiting for the store; the reader stops pulling while it is full. */
const QUEUE_MESSAGES_MAX = 1_024;
/** Events per transaction: a few thousand rows, a few megabytes, tens of milliseconds. */
const BATCH_EVENTS_MAX = 5_000;
const RETRY_MS_BASE = 250;
const RETRY_MS_MAX = 15_000;
/** A message whose content fails the store on its own waits this long before it is tried again. */
const POISON_RETRY_MS = 60_000;

interface Delivery {
  message: JsMsg;
  decoded: DecodedAuditMessage;
}

export interface AuditConsumerOptions {
  connection: NatsConnection;
  store: AuditStore;
  logger: Logger;
  metrics: AuditMetrics;
}

/** The consumer's configuration, every option stated: explicit acks, every message from the start, never dropped. */
export function auditStoreConsumerConfig(): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: AUDIT_STORE_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ACK_WAIT_MS * NANOS_PER_MS,
    max_ack_pending: MAX_ACK_PENDING,
    // An event is never given up on: a message that cannot be stored is retried (with a delay) until it is.
    max_deliver: -1,
  };
}

/**
 * Stores the AUDIT stream (issue 7): a durable pull consumer, messages read into a bounded queue
 * and stored in batches (one transaction each, audit-store.ts), acknowledged only after the
 * transaction committed. A crash before the ack redelivers the batch, which the store recognises
 * by event id. A message that breaks the contract is terminated (logged without its content,
 * counted); a batch the database refuses is retried, the whole batch when Postgres is
 * unreachable, message by message when one message's content is the problem. A nats-server
 * restart is absorbed by the client's reconnection; a consumer that stops is opened again.
 */
export class AuditConsumer {
  private running = false;
  private loop: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private queue: BatchQueue<Delivery> | undefined;
  private interruptSleep: (() => void) | undefined;
  private failures = 0;
  /** True while a consumer is open and reading (readiness). */
  consuming = false;

  constructor(private readonly options: AuditConsumerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops reading, finishes the batch being stored, and hands the queued messages back (nak: redelivered at once). */
  async stop(): Promise<void> {
    this.running = false;
    this.interruptSleep?.();
    await this.messages?.close().catch(() => undefined);
    this.queue?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    let attempts = 0;
    while (this.running) {
      try {
        await this.consumeOnce();
        attempts = 0;
      } catch (error) {
        attempts += 1;
        if (attempts === 1 || attempts % 10 === 0) {
          this.options.logger.warn({ err: error, attempts }, 'the audit consumer stopped; opening it again');
        }
      }
      this.consuming = false;
      if (this.running) await this.sleep(Math.min(RETRY_MS_MAX, RETRY_MS_BASE * 2 ** Math.min(attempts, 6)));
    }
  }

  /** Opens the durable consumer and stores what it delivers until it closes or the service stops. */
  private async consumeOnce(): Promise<void> {
    const { connection } = this.options;
    const manager = await connection.jetstreamManager();
    await manager.consumers.add(AUDIT_STREAM.name, auditStoreConsumerConfig()).catch(async (error: unknown) => {
      // Created earlier with other limits (an older release): take the current ones.
      if (!/already exists|consumer name already in use/i.test(String(error))) throw error;
      await manager.consumers.update(AUDIT_STREAM.name, AUDIT_STORE_CONSUMER, auditStoreConsumerConfig());
    });
    const consumer = await connection.jetstream().consumers.get(AUDIT_STREAM.name, AUDIT_STORE_CONSUMER);
    const messages = await consumer.consume({ max_messages: PULL_MESSAGES });
    const queue = new BatchQueue<Delivery>(QUEUE_MESSAGES_MAX);
    this.messages = messages;
    this.queue = queue;
    this.consuming = true;
    if (!this.running) await messages.close();
    const reading = (async () => {
      try {
        for await (const message of messages) {
          const decoded = decodeAuditMessage(message.subject, message.data);
          await queue.push({ message, decoded }, decoded.ok ? decoded.events.length : 1);
        }
      } finally {
        queue.close();
      }
    })();
    // Handled below, after the batches; never an unhandled rejection if storing throws first.
    reading.catch(() => undefined);
    try {
      for (
        let batch = await queue.take(BATCH_EVENTS_MAX);
        batch.length > 0;
        batch = await queue.take(BATCH_EVENTS_MAX)
      ) {
        if (!this.running) {
          for (const { message } of batch) message.nak();
          break;
        }
        await this.storeBatch(batch);
      }
    } finally {
      queue.close();
      for (const { message } of queue.drain()) message.nak();
      await messages.close().catch(() => undefined);
    }
    // The reader's failure (the consumer deleted, the connection closed) is why the consumer is opened again.
    const readFailure = await reading.then(
      () => undefined,
      (error: unknown) => error,
    );
    if (readFailure !== undefined && this.running) throw readFailure;
  }

  /** Terminates what breaks the contract, stores the rest in one transaction, acks after the commit. */
  private async storeBatch(batch: readonly Delivery[]): Promise<void> {
    const valid: Array<{ message: JsMsg; events: EmittedEvent[] }> = [];
    for (const { message, decoded } of batch) {
      if (decoded.ok) {
        valid.push({ message, events: decoded.events.map((event) => ({ event, emitter: decoded.emitter })) });
        continue;
      }
      // Never the content: it may hold anything an emitter sent, secrets included.
      this.options.logger.error(
        { subject: message.subject, streamSeq: message.seq, refusal: decoded.refusal, bytes: message.data.length },
        'an audit message broke its contract; terminated',
      );
      this.options.metrics.messagesRefused.inc({ refusal: decoded.refusal });
      message.term();
    }
    if (valid.length === 0) return;
    try {
      await this.storeAndAck(valid);
      this.failures = 0;
    } catch (error) {
      this.failures += 1;
      this.options.metrics.batchesFailed.inc();
      if (!isContentError(error)) {
        // The database, not the messages: every message waits and comes again, and so does the next batch.
        const delayMs = this.retryDelayMs();
        if (this.failures === 1 || this.failures % 10 === 0) {
          this.options.logger.warn(
            { err: error, messages: valid.length, failures: this.failures, retryInMs: delayMs },
            'audit events could not be stored; they will be delivered again',
          );
        }
        for (const { message } of valid) message.nak(delayMs);
        await this.sleep(delayMs);
        return;
      }
      // One message's content fails the batch: store each alone so the others are not held up.
      for (const one of valid) {
        try {
          await this.storeAndAck([one]);
        } catch (single) {
          this.options.logger.error(
            { err: single, subject: one.message.subject, streamSeq: one.message.seq },
            'an audit message could not be stored; retried later',
          );
          one.message.nak(isContentError(single) ? POISON_RETRY_MS : this.retryDelayMs());
        }
      }
    }
  }

  private async storeAndAck(deliveries: ReadonlyArray<{ message: JsMsg; events: EmittedEvent[] }>): Promise<void> {
    const result = await this.options.store.store(deliveries.flatMap(({ events }) => events));
    // Committed: only now may JetStream forget the messages.
    for (const { message } of deliveries) message.ack();
    this.options.metrics.eventsStored.inc(result.stored);
    if (result.duplicates > 0) this.options.metrics.duplicatesDropped.inc(result.duplicates);
  }

  private retryDelayMs(): number {
    return Math.min(RETRY_MS_MAX, RETRY_MS_BASE * 2 ** Math.min(this.failures, 6));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.interruptSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
