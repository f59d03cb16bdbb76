import { AUDIT_GENESIS_HASH, type AuditChainStart, type StoredAuditRecord } from '@strongroom/contracts';
import type { EntityManager } from 'typeorm';

/** What verification reads of a tenant's chain, in the caller's (tenant, snapshot) transaction. */
export const chainReads = {
  /** Where the chain starts: the latest purge's boundary, or genesis. */
  async start(manager: EntityManager, tenantId: string): Promise<AuditChainStart> {
    const [row]: Array<{ through_seq: string; through_hash: string }> = await manager.query(
      `SELECT through_seq, through_hash FROM audit_purges
        WHERE tenant_id = $1 ORDER BY through_seq DESC LIMIT 1`,
      [tenantId],
    );
    return row === undefined
      ? { seq: 0, hash: AUDIT_GENESIS_HASH }
      : { seq: Number(row.through_seq), hash: row.through_hash };
  },

  /** The stored head, or undefined for a tenant with no chain yet. */
  async head(manager: EntityManager, tenantId: string): Promise<{ seq: number; hash: string } | undefined> {
    const [row]: Array<{ seq: string; hash: string }> = await manager.query(
      'SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = $1',
      [tenantId],
    );
    return row === undefined ? undefined : { seq: Number(row.seq), hash: row.hash };
  },

  /** A page of records after `afterSeq`, ascending. */
  async records(
    manager: EntityManager,
    tenantId: string,
    afterSeq: number,
    limit: number,
  ): Promise<StoredAuditRecord[]> {
    const rows: Array<{ seq: string; document: string; hash: string }> = await manager.query(
      `SELECT seq, document, hash FROM audit_records
        WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [tenantId, afterSeq, limit],
    );
    return rows.map((row) => ({ seq: Number(row.seq), document: row.document, hash: row.hash }));
  },
};
