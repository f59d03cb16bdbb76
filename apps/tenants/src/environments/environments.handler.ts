import { Controller } from '@nestjs/common';
import {
  type Environment,
  getTenantEnvironment,
  listTenantEnvironments,
  type RequestOf,
  type ResponseOf,
  type TenantEnvironment,
  updateTenantEnvironment,
} from '@strongroom/contracts';
import {
  assertMayActOnTenant,
  assertMayUseEnvironment,
  type BusRequestContext,
  Handles,
  PlatformError,
  type Principal,
} from '@strongroom/platform';
import { AuditPublisher, auditTrailOf, refusalTenantOf, tenantsAuditEvent } from '../tenants-audit';
import { EnvironmentsRepository } from './environments.repository';

/** Its own tenant (or any, for the platform), and its own environment: the gateway's rule, checked again here. */
function assertMayActOnEnvironment(context: BusRequestContext, tenantId: string, environment: Environment): void {
  assertMayActOnTenant(context.principal, tenantId);
  assertMayUseEnvironment(context.principal as Principal, environment);
}

function found(environment: TenantEnvironment | undefined, tenantId: string): TenantEnvironment {
  if (!environment) throw PlatformError.notFound('Tenant', tenantId);
  return environment;
}

/** A tenant's own administrators (and the platform) read and change its environments; nobody else learns they exist. */
@Controller()
export class EnvironmentsHandler {
  constructor(
    private readonly environments: EnvironmentsRepository,
    private readonly audit: AuditPublisher,
  ) {}

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
    assertMayActOnEnvironment(context, input.tenantId, input.environment);
    return found(await this.environments.find(input.tenantId, input.environment), input.tenantId);
  }

  /**
   * Recorded in the tenant's audit chain with the change; refused (a plan above the tenant's, an
   * allowlist entry with host bits set), recorded in the caller's chain.
   */
  @Handles(updateTenantEnvironment)
  async update(
    input: RequestOf<typeof updateTenantEnvironment>,
    context: BusRequestContext,
  ): Promise<TenantEnvironment> {
    // Another tenant's is answered NOT_FOUND and audited by @Handles (the platform's refusal audit).
    assertMayActOnTenant(context.principal, input.tenantId);
    const { tenantId, environment, ...change } = input;
    const trail = auditTrailOf(context);
    return this.audit.refusals(
      async () => {
        assertMayUseEnvironment(context.principal as Principal, environment);
        return found(await this.environments.update(tenantId, environment, change, trail), tenantId);
      },
      (refusal) => [
        tenantsAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          environment,
          action: 'tenants.environment.update',
          resource: { type: 'tenant_environment', id: `${tenantId}/${environment}` },
          ...refusal,
        }),
      ],
    );
  }
}
