import { Controller } from '@nestjs/common';
import { createTenant, getTenant, type RequestOf, type Tenant } from '@strongroom/contracts';
import {
  assertMayActOnTenant,
  assertMayCreateTenants,
  type BusRequestContext,
  Handles,
  PlatformError,
} from '@strongroom/platform';
import { TenantsRepository } from './tenants.repository';

@Controller()
export class TenantsHandler {
  constructor(private readonly tenants: TenantsRepository) {}

  /** FORBIDDEN unless the caller is a platform principal (the operator seeding, an administrator). */
  @Handles(createTenant)
  async create(input: RequestOf<typeof createTenant>, context: BusRequestContext): Promise<Tenant> {
    assertMayCreateTenants(context.principal);
    return this.tenants.create(input);
  }

  /** NOT_FOUND for a tenant that does not exist and for one the caller may not see, alike. */
  @Handles(getTenant)
  async get(input: RequestOf<typeof getTenant>, context: BusRequestContext): Promise<Tenant> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const tenant = await this.tenants.find(input.tenantId);
    if (!tenant) throw PlatformError.notFound('Tenant', input.tenantId);
    return tenant;
  }
}
