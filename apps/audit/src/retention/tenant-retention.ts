import { Inject, Injectable } from '@nestjs/common';
import { AUDIT_RETENTION_DAYS_RANGE, getTenant, PLATFORM_AUDIT_TENANT_ID } from '@strongroom/contracts';
import { credentialsOf, PlatformError, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';

/**
 * How long a tenant keeps its audit records (tenant settings, auditRetentionDays), asked of the
 * tenants service with the audit service's own token (`tenants.tenants.read`). A tenant the
 * tenants service does not know (the platform's own chain) keeps the default. When it cannot
 * answer, UNAVAILABLE: guessing could purge records a tenant keeps longer than the default.
 */
@Injectable()
export class TenantRetention {
  constructor(@Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources) {}

  async retentionDaysOf(tenantId: string): Promise<number> {
    if (tenantId === PLATFORM_AUDIT_TENANT_ID) return AUDIT_RETENTION_DAYS_RANGE.default;
    try {
      const credential = await credentialsOf(this.resources).asService.authorization();
      const tenant = await this.resources.bus.request(getTenant, { tenantId }, { credential });
      return tenant.settings.auditRetentionDays;
    } catch (error) {
      if (error instanceof PlatformError && error.code === 'NOT_FOUND') return AUDIT_RETENTION_DAYS_RANGE.default;
      const cause = error instanceof PlatformError ? error.code : 'INTERNAL';
      throw PlatformError.unavailable("The tenant's audit retention cannot be read", { dependency: 'tenants', cause });
    }
  }
}
