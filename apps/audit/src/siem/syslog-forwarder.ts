import {
  AUDIT_STREAM,
  type AuditEmitter,
  type AuditEvent,
  auditEmitterOfSubject,
  auditMessageSchema,
} from '@strongroom/contracts';
import { AckPolicy, DeliverPolicy, type JsMsg, type NatsConnection, ReplayPolicy } from 'nats';
import type { Logger } from 'pino';
import type { SyslogForwarderConfig } from './syslog-config';
import {
  checkSyslogFormat,
  SYSLOG_ENTERPRISE_NUMBER_DEFAULT,
  SyslogFormatError,
  syslogFramesOf,
} from './syslog-format';
import { readSyslogTlsFiles, SyslogLink } from './syslog-link';

/**
 * The forwarder's own durable consumer on AUDIT (the audit identity may create any consumer
 * there): it remembers what was delivered across restarts, apart from the store's consumer and
 * the external SIEM's `siem`.
 */
export const AUDIT_SYSLOG_CONSUMER = 'audit-syslog';

const NANOS_PER_MS = 1_000_000;
/** Longer than a pull's wait, a write's timeout and the ack delay together: no redelivery while a message is in hand. */
const ACK_WAIT_MS = 60_000;
/**
 * Messages delivered and not yet acknowledged, server-side. Bounds the messages held while
 * their ack delay runs: about this many a second at the default 1 s delay.
 */
const ACK_PENDING_MAX = 8_192;
/** One pull: at most this many messages in hand before they are written. */
const PULL_MESSAGES_MAX = 64;
/** nats.js's smallest pull wait; bounds how long a failure or stop waits for the open pull to end. */
const PULL_EXPIRES_MS = 1_000;
/** Bytes written and awaiting their ack delay; past this the forwarder waits for the oldest. */
const HELD_BYTES_MAX = 16 * 1_048_576;
const CONFIRM_INTERVAL_MS = 100;
const BACKOFF_JITTER = 0.2;

export interface SyslogForwarderOptions {
  /** The audit service's bus connection (identity `audit`). */
  readonly connection: NatsConnection;
  readonly logger: Logger;
  readonly config: SyslogForwarderConfig;
}

interface WrittenMessage {
  readonly message: JsMsg;
  readonly bytes: number;
  readonly writtenAtMs: number;
}

/** Back-off before reconnection attempt `attempt` (0-based): doubling from min to max, ±20 %. */
export function reconnectDelayMsOf(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random()));
}

/**
 * Forwards every audit event of the AUDIT stream to a syslog receiver over TLS (RFC 5424
 * messages, RFC 5425 transport, octet counting), one message per event, in stream order.
 *
 * At least once: a JetStream message is acknowledged only after its events were written to the
 * socket and the connection then stayed up for `ackDelayMs` (see SyslogForwarderConfig). When
 * the connection breaks, every message written but not yet acknowledged, and every message in
 * hand, is returned to JetStream (nak) in stream order and sent again on the next connection:
 * a SIEM may see an event twice after a reconnection and should deduplicate by event id.
 * Memory is bounded: one pull of PULL_MESSAGES_MAX messages plus HELD_BYTES_MAX written bytes.
 */
export class SyslogForwarder {
  /** Written to the socket, awaiting their ack delay, oldest first. */
  private readonly written: WrittenMessage[] = [];
  /** Pulled but not written (the link broke, or the forwarder is stopping), in stream order. */
  private readonly unsent: JsMsg[] = [];
  private writtenBytes = 0;
  private link: SyslogLink | undefined;
  private loop: Promise<void> | undefined;
  private confirmTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private wakeUp: () => void = () => {};

  constructor(private readonly options: SyslogForwarderOptions) {}

  /**
   * Checks the configuration and the TLS files, makes sure the durable consumer exists, and
   * starts forwarding in the background: an unreachable receiver is retried, never fatal.
   */
  async start(): Promise<void> {
    if (this.loop) return;
    const { connection, config } = this.options;
    checkSyslogFormat(config.format);
    readSyslogTlsFiles(config.target);
    const manager = await connection.jetstreamManager();
    try {
      await manager.consumers.info(AUDIT_STREAM.name, AUDIT_SYSLOG_CONSUMER);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await manager.consumers.add(AUDIT_STREAM.name, {
        durable_name: AUDIT_SYSLOG_CONSUMER,
        description: 'The audit service forwarding audit events to syslog over TLS (RFC 5425)',
        ack_policy: AckPolicy.Explicit,
        // Everything the stream still holds (30 days) when the consumer is first created.
        deliver_policy: DeliverPolicy.All,
        replay_policy: ReplayPolicy.Instant,
        ack_wait: ACK_WAIT_MS * NANOS_PER_MS,
        max_ack_pending: ACK_PENDING_MAX,
        // An event is never dropped because the receiver was down for long.
        max_deliver: -1,
      });
    }
    if (config.format.enterpriseNumber === SYSLOG_ENTERPRISE_NUMBER_DEFAULT) {
      this.options.logger.warn(
        'AUDIT_SYSLOG_ENTERPRISE_NUMBER is unset: the SD-ID uses 32473, the documentation number of RFC 5612; set your IANA private enterprise number',
      );
    }
    this.stopping = false;
    this.confirmTimer = setInterval(() => this.confirmDue(), CONFIRM_INTERVAL_MS);
    this.loop = this.run();
  }

  /**
   * Stops pulling, closes the connection gracefully (a receiver that closed its side read every
   * byte: those messages are acknowledged) and returns the rest to JetStream.
   */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.wakeUp();
    await this.loop;
    this.loop = undefined;
    clearInterval(this.confirmTimer);
    const link = this.link;
    this.link = undefined;
    const delivered = link !== undefined && (await link.end());
    this.returnHeld(delivered ? 'ack' : 'nak');
    await this.options.connection.flush().catch(() => undefined);
  }

  private async run(): Promise<void> {
    const { logger, config } = this.options;
    let attempt = 0;
    while (!this.stopping) {
      try {
        if (this.link?.brokenBy) {
          // Whatever was written on a broken link goes back before anything is written on a new one.
          this.link.destroy();
          this.link = undefined;
          this.returnHeld('nak');
        }
        if (!this.link) {
          this.link = await SyslogLink.open(config.target);
          logger.info({ host: config.target.host, port: config.target.port }, 'syslog receiver connected');
        }
        await this.forwardPulls(this.link, () => {
          attempt = 0;
        });
      } catch (error) {
        if (this.stopping) break;
        const retryInMs = reconnectDelayMsOf(attempt, config.reconnectDelayMsMin, config.reconnectDelayMsMax);
        logger.warn({ err: error, retryInMs }, 'syslog forwarding interrupted; retrying');
        await this.sleep(retryInMs);
        attempt += 1;
      }
    }
  }

  /**
   * Pulls and writes until stopped or the link breaks. Messages in hand when that happens are
   * kept until the pull ends, then returned to JetStream after those awaiting their ack delay:
   * a nak while a pull is open would be redelivered into it, out of stream order.
   */
  private async forwardPulls(link: SyslogLink, onWritten: () => void): Promise<void> {
    const consumer = await this.options.connection.jetstream().consumers.get(AUDIT_STREAM.name, AUDIT_SYSLOG_CONSUMER);
    while (!this.stopping) {
      let failure: unknown;
      try {
        const pull = await consumer.fetch({ max_messages: PULL_MESSAGES_MAX, expires: PULL_EXPIRES_MS });
        for await (const message of pull) {
          if (failure !== undefined || this.stopping) {
            this.unsent.push(message);
            continue;
          }
          try {
            await this.forward(link, message);
            onWritten();
          } catch (error) {
            failure = error;
            this.unsent.push(message);
          }
        }
      } catch (error) {
        // The bus failed (the pull or its consumer): what was written stays on its live link.
        failure ??= error;
      }
      // Stopping: stop() settles what is held, after closing the link.
      if (this.stopping) return;
      failure ??= link.brokenBy;
      if (failure !== undefined) {
        if (link.brokenBy) link.destroy();
        this.returnHeld(link.brokenBy ? 'nak' : 'keep');
        throw failure;
      }
    }
  }

  private async forward(link: SyslogLink, message: JsMsg): Promise<void> {
    const { logger, config } = this.options;
    const emitter = auditEmitterOfSubject(message.subject);
    const parsed = emitter === undefined ? undefined : auditMessageSchema.safeParse(jsonOf(message.data));
    if (emitter === undefined || !parsed?.success) {
      // An emitter's bug: redelivering would not fix it. Logged without its content.
      logger.error(
        { subject: message.subject, streamSequence: message.seq },
        'an AUDIT message broke its contract; not forwarded',
      );
      message.term();
      return;
    }
    const frames = this.framesOf(message, parsed.data.events, emitter);
    if (frames === undefined) return;
    while (this.writtenBytes + frames.length > HELD_BYTES_MAX && this.written.length > 0 && !this.stopping) {
      await new Promise((resolve) => setTimeout(resolve, CONFIRM_INTERVAL_MS));
      this.confirmDue();
      if (link.brokenBy) throw link.brokenBy;
    }
    if (this.stopping) {
      this.unsent.push(message);
      return;
    }
    await link.write(frames);
    if (config.ackDelayMs === 0) {
      message.ack();
      return;
    }
    this.written.push({ message, bytes: frames.length, writtenAtMs: Date.now() });
    this.writtenBytes += frames.length;
  }

  private framesOf(message: JsMsg, events: readonly AuditEvent[], emitter: AuditEmitter): Buffer | undefined {
    try {
      return syslogFramesOf(events, emitter, this.options.config.format);
    } catch (error) {
      if (!(error instanceof SyslogFormatError)) throw error;
      // Only an event the schema should have refused gets here; sending it again would not help.
      this.options.logger.error(
        { err: error, streamSequence: message.seq },
        'an audit event cannot be formatted; not forwarded',
      );
      message.term();
      return undefined;
    }
  }

  /** Acknowledges, oldest first, what the live connection outlived by the ack delay. */
  private confirmDue(): void {
    if (!this.link || this.link.brokenBy) return;
    const dueBefore = Date.now() - this.options.config.ackDelayMs;
    while (this.written.length > 0 && (this.written[0] as WrittenMessage).writtenAtMs <= dueBefore) {
      const oldest = this.written.shift() as WrittenMessage;
      this.writtenBytes -= oldest.bytes;
      oldest.message.ack();
    }
  }

  /**
   * Settles what is held, in stream order: the written messages (acknowledged when the
   * receiver is known to have read them, returned when not, or left to their ack delay), then
   * the unsent ones (returned).
   */
  private returnHeld(written: 'ack' | 'nak' | 'keep'): void {
    if (written !== 'keep') {
      for (const { message } of this.written.splice(0)) {
        if (written === 'ack') message.ack();
        else message.nak();
      }
      this.writtenBytes = 0;
    }
    for (const message of this.unsent.splice(0)) message.nak();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping) {
        resolve();
        return;
      }
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function jsonOf(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

function isNotFound(error: unknown): boolean {
  const apiError = (error as { api_error?: { err_code?: number } } | null)?.api_error;
  return apiError?.err_code === 10014 || (error instanceof Error && /consumer not found/i.test(error.message));
}
