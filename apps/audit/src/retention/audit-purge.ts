import { Inject, Injectable } from '@nestjs/common';
import { SERVICE_RESOURCES, type ServiceResources, withoutTenant, withTenant } from '@strongroom/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditCheckpoints } from '../checkpoints/audit-checkpoints';
import { type AuditInitiator, recordOwnAction, SCHEDULED_BY_AUDIT } from '../own-audit-events';
import { TenantRetention } from './tenant-retention';

/** Records purged per step (one checkpoint, one transaction); audit_purge refuses more than 50,000. */
export const PURGE_STEP_RECORDS = 10_000;
/** Tenants listed per page of a purge run. */
const TENANTS_PAGE = 1_000;
const UTC_MILLIS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * Removes records past their tenant's retention (issue 7: 7 years by default, longer by the
 * tenant's settings) while keeping what remains verifiable. Per tenant not under a legal hold, in
 * steps of a bounded number of records: the step's boundary is the last record of the run of
 * expired records, a checkpoint is signed there (or reused), and audit_purge deletes up to it and
 * records the purge — the chain's new start, anchored by that checkpoint — in one transaction
 * with the purge's audit event. audit_purge checks every condition again itself.
 */
@Injectable()
export class AuditPurge {
  private stopping = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly checkpoints: AuditCheckpoints,
    @Inject(TenantRetention) private readonly retention: Pick<TenantRetention, 'retentionDaysOf'>,
    @Inject(SERVICE_RESOURCES) private readonly resources: Pick<ServiceResources, 'logger'>,
  ) {}

  /** Every tenant with a chain; a tenant that fails (its retention unknown for now) is skipped until the next run. */
  async run(): Promise<{ tenants: number; records: number }> {
    let tenants = 0;
    let records = 0;
    for (let after = ''; !this.stopping; ) {
      const page = await withoutTenant(this.dataSource, (manager) => tenantsAfter(manager, after));
      for (const tenantId of page) {
        if (this.stopping) break;
        try {
          const purged = await this.purgeTenant(tenantId);
          if (purged > 0) tenants += 1;
          records += purged;
        } catch (error) {
          this.resources.logger.warn(
            { err: error, tenantId },
            "a tenant's audit purge failed; retried at the next run",
          );
        }
      }
      if (page.length < TENANTS_PAGE) break;
      after = page.at(-1) as string;
    }
    return { tenants, records };
  }

  /** Stops a run between steps (the service is shutting down). */
  stop(): void {
    this.stopping = true;
  }

  /** Purges one tenant's expired records; resolves to how many (0 under a legal hold). */
  async purgeTenant(tenantId: string, initiator: AuditInitiator = SCHEDULED_BY_AUDIT): Promise<number> {
    if (await withTenant(this.dataSource, tenantId, (manager) => isHeld(manager, tenantId))) return 0;
    const retentionDays = await this.retention.retentionDaysOf(tenantId);
    let purged = 0;
    while (!this.stopping) {
      const boundary = await withTenant(this.dataSource, tenantId, (manager) =>
        nextBoundary(manager, tenantId, retentionDays),
      );
      if (boundary === undefined) break;
      await this.checkpoints.at(tenantId, boundary.seq, boundary.hash);
      purged += await withTenant(this.dataSource, tenantId, async (manager) => {
        const [row]: Array<{ records: string }> = await manager.query(
          'SELECT audit_purge($1, $2, $3)::text AS records',
          [tenantId, boundary.seq, retentionDays],
        );
        const records = Number(row?.records);
        await recordOwnAction(manager, initiator, {
          tenantId,
          action: 'audit.records.purge',
          resource: { type: 'audit-chain', id: tenantId },
          // The boundary as verification will find it: this record, in the hashed chain, vouches for the purge.
          details: { throughSeq: boundary.seq, throughHash: boundary.hash, records, retentionDays },
        });
        return records;
      });
    }
    return purged;
  }
}

async function tenantsAfter(manager: EntityManager, after: string): Promise<string[]> {
  const rows: Array<{ tenant_id: string }> = await manager.query(
    `SELECT tenant_id FROM audit_chain_heads
      WHERE ($1 = '' OR tenant_id > $1::uuid) ORDER BY tenant_id LIMIT $2`,
    [after, TENANTS_PAGE],
  );
  return rows.map((row) => row.tenant_id);
}

async function isHeld(manager: EntityManager, tenantId: string): Promise<boolean> {
  const rows: unknown[] = await manager.query('SELECT 1 FROM audit_legal_holds WHERE tenant_id = $1', [tenantId]);
  return rows.length > 0;
}

/**
 * The next step's boundary: the last record of the run of expired records after the chain's
 * start, at most PURGE_STEP_RECORDS on (a record within its retention ends the run); undefined
 * when the first record after the start is not expired. Expiry by the database's clock, as
 * audit_purge judges it.
 */
async function nextBoundary(
  manager: EntityManager,
  tenantId: string,
  retentionDays: number,
): Promise<{ seq: number; hash: string } | undefined> {
  const [row]: Array<{ seq: string; hash: string }> = await manager.query(
    `WITH start AS (SELECT coalesce(max(through_seq), 0) AS seq FROM audit_purges WHERE tenant_id = $1),
          cutoff AS (SELECT to_char((now() - make_interval(days => $2)) AT TIME ZONE 'UTC', ${UTC_MILLIS}) AS at),
          step AS (
            SELECT r.seq, (r.fields).recorded_at AS recorded_at FROM audit_records r, start
             WHERE r.tenant_id = $1 AND r.seq > start.seq AND r.seq <= start.seq + $3),
          boundary AS (
            SELECT coalesce((SELECT min(step.seq) - 1 FROM step, cutoff WHERE step.recorded_at >= cutoff.at),
                            (SELECT max(step.seq) FROM step)) AS seq)
     SELECT r.seq, r.hash FROM audit_records r, boundary, start
      WHERE r.tenant_id = $1 AND r.seq = boundary.seq AND r.seq > start.seq`,
    [tenantId, retentionDays, PURGE_STEP_RECORDS],
  );
  return row === undefined ? undefined : { seq: Number(row.seq), hash: row.hash };
}
