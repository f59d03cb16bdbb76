import { AUDIT_GENESIS_HASH, type AuditCheckpoint, canonicalJson } from '@strongroom/contracts';
import type { EntityManager } from 'typeorm';

/** A stored checkpoint row as read: the signed statement's exact bytes and the columns beside it. */
export interface CheckpointRow {
  tenant_id: string;
  seq: string;
  head_hash: string;
  statement: string;
  signature: string;
  key_version: number;
}

/** Where a tenant's chain ends: the head row, and the hash the chain holds at that seq. */
export interface StoredHead {
  seq: number;
  hash: string;
  /** The record's hash at the head's seq, or the purge boundary's when the head's record was purged; null when neither. */
  anchorHash: string | null;
}

const CHECKPOINT_COLUMNS = 'tenant_id, seq, head_hash, statement, signature, key_version';

/** The checkpoints table. Every function runs in the caller's transaction (the tenant's, or none for the sweep). */
export const checkpointsRepository = {
  /** The tenant's head (genesis when it has no record yet) and what the chain holds at its seq. */
  async head(manager: EntityManager, tenantId: string): Promise<StoredHead> {
    const [row]: Array<{ seq: string; hash: string; anchor_hash: string | null }> = await manager.query(
      `SELECT h.seq, h.hash,
              coalesce(
                (SELECT r.hash FROM audit_records r WHERE r.tenant_id = h.tenant_id AND r.seq = h.seq),
                (SELECT p.through_hash FROM audit_purges p WHERE p.tenant_id = h.tenant_id AND p.through_seq = h.seq)
              ) AS anchor_hash
         FROM audit_chain_heads h WHERE h.tenant_id = $1`,
      [tenantId],
    );
    if (row === undefined || row.seq === '0')
      return { seq: 0, hash: AUDIT_GENESIS_HASH, anchorHash: AUDIT_GENESIS_HASH };
    return { seq: Number(row.seq), hash: row.hash, anchorHash: row.anchor_hash };
  },

  /** The record's hash at `seq`, or null when there is none. */
  async recordHashAt(manager: EntityManager, tenantId: string, seq: number): Promise<string | null> {
    const [row]: Array<{ hash: string }> = await manager.query(
      'SELECT hash FROM audit_records WHERE tenant_id = $1 AND seq = $2',
      [tenantId, seq],
    );
    return row?.hash ?? null;
  },

  /** The last few checkpoints before `seq`, newest first (the first validly signed one anchors a check). */
  async before(manager: EntityManager, tenantId: string, seq: number): Promise<CheckpointRow[]> {
    return manager.query(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tenant_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT 16`,
      [tenantId, seq],
    );
  },

  async at(manager: EntityManager, tenantId: string, seq: number): Promise<CheckpointRow | undefined> {
    const [row]: CheckpointRow[] = await manager.query(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tenant_id = $1 AND seq = $2`,
      [tenantId, seq],
    );
    return row;
  },

  /** Stores a signed checkpoint; false when one at that seq was stored first (one checkpoint per seq). */
  async insert(manager: EntityManager, checkpoint: AuditCheckpoint): Promise<boolean> {
    const { statement } = checkpoint;
    const inserted: unknown[] = await manager.query(
      `INSERT INTO audit_checkpoints (tenant_id, seq, head_hash, created_at, statement, signature, key_version)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, seq) DO NOTHING RETURNING seq`,
      [
        statement.tenantId,
        statement.seq,
        statement.headHash,
        statement.createdAt,
        canonicalJson(statement),
        checkpoint.signature,
        checkpoint.keyVersion,
      ],
    );
    return inserted.length === 1;
  },

  /** A page of the tenant's checkpoints by ascending seq, after `afterSeq`, up to `throughSeq` when given. */
  async page(
    manager: EntityManager,
    tenantId: string,
    afterSeq: number,
    limit: number,
    throughSeq?: number,
  ): Promise<CheckpointRow[]> {
    return manager.query(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints
        WHERE tenant_id = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq <= $3)
        ORDER BY seq LIMIT $4`,
      [tenantId, afterSeq, throughSeq ?? null, limit],
    );
  },

  /**
   * Tenants whose head moved past their last checkpoint, the longest unsigned first. Outside any
   * tenant context (the sweep policies show heads and checkpoints, read only).
   */
  async tenantsDue(manager: EntityManager, limit: number): Promise<string[]> {
    const rows: Array<{ tenant_id: string }> = await manager.query(
      `SELECT h.tenant_id
         FROM audit_chain_heads h
         LEFT JOIN LATERAL (
           SELECT c.seq, c.created_at FROM audit_checkpoints c WHERE c.tenant_id = h.tenant_id ORDER BY c.seq DESC LIMIT 1
         ) last ON true
        WHERE h.seq > coalesce(last.seq, 0)
        ORDER BY last.created_at NULLS FIRST, h.tenant_id
        LIMIT $1`,
      [limit],
    );
    return rows.map((row) => row.tenant_id);
  },
};
