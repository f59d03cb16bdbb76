import { Controller } from '@nestjs/common';
import { createTenant, getTenant, type RequestOf, type Tenant } from '@strongroom/contracts';
import { Handles, PlatformError } from '@strongroom/platform';
import { TenantsRepository } from './tenants.repository';

@Controller()
export class TenantsHandler {
  constructor(private readonly tenants: TenantsRepository) {}

  @Handles(createTenant)
  create(input: RequestOf<typeof createTenant>): Promise<Tenant> {
    return this.tenants.create(input);
  }

  @Handles(getTenant)
  async get(input: RequestOf<typeof getTenant>): Promise<Tenant> {
    const tenant = await this.tenants.find(input.tenantId);
    if (!tenant) throw PlatformError.notFound('Tenant', input.tenantId);
    return tenant;
  }
}
