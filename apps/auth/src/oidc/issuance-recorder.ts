import { type AuditEventInput, type PayloadOf, tokenIssued } from '@strongroom/contracts';
import {
  ENQUEUE_BATCH_ROWS_MAX,
  enqueueAudit,
  enqueueEvents,
  PlatformError,
  withoutTenant,
} from '@strongroom/platform';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AUTH_AUDIT_EMITTER } from '../auth-audit';

/** An issuance's `tokens.issued` event and its audit event, written together. */
interface Issued {
  event: PayloadOf<typeof tokenIssued>;
  audit: AuditEventInput;
}

/** Records wait at most this long: an audit trail a tenth of a second behind, one INSERT per batch. */
const FLUSH_INTERVAL_MS = 100;
/** Past this many waiting, new records are dropped and counted (a stuck database must not eat memory). */
const PENDING_MAX = 50_000;

/**
 * Token issuance records (the `tokens.issued` event and the `auth.token.issue` audit event),
 * written to the outbox in batches: at a thousand tokens a second, one INSERT each would cost the
 * token endpoint a third of its throughput. JWT access tokens are not stored, so there is no
 * state change to share a transaction with; a crash loses at most the records of the last
 * interval. A database that is away keeps them waiting (retried each interval, bounded).
 */
export class IssuanceRecorder {
  private pending: Issued[] = [];
  private dropped = 0;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  record(event: PayloadOf<typeof tokenIssued>, audit: AuditEventInput): void {
    if (this.pending.length >= PENDING_MAX) {
      this.dropped += 1;
      return;
    }
    this.pending.push({ event, audit });
  }

  /** Writes what is waiting (serially: one flush at a time). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async writePending(): Promise<void> {
    if (this.dropped > 0) {
      this.logger.error({ dropped: this.dropped }, 'token issuance records dropped: the outbox is not keeping up');
      this.dropped = 0;
    }
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, ENQUEUE_BATCH_ROWS_MAX);
      try {
        await this.write(batch);
      } catch (error) {
        if (error instanceof PlatformError && error.code === 'VALIDATION') {
          // A record that breaks its contract is a bug: it alone is dropped (logged), the rest written.
          if (await this.writeOneByOne(batch)) continue;
          return;
        }
        // The database is away: the batch goes back to the front and the next interval retries it.
        this.pending.unshift(...batch);
        this.logger.warn({ err: error, records: batch.length }, 'token issuance records not written yet; retrying');
        return;
      }
    }
  }

  private write(batch: readonly Issued[]): Promise<void> {
    return withoutTenant(this.dataSource, async (manager) => {
      await enqueueEvents(
        manager,
        tokenIssued,
        batch.map(({ event }) => ({ payload: event, tenantId: event.tenantId })),
      );
      await enqueueAudit(
        manager,
        AUTH_AUDIT_EMITTER,
        batch.map(({ audit }) => audit),
      );
    });
  }

  /** False when the database went away meanwhile: what is left went back to the front. */
  private async writeOneByOne(batch: readonly Issued[]): Promise<boolean> {
    for (const [index, issued] of batch.entries()) {
      try {
        await this.write([issued]);
      } catch (error) {
        if (error instanceof PlatformError && error.code === 'VALIDATION') {
          this.logger.error({ err: error }, 'a token issuance record breaks its contract; dropped');
          continue;
        }
        this.pending.unshift(...batch.slice(index));
        return false;
      }
    }
    return true;
  }
}
