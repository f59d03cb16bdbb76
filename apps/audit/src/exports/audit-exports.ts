import { Injectable } from '@nestjs/common';
import { AUDIT_EXPORT_FORMAT, AUDIT_GENESIS_HASH, type AuditExport } from '@strongroom/contracts';
import { PlatformError, withTenant } from '@strongroom/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditCheckpoints } from '../checkpoints/audit-checkpoints';
import { CheckpointSigner } from '../checkpoints/checkpoint-signer';
import { type AuditInitiator, recordOwnAction } from '../own-audit-events';
import { isoMillis } from '../records/records.repository';
import { inTenantSnapshot } from '../verification/snapshot';

interface ExportBounds {
  firstSeq: number;
  lastSeq: number;
  records: number;
  startHash: string;
  lastHash: string | null;
}

/**
 * Exports of a period (issue 7): the seqs of the records recorded within [from, to), the hash the
 * first follows, a checkpoint signed at exactly the last one (so a third party verifies the
 * period's run of the chain against a signature without the rest of it), and the keys. The
 * records themselves are read page by page (listAuditExportRecords).
 */
@Injectable()
export class AuditExports {
  constructor(
    private readonly dataSource: DataSource,
    private readonly checkpoints: AuditCheckpoints,
    private readonly signer: CheckpointSigner,
  ) {}

  async create(
    tenantId: string,
    period: { from: string; to: string },
    initiator: AuditInitiator,
  ): Promise<AuditExport> {
    const from = isoMillis(period.from);
    const to = isoMillis(period.to);
    const bounds = await inTenantSnapshot(this.dataSource, tenantId, async (manager) => {
      await assertPeriodEnded(manager, to);
      return exportBounds(manager, tenantId, from, to);
    });
    const recordExport = (manager: EntityManager) =>
      recordOwnAction(manager, initiator, {
        tenantId,
        action: 'audit.records.export',
        resource: { type: 'audit-export', id: `${from}/${to}` },
        details: { from, to, firstSeq: bounds.firstSeq, lastSeq: bounds.lastSeq, records: bounds.records },
      });
    const checkpoint =
      bounds.lastHash === null
        ? null
        : await this.checkpoints.at(tenantId, bounds.lastSeq, bounds.lastHash, recordExport);
    if (checkpoint === null) await withTenant(this.dataSource, tenantId, recordExport);
    return {
      format: AUDIT_EXPORT_FORMAT,
      tenantId,
      from,
      to,
      records: bounds.records,
      firstSeq: bounds.firstSeq,
      lastSeq: bounds.lastSeq,
      startHash: bounds.startHash,
      checkpoint,
      signingKeys: await this.signer.publicKeys(),
    };
  }
}

/** VALIDATION while the period has not ended (by the database's clock): records of it may still arrive. */
async function assertPeriodEnded(manager: EntityManager, to: string): Promise<void> {
  const [row]: Array<{ now: Date }> = await manager.query('SELECT clock_timestamp() AS now');
  if ((row?.now.getTime() ?? 0) < Date.parse(to)) {
    throw PlatformError.validation('The period has not ended yet: `to` is in the future', { to });
  }
}

/**
 * The period's run of seqs. recordedAt never goes back along a chain (ingest-plan.ts), so the
 * records recorded within the period are one run; an empty period is the empty run after the
 * last record before it.
 */
async function exportBounds(manager: EntityManager, tenantId: string, from: string, to: string): Promise<ExportBounds> {
  // Two index probes (tenant, recordedAt, seq): the first and the last record of the period.
  const [range]: Array<{ first: string | null; last: string | null }> = await manager.query(
    `SELECT (SELECT seq FROM audit_records
              WHERE tenant_id = $1 AND (fields).recorded_at >= $2 AND (fields).recorded_at < $3
              ORDER BY (fields).recorded_at, seq LIMIT 1) AS first,
            (SELECT seq FROM audit_records
              WHERE tenant_id = $1 AND (fields).recorded_at >= $2 AND (fields).recorded_at < $3
              ORDER BY (fields).recorded_at DESC, seq DESC LIMIT 1) AS last`,
    [tenantId, from, to],
  );
  if (range?.first == null || range.last == null) {
    const [before]: Array<{ seq: string | null; hash: string | null }> = await manager.query(
      `SELECT seq, hash FROM (
         (SELECT seq, hash FROM audit_records WHERE tenant_id = $1 AND (fields).recorded_at < $2
           ORDER BY (fields).recorded_at DESC, seq DESC LIMIT 1)
         UNION ALL SELECT through_seq, through_hash FROM audit_purges WHERE tenant_id = $1
       ) known ORDER BY seq DESC LIMIT 1`,
      [tenantId, from],
    );
    const lastSeq = before?.seq == null ? 0 : Number(before.seq);
    return {
      firstSeq: lastSeq + 1,
      lastSeq,
      records: 0,
      startHash: before?.hash ?? AUDIT_GENESIS_HASH,
      lastHash: null,
    };
  }
  const [rows]: Array<{ records: string; first_document: string; last_hash: string }> = await manager.query(
    `SELECT (SELECT count(*) FROM audit_records WHERE tenant_id = $1 AND seq BETWEEN $2 AND $3) AS records,
            (SELECT document FROM audit_records WHERE tenant_id = $1 AND seq = $2) AS first_document,
            (SELECT hash FROM audit_records WHERE tenant_id = $1 AND seq = $3) AS last_hash`,
    [tenantId, range.first, range.last],
  );
  return {
    firstSeq: Number(range.first),
    lastSeq: Number(range.last),
    records: Number(rows?.records),
    startHash: prevHashOf(rows?.first_document, Number(range.first)),
    lastHash: rows?.last_hash ?? null,
  };
}

function prevHashOf(document: string | undefined, seq: number): string {
  try {
    const prevHash = (JSON.parse(document ?? '') as { prevHash?: unknown }).prevHash;
    if (typeof prevHash === 'string' && /^[0-9a-f]{64}$/.test(prevHash)) return prevHash;
  } catch {
    // reported below
  }
  throw PlatformError.conflict(`The record stored at ${seq} is unreadable: verify the chain`, {
    reason: 'AUDIT_CHAIN_INCONSISTENT',
    seq,
  });
}
