import { type AuditCheckpoint, auditCheckpointSchema } from '@strongroom/contracts';
import type { CheckpointRow } from './checkpoints.repository';

/** A stored checkpoint read back: the checkpoint its statement and signature make, and where its columns disagree with them. */
export interface ReadCheckpoint {
  /** The seq the row is stored at. */
  seq: number;
  /** Undefined when the statement or the signature is unreadable. */
  checkpoint: AuditCheckpoint | undefined;
  /** Columns that disagree with the signed statement (an edited row). */
  disagreements: string[];
}

/**
 * The signed statement is what counts; the columns beside it (seq, head_hash, key_version) are
 * what SQL and the purge function read. An edit of either shows: the statement's signature
 * breaks, or a column disagrees with the statement.
 */
export function readCheckpointRow(row: CheckpointRow): ReadCheckpoint {
  const seq = Number(row.seq);
  let statement: unknown;
  try {
    statement = JSON.parse(row.statement);
  } catch {
    return { seq, checkpoint: undefined, disagreements: ['statement'] };
  }
  const parsed = auditCheckpointSchema.safeParse({ statement, signature: row.signature, keyVersion: row.key_version });
  if (!parsed.success) return { seq, checkpoint: undefined, disagreements: ['statement'] };
  const checkpoint = parsed.data;
  const disagreements: string[] = [];
  if (checkpoint.statement.tenantId.toLowerCase() !== row.tenant_id.toLowerCase()) disagreements.push('tenant_id');
  if (checkpoint.statement.seq !== seq) disagreements.push('seq');
  if (checkpoint.statement.headHash !== row.head_hash) disagreements.push('head_hash');
  return { seq, checkpoint, disagreements };
}
