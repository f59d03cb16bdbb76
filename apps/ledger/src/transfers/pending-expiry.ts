import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Environment } from '@strongroom/contracts';
import { type Region, RegionalDatabases, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { LEDGER_TRAIL } from '../ledger-audit';
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

  /**
   * Expires what is due now; resolves to the number of pending transfers expired. A ledger or a
   * region that fails is logged and skipped, never a reason to leave the others' reservations held.
   */
  async sweep(): Promise<number> {
    let expired = 0;
    for (const region of ['default' as const, ...this.databases.regions]) {
      try {
        expired += await this.sweepRegion(region);
      } catch (error) {
        this.resources.logger.warn({ err: error, region }, 'pending transfer expiry failed in a region');
      }
    }
    return expired;
  }

  private async sweepRegion(region: Region): Promise<number> {
    const due: DueRow[] = await this.databases.dataSourceOf(region).query(
      `SELECT tenant_id, environment, transfer_id FROM ledger_open_pendings
        WHERE expires_at <= now() ORDER BY expires_at LIMIT ${SWEEP_ROWS_MAX}`,
    );
    const byLedger = new Map<string, DueRow[]>();
    for (const row of due) {
      const key = `${row.tenant_id}/${row.environment}`;
      byLedger.set(key, [...(byLedger.get(key) ?? []), row]);
    }
    let expired = 0;
    for (const rows of byLedger.values()) {
      const first = rows[0] as DueRow;
      // A fresh id: the account locks and ledger_transfers_resolve_once already expire a pending
      // transfer once; an id derived from it could be taken first by a client and block the expiry.
      const commands: ExpiryCommand[] = rows.map((row) => ({
        type: 'expiry',
        id: randomUUID(),
        pendingId: row.transfer_id,
      }));
      try {
        const { results } = await this.transfers.applyBatch(
          { tenantId: first.tenant_id, environment: first.environment },
          commands.map((command) => ({ command, actor: 'ledger', trail: LEDGER_TRAIL })),
        );
        expired += results.filter((result) => result.result === 'ok').length;
      } catch (error) {
        this.resources.logger.warn(
          { err: error, tenantId: first.tenant_id },
          'pending transfer expiry failed for a ledger',
        );
      }
    }
    return expired;
  }
}
