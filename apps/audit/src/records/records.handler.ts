import { Controller } from '@nestjs/common';
import { listAuditRecords, type RequestOf, type ResponseOf, verifyAuditChain } from '@strongroom/contracts';
import { type BusRequestContext, Handles } from '@strongroom/platform';
import { DataSource } from 'typeorm';
import { auditTenantOf } from '../audit-scope';
import { CheckpointSigner } from '../checkpoints/checkpoint-signer';
import { verifyChainIn } from '../verification/chain-verification';
import { inTenantSnapshot } from '../verification/snapshot';
import { RecordsRepository } from './records.repository';

/** Query and verification of a tenant's trail (auditor permission audit.records.read). */
@Controller()
export class RecordsHandler {
  constructor(
    private readonly records: RecordsRepository,
    private readonly signer: CheckpointSigner,
    private readonly dataSource: DataSource,
  ) {}

  @Handles(listAuditRecords)
  list(
    input: RequestOf<typeof listAuditRecords>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listAuditRecords>> {
    const { tenantId, limit, cursor, ...filters } = input;
    return this.records.list(auditTenantOf(context, tenantId), filters, {
      limit,
      ...(cursor !== undefined ? { cursor } : {}),
    });
  }

  /** The pinned keys are the signer's own public keys: a checkpoint signed by any other key is reported. */
  @Handles(verifyAuditChain)
  async verify(
    input: RequestOf<typeof verifyAuditChain>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof verifyAuditChain>> {
    const tenantId = auditTenantOf(context, input.tenantId);
    const keys = await this.signer.publicKeys();
    return inTenantSnapshot(this.dataSource, tenantId, (manager) => verifyChainIn(manager, tenantId, keys));
  }
}
