import { Controller } from '@nestjs/common';
import {
  getAuditLegalHold,
  placeAuditLegalHold,
  type RequestOf,
  type ResponseOf,
  releaseAuditLegalHold,
} from '@strongroom/contracts';
import { type BusRequestContext, Handles } from '@strongroom/platform';
import { auditTenantOf, subjectOf } from '../audit-scope';
import { initiatorOf } from '../own-audit-events';
import { LegalHoldsRepository } from './legal-holds.repository';
import { TenantRetention } from './tenant-retention';

/** Legal holds (audit.legal-holds.manage to place and release; audit.records.read to look). */
@Controller()
export class LegalHoldsHandler {
  constructor(
    private readonly holds: LegalHoldsRepository,
    private readonly retention: TenantRetention,
  ) {}

  @Handles(placeAuditLegalHold)
  place(
    input: RequestOf<typeof placeAuditLegalHold>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof placeAuditLegalHold>> {
    const tenantId = auditTenantOf(context, input.tenantId);
    return this.holds.place(tenantId, input.reason, subjectOf(context), initiatorOf(context));
  }

  @Handles(releaseAuditLegalHold)
  async release(
    input: RequestOf<typeof releaseAuditLegalHold>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof releaseAuditLegalHold>> {
    const tenantId = auditTenantOf(context, input.tenantId);
    return { tenantId, released: await this.holds.release(tenantId, initiatorOf(context)) };
  }

  @Handles(getAuditLegalHold)
  async get(
    input: RequestOf<typeof getAuditLegalHold>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof getAuditLegalHold>> {
    const tenantId = auditTenantOf(context, input.tenantId);
    const [status, retentionDays] = await Promise.all([
      this.holds.status(tenantId),
      this.retention.retentionDaysOf(tenantId),
    ]);
    return { ...status, retentionDays };
  }
}
