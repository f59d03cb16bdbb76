import { Controller } from '@nestjs/common';
import { createAuditExport, listAuditExportRecords, type RequestOf, type ResponseOf } from '@strongroom/contracts';
import { type BusRequestContext, Handles } from '@strongroom/platform';
import { auditTenantOf } from '../audit-scope';
import { initiatorOf } from '../own-audit-events';
import { RecordsRepository } from '../records/records.repository';
import { AuditExports } from './audit-exports';

/** Exports of a period with the checkpoint that covers it, and their records page by page. */
@Controller()
export class ExportsHandler {
  constructor(
    private readonly exports: AuditExports,
    private readonly records: RecordsRepository,
  ) {}

  @Handles(createAuditExport)
  create(
    input: RequestOf<typeof createAuditExport>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof createAuditExport>> {
    const tenantId = auditTenantOf(context, input.tenantId);
    return this.exports.create(tenantId, { from: input.from, to: input.to }, initiatorOf(context));
  }

  @Handles(listAuditExportRecords)
  exportRecords(
    input: RequestOf<typeof listAuditExportRecords>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listAuditExportRecords>> {
    const { tenantId, firstSeq, lastSeq, limit, cursor } = input;
    return this.records.exportPage(
      auditTenantOf(context, tenantId),
      { firstSeq, lastSeq },
      { limit, ...(cursor !== undefined ? { cursor } : {}) },
    );
  }
}
