import { Controller } from '@nestjs/common';
import {
  type AuditEventInput,
  createTenant,
  getTenant,
  listTenants,
  type RequestOf,
  type ResponseOf,
  reactivateTenant,
  suspendTenant,
  type Tenant,
  updateTenantSettings,
} from '@strongroom/contracts';
import {
  assertMayActOnTenant,
  assertMayAdministerTenants,
  assertMayCreateTenants,
  type BusRequestContext,
  Handles,
  PlatformError,
} from '@strongroom/platform';
import { AuditPublisher, auditTrailOf, refusalTenantOf, tenantsAuditEvent } from '../tenants-audit';
import { TenantsRepository } from './tenants.repository';

function found(tenant: Tenant | undefined, tenantId: string): Tenant {
  if (!tenant) throw PlatformError.notFound('Tenant', tenantId);
  return tenant;
}

type TenantAction = 'tenants.tenant.suspend' | 'tenants.tenant.reactivate' | 'tenants.settings.update';

/**
 * The tenant registry on the bus. Every change is recorded in the changed tenant's audit chain by
 * the repository, in the change's transaction; a refused one (FORBIDDEN to a tenant's principal,
 * an unknown tenant, a taken slug) is recorded in the caller's own chain.
 */
@Controller()
export class TenantsHandler {
  constructor(
    private readonly tenants: TenantsRepository,
    private readonly audit: AuditPublisher,
  ) {}

  /** FORBIDDEN unless the caller is a platform principal (the operator seeding, an administrator). */
  @Handles(createTenant)
  async create(input: RequestOf<typeof createTenant>, context: BusRequestContext): Promise<Tenant> {
    const trail = auditTrailOf(context);
    return this.audit.refusals(
      async () => {
        assertMayCreateTenants(context.principal);
        return this.tenants.create(input, trail);
      },
      (refusal) => [
        tenantsAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          action: 'tenants.tenant.create',
          resource: { type: 'tenant', id: 'new' },
          details: { slug: input.slug, region: input.region },
          ...refusal,
        }),
      ],
    );
  }

  /** Platform only: FORBIDDEN to any tenant's principal, whatever its permissions. */
  @Handles(listTenants)
  async list(
    input: RequestOf<typeof listTenants>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listTenants>> {
    assertMayAdministerTenants(context.principal);
    return this.tenants.list(input);
  }

  /** NOT_FOUND for a tenant that does not exist and for one the caller may not see, alike. */
  @Handles(getTenant)
  async get(input: RequestOf<typeof getTenant>, context: BusRequestContext): Promise<Tenant> {
    assertMayActOnTenant(context.principal, input.tenantId);
    return found(await this.tenants.find(input.tenantId), input.tenantId);
  }

  /** Platform only (FORBIDDEN otherwise, even to the tenant's own admin); idempotent; NOT_FOUND for an unknown tenant. */
  @Handles(suspendTenant)
  async suspend(input: RequestOf<typeof suspendTenant>, context: BusRequestContext): Promise<Tenant> {
    return this.administer('tenants.tenant.suspend', input.tenantId, context, (trail) =>
      this.tenants.setStatus(input.tenantId, 'suspended', trail),
    );
  }

  /** Platform only; idempotent; NOT_FOUND for an unknown tenant. */
  @Handles(reactivateTenant)
  async reactivate(input: RequestOf<typeof reactivateTenant>, context: BusRequestContext): Promise<Tenant> {
    return this.administer('tenants.tenant.reactivate', input.tenantId, context, (trail) =>
      this.tenants.setStatus(input.tenantId, 'active', trail),
    );
  }

  /** Platform only (a tenant may not re-time its own tokens); NOT_FOUND for an unknown tenant. */
  @Handles(updateTenantSettings)
  async updateSettings(input: RequestOf<typeof updateTenantSettings>, context: BusRequestContext): Promise<Tenant> {
    return this.administer('tenants.settings.update', input.tenantId, context, (trail) =>
      this.tenants.updateSettings(input.tenantId, input.settings, trail),
    );
  }

  /** The platform's administration of one tenant: the rule, the change, and the refusal's audit event. */
  private administer(
    action: TenantAction,
    tenantId: string,
    context: BusRequestContext,
    change: (trail: ReturnType<typeof auditTrailOf>) => Promise<Tenant | undefined>,
  ): Promise<Tenant> {
    const trail = auditTrailOf(context);
    return this.audit.refusals(
      async () => {
        assertMayAdministerTenants(context.principal);
        return found(await change(trail), tenantId);
      },
      (refusal): AuditEventInput[] => [
        tenantsAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          action,
          resource: { type: 'tenant', id: tenantId },
          ...refusal,
        }),
      ],
    );
  }
}
