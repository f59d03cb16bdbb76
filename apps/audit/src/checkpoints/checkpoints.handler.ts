import { Controller } from '@nestjs/common';
import {
  createAuditCheckpoint,
  getAuditSigningKeys,
  listAuditCheckpoints,
  type RequestOf,
  type ResponseOf,
} from '@strongroom/contracts';
import { type BusRequestContext, Handles, PlatformError, withTenant } from '@strongroom/platform';
import { DataSource } from 'typeorm';
import { auditTenantOf } from '../audit-scope';
import { initiatorOf, recordOwnAction } from '../own-audit-events';
import { AuditCheckpoints } from './audit-checkpoints';
import { readCheckpointRow } from './checkpoint-rows';
import { CheckpointSigner } from './checkpoint-signer';
import { checkpointsRepository } from './checkpoints.repository';

/** Checkpoints on demand, the stored ones (for a third party to hold), and the keys that sign them. */
@Controller()
export class CheckpointsHandler {
  constructor(
    private readonly checkpoints: AuditCheckpoints,
    private readonly signer: CheckpointSigner,
    private readonly dataSource: DataSource,
  ) {}

  /** The head's checkpoint (the stored one when the head has not moved since), recorded as the caller's action. */
  @Handles(createAuditCheckpoint)
  create(
    input: RequestOf<typeof createAuditCheckpoint>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof createAuditCheckpoint>> {
    const tenantId = auditTenantOf(context, input.tenantId);
    const initiator = initiatorOf(context);
    return this.checkpoints.ofHead(tenantId, (manager, checkpoint) =>
      recordOwnAction(manager, initiator, {
        tenantId,
        action: 'audit.checkpoint.create',
        resource: { type: 'audit-checkpoint', id: `${tenantId}:${checkpoint.statement.seq}` },
        details: { seq: checkpoint.statement.seq, keyVersion: checkpoint.keyVersion },
      }),
    );
  }

  @Handles(listAuditCheckpoints)
  async list(
    input: RequestOf<typeof listAuditCheckpoints>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listAuditCheckpoints>> {
    const tenantId = auditTenantOf(context, input.tenantId);
    const after = input.cursor === undefined ? -1 : Number(input.cursor);
    const rows = await withTenant(this.dataSource, tenantId, (manager) =>
      checkpointsRepository.page(manager, tenantId, after, input.limit + 1),
    );
    const shown = rows.slice(0, input.limit).map((row) => {
      const { checkpoint, disagreements } = readCheckpointRow(row);
      if (checkpoint === undefined || disagreements.length > 0) {
        throw PlatformError.conflict(`The checkpoint stored at ${row.seq} was altered: verify the chain`, {
          reason: 'AUDIT_CHAIN_INCONSISTENT',
          seq: Number(row.seq),
        });
      }
      return checkpoint;
    });
    return {
      checkpoints: shown,
      nextCursor: rows.length > input.limit ? String(shown.at(-1)?.statement.seq) : null,
    };
  }

  /** The platform's keys, the same for every tenant; the tenant check still applies to who may ask. */
  @Handles(getAuditSigningKeys)
  async signingKeys(
    input: RequestOf<typeof getAuditSigningKeys>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof getAuditSigningKeys>> {
    auditTenantOf(context, input.tenantId);
    return { keys: await this.signer.publicKeys() };
  }
}
