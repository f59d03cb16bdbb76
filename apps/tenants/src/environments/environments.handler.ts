import { Controller } from '@nestjs/common';
import {
  getTenantEnvironment,
  listTenantEnvironments,
  type RequestOf,
  type ResponseOf,
  type TenantEnvironment,
  updateTenantEnvironment,
} from '@strongroom/contracts';
import { assertMayActOnTenant, type BusRequestContext, Handles, PlatformError } from '@strongroom/platform';
import { EnvironmentsRepository } from './environments.repository';

function found(environment: TenantEnvironment | undefined, tenantId: string): TenantEnvironment {
  if (!environment) throw PlatformError.notFound('Tenant', tenantId);
  return environment;
}

/** A tenant's own administrators (and the platform) read and change its environments; nobody else learns they exist. */
@Controller()
export class EnvironmentsHandler {
  constructor(private readonly environments: EnvironmentsRepository) {}

  @Handles(listTenantEnvironments)
  async list(
    input: RequestOf<typeof listTenantEnvironments>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listTenantEnvironments>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const environments = await this.environments.list(input.tenantId);
    if (environments.length === 0) throw PlatformError.notFound('Tenant', input.tenantId);
    return { environments };
  }

  @Handles(getTenantEnvironment)
  async get(input: RequestOf<typeof getTenantEnvironment>, context: BusRequestContext): Promise<TenantEnvironment> {
    assertMayActOnTenant(context.principal, input.tenantId);
    return found(await this.environments.find(input.tenantId, input.environment), input.tenantId);
  }

  @Handles(updateTenantEnvironment)
  async update(
    input: RequestOf<typeof updateTenantEnvironment>,
    context: BusRequestContext,
  ): Promise<TenantEnvironment> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const { tenantId, environment, ...change } = input;
    return found(await this.environments.update(tenantId, environment, change), tenantId);
  }
}
