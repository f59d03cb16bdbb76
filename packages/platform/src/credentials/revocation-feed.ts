import { randomBytes } from 'node:crypto';
import { ACCESS_TOKEN_TTL_SECONDS_MAX, eventStreamOf, tokensRevoked } from '@strongroom/contracts';
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { RevocationList } from './revocation-list';

export interface RevocationFeedOptions {
  connection: NatsConnection;
  /** The consuming identity (the service name): it names the consumer. */
  identity: string;
  revocations: RevocationList;
  logger: Logger;
}

const NANOS_PER_MS = 1_000_000;
// The consumer outlives a short network blip but not a dead process: the server drops it.
const CONSUMER_INACTIVE_MS = 5 * 60_000;

/**
 * Feeds the revocation list from `evt.auth.v1.tokens.revoked` on JetStream. Every process has
 * its own consumer (every replica needs the whole list) that starts from the oldest revocation
 * that can still matter (now − the longest token lifetime), so a restarted service rebuilds
 * its denylist before serving and a revoked token never comes back to life.
 */
export class RevocationFeed {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: RevocationFeedOptions) {}

  /** Resolves once every revocation already in the stream has been applied. */
  async start(): Promise<void> {
    const { connection, identity } = this.options;
    const stream = eventStreamOf('auth').name;
    const name = `${identity}-revocations-${randomBytes(6).toString('hex')}`;
    const since = new Date(Date.now() - ACCESS_TOKEN_TTL_SECONDS_MAX * 1000);
    const manager = await connection.jetstreamManager();
    const info = await manager.consumers.add(stream, {
      durable_name: name,
      filter_subject: tokensRevoked.subject,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: since.toISOString(),
      ack_policy: AckPolicy.None,
      inactive_threshold: CONSUMER_INACTIVE_MS * NANOS_PER_MS,
    });
    const consumer = await connection.jetstream().consumers.get(stream, name);
    let backlog = info.num_pending;
    let caughtUp: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      caughtUp = resolve;
    });
    if (backlog === 0) caughtUp();
    this.messages = await consumer.consume({ max_messages: 256 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const message of messages) {
        this.apply(message.data);
        backlog -= 1;
        if (backlog <= 0) caughtUp();
      }
    })();
    await ready;
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }

  private apply(data: Uint8Array): void {
    try {
      const parsed = tokensRevoked.payload.safeParse(JSON.parse(new TextDecoder().decode(data)));
      if (parsed.success) {
        this.options.revocations.apply(parsed.data);
        return;
      }
    } catch {
      // fall through: logged below
    }
    this.options.logger.error('a revocation event broke its contract; ignored');
  }
}
