import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Environment } from '@strongroom/contracts';
import { RegionalDatabases, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import type { ExpiryCommand } from './ledger-state';
import { TransfersRepository } from './transfers.repository';

const SWEEP_INTERVAL_MS = 1_000;
/** Due pending transfers expired per database per sweep (bounded work; the next sweep takes the rest). */
const SWEEP_ROWS_MAX = 1_000;

interface DueRow {
  tenant_id: string;
  environment: Environment;
  transfer_id: string;
}

/**
 * The id of the expiry of a pending transfer, derived from it (a UUIDv8 of SHA-256): two
 * replicas expiring the same transfer write the same id, so it is expired once.
 */
export function expiryIdOf(pendingId: string): string {
  const bytes = createHash('sha256').update(`ledger-expiry:${pendingId}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Expires pending transfers whose timeout passed, once a second: finds them in every regional
 * database (the open-pendings sweep policy shows ids and times without a tenant context), then
 * writes each tenant's expiries as one batch through the normal write path, which releases the
 * reservations under the accounts' locks.
 */
@Injectable()
export class PendingExpiry implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly databases: RegionalDatabases,
    private readonly transfers: TransfersRepository,
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sweeping;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sweeping = this.sweep()
        .then(() => undefined)
        .catch((error: unknown) => this.resources.logger.warn({ err: error }, 'pending transfer expiry failed'))
        .finally(() => this.schedule());
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** Expires what is due now; resolves to the number of pending transfers expired. */
  async sweep(): Promise<number> {
    let expired = 0;
    for (const region of ['default' as const, ...this.databases.regions]) {
      const due: DueRow[] = await this.databases.dataSourceOf(region).query(
        `SELECT tenant_id, environment, transfer_id FROM ledger_open_pendings
            WHERE expires_at <= now() ORDER BY expires_at LIMIT ${SWEEP_ROWS_MAX}`,
      );
      const byLedger = new Map<string, DueRow[]>();
      for (const row of due) {
        const key = `${row.tenant_id}/${row.environment}`;
        byLedger.set(key, [...(byLedger.get(key) ?? []), row]);
      }
      for (const rows of byLedger.values()) {
        const first = rows[0] as DueRow;
        const commands: ExpiryCommand[] = rows.map((row) => ({
          type: 'expiry',
          id: expiryIdOf(row.transfer_id),
          pendingId: row.transfer_id,
        }));
        const { results } = await this.transfers.applyBatch(
          { tenantId: first.tenant_id, environment: first.environment },
          commands.map((command) => ({ command, actor: 'ledger' })),
        );
        expired += results.filter((result) => result.result === 'ok').length;
      }
    }
    return expired;
  }
}
