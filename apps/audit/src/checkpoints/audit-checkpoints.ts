import { Inject, Injectable } from '@nestjs/common';
import { AuditChainVerifier, type AuditCheckpoint, isAuditCheckpointSigned } from '@strongroom/contracts';
import {
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
  withoutTenant,
  withTenant,
} from '@strongroom/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { chainReads } from '../verification/chain-reads';
import { VERIFY_PAGE_RECORDS } from '../verification/chain-verification';
import { readCheckpointRow } from './checkpoint-rows';
import { CheckpointSigner } from './checkpoint-signer';
import { checkpointsRepository } from './checkpoints.repository';

/** Tenants checkpointed per periodic run (each one a Transit signature); the rest wait for the next run. */
const SWEEP_TENANTS_MAX = 1_000;

/** Runs in the transaction that stores the checkpoint (or, when one existed, a transaction of its own). */
export type OnCheckpointed = (manager: EntityManager, checkpoint: AuditCheckpoint) => Promise<void>;

/**
 * Signed checkpoints of tenants' chains (issue 7): of the head, periodically for every tenant whose
 * head moved and on demand; and at a given seq for exports (their last record) and purges (their
 * boundary). One checkpoint per seq: a seq already signed is answered with the stored checkpoint.
 * The signature is asked of Transit outside any transaction, so no lock waits on Vault.
 */
@Injectable()
export class AuditCheckpoints {
  constructor(
    private readonly dataSource: DataSource,
    private readonly signer: CheckpointSigner,
    @Inject(SERVICE_RESOURCES) private readonly resources: Pick<ServiceResources, 'logger'>,
  ) {}

  /** A checkpoint of the tenant's head now (genesis, seq 0, for a tenant without records). */
  async ofHead(tenantId: string, onCheckpointed?: OnCheckpointed): Promise<AuditCheckpoint> {
    const head = await withTenant(this.dataSource, tenantId, (manager) =>
      checkpointsRepository.head(manager, tenantId),
    );
    if (head.anchorHash !== head.hash) {
      throw PlatformError.conflict("The chain head disagrees with the chain's last record: verify the chain", {
        reason: 'AUDIT_CHAIN_INCONSISTENT',
        seq: head.seq,
      });
    }
    return this.signAndStore(tenantId, head.seq, head.hash, onCheckpointed);
  }

  /** A checkpoint at exactly `seq`, whose record must have `hash` (the stored one is reused). */
  async at(tenantId: string, seq: number, hash: string, onCheckpointed?: OnCheckpointed): Promise<AuditCheckpoint> {
    return this.signAndStore(tenantId, seq, hash, onCheckpointed);
  }

  /** Signs the head of every tenant whose head moved since its last checkpoint (the periodic job); resolves to how many. */
  async sweep(): Promise<number> {
    const due = await withoutTenant(this.dataSource, (manager) =>
      checkpointsRepository.tenantsDue(manager, SWEEP_TENANTS_MAX),
    );
    let signed = 0;
    for (const tenantId of due) {
      try {
        await this.ofHead(tenantId);
        signed += 1;
      } catch (error) {
        // One tenant's chain (or Transit, for a moment) must not hold up the others' checkpoints.
        this.resources.logger.warn({ err: error, tenantId }, 'a periodic audit checkpoint failed');
      }
    }
    return signed;
  }

  private async signAndStore(
    tenantId: string,
    seq: number,
    hash: string,
    onCheckpointed?: OnCheckpointed,
  ): Promise<AuditCheckpoint> {
    const existing = await this.existing(tenantId, seq, hash, onCheckpointed);
    if (existing !== undefined) return existing;
    await this.assertChainedSinceLastCheckpoint(tenantId, seq, hash);
    const checkpoint = await this.signer.sign({ tenantId, seq, headHash: hash }, new Date());
    const stored = await withTenant(this.dataSource, tenantId, async (manager) => {
      if (!(await checkpointsRepository.insert(manager, checkpoint))) return false;
      await onCheckpointed?.(manager, checkpoint);
      return true;
    });
    if (stored) return checkpoint;
    // Another call signed this seq a moment before: its checkpoint is the one.
    const raced = await this.existing(tenantId, seq, hash, onCheckpointed);
    if (raced === undefined) throw PlatformError.internal('A checkpoint was neither stored nor found');
    return raced;
  }

  /**
   * A signature must never launder an edit: before signing (seq, hash), the records since the
   * last validly signed checkpoint before it (or the purge boundary, or genesis) are recomputed,
   * and must link from it to exactly this hash. A superuser's rewrite since that checkpoint is
   * refused (AUDIT_CHAIN_INCONSISTENT) instead of signed.
   */
  private async assertChainedSinceLastCheckpoint(tenantId: string, seq: number, hash: string): Promise<void> {
    const keys = await this.signer.publicKeys();
    await withTenant(this.dataSource, tenantId, async (manager) => {
      let start = await chainReads.start(manager, tenantId);
      for (const row of await checkpointsRepository.before(manager, tenantId, seq)) {
        const { checkpoint, disagreements } = readCheckpointRow(row);
        if (checkpoint === undefined || disagreements.length > 0 || !isAuditCheckpointSigned(checkpoint, keys))
          continue;
        if (checkpoint.statement.seq > start.seq)
          start = { seq: checkpoint.statement.seq, hash: checkpoint.statement.headHash };
        break;
      }
      const verifier = new AuditChainVerifier(tenantId, start);
      for (let after = start.seq; after < seq; ) {
        const page = await chainReads.records(manager, tenantId, after, Math.min(VERIFY_PAGE_RECORDS, seq - after));
        if (page.length === 0) break;
        for (const record of page) verifier.add(record);
        after = verifier.lastSeq;
      }
      if (verifier.problems.length > 0 || verifier.lastSeq !== seq || verifier.lastHash !== hash) {
        throw PlatformError.conflict('The chain does not verify since its last checkpoint: verify the chain', {
          reason: 'AUDIT_CHAIN_INCONSISTENT',
          seq: verifier.problems[0]?.seq ?? verifier.lastSeq,
        });
      }
    });
  }

  /** The stored checkpoint at `seq`, which must vouch for `hash`; onCheckpointed runs in its own transaction. */
  private async existing(
    tenantId: string,
    seq: number,
    hash: string,
    onCheckpointed?: OnCheckpointed,
  ): Promise<AuditCheckpoint | undefined> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const row = await checkpointsRepository.at(manager, tenantId, seq);
      if (row === undefined) return undefined;
      const { checkpoint, disagreements } = readCheckpointRow(row);
      if (checkpoint === undefined || disagreements.length > 0 || checkpoint.statement.headHash !== hash) {
        throw PlatformError.conflict('The stored checkpoint at this seq disagrees with the chain: verify the chain', {
          reason: 'AUDIT_CHAIN_INCONSISTENT',
          seq,
        });
      }
      await onCheckpointed?.(manager, checkpoint);
      return checkpoint;
    });
  }
}
