import {
  AUDIT_PROBLEMS_MAX,
  AuditChainVerifier,
  type AuditCheckpoint,
  type AuditProblem,
  type AuditSigningKey,
  type AuditVerification,
} from '@strongroom/contracts';
import type { EntityManager } from 'typeorm';
import { type ReadCheckpoint, readCheckpointRow } from '../checkpoints/checkpoint-rows';
import { checkpointsRepository } from '../checkpoints/checkpoints.repository';
import { chainReads } from './chain-reads';

/** Records per page: a few megabytes, one index range scan each. */
export const VERIFY_PAGE_RECORDS = 5_000;
/** Checkpoints per page (a busy tenant has one a minute: millions over its retention). */
const VERIFY_PAGE_CHECKPOINTS = 5_000;

/**
 * Recomputes a tenant's chain and checks its signed checkpoints (issue 7), in `manager`'s
 * transaction, which must be one snapshot (REPEATABLE READ, the tenant's context): records
 * stored meanwhile neither appear half-way nor move the head under the check.
 *
 * The chain starts at genesis, or at the latest purge's boundary (which a signed checkpoint must
 * anchor). Records are read in pages by seq and fed to the contracts' verifier; the checkpoints
 * a page reaches are read, watched and checked with it, so memory stays bounded however long the
 * chain. A checkpoint row whose columns disagree with its signed statement is reported too.
 */
export async function verifyChainIn(
  manager: EntityManager,
  tenantId: string,
  keys: readonly AuditSigningKey[],
): Promise<AuditVerification> {
  const start = await chainReads.start(manager, tenantId);
  const head = await chainReads.head(manager, tenantId);
  const verifier = new AuditChainVerifier(tenantId, start);
  const rowProblems: AuditProblem[] = [];
  let unreadable = 0;
  let checkpointCursor = -1;

  /** Reads the checkpoints up to `throughSeq` (all when undefined), page by page, handing each page to `check`. */
  const checkpointsThrough = async (
    throughSeq: number | undefined,
    check: (checkpoints: AuditCheckpoint[]) => void,
  ): Promise<void> => {
    for (;;) {
      const rows = await checkpointsRepository.page(
        manager,
        tenantId,
        checkpointCursor,
        VERIFY_PAGE_CHECKPOINTS,
        throughSeq,
      );
      if (rows.length === 0) return;
      checkpointCursor = Number(rows.at(-1)?.seq);
      const read = rows.map(readCheckpointRow);
      unreadable += reportRowProblems(read, rowProblems);
      check(read.flatMap(({ checkpoint }) => (checkpoint === undefined ? [] : [checkpoint])));
      if (rows.length < VERIFY_PAGE_CHECKPOINTS) return;
    }
  };

  // Checkpoints at or before the start: the anchor of a purged chain, and older ones (their signatures).
  await checkpointsThrough(start.seq, (checkpoints) => verifier.checkCheckpoints(checkpoints, keys));
  for (let cursor = start.seq; ; ) {
    const records = await chainReads.records(manager, tenantId, cursor, VERIFY_PAGE_RECORDS);
    if (records.length === 0) break;
    cursor = (records.at(-1) as { seq: number }).seq;
    const pageCheckpoints: AuditCheckpoint[] = [];
    await checkpointsThrough(cursor, (checkpoints) => {
      verifier.watch(checkpoints.map(({ statement }) => statement.seq));
      pageCheckpoints.push(...checkpoints);
    });
    for (const record of records) verifier.add(record);
    verifier.checkCheckpoints(pageCheckpoints, keys);
    if (records.length < VERIFY_PAGE_RECORDS) break;
  }
  // Past the last record: a checkpoint here vouches for records that are gone.
  await checkpointsThrough(undefined, (checkpoints) => verifier.checkCheckpoints(checkpoints, keys));
  const counts = verifier.finish([], keys, head);
  const problems = [...verifier.problems, ...rowProblems].sort((a, b) => a.seq - b.seq).slice(0, AUDIT_PROBLEMS_MAX);
  return {
    tenantId,
    valid: problems.length === 0,
    records: verifier.records,
    startSeq: start.seq,
    lastSeq: verifier.lastSeq,
    checkpoints: { checked: counts.checked + unreadable, valid: counts.valid },
    problems,
  };
}

/** Problems of the rows themselves; resolves to how many rows hold no readable checkpoint. */
function reportRowProblems(read: readonly ReadCheckpoint[], problems: AuditProblem[]): number {
  let unreadable = 0;
  for (const { seq, checkpoint, disagreements } of read) {
    if (checkpoint === undefined) {
      unreadable += 1;
      problems.push({
        kind: 'checkpoint_signature_invalid',
        seq,
        message: `the checkpoint stored at ${seq} is not a readable signed statement`,
      });
    } else if (disagreements.length > 0) {
      problems.push({
        kind: 'checkpoint_mismatch',
        seq,
        message: `the checkpoint row at ${seq} was edited: ${disagreements.join(', ')} disagree with its signed statement`,
      });
    }
  }
  return unreadable;
}
