import { Inject, Injectable } from '@nestjs/common';
import {
  type Environment,
  getTenant,
  getTenantEnvironment,
  PLATFORM_TENANT_ID,
  type Tenant,
  type TenantSettings,
  tenantSettingsSchema,
} from '@strongroom/contracts';
import {
  credentialsOf,
  IpAllowlist,
  PlatformError,
  ReadThroughCache,
  SERVICE_RESOURCES,
  type ServiceResources,
} from '@strongroom/platform';

export interface TenantPolicy {
  status: Tenant['status'];
  settings: TenantSettings;
}

/**
 * How long a tenant's status and settings are believed: a suspension refuses new tokens within
 * this, and the revocation it triggers covers tokens issued up to this long after it.
 */
export const TENANT_POLICY_TTL_MS = 1_000;
const PLATFORM_TENANT_POLICY: TenantPolicy = { status: 'active', settings: tenantSettingsSchema.parse({}) };
const ENTRIES_MAX = 10_000;

/**
 * A tenant's status and token settings, as the tenants service says (asked on auth's own behalf),
 * remembered for at most a second: every token issuance consults it.
 */
@Injectable()
export class TenantPolicies {
  private readonly cache = new ReadThroughCache<string, TenantPolicy>({
    ttlMs: TENANT_POLICY_TTL_MS,
    entriesMax: ENTRIES_MAX,
  });

  /** Each tenant environment's IP allowlist (seed 003), believed as long as the tenant's policy. */
  private readonly allowlists = new ReadThroughCache<string, IpAllowlist>({
    ttlMs: TENANT_POLICY_TTL_MS,
    entriesMax: ENTRIES_MAX,
  });

  constructor(@Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources) {}

  /**
   * Whether a client at `address` may obtain tokens of the tenant environment: the gateway refuses
   * calls from outside the allowlist, and no token is issued there either. Platform clients belong
   * to no tenant environment.
   */
  async addressAllowed(tenantId: string, environment: Environment, address: string): Promise<boolean> {
    if (tenantId === PLATFORM_TENANT_ID) return true;
    const allowlist = await this.allowlists.get(`${tenantId}/${environment}`, async () => {
      const credential = await credentialsOf(this.resources).asService.authorization();
      const found = await this.resources.bus.request(getTenantEnvironment, { tenantId, environment }, { credential });
      return new IpAllowlist(found.ipAllowlist);
    });
    return allowlist.allows(address);
  }

  policyOf(tenantId: string): Promise<TenantPolicy> {
    return this.cache.get(tenantId, () => this.fetch(tenantId));
  }

  /** The last known policy without asking (for oidc-provider's synchronous TTL hooks). */
  peek(tenantId: string): TenantPolicy | undefined {
    return this.cache.peek(tenantId);
  }

  forget(tenantId: string): void {
    this.cache.forget(tenantId);
  }

  /** Refuses anything for a suspended tenant (FORBIDDEN, reason TENANT_SUSPENDED). */
  async assertActive(tenantId: string): Promise<TenantPolicy> {
    const policy = await this.policyOf(tenantId);
    if (policy.status !== 'active')
      throw PlatformError.forbidden('The tenant is suspended', { reason: 'TENANT_SUSPENDED' });
    return policy;
  }

  private async fetch(tenantId: string): Promise<TenantPolicy> {
    // The platform's own tenant has no row in the registry: never suspended, default lifetimes.
    if (tenantId === PLATFORM_TENANT_ID) return PLATFORM_TENANT_POLICY;
    const credential = await credentialsOf(this.resources).asService.authorization();
    const tenant = await this.resources.bus.request(getTenant, { tenantId }, { credential });
    return { status: tenant.status, settings: tenant.settings };
  }
}
