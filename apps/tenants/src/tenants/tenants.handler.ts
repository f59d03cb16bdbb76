import { Controller } from '@nestjs/common';
import {
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
import { TenantsRepository } from './tenants.repository';

function found(tenant: Tenant | undefined, tenantId: string): Tenant {
  if (!tenant) throw PlatformError.notFound('Tenant', tenantId);
  return tenant;
}

@Controller()
export class TenantsHandler {
  constructor(private readonly tenants: TenantsRepository) {}

  /** FORBIDDEN unless the caller is a platform principal (the operator seeding, an administrator). */
  @Handles(createTenant)
  async create(input: RequestOf<typeof createTenant>, context: BusRequestContext): Promise<Tenant> {
    assertMayCreateTenants(context.principal);
    return this.tenants.create(input);
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
    assertMayAdministerTenants(context.principal);
    return found(await this.tenants.setStatus(input.tenantId, 'suspended'), input.tenantId);
  }

  /** Platform only; idempotent; NOT_FOUND for an unknown tenant. */
  @Handles(reactivateTenant)
  async reactivate(input: RequestOf<typeof reactivateTenant>, context: BusRequestContext): Promise<Tenant> {
    assertMayAdministerTenants(context.principal);
    return found(await this.tenants.setStatus(input.tenantId, 'active'), input.tenantId);
  }

  /** Platform only (a tenant may not re-time its own tokens); NOT_FOUND for an unknown tenant. */
  @Handles(updateTenantSettings)
  async updateSettings(input: RequestOf<typeof updateTenantSettings>, context: BusRequestContext): Promise<Tenant> {
    assertMayAdministerTenants(context.principal);
    return found(await this.tenants.updateSettings(input.tenantId, input.settings), input.tenantId);
  }
}
