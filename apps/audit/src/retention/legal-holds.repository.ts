import { Injectable } from '@nestjs/common';
import type { AuditLegalHold } from '@strongroom/contracts';
import { PlatformError, withTenant } from '@strongroom/platform';
import { DataSource } from 'typeorm';
import { type AuditInitiator, recordOwnAction } from '../own-audit-events';

interface HoldRow {
  tenant_id: string;
  reason: string;
  placed_by: string;
  placed_at: Date;
}

const HOLD_COLUMNS = 'tenant_id, reason, placed_by, placed_at';

function holdOf(row: HoldRow): AuditLegalHold {
  return {
    tenantId: row.tenant_id,
    reason: row.reason,
    placedBy: row.placed_by,
    placedAt: row.placed_at.toISOString(),
  };
}

/**
 * Legal holds (issue 7): while a tenant is under one, none of its records is purged, whatever
 * their age (audit_purge refuses too). One hold per tenant; placing and releasing are audited in
 * the same transaction.
 */
@Injectable()
export class LegalHoldsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** CONFLICT when the tenant is already under a hold (release it first to change its reason). */
  place(tenantId: string, reason: string, placedBy: string, initiator: AuditInitiator): Promise<AuditLegalHold> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const [row]: HoldRow[] = await manager.query(
        `INSERT INTO audit_legal_holds (tenant_id, reason, placed_by, placed_at)
         VALUES ($1, $2, $3, date_trunc('milliseconds', clock_timestamp()))
         ON CONFLICT (tenant_id) DO NOTHING RETURNING ${HOLD_COLUMNS}`,
        [tenantId, reason, placedBy],
      );
      if (row === undefined) {
        throw PlatformError.conflict("The tenant's audit records are already under a legal hold", {
          reason: 'AUDIT_LEGAL_HOLD_EXISTS',
        });
      }
      await recordOwnAction(manager, initiator, {
        tenantId,
        action: 'audit.legal-hold.place',
        resource: { type: 'audit-legal-hold', id: tenantId },
      });
      return holdOf(row);
    });
  }

  /** Resolves to whether a hold was released (false: there was none, and nothing is recorded). */
  release(tenantId: string, initiator: AuditInitiator): Promise<boolean> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      // TypeORM answers a DELETE with [rows, affected].
      const [, released]: [unknown[], number] = await manager.query(
        'DELETE FROM audit_legal_holds WHERE tenant_id = $1',
        [tenantId],
      );
      if (released === 0) return false;
      await recordOwnAction(manager, initiator, {
        tenantId,
        action: 'audit.legal-hold.release',
        resource: { type: 'audit-legal-hold', id: tenantId },
      });
      return true;
    });
  }

  /** The tenant's hold, if any, and how far its records have been purged (0: never). */
  status(tenantId: string): Promise<{ hold: AuditLegalHold | null; purgedThroughSeq: number }> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const [hold]: HoldRow[] = await manager.query(
        `SELECT ${HOLD_COLUMNS} FROM audit_legal_holds WHERE tenant_id = $1`,
        [tenantId],
      );
      const [purged]: Array<{ seq: string }> = await manager.query(
        'SELECT coalesce(max(through_seq), 0)::text AS seq FROM audit_purges WHERE tenant_id = $1',
        [tenantId],
      );
      return { hold: hold === undefined ? null : holdOf(hold), purgedThroughSeq: Number(purged?.seq ?? 0) };
    });
  }
}
